"""The files a task likely touches or was seen changing, and where two tasks share one
(changelog-style files aside: the merge queue merges them as a union)."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence

from bot.models import Footprint, Plan, TaskState
from bot.planning.changelogs import MERGEABLE, is_mergeable
from bot.state.transitions import IN_FLIGHT

LIKELY = 0.5


def likely_files(footprint: Footprint) -> set[str]:
    """Predicted files the predictor is fairly sure of (explicit ones always)."""
    return {f for f in footprint.files if footprint.confidence.get(f, 1.0) >= LIKELY}


def observed_files(states: Mapping[str, TaskState]) -> dict[str, set[str]]:
    """The files each task was seen changing, now or in an attempt that conflicted, or that
    the output of its failed attempt named (the files it was at work on)."""
    return {
        task_id: {*state.files, *state.conflict_files, *state.named_files}
        for task_id, state in states.items()
    }


def seen_footprint(footprint: Footprint, seen: Collection[str]) -> Footprint:
    """A task's predicted footprint with the files it was seen changing made certain."""
    if not seen:
        return footprint
    files = tuple(dict.fromkeys([*footprint.files, *sorted(seen)]))
    confidence = {**footprint.confidence, **dict.fromkeys(seen, 1.0)}
    return footprint.model_copy(update={"files": files, "confidence": confidence})


def overlaps(
    task_id: str,
    touching: Collection[str],
    plan: Plan,
    states: Mapping[str, TaskState],
    mergeable: Sequence[str] = MERGEABLE,
) -> dict[str, list[str]]:
    """Files this in-flight task changes that another task in flight changes or likely touches,
    by the other task's id, in merge order (changelog-style files aside)."""
    found: dict[str, list[str]] = {}
    for other in plan.merge_order:
        if other == task_id or other not in states or states[other].status not in IN_FLIGHT:
            continue
        theirs = set(states[other].files) | likely_files(plan.task(other).footprint)
        shared = sorted(f for f in set(touching) & theirs if not is_mergeable(f, mergeable))
        if shared:
            found[other] = shared
    return found
