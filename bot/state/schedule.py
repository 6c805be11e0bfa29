"""Block, land and launch at each step: the merge order in effect (requeued tasks last), the
task to land now, and the planned tasks that may start, each other one with why it waits. (The
plan's up-front scheduling, waves and critical path, is `bot.planning.schedule`.)"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import cached_property

import networkx as nx

from bot.models import Footprint, Plan, TaskState, TaskStatus
from bot.planning.changelogs import is_mergeable
from bot.planning.risk import ConflictRates, pair_risk, risk_percent
from bot.state.actions import Decision
from bot.state.overlap import observed_files, seen_footprint
from bot.state.transitions import IN_FLIGHT, SATISFIES_DEPENDENCY

S = TaskStatus


def _touch(path: str, seen: Collection[str], footprint: Footprint) -> str:
    """How a task stands to a file, for a wait's reason: seen changing it, sure to touch it
    (listed), or likely to."""
    if path in seen:
        return "changes"
    return "touches" if footprint.confidence.get(path, 1.0) >= 1.0 else "may touch"


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


@dataclass(frozen=True)
class _Step:
    """What every wait at one step is judged on."""

    plan: Plan
    states: Mapping[str, TaskStatus]
    order: Sequence[str]
    observed: Mapping[str, Collection[str]]  # files each task was seen at work on
    mergeable: Sequence[str]
    refused: Collection[str]  # changelog-style files git refused to merge as a union
    rates: ConflictRates  # the plan's

    @cached_property
    def footprints(self) -> dict[str, Footprint]:
        """Each task's footprint, with the files it was seen changing made certain."""
        return {
            task.id: seen_footprint(task.footprint, self.observed.get(task.id, ()))
            for task in self.plan.tasks
        }

    @cached_property
    def counted(self) -> dict[str, frozenset[str]]:
        """The files of each footprint that can conflict: changelog-style ones aside, unless
        git refused their union in this run."""
        return {
            task_id: frozenset(
                f
                for f in footprint.files
                if f in self.refused or not is_mergeable(f, self.mergeable)
            )
            for task_id, footprint in self.footprints.items()
        }

    def seen_conflict(self, a: str, b: str) -> str | None:
        """Why `a` should wait for `b` (to start, or to land) from what either was seen
        changing, or None: their risk of a real conflict (`bot.planning.risk.pair_risk`, by
        the rates the plan used), with those files certain, reaches the plan's threshold.
        Only where one of them was seen changing a file both may touch: the plan has weighed
        their predicted footprints."""
        shared = self.counted[a] & self.counted[b]
        seen_a, seen_b = self.observed.get(a, ()), self.observed.get(b, ())
        if not shared or (shared.isdisjoint(seen_a) and shared.isdisjoint(seen_b)):
            return None
        prints = self.footprints
        risk = pair_risk(prints[a], prints[b], sorted(shared), self.rates)
        if risk.conflict < self.plan.conflict_threshold:
            return None
        top = risk.top
        if top in seen_b:
            how = f"it changed {top}, which this task {_touch(top, seen_a, prints[a])}"
        else:
            how = f"this task changed {top}, which it {_touch(top, seen_b, prints[b])}"
        return f"{how} too: conflict risk {risk_percent(risk.conflict)}"

    def unlanded(self, task_id: str) -> list[str]:
        """The dependencies of a task that have not landed yet."""
        return [
            dep.before
            for dep in self.plan.dependencies
            if dep.after == task_id and self.states[dep.before] not in SATISFIES_DEPENDENCY
        ]

    def earlier_related(self, task_id: str) -> Iterator[tuple[str, str]]:
        """The unfinished tasks before this one in the order that it waits for, each with
        why: predicted conflicts first, then ones seen changing a file it changes or may touch
        where that makes the risk of a real conflict reach the plan's threshold (below it, a
        real conflict is seen while they run: `bot.state.decide.restarts`)."""
        position = self.order.index(task_id)
        earlier = {t for t in self.order[:position] if not self.states[t].terminal}
        for conflict in self.plan.conflicts:
            if task_id in (conflict.a, conflict.b):
                other = conflict.b if conflict.a == task_id else conflict.a
                if other in earlier:
                    yield other, f"waits for {other} ({conflict.reason})"
        for other in self.order[:position]:
            if other in earlier and (why := self.seen_conflict(task_id, other)):
                yield other, f"waits for {other} ({why})"


