"""What the repository's history says: similar past changes, co-change, how hot each file is.

Built from commits before the plan's base (the I/O side bounds them in number and time). Pure.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache

from bot.analysis.retrieval import BM25
from bot.analysis.text import words

MAX_FILES = 40  # larger commits (reformats, renames, vendoring) say nothing about companions
MAX_TREE_SHARE = 0.25  # nor does a commit that touches a quarter of a small repository
MIN_BULK = 4  # ... though in a tiny one, a commit of a few files still may
MIN_SUPPORT = 3
MIN_CONFIDENCE = 0.3
HALF_LIFE = 300  # commits: how fast the base rate and similar changes forget the past


@lru_cache(maxsize=16384)
def _message_words(message: str) -> tuple[str, ...]:
    """A commit message's words (cached: calibration indexes the same history many times)."""
    return tuple(words(message[:2000]))


@dataclass(frozen=True)
class Commit:
    """One past change: its message and the files it touched (newest first in a history)."""

    sha: str
    time: int
    message: str
    files: tuple[str, ...]


@dataclass(frozen=True)
class PastPair:
    """Two nearby past changes that touched a common file, and git's verdict on making them
    side by side from one base: the files they conflict in (empty: they merge cleanly), or
    None when it cannot be told (reverting the older one from the newer one's base fails)."""

    newer: str
    older: str
    shared: tuple[str, ...]
    conflicts: tuple[str, ...] | None


PAIR_SPAN = 5  # past changes at most this far apart could have been made side by side


def nearby_pairs(
    history: Sequence[Commit], limit: int, span: int = PAIR_SPAN
) -> list[tuple[int, int, tuple[str, ...]]]:
    """Positions (newer, older) in a newest-first first-parent history of changes at most
    `span` apart that share a file, with the files shared; newest first, at most `limit`.
    Bulk changes (over MAX_FILES files) say nothing and are left out; both changes need
    their parent in the history."""
    found: list[tuple[int, int, tuple[str, ...]]] = []
    for newer in range(len(history)):
        if len(history[newer].files) > MAX_FILES:
            continue
        mine = set(history[newer].files)
        for older in range(newer + 1, min(newer + span, len(history) - 2) + 1):
            if len(history[older].files) > MAX_FILES:
                continue
            shared = tuple(sorted(mine.intersection(history[older].files)))
            if shared:
                found.append((newer, older, shared))
                if len(found) >= limit:
                    return found
    return found


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
    positions: tuple[int, ...] = ()  # each kept commit's position in the history given
    first: int = 0  # commits before this one are hidden (see `older_than`)
    _cochanged: dict[tuple[str, int, float], list[tuple[str, float, int]]] = field(
        default_factory=dict, repr=False, compare=False
    )  # many tasks of one plan share their likely files

    @classmethod
    def build(cls, history: Iterable[Commit], existing: Iterable[str]) -> HistoryIndex:
        """Index commits touching at most MAX_FILES files and at most MAX_TREE_SHARE of the
        tree (an initial import says nothing about companions), restricted to files that
        still exist."""
        alive = frozenset(existing)
        history = tuple(history)
        limit = min(MAX_FILES, max(MIN_BULK, int(len(alive) * MAX_TREE_SHARE)))
        kept: list[Commit] = []
        positions: list[int] = []
        for position, commit in enumerate(history):
            files = tuple(f for f in commit.files if f in alive)
            if files and len(commit.files) <= limit:
                kept.append(Commit(commit.sha, commit.time, commit.message, files))
                positions.append(position)
        by_file: dict[str, list[int]] = defaultdict(list)
        for number, commit in enumerate(kept):
            for path in commit.files:
                by_file[path].append(number)
        bm25 = BM25.build(_message_words(c.message) for c in kept)
        built = cls(tuple(kept), bm25, dict(by_file), positions=tuple(positions))
        built.prior = built._prior()
        return built

    def _prior(self) -> dict[str, float]:
        """How often each file changed, recent commits weighing more (visible commits only)."""
        decay = [0.5 ** ((i - self.first) / HALF_LIFE) for i in range(len(self.commits))]
        total = sum(decay[self.first :]) or 1.0
        return {
            path: sum(decay[i] for i in ids if i >= self.first) / total
            for path, ids in self.by_file.items()
        }

    def older_than(self, position: int) -> HistoryIndex:
        """The same index seeing only the commits from `position` on in the history it was
        built from (newest first): what a plan made before those newer commits could know.
        Word statistics stay those of the whole history; no newer commit can be found."""
        first = bisect_left(self.positions, position)
        view = replace(self, first=first, _cochanged={})
        view.prior = view._prior()
        return view

    def similar(self, query: Sequence[str], k: int = 15) -> list[Similar]:
        top = self.messages.top(query, k, first=self.first)
        if not top:
            return []
        best = top[0][1]
        return [
            Similar(self.commits[doc], score / best * 0.5 ** ((doc - self.first) / (4 * HALF_LIFE)))
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
        key = (path, min_support, min_confidence)
        if key not in self._cochanged:
            self._cochanged[key] = self._count_cochanged(path, min_support, min_confidence)
        return self._cochanged[key]

    def _count_cochanged(
        self, path: str, min_support: int, min_confidence: float
    ) -> list[tuple[str, float, int]]:
        commits = [i for i in self.by_file.get(path, []) if i >= self.first]
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
