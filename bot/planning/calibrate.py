"""Learn this repository's conflict rates from its own history, and say what the plan's rule
would have done on it. Pure.

The rates (`bot.planning.risk.conflict_rates`) come from nearby pairs of past changes that
touched a common file, each replayed side by side with `git merge-tree` (the I/O side,
`bot.snapshot.load_past_pairs`). Then, as a check the plan reports, the newest past changes
are replayed as if they had been tasks, in blocks of consecutive changes started together,
each block predicted from the history just before it (as a plan made at that block's base
would have been) with rates learnt without that block's own pairs: how many of the pairs that
really conflicted the threshold keeps apart, and how many of the others it leaves side by side.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import combinations

from bot.analysis.footprint import RepoSnapshot, predict_footprints
from bot.analysis.history import Commit, PastPair
from bot.analysis.kinship import alike
from bot.models import Task
from bot.planning.changelogs import is_mergeable
from bot.planning.graphs import risky_pairs
from bot.planning.risk import ConflictRates, conflict_rates

BLOCK = 6  # consecutive past changes replayed as if started together
BLOCKS = 12  # so the newest 72 usable changes are replayed
MAX_FILES = 40  # bulk changes say nothing
MIN_PAST = 40  # commits older than a block needed to predict it from


@dataclass(frozen=True)
class Calibration:
    rates: ConflictRates
    threshold: float  # the conflict risk from which a pair is kept apart
    replayed: int = 0  # past changes replayed as tasks
    related: int = 0  # pairs among them that really conflicted
    recall: float = 0.0  # share of those the threshold keeps apart
    parallel: float = 0.0  # share of the other pairs it leaves side by side
    why: str = ""  # where the threshold comes from

    @property
    def reason(self) -> str:
        check = ""
        if self.related:
            check = (
                f"; replayed on its newest {self.replayed} changes, it keeps {self.recall:.0%} "
                f"of {self.related} real conflicts apart and leaves {self.parallel:.0%} of the "
                f"other pairs side by side"
            )
        return f"{self.why}; {self.rates.summary}{check}"


def _task(index: int, commit: Commit) -> Task:
    title, _, body = commit.message.strip().partition("\n")
    return Task(id=str(index), slug="past", title=title or "change", body=body.strip())


def _replay(
    block: Sequence[Commit],
    past: RepoSnapshot,
    pairs: Sequence[PastPair],
    mergeable: Sequence[str],
) -> list[tuple[float, bool]]:
    """Predict a block of past changes as tasks: each pair's conflict risk, and whether it
    really conflicted (pairs that shared a file but could not be replayed are left out)."""
    shas = {commit.sha for commit in block}
    verdict = {(p.newer, p.older): p.conflicts for p in pairs}
    rates = conflict_rates([p for p in pairs if not {p.newer, p.older} & shas], mergeable)
    alive = set(past.files)
    tasks = [_task(i, c) for i, c in enumerate(block)]
    footprints = predict_footprints(tasks, past)
    texts = alike(tasks, past.history_index)
    risk = {(p.a, p.b): p.weight for p in risky_pairs(footprints, rates, mergeable, texts)}
    found: list[tuple[float, bool]] = []
    for i, j in combinations(range(len(block)), 2):  # newest first: i is the newer one
        shared = set(block[i].files) & set(block[j].files) & alive
        truth = False
        if any(not is_mergeable(f, mergeable) for f in shared):
            conflicts = verdict.get((block[i].sha, block[j].sha))
            if conflicts is None:
                continue
            truth = any(not is_mergeable(f, mergeable) for f in conflicts)
        found.append((risk.get((str(i), str(j)), 0.0), truth))
    return found


def calibrate(
    snapshot: RepoSnapshot,
    pairs: Sequence[PastPair],
    mergeable: Sequence[str],
    threshold: float,
    why: str = "",
) -> Calibration:
    """This repository's conflict rates, with what `threshold` achieved on its own past."""
    rates = conflict_rates(pairs, mergeable)
    alive = set(snapshot.files)
    usable = [
        (index, c)
        for index, c in enumerate(snapshot.history)
        if 0 < len(c.files) <= MAX_FILES and any(f in alive for f in c.files)
    ]
    scored: list[tuple[float, bool]] = []
    replayed = 0
    for first in range(0, BLOCK * BLOCKS, BLOCK):
        block = usable[first : first + BLOCK]
        before = block[-1][0] + 1 if block else len(snapshot.history)
        if len(block) < BLOCK or len(snapshot.history) - before < MIN_PAST:
            break
        past = snapshot.older_than(before)
        scored.extend(_replay([commit for _, commit in block], past, pairs, mergeable))
        replayed += len(block)
    related = [risk for risk, truth in scored if truth]
    unrelated = [risk for risk, truth in scored if not truth]
    if not related:
        return Calibration(rates, threshold, replayed, why=why)
    recall = sum(r >= threshold for r in related) / len(related)
    parallel = sum(r < threshold for r in unrelated) / len(unrelated) if unrelated else 1.0
    return Calibration(rates, threshold, replayed, len(related), recall, parallel, why)