def _wait_reason(task_id: str, step: _Step, after: Collection[str]) -> str | None:
    """Why a planned task cannot start yet, or None when it may."""
    if unlanded := step.unlanded(task_id):
        return f"waits for dependency {unlanded[0]} to land"
    unfinished = [other for other in after if not step.states[other].terminal]
    if unfinished:
        return f"waits for {', '.join(unfinished)} to end (it failed while they were unfinished)"
    return next((reason for _, reason in step.earlier_related(task_id)), None)


def _without_circles(
    afters: Mapping[str, tuple[str, ...]], planned: Sequence[str], step: _Step
) -> dict[str, tuple[str, ...]]:
    """The failure waits of planned tasks, less any that would close a circle of waits: a
    failed task waiting for a task that waits, by plan order or through others, for it would
    wait forever, so it goes without that wait (it may fail again: its retries are bounded)."""
    waits: nx.DiGraph[str] = nx.DiGraph()
    for task_id in planned:
        waits.add_edges_from((task_id, other) for other in step.unlanded(task_id))
        waits.add_edges_from((task_id, other) for other, _ in step.earlier_related(task_id))
    kept: dict[str, tuple[str, ...]] = {}
    for task_id in planned:
        if task_id not in afters:
            continue
        keep = []
        for other in afters[task_id]:
            if other in waits and task_id in waits and nx.has_path(waits, other, task_id):
                continue
            waits.add_edge(task_id, other)
            keep.append(other)
        kept[task_id] = tuple(keep)
    return kept


def _landing_choice(step: _Step) -> tuple[str | None, dict[str, str]]:
    """The task to land now: the first in the order that is in review and that no earlier
    task in flight is related to (predicted to conflict with it, or seen changing a file that
    makes their risk of a real conflict reach the plan's threshold: `_Step.seen_conflict`).
    Unrelated work never waits behind a slow agent; related work lands in plan order. Also:
    why each other task in review waits."""
    conflicts = {frozenset((c.a, c.b)): c.reason for c in step.plan.conflicts}
    held: dict[str, str] = {}
    for position, task_id in enumerate(step.order):
        if step.states[task_id] is not S.REVIEW:
            continue
        for earlier in step.order[:position]:
            if step.states[earlier] not in IN_FLIGHT:
                continue  # ended, or not started: it will start from the new base
            why = conflicts.get(frozenset((task_id, earlier)))
            if why is None:
                why = step.seen_conflict(task_id, earlier)
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
    waits: Mapping[str, Sequence[str]],
    mergeable: Sequence[str],
) -> Decision:
    """Block, land and launch; `held` tasks (waiting for a retry) take no slot, and a failed
    task waits for the tasks `waits` gives it (`bot.state.failures.still_after`)."""
    states = {task_id: state.status for task_id, state in now_states.items()}
    observed = observed_files(now_states)
    block = tuple(
        (task_id, reason)
        for task_id in order
        if states[task_id] is S.PLANNED and (reason := _blocker(task_id, plan, states)) is not None
    )
    blocked = {task_id for task_id, _ in block}
    # changelog-style files git could not merge as a union in this run relate tasks again:
    # sharing one is a conflict, whatever its rate
    refused = {
        f
        for state in now_states.values()
        for f in state.conflict_files
        if is_mergeable(f, mergeable)
    }
    rates = ConflictRates.kept_by(plan.rates)
    if refused:
        rates = replace(rates, by_file={**rates.by_file, **dict.fromkeys(refused, 1.0)})
    step = _Step(plan, states, order, observed, mergeable, refused, rates)
    merge, waiting = _landing_choice(step)
    running = sum(1 for status in states.values() if status is S.RUNNING)
    planned = [t for t in order if states[t] is S.PLANNED and t not in blocked]
    afters = {task_id: tuple(waits[task_id]) for task_id in planned if task_id in waits}
    if afters:
        afters = _without_circles(afters, planned, step)
    launch: list[str] = []
    for task_id in planned:
        reason = held.get(task_id) or _wait_reason(task_id, step, afters.get(task_id, ()))
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
