"""Choose the conflict threshold for one repository from its own recent history. Pure.

A fixed risk threshold fits one repository and not the next: the risk at which conflict
recall reaches 0.9 was 0.075 on sphinx and 0.24 on httpx (docs/benchmarks.md). So before
planning, the newest past changes are replayed as if they had been tasks: each is predicted
from the history before them, pairs of nearby changes that really shared a file are the ones
that should have been kept apart, and the threshold is the highest risk that still keeps
`target_recall` of those pairs apart.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from bot.analysis.footprint import RepoSnapshot, predict_footprints
from bot.analysis.history import Commit
from bot.models import Footprint, Task
from bot.planning.graphs import CONFLICT_THRESHOLD, conflict_weight, is_mergeable

SAMPLE = 48  # newest past changes replayed
WINDOW = 6  # changes this close count as "started together"
MAX_FILES = 40  # bulk changes say nothing
MIN_PAST = 40  # commits older than the sample needed to predict from
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
    sample = usable[:SAMPLE]
    if len(sample) < 2 * WINDOW or len(snapshot.history) - sample[-1][0] - 1 < MIN_PAST:
        return _default(f"too little history to calibrate; using {CONFLICT_THRESHOLD:g}")
    past = snapshot.with_history(snapshot.history[sample[-1][0] + 1 :])
    tasks = [_task(i, commit) for i, (_, commit) in enumerate(sample)]
    footprints = predict_footprints(tasks, past)
    related: list[float] = []
    unrelated: list[float] = []
    for i in range(len(sample)):
        for j in range(i + 1, min(i + WINDOW, len(sample))):
            files_i, files_j = set(sample[i][1].files), set(sample[j][1].files)
            truth = any(not is_mergeable(f, mergeable) for f in files_i & files_j & alive)
            risk = _risk(footprints[str(i)], footprints[str(j)], mergeable)
            (related if truth else unrelated).append(risk)
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
        f"calibrated on {len(sample)} recent changes: keeps {recall:.0%} of {len(related)} "
        f"pairs that shared a file apart, leaves {parallel:.0%} of the others parallel"
    )
    return Calibration(round(threshold, 4), len(related), recall, parallel, reason)
