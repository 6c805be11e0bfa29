"""What the repository's history says: similar past changes, co-change, how hot each file is.

Built from commits before the plan's base (the I/O side bounds them in number and time). Pure.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from bot.analysis.retrieval import BM25
from bot.analysis.text import words

MAX_FILES = 40  # larger commits (reformats, renames, vendoring) say nothing about companions
MAX_TREE_SHARE = 0.25  # nor does a commit that touches a quarter of a small repository
MIN_BULK = 4  # ... though in a tiny one, a commit of a few files still may
MIN_SUPPORT = 3
MIN_CONFIDENCE = 0.3
HALF_LIFE = 300  # commits: how fast the base rate and similar changes forget the past


@dataclass(frozen=True)
class Commit:
    """One past change: its message and the files it touched (newest first in a history)."""

    sha: str
    time: int
    message: str
    files: tuple[str, ...]


@dataclass(frozen=True)
class Similar:
    commit: Commit
    weight: float  # BM25 score relative to the best match, in (0, 1]


@dataclass
class HistoryIndex:
    commits: tuple[Commit, ...]
    messages: BM25
    by_file: dict[str, list[int]] = field(default_factory=dict)
    prior: dict[str, float] = field(default_factory=dict)

    @classmethod
    def build(cls, history: Iterable[Commit], existing: Iterable[str]) -> HistoryIndex:
        """Index commits touching at most MAX_FILES files and at most MAX_TREE_SHARE of the
        tree (an initial import says nothing about companions), restricted to files that
        still exist."""
        alive = frozenset(existing)
        limit = min(MAX_FILES, max(MIN_BULK, int(len(alive) * MAX_TREE_SHARE)))
        kept: list[Commit] = []
        for commit in history:
            files = tuple(f for f in commit.files if f in alive)
            if files and len(commit.files) <= limit:
                kept.append(Commit(commit.sha, commit.time, commit.message, files))
        by_file: dict[str, list[int]] = defaultdict(list)
        for index, commit in enumerate(kept):
            for path in commit.files:
                by_file[path].append(index)
        decay = [0.5 ** (index / HALF_LIFE) for index in range(len(kept))]
        total = sum(decay) or 1.0
        prior = {path: sum(decay[i] for i in ids) / total for path, ids in by_file.items()}
        bm25 = BM25.build(words(c.message[:2000]) for c in kept)
        return cls(tuple(kept), bm25, dict(by_file), prior)

    def similar(self, query: Sequence[str], k: int = 15) -> list[Similar]:
        top = self.messages.top(query, k)
        if not top:
            return []
        best = top[0][1]
        return [
            Similar(self.commits[doc], score / best * 0.5 ** (doc / (4 * HALF_LIFE)))
            for doc, score in top
        ]

    def votes(self, neighbours: Sequence[Similar], smoothing: float = 1.0) -> dict[str, float]:
        """P(file touched) from similar past changes, shrunk towards each file's base rate."""
        total = sum(n.weight for n in neighbours)
        tally: dict[str, float] = {}
        for n in neighbours:
            for path in n.commit.files:
                tally[path] = tally.get(path, 0.0) + n.weight
        return {
            path: (weight + smoothing * self.prior.get(path, 0.0)) / (total + smoothing)
            for path, weight in tally.items()
        }

    def cochanged(
        self, path: str, min_support: int = MIN_SUPPORT, min_confidence: float = MIN_CONFIDENCE
    ) -> list[tuple[str, float, int]]:
        """Files changed with `path`: (file, P(file | path), support), strongest first."""
        commits = self.by_file.get(path, [])
        if len(commits) < min_support:
            return []
        together: Counter[str] = Counter()
        for index in commits:
            together.update(f for f in self.commits[index].files if f != path)
        found = [
            (other, count / len(commits), count)
            for other, count in together.items()
            if count >= min_support and count / len(commits) >= min_confidence
        ]
        return sorted(found, key=lambda item: (-item[1], item[0]))
