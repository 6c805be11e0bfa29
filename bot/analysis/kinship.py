"""How alike two tasks' texts are: tasks that talk about the same thing tend to edit the same
lines, whatever files their footprints name. Pure.

Each task's words (`bot.analysis.text.words`: stemmed, stopwords left out) weigh by TF-IDF,
and a pair's likeness is the cosine of the two vectors. A word's document frequency counts
the repository's past commit messages and the tasks themselves; a word that (nearly) every
task holds (an issue template's headings, a bot's phrasing) links no pair. Paths and file names
are left out: the footprints already weigh the files tasks name. Each vector's length counts
as if every text held one more word of its own, found in no other text, so that two texts of
a word or two cannot look alike on a common word.
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from collections.abc import Sequence
from itertools import combinations

from bot.analysis.mentions import candidate_tokens
from bot.analysis.retrieval import BM25
from bot.analysis.text import words
from bot.models import Task

FLOOR = 0.05  # pairs less alike than this are not reported
MAX_CHARS = 4000  # of a task's text: enough to say what it is about
MIN_HISTORY = 50  # past commit messages needed to tell a telling word from a common one
COMMON, MIN_COMMON = 0.75, 3  # a word in this share of the tasks (and this many) says nothing


# What every bug report's paste holds, whatever it is about: a traceback's frame lines keep
# their function's name only, its header goes, and so do a template's HTML comments.
_FRAME = re.compile(r'^\s*File "[^"\n]*", line \d+, in (\S+)\s*$', re.M)
_BOILERPLATE = re.compile(r"Traceback \(most recent call last\):|<!--.*?-->", re.S)


def _prose(text: str) -> str:
    """`text` without the paths and file names it mentions, nor a traceback's or a template's
    boilerplate."""
    text = _BOILERPLATE.sub(" ", _FRAME.sub(r"\1", text[:MAX_CHARS]))
    for token in candidate_tokens(text):
        text = text.replace(token, " ")
    return text


def _vectors(tasks: Sequence[Task], messages: BM25) -> dict[str, dict[str, float]]:
    counts = {task.id: Counter(words(_prose(task.text))) for task in tasks}
    in_tasks: Counter[str] = Counter(term for found in counts.values() for term in found)
    total = len(tasks) + len(messages.lengths)

    def idf(df: int) -> float:
        return math.log(1.0 + (total - df + 0.5) / (df + 0.5))

    pad = idf(1)  # one word of its own: a word no other text holds
    vectors: dict[str, dict[str, float]] = {}
    for task_id, found in counts.items():
        vector = {}
        for term, count in found.items():
            df = in_tasks[term] + messages.df(term)
            vector[term] = (1.0 + math.log(count)) * idf(df)
        norm = math.sqrt(pad * pad + sum(weight * weight for weight in vector.values()))
        vectors[task_id] = {term: weight / norm for term, weight in vector.items()}
    return vectors


def alike(tasks: Sequence[Task], messages: BM25 | None = None) -> dict[tuple[str, str], float]:
    """(a, b) in the tasks' order -> the cosine of their texts, for pairs at least FLOOR alike.
    Pairs where both tasks list their files are left out: their footprints are authoritative.
    `messages`: the index of past commit messages (`HistoryIndex.messages`), for the weights;
    without MIN_HISTORY of them no pair is found alike."""
    if messages is None or len(messages.lengths) < MIN_HISTORY:
        return {}  # too little history to weigh words against
    vectors = _vectors(tasks, messages)
    postings: dict[str, list[tuple[int, float]]] = defaultdict(list)
    for number, task in enumerate(tasks):
        for term, weight in vectors[task.id].items():
            postings[term].append((number, weight))
    dots: dict[tuple[int, int], float] = defaultdict(float)
    common = max(MIN_COMMON, COMMON * len(tasks))
    for posting in postings.values():
        if len(posting) >= common:
            continue  # a word (nearly) every task holds: a template's, not a shared topic
        for (i, wi), (j, wj) in combinations(posting, 2):
            dots[(i, j)] += wi * wj
    return {
        (tasks[i].id, tasks[j].id): round(dot, 3)
        for (i, j), dot in dots.items()
        if dot >= FLOOR and not (tasks[i].files and tasks[j].files)
    }
