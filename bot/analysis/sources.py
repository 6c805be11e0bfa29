"""The evidence a footprint is built from, and the sources that add to it. Pure."""

from __future__ import annotations

import math
from collections.abc import Sequence

from bot.analysis.history import HistoryIndex
from bot.analysis.mentions import FileLookup
from bot.analysis.retrieval import BM25
from bot.analysis.symbols import SymbolIndex, find_symbols
from bot.models import Footprint

SYMBOL = {"module": 0.8, "method": 0.75, "definition": 0.7}
RETRIEVAL = 0.35  # the best code match, before the history's word on it
RETRIEVAL_TOP = 6
RETRIEVAL_MIN_SCORE = 0.6  # times ln(1 + documents): a weaker best match is noise
VOTE_FLOOR = 0.04
TEST_COMPANION = 0.5
COCHANGE = 0.8
SEED = 0.5  # only files this likely bring their companions
MIN_KEEP = 0.03
MAX_FILES = 40


class Evidence:
    """Per file, the best confidence each reason gave; files combine reasons as a noisy-OR."""

    def __init__(self) -> None:
        self.found: dict[str, dict[str, float]] = {}
        self.patterns: list[str] = []
        self.past: set[str] = set()  # reasons that are votes of similar past changes

    def add(self, path: str, reason: str, confidence: float, past: bool = False) -> None:
        if confidence <= 0:
            return
        reasons = self.found.setdefault(path, {})
        reasons[reason] = max(reasons.get(reason, 0.0), min(confidence, 1.0))
        if past:
            self.past.add(reason)

    def score(self, path: str, past: bool = True) -> float:
        """The file's confidence; without `past`, leaving out what similar past changes did."""
        miss = 1.0
        for reason, confidence in self.found.get(path, {}).items():
            if past or reason not in self.past:
                miss *= 1.0 - confidence
        return 1.0 - miss

    def seeds(self, floor: float = SEED) -> list[tuple[str, float]]:
        scored = ((path, self.score(path)) for path in self.found)
        return sorted(((p, s) for p, s in scored if s >= floor), key=lambda x: (-x[1], x[0]))

    def footprint(self, min_keep: float = MIN_KEEP, limit: int = MAX_FILES) -> Footprint:
        scored = sorted(((self.score(p), p) for p in self.found), key=lambda x: (-x[0], x[1]))
        kept = [(p, s) for s, p in scored if s >= min_keep or s >= 1.0][:limit]
        reasons = {
            path: "; ".join(r for r, _ in sorted(self.found[path].items(), key=lambda x: -x[1])[:3])
            for path, _ in kept
        }
        return Footprint(
            files=tuple(sorted(p for p, _ in kept)),
            patterns=tuple(self.patterns),
            reasons=reasons,
            confidence={p: round(s, 3) for p, s in kept},
            unknown=not kept and not self.patterns,
        )


def symbols(text: str, index: SymbolIndex, evidence: Evidence) -> None:
    for hit in find_symbols(text, index):
        confidence = SYMBOL[hit.how] / hit.share
        where = "" if hit.share == 1 else f", one of {hit.share} files"
        evidence.add(hit.path, f"defines '{hit.name}' ({hit.how}{where})", confidence)


def retrieval(
    query: Sequence[str], files: Sequence[str], index: BM25, evidence: Evidence, weight: float = 1.0
) -> None:
    """The files whose paths, definitions and docstrings best match the task's words, at
    `weight` of their usual confidence."""
    top = index.top(query, RETRIEVAL_TOP)
    if not top or top[0][1] < RETRIEVAL_MIN_SCORE * math.log1p(len(files)):
        return
    best = top[0][1]
    for rank, (doc, score) in enumerate(top, start=1):
        confidence = weight * RETRIEVAL * (score / best) ** 2
        evidence.add(files[doc], f"matches the task's words (code search rank {rank})", confidence)


def similar_changes(query: Sequence[str], history: HistoryIndex, evidence: Evidence) -> float:
    """Files that past changes with similar messages touched, weighted by similarity; returns
    the strongest vote."""
    neighbours = history.similar(query)
    if not neighbours:
        return 0.0
    votes = history.votes(neighbours)
    example: dict[str, str] = {}
    count: dict[str, int] = {}
    for n in neighbours:
        for path in n.commit.files:
            count[path] = count.get(path, 0) + 1
            if path not in example:
                subject = n.commit.message.split("\n", 1)[0][:60]
                example[path] = f"{n.commit.sha[:8]} '{subject}'"
    for path, vote in votes.items():
        if vote >= VOTE_FLOOR:
            reason = f"changed by {count[path]} similar past change(s), e.g. {example[path]}"
            evidence.add(path, reason, vote, past=True)
    return max(votes.values(), default=0.0)


def _test_files(path: str, lookup: FileLookup) -> list[str]:
    name = path.rsplit("/", 1)[-1]
    if not name.endswith(".py") or name.startswith("test_") or "/tests/" in f"/{path}":
        return []
    stem = name.removesuffix(".py")
    if stem == "__init__":
        stem = path.rsplit("/", 2)[-2] if "/" in path else stem
    found = lookup.by_basename.get(f"test_{stem}.py", []) + lookup.by_basename.get(
        f"{stem}_test.py", []
    )
    return found[:3]


def companions(lookup: FileLookup, history: HistoryIndex, evidence: Evidence) -> None:
    """Test files of likely files, and files history shows change with them, as likely as
    the task's own words make the file: what similar past changes touched along with it, they
    have voted for already (a bot's `pre-commit autoupdate`, similar to fourteen past ones
    that changed only `.pre-commit-config.yaml`, does not bring the files that change with
    that file in other commits)."""
    for path, _ in evidence.seeds():
        own = evidence.score(path, past=False)
        for test in _test_files(path, lookup):
            evidence.add(test, f"tests {path}", own * TEST_COMPANION)
        for other, confidence, support in history.cochanged(path)[:5]:
            reason = f"changed with {path} in {support} past commits ({confidence:.0%})"
            evidence.add(other, reason, own * confidence * COCHANGE)
