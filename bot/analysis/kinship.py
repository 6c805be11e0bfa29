"""How alike two tasks' texts are: tasks that talk about the same thing tend to edit the same
lines, whatever files their footprints name. Pure.

Each task's words (`bot.analysis.text.words`: stemmed, stopwords left out) weigh by TF-IDF,
and a pair's likeness is the cosine of the two vectors. A word's document frequency counts
the repository's past commit messages and the tasks themselves; a word that (nearly) every
task holds (an issue template's headings, a bot's phrasing) links no pair. Paths and file names
are left out: the footprints already weigh the files tasks name. Each vector's length counts
as if every text held one more word of its own, found in no other text, so that two texts of
a word or two cannot look alike on a common word.

Two texts may also name the same rare thing: a version (`0.27.1`), a function
(`get_pager_file`), a setting (`disallow_untyped_calls`), the tokens `bot.analysis.regions`
calls pointers. Named by both, by few other tasks and in at most RARE_NAME past commit
messages (more: a template, such as dependabot's `dependency-type` or an issue form's), it says
they are about one thing, often one building on the other.
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import combinations, islice

from bot.analysis.history import HistoryIndex
from bot.analysis.mentions import candidate_tokens
from bot.analysis.regions import pointers
from bot.analysis.retrieval import BM25
from bot.analysis.text import without_trailers, words
from bot.models import Task

FLOOR = 0.05  # pairs less alike than this are not reported
MAX_CHARS = 4000  # of a task's text: enough to say what it is about
MIN_HISTORY = 50  # past commit messages needed to tell a telling word from a common one
COMMON, MIN_COMMON = 0.75, 3  # a word in this share of the tasks (and this many) says nothing
RARE_NAME = 5  # a name in more past commit messages than this is a template's: chosen on flask
FEW_HOLDERS = 0.1  # a name in this share of the tasks (and MIN_COMMON of them) is a template's


@dataclass(frozen=True)
class Kinship:
    """How two tasks' texts relate: the cosine of their words, and the rare names both hold."""

    likeness: float = 0.0
    names: tuple[str, ...] = ()


# What every bug report's paste holds, whatever it is about: a traceback's frame lines keep
# their function's name only, its header goes, and so do a template's HTML comments.
_FRAME = re.compile(r'^\s*File "[^"\n]*", line \d+, in (\S+)\s*$', re.M)
_BOILERPLATE = re.compile(r"Traceback \(most recent call last\):|<!--.*?-->", re.S)


def _prose(text: str) -> str:
    """`text` without the paths and file names it mentions, a traceback's or a template's
    boilerplate, nor its trailers (`Co-authored-by: ...`)."""
    text = _BOILERPLATE.sub(" ", _FRAME.sub(r"\1", without_trailers(text[:MAX_CHARS])))
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


def _cosines(tasks: Sequence[Task], messages: BM25) -> dict[tuple[int, int], float]:
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
    return dots


def _in_more_than(count: int, name: str, texts: Sequence[str]) -> bool:
    """Is `name` in more than `count` of `texts`? (Stops looking once it is.)"""
    return len(list(islice((text for text in texts if name in text), count + 1))) > count


def _shared_names(
    tasks: Sequence[Task], past: Sequence[str]
) -> dict[tuple[int, int], tuple[str, ...]]:
    """Pairs of tasks whose texts name one rare thing, and the names."""
    holders: dict[str, list[int]] = defaultdict(list)
    for number, task in enumerate(tasks):
        for name in pointers(_prose(task.text)):
            holders[name].append(number)
    shared: dict[tuple[int, int], list[str]] = defaultdict(list)
    many = max(MIN_COMMON, FEW_HOLDERS * len(tasks))  # an issue template's `pip install`
    for name, numbers in sorted(holders.items()):
        if not 2 <= len(numbers) < many or _in_more_than(RARE_NAME, name, past):
            continue
        for i, j in combinations(numbers, 2):
            shared[(i, j)].append(name)
    return {pair: tuple(names) for pair, names in shared.items()}


def alike(
    tasks: Sequence[Task], history: HistoryIndex | None = None
) -> dict[tuple[str, str], Kinship]:
    """(a, b) in the tasks' order -> how their texts relate, for pairs at least FLOOR alike or
    naming one rare thing. Pairs where both tasks list their files are left out: their
    footprints are authoritative. `history`: the repository's past commits (the index a
    snapshot holds), to weigh words and names against; with fewer than MIN_HISTORY of them no
    pair is found alike."""
    if history is None or len(history.messages.lengths) < MIN_HISTORY:
        return {}  # too little history to weigh words against
    dots = _cosines(tasks, history.messages)
    names = _shared_names(tasks, [commit.message for commit in history.commits[history.first :]])
    found: dict[tuple[str, str], Kinship] = {}
    for i, j in sorted(dots.keys() | names.keys()):
        likeness = round(dots.get((i, j), 0.0), 3)
        if (likeness >= FLOOR or (i, j) in names) and not (tasks[i].files and tasks[j].files):
            kin = Kinship(likeness if likeness >= FLOOR else 0.0, names.get((i, j), ()))
            found[(tasks[i].id, tasks[j].id)] = kin
    return found
