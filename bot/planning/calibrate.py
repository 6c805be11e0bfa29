"""Choose the conflict threshold for one repository from its own recent history. Pure.

A fixed risk threshold fits one repository and not the next: the risk at which conflict
recall reaches 0.9 was 0.075 on sphinx and 0.24 on httpx (docs/benchmarks.md). So before
planning, the newest past changes are replayed as if they had been tasks, in blocks of
consecutive changes started together, each block predicted from the history just before it
(as a plan at that block's base would have been). Pairs in a block that really shared a file
are the ones that should have been kept apart, and the threshold is the highest risk that still
keeps `target_recall` of those pairs apart.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import combinations

from bot.analysis.footprint import RepoSnapshot, predict_footprints
from bot.analysis.history import Commit
from bot.models import Footprint, Task
from bot.planning.graphs import CONFLICT_THRESHOLD, conflict_weight, is_mergeable

BLOCK = 6  # consecutive past changes replayed as if started together
BLOCKS = 12  # so the newest 72 usable changes are replayed
MAX_FILES = 40  # bulk changes say nothing
MIN_PAST = 40  # commits older than a block needed to predict it from
MIN_RELATED = 8  # related pairs needed before trusting the result
FLOOR, CEILING = 0.03, 0.5


@dataclass(frozen=True)
class Calibration:
    threshold: float
    related: int  # sampled pairs that really shared a file
    recall: float  # share of those the threshold keeps apart
    parallel: float  # share of the other pairs it leaves parallel
    reason: str


def _task(index: int, commit: Commit) -> Task:
    title, _, body = commit.message.strip().partition("\n")
    return Task(id=str(index), slug="past", title=title or "change", body=body.strip())


def _risk(a: Footprint, b: Footprint, mergeable: tuple[str, ...]) -> float:
    if a.unknown or b.unknown:
        return 1.0
    shared = [f for f in set(a.files) & set(b.files) if not is_mergeable(f, mergeable)]
    return conflict_weight(a, b, shared) if shared else 0.0


def _default(reason: str) -> Calibration:
    return Calibration(CONFLICT_THRESHOLD, 0, 0.0, 0.0, reason)


def _replay(
    block: Sequence[Commit], past: RepoSnapshot, mergeable: tuple[str, ...]
) -> list[tuple[float, bool]]:
    """Predict a block of past changes as tasks: each pair's risk, and whether they really
    shared a (non-changelog) file."""
    alive = set(past.files)
    footprints = predict_footprints([_task(i, c) for i, c in enumerate(block)], past)
    pairs: list[tuple[float, bool]] = []
    for i, j in combinations(range(len(block)), 2):
        shared = set(block[i].files) & set(block[j].files) & alive
        truth = any(not is_mergeable(f, mergeable) for f in shared)
        pairs.append((_risk(footprints[str(i)], footprints[str(j)], mergeable), truth))
    return pairs


def calibrate_threshold(
    snapshot: RepoSnapshot,
    mergeable: tuple[str, ...],
    target_recall: float = 0.9,
) -> Calibration:
    """The conflict threshold for this repository, with what it achieved on its own past."""
    alive = set(snapshot.files)
    usable = [
        (index, c)
        for index, c in enumerate(snapshot.history)
        if 0 < len(c.files) <= MAX_FILES and any(f in alive for f in c.files)
    ]
    pairs: list[tuple[float, bool]] = []
    replayed = 0
    for first in range(0, BLOCK * BLOCKS, BLOCK):
        block = usable[first : first + BLOCK]
        before = block[-1][0] + 1 if block else len(snapshot.history)
        if len(block) < BLOCK or len(snapshot.history) - before < MIN_PAST:
            break
        past = snapshot.older_than(before)
        pairs.extend(_replay([commit for _, commit in block], past, mergeable))
        replayed += len(block)
    related = [risk for risk, truth in pairs if truth]
    unrelated = [risk for risk, truth in pairs if not truth]
    if replayed < 2 * BLOCK:
        return _default(f"too little history to calibrate; using {CONFLICT_THRESHOLD:g}")
    if len(related) < MIN_RELATED:
        return _default(
            f"only {len(related)} related pairs in recent history; using {CONFLICT_THRESHOLD:g}"
        )
    ranked = sorted(related, reverse=True)
    needed = ranked[max(0, math.ceil(target_recall * len(ranked)) - 1)]
    threshold = min(CEILING, max(FLOOR, needed))
    recall = sum(r >= threshold for r in related) / len(related)
    parallel = sum(r < threshold for r in unrelated) / len(unrelated) if unrelated else 1.0
    reason = (
        f"calibrated on {replayed} recent changes: keeps {recall:.0%} of {len(related)} "
        f"pairs that shared a file apart, leaves {parallel:.0%} of the others parallel"
    )
    return Calibration(round(threshold, 4), len(related), recall, parallel, reason)
