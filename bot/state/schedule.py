"""Block, land and launch at each step: the merge order in effect (requeued tasks last), the
task to land now, and the planned tasks that may start, each other one with why it waits. (The
plan's up-front scheduling, waves and critical path, is `bot.planning.schedule`.)"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence

from bot.models import Plan, TaskState, TaskStatus
from bot.planning.changelogs import is_mergeable
from bot.state.actions import Decision
from bot.state.failures import still_after
from bot.state.overlap import observed_files, seen_overlap
from bot.state.transitions import IN_FLIGHT, SATISFIES_DEPENDENCY

S = TaskStatus


def effective_order(plan: Plan, requeued: Collection[str] = ()) -> list[str]:
    """The merge order, with requeued tasks (and whatever depends on them) moved to the end:
    a task that conflicted at merge time is tried again after the others."""
    if not requeued:
        return list(plan.merge_order)
    moved = set(requeued)
    for task_id in plan.merge_order:  # dependents come later in merge order
        if any(dep.after == task_id and dep.before in moved for dep in plan.dependencies):
            moved.add(task_id)
    return [t for t in plan.merge_order if t not in moved] + [
        t for t in plan.merge_order if t in moved
    ]


def _blocker(task_id: str, plan: Plan, states: Mapping[str, TaskStatus]) -> str | None:
    for dep in plan.dependencies:
        status = states[dep.before]
        if dep.after == task_id and status.terminal and status not in SATISFIES_DEPENDENCY:
            return f"dependency {dep.before} ended {status}"
    return None


def _wait_reason(
    task_id: str,
    plan: Plan,
    states: Mapping[str, TaskStatus],
    order: Sequence[str],
    observed: Mapping[str, Collection[str]],
    after: Collection[str],
    mergeable: Sequence[str],
    refused: Collection[str] = (),
) -> str | None:
    """Why a planned task cannot start yet, or None when it may."""
    for dep in plan.dependencies:
        if dep.after == task_id and states[dep.before] not in SATISFIES_DEPENDENCY:
            return f"waits for dependency {dep.before} to land"
    unfinished = [other for other in after if not states[other].terminal]
    if unfinished:
        return f"waits for {', '.join(unfinished)} to end (it failed while they were unfinished)"
    position = order.index(task_id)
    earlier = {other for other in order[:position] if not states[other].terminal}
    for conflict in plan.conflicts:
        if task_id in (conflict.a, conflict.b):
            other = conflict.b if conflict.a == task_id else conflict.a
            if other in earlier:
                return f"waits for {other} ({conflict.reason})"
    for other in order[:position]:
        if other in earlier and (
            shared := seen_overlap(task_id, other, plan, observed, mergeable, refused)
        ):
            return f"waits for {other} (it changed {shared}, which this task touches too)"
    return None


def _landing_choice(
    plan: Plan,
    states: Mapping[str, TaskStatus],
    order: Sequence[str],
    observed: Mapping[str, Collection[str]],
    mergeable: Sequence[str],
    refused: Collection[str] = (),
) -> tuple[str | None, dict[str, str]]:
    """The task to land now: the first in `order` that is in review and that no earlier task
    in flight is related to (predicted to conflict with it, or seen changing a file it
    changes or likely touches). Unrelated work never waits behind a slow agent; related work
    lands in plan order. Also: why each other task in review waits."""
    conflicts = {frozenset((c.a, c.b)): c.reason for c in plan.conflicts}
    held: dict[str, str] = {}
    for position, task_id in enumerate(order):
        if states[task_id] is not S.REVIEW:
            continue
        for earlier in order[:position]:
            if states[earlier] not in IN_FLIGHT:
                continue  # ended, or not started: it will start from the new base
            why = conflicts.get(frozenset((task_id, earlier)))
            if why is None and (
                shared := seen_overlap(task_id, earlier, plan, observed, mergeable, refused)
            ):
                why = f"both change {shared}"
            if why is not None:
                held[task_id] = f"review: lands after {earlier} ({why})"
                break
        else:
            return task_id, held
    return None, held


def schedule(
    plan: Plan,
    now_states: Mapping[str, TaskState],
    order: Sequence[str],
    held: Mapping[str, str],
    mergeable: Sequence[str],
) -> Decision:
    """Block, land and launch; `held` tasks (waiting for a retry) take no slot."""
    states = {task_id: state.status for task_id, state in now_states.items()}
    observed = observed_files(now_states)
    block = tuple(
        (task_id, reason)
        for task_id in order
        if states[task_id] is S.PLANNED and (reason := _blocker(task_id, plan, states)) is not None
    )
    blocked = {task_id for task_id, _ in block}
    # changelog-style files git could not merge as a union in this run relate tasks again
    refused = {
        f
        for state in now_states.values()
        for f in state.conflict_files
        if is_mergeable(f, mergeable)
    }
    merge, waiting = _landing_choice(plan, states, order, observed, mergeable, refused)
    running = sum(1 for status in states.values() if status is S.RUNNING)
    launch: list[str] = []
    for task_id in order:
        if states[task_id] is not S.PLANNED or task_id in blocked:
            continue
        after = still_after(now_states[task_id], now_states, observed, mergeable)
        reason = held.get(task_id) or _wait_reason(
            task_id, plan, states, order, observed, after, mergeable, refused
        )
        if reason is None and running + len(launch) >= plan.max_parallel:
            reason = f"all {plan.max_parallel} agent slots busy"
        if reason is None:
            launch.append(task_id)
        else:
            waiting[task_id] = reason
    for task_id in order:
        if states[task_id] in IN_FLIGHT:
            waiting.setdefault(task_id, str(states[task_id]))
    return Decision(block=block, merge=merge, launch=tuple(launch), waiting=waiting)
