"""Task state machine and the reconcile decision. Pure: observed states in, typed actions out.

```mermaid
stateDiagram-v2
    [*] --> planned
    planned --> running: launched (dependencies merged, no conflicting task in flight)
    planned --> blocked: a dependency failed
    planned --> merged: already on the base (its trailers found there)
    running --> review: agent finished with changes
    running --> no-op: agent finished without changes
    running --> failed: non-zero exit, timeout, crash, no heartbeat (lost)
    running --> conflict: its work in progress already conflicts (stopped early)
    running --> planned: interrupted (orchestrate stopped mid-run)
    review --> merged: rebased, tested, landed on base
    review --> conflict: rebase conflict
    review --> failed: tests red on the rebased result
    failed --> planned: retry (transient failure)
    conflict --> planned: redo on the new base, after the others
    no-op --> planned: retry requested
    blocked --> planned: dependency retried
```
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace

import networkx as nx

from bot.budget import Budget, budget_room
from bot.models import Footprint, Plan, TaskState, TaskStatus
from bot.planning.changelogs import MERGEABLE, is_mergeable

S = TaskStatus

TRANSITIONS: Mapping[TaskStatus, frozenset[TaskStatus]] = {
    S.PLANNED: frozenset({S.RUNNING, S.BLOCKED, S.MERGED}),  # merged: found on the base
    S.RUNNING: frozenset({S.REVIEW, S.NOOP, S.FAILED, S.PLANNED, S.CONFLICT}),
    S.REVIEW: frozenset({S.MERGED, S.CONFLICT, S.FAILED}),
    S.MERGED: frozenset(),
    S.CONFLICT: frozenset({S.PLANNED}),
    S.FAILED: frozenset({S.PLANNED}),
    S.NOOP: frozenset({S.PLANNED}),
    S.BLOCKED: frozenset({S.PLANNED}),
}

# A dependency is satisfied once it has landed, or once it turned out to need no change.
SATISFIES_DEPENDENCY = frozenset({S.MERGED, S.NOOP})


class TransitionError(Exception):
    pass


def check_transition(old: TaskStatus, new: TaskStatus) -> None:
    if new not in TRANSITIONS[old]:
        raise TransitionError(f"a task cannot go from {old} to {new}")


@dataclass(frozen=True)
class Retry:
    """How often a task is tried again after a transient failure, and how long it waits."""

    attempts: int = 2
    backoff: float = 10.0  # seconds before the first retry; doubles each time


@dataclass(frozen=True)
class Policy:
    """The numbers the decision needs beyond the plan: retries (per task, where a task's agent
    overrides them), redos after a merge conflict, requeues of a failure behind unfinished work
    it may need, when a silent agent counts as lost, and the changelog-style files that relate
    no tasks (the merge queue merges them as a union)."""

    retry: Retry = Retry()
    task_retry: Mapping[str, Retry] = field(default_factory=dict)
    conflict_redos: int = 1
    failure_waits: int = 1
    mergeable: tuple[str, ...] = MERGEABLE
    stale_after: float | None = None  # no heartbeat for this long: the agent is lost
    base: str = "main"
    budget: Budget = field(default_factory=Budget)
    provider: Mapping[str, str] = field(default_factory=dict)  # task id -> its agent's provider

    def provider_of(self, task_id: str) -> str:
        return self.provider.get(task_id, "agent")

    def retry_for(self, task_id: str) -> Retry:
        return self.task_retry.get(task_id, self.retry)


@dataclass(frozen=True)
class Requeue:
    """Put an ended (or lost) task back to `planned`, with these fields changed."""

    task_id: str
    detail: str
    fields: Mapping[str, object] = field(default_factory=dict)


# A task's clash fields when nothing clashes (a new attempt, a stopped agent).
CLEARED_CLASH: dict[str, object] = {"clashes": (), "base_clash": False, "clash_files": ()}


@dataclass(frozen=True)
class Restart:
    """Stop a running agent whose work in progress already conflicts: it ends in `conflict`
    with these files, and is redone like a conflict found at merge time."""

    task_id: str
    detail: str
    files: tuple[str, ...]

    def fields(self, now: float) -> dict[str, object]:
        """The stopped task's fields besides its status and detail."""
        return {**CLEARED_CLASH, "conflict_files": self.files, "finished_at": now, "pid": None}


@dataclass(frozen=True)
class Decision:
    """What the engine should do next, in this order: fail lost agents, requeue, block, stop
    agents whose work already conflicts, merge, launch. `waiting` says why each task that is
    not acted on waits."""

    fail: tuple[tuple[str, str], ...] = ()
    requeue: tuple[Requeue, ...] = ()
    block: tuple[tuple[str, str], ...] = ()
    restart: tuple[Restart, ...] = ()
    merge: str | None = None
    launch: tuple[str, ...] = ()
    waiting: Mapping[str, str] = field(default_factory=dict)

    @property
    def acts(self) -> bool:
        """Something changes when this decision is carried out."""
        return bool(
            self.fail or self.requeue or self.block or self.restart or self.merge or self.launch
        )

    @property
    def done(self) -> bool:
        return not (self.acts or self.waiting)


def _blocker(task_id: str, plan: Plan, states: Mapping[str, TaskStatus]) -> str | None:
    for dep in plan.dependencies:
        status = states[dep.before]
        if dep.after == task_id and status.terminal and status not in SATISFIES_DEPENDENCY:
            return f"dependency {dep.before} ended {status}"
    return None


def _seen_overlap(
    a: str,
    b: str,
    plan: Plan,
    observed: Mapping[str, Collection[str]],
    mergeable: Sequence[str],
    refused: Collection[str] = (),
) -> str | None:
    """A file one task was seen changing that the other changes too or likely touches
    (changelog-style files aside: they are merged as a union, unless the union was `refused`
    there in this run), or None."""
    seen_a, seen_b = set(observed.get(a, ())), set(observed.get(b, ()))
    shared = (seen_a & (seen_b | likely_files(plan.task(b).footprint))) | (
        seen_b & likely_files(plan.task(a).footprint)
    )
    found = sorted(f for f in shared if f in refused or not is_mergeable(f, mergeable))
    return found[0] if found else None


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
            shared := _seen_overlap(task_id, other, plan, observed, mergeable, refused)
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
                shared := _seen_overlap(task_id, earlier, plan, observed, mergeable, refused)
            ):
                why = f"both change {shared}"
            if why is not None:
                held[task_id] = f"review: lands after {earlier} ({why})"
                break
        else:
            return task_id, held
    return None, held


LIKELY = 0.5


def likely_files(footprint: Footprint) -> set[str]:
    """Predicted files the predictor is fairly sure of (explicit ones always)."""
    return {f for f in footprint.files if footprint.confidence.get(f, 1.0) >= LIKELY}


IN_FLIGHT = (S.RUNNING, S.REVIEW)


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


def _span(seconds: float) -> str:
    return f"{seconds / 60:g}m" if seconds >= 120 else f"{seconds:g}s"


def _lost(
    order: Sequence[str], states: Mapping[str, TaskState], now: float, policy: Policy
) -> list[tuple[str, str]]:
    """Running tasks whose agent has not reported for longer than `policy.stale_after`."""
    if policy.stale_after is None:
        return []
    lost = []
    for task_id in order:
        state = states[task_id]
        beat = state.heartbeat_at if state.heartbeat_at is not None else state.started_at
        if state.status is S.RUNNING and beat is not None and now - beat > policy.stale_after:
            lost.append((task_id, f"no heartbeat for {_span(now - beat)}: the agent was lost"))
    return lost


def _paused(states: Mapping[str, TaskState], now: float, policy: Policy) -> dict[str, float]:
    """Providers that said "slow down", and until when: the latest retry of a task of theirs
    that was rate-limited. Every agent on that provider waits as long (one shared clock)."""
    until: dict[str, float] = {}
    for task_id, state in states.items():
        if not state.rate_limited:
            continue
        if state.status is S.FAILED:  # no retry left: still, its provider said slow down
            end = (state.finished_at or now) + policy.retry_for(task_id).backoff
        else:
            end = state.retry_at or 0.0
        if end > now:
            provider = policy.provider_of(task_id)
            until[provider] = max(until.get(provider, 0.0), end)
    return until


def _observed(states: Mapping[str, TaskState]) -> dict[str, set[str]]:
    """The files each task was seen changing, now or in an attempt that conflicted, or that
    the output of its failed attempt named (the files it was at work on)."""
    return {
        task_id: {*state.files, *state.conflict_files, *state.named_files}
        for task_id, state in states.items()
    }


def _footprint_files(task_id: str, plan: Plan, observed: Mapping[str, Collection[str]]) -> set[str]:
    """Every file a task is predicted (at any confidence) or seen to touch."""
    return set(plan.task(task_id).footprint.files) | set(observed.get(task_id, ()))


def _named(state: TaskState, mergeable: Sequence[str]) -> set[str]:
    """The files its failure's output named, changelog-style ones aside."""
    return {f for f in state.named_files if not is_mergeable(f, mergeable)}


def _failed_on(
    task_id: str, plan: Plan, states: Mapping[str, TaskState], mergeable: Sequence[str]
) -> tuple[set[str], bool]:
    """The files a failed task's failure is about (changelog-style files aside), and whether
    its own output named them: the files of its checkout its agent's last words name, else
    every file it is predicted or seen to touch."""
    if named := _named(states[task_id], mergeable):
        return named, True
    mine = _footprint_files(task_id, plan, _observed(states))
    return {f for f in mine if not is_mergeable(f, mergeable)}, False


def _needed_work(
    task_id: str, plan: Plan, states: Mapping[str, TaskState], mine: set[str]
) -> dict[str, str]:
    """Unfinished tasks a failed task may have needed: ones predicted or seen to touch one of
    `mine`, with that file. Never one that depends on it or waits for it (that would wait
    forever)."""
    observed = _observed(states)
    needs: nx.DiGraph[str] = nx.DiGraph((d.after, d.before) for d in plan.dependencies)
    needs.add_edges_from(
        (t, a) for t, s in states.items() if not s.status.terminal for a in s.after
    )
    needs.add_nodes_from(states)
    found: dict[str, str] = {}
    for other in plan.merge_order:
        if other == task_id or states[other].status.terminal or nx.has_path(needs, other, task_id):
            continue
        shared = sorted(mine & _footprint_files(other, plan, observed))
        if shared:
            found[other] = shared[0]
    return found


def _landed_since(
    task_id: str, plan: Plan, states: Mapping[str, TaskState], mine: set[str]
) -> dict[str, str]:
    """Tasks that landed after a failed task started, changing one of `mine`, with that file:
    the failure may be the work they brought not being there yet, and it is there now."""
    started = states[task_id].started_at
    if started is None:
        return {}
    observed = _observed(states)
    found: dict[str, str] = {}
    for other in plan.merge_order:
        state = states[other]
        if other == task_id or state.status is not S.MERGED or (state.finished_at or 0) < started:
            continue
        shared = sorted(mine & (observed[other] or _footprint_files(other, plan, observed)))
        if shared:
            found[other] = shared[0]
    return found


def _failure_wait(
    task_id: str, plan: Plan, states: Mapping[str, TaskState], policy: Policy
) -> Requeue | None:
    """A transient failure that may lack other work, while waits are left: behind unfinished
    tasks that may change its files, else at once when a related task landed after it
    started (one retry then covers what either brought); None when neither applies. When
    its output named files, only those count, and a task that landed a change to one of them
    comes first: that work is there now, and waiting for more would cost a whole run."""
    state = states[task_id]
    if state.rate_limited or state.waits >= policy.failure_waits:
        return None
    count = f"(wait {state.waits + 1} of {policy.failure_waits})"
    fields: dict[str, object] = {"waits": state.waits + 1, "retryable": False}
    mine, named = _failed_on(task_id, plan, states, policy.mergeable)
    needed = _needed_work(task_id, plan, states, mine)
    landed = _landed_since(task_id, plan, states, mine)
    if needed and not (named and landed):
        who, file = ", ".join(needed), next(iter(needed.values()))
        ended = "it has" if len(needed) == 1 else "they have"
        detail = f"failed ({state.detail}) while {who} may still change {file}; tried again "
        return Requeue(
            task_id, f"{detail}once {ended} ended {count}", {**fields, "after": tuple(needed)}
        )
    if landed:
        who, file = ", ".join(landed), next(iter(landed.values()))
        detail = f"failed ({state.detail}) after {who} landed a change to {file} it may build on"
        again = f"tried again at once on the new {policy.base} {count}"
        return Requeue(task_id, f"{detail}; {again}", {**fields, "after": ()})
    return None


def _requeues(
    order: Sequence[str], plan: Plan, states: Mapping[str, TaskState], now: float, policy: Policy
) -> list[Requeue]:
    """Ended tasks that go back to `planned`: a transient failure while unfinished tasks may
    still change its files (behind them, while waits are left; at once when none is unfinished
    but one landed since it started), else with retries left (after an exponential backoff); a
    merge conflict with redos left (at once, after the others)."""
    found = []
    for task_id in order:
        state = states[task_id]
        if state.status is S.FAILED and state.retryable:
            rule = policy.retry_for(task_id)
            attempt = state.attempt - state.redos - state.waits  # since the last fresh start
            wait = _failure_wait(task_id, plan, states, policy)
            if wait is not None:
                found.append(wait)
            elif attempt <= rule.attempts:
                delay = rule.backoff * 2 ** (max(attempt, 1) - 1)
                found.append(
                    Requeue(
                        task_id,
                        f"transient failure ({state.detail}); retry {attempt} of "
                        f"{rule.attempts} in {delay:g}s",
                        {"retry_at": (state.finished_at or now) + delay, "retryable": False},
                    )
                )
        elif state.status is S.CONFLICT and state.redos < policy.conflict_redos:
            found.append(
                Requeue(
                    task_id,
                    f"{state.detail}; redo {state.redos + 1} of {policy.conflict_redos} on the "
                    f"new {policy.base}, after the others",
                    {"redos": state.redos + 1},
                )
            )
    return found


def _restarts(
    order: Sequence[str], states: Mapping[str, TaskState], policy: Policy
) -> list[Restart]:
    """Running tasks whose work in progress already really conflicts (git's verdict on each
    heartbeat): with what landed since they started (redone at once, on the new base), or
    with a task in flight before them in the merge order (redone once it has ended). Stopping
    them now saves the rest of a run that could not land as it is. Only while redos are left:
    without one, the agent finishes and the merge queue has the last word."""
    position = {task_id: index for index, task_id in enumerate(order)}
    found = []
    for task_id in order:
        state = states[task_id]
        if state.status is not S.RUNNING or state.redos >= policy.conflict_redos:
            continue
        files = state.clash_files
        shown = ", ".join(files[:3]) + (f" (+{len(files) - 3} more)" if len(files) > 3 else "")
        earlier = [
            other
            for other in state.clashes
            if other in position
            and position[other] < position[task_id]
            and states[other].status in IN_FLIGHT
        ]
        if state.base_clash:
            why = f"what landed on {policy.base} since it started"
        elif earlier:
            why = f"{earlier[0]}'s, which lands first"
        else:
            continue
        detail = f"its work in progress conflicts with {why} in {shown}: stopped early"
        found.append(Restart(task_id, detail, files))
    return found


def restarts(plan: Plan, states: Mapping[str, TaskState], policy: Policy) -> tuple[Restart, ...]:
    """Running agents to stop now, their work in progress already in conflict (see
    `_restarts`); an agent job asks it of its own task."""
    return tuple(_restarts(effective_order(plan, _requeued(states)), states, policy))


def decide(
    plan: Plan,
    states: Mapping[str, TaskState],
    now: float = 0.0,
    policy: Policy | None = None,
) -> Decision:
    """Given every task's state, what to fail, requeue, block, merge and launch.

    Lost agents (no heartbeat within `policy.stale_after`) fail as transient. A transient
    failure while unfinished tasks may still change its files waits for them (as often as
    `policy.failure_waits`); other transient failures with attempts left are retried after a
    backoff; merge conflicts with redos left are redone after the others (with whatever
    depends on them). A task in review lands once every earlier task in merge order that is
    related to it (predicted to conflict, or seen changing the same files) has ended;
    unrelated work never waits. Launches follow merge order, up to `max_parallel` running at
    once. Files a task really changed (so far, or in an earlier attempt) count like predicted
    ones: a planned task waits for an earlier task seen changing the files it likely touches.
    """
    policy = policy or Policy()
    order = plan.merge_order
    now_states = {task_id: states[task_id] for task_id in order}
    fail = tuple(_lost(order, now_states, now, policy))
    for task_id, detail in fail:
        now_states[task_id] = now_states[task_id].model_copy(
            update={"status": S.FAILED, "detail": detail, "retryable": True, "finished_at": now}
        )
    requeue = tuple(_requeues(order, plan, now_states, now, policy))
    for item in requeue:
        now_states[item.task_id] = now_states[item.task_id].model_copy(
            update={**item.fields, "status": S.PLANNED}
        )
    restart = restarts(plan, now_states, policy)
    for stopped in restart:
        now_states[stopped.task_id] = now_states[stopped.task_id].model_copy(
            update={"status": S.CONFLICT, "conflict_files": stopped.files}
        )
    requeued = _requeued(now_states)
    held = {
        task_id: f"retrying in {state.retry_at - now:.0f}s"
        for task_id, state in now_states.items()
        if state.status is S.PLANNED and state.retry_at is not None and state.retry_at > now
    }
    for provider, until in _paused(now_states, now, policy).items():
        for task_id, state in now_states.items():
            if state.status is S.PLANNED and policy.provider_of(task_id) == provider:
                held.setdefault(task_id, f"{provider} rate-limited: resumes in {until - now:.0f}s")
    decision = _schedule(plan, now_states, effective_order(plan, requeued), held, policy.mergeable)
    room, why = budget_room(now_states, now, policy.budget)
    if len(decision.launch) > room:  # the budget holds the rest: they stay planned
        waiting = {**decision.waiting, **{t: why for t in decision.launch[room:]}}
        decision = replace(decision, launch=decision.launch[:room], waiting=waiting)
    return replace(decision, fail=fail, requeue=requeue, restart=restart)


def _requeued(states: Mapping[str, TaskState]) -> set[str]:
    """Tasks redone or waiting behind others: they come after the rest in the merge order (one
    tried again at once, after the work it needed landed, keeps its place)."""
    return {t for t, s in states.items() if (s.redos or s.after) and not s.status.terminal}


def _still_after(
    state: TaskState,
    states: Mapping[str, TaskState],
    observed: Mapping[str, Collection[str]],
    mergeable: Sequence[str],
) -> tuple[str, ...]:
    """The tasks a failure requeued behind unfinished work still waits for: none once one of
    them has landed a change to a file its failure named (what it lacked is there now; the
    rest was only predicted to matter)."""
    named = _named(state, mergeable)
    for other in state.after:
        if states[other].status is S.MERGED and named & set(observed.get(other, ())):
            return ()
    return state.after


def _schedule(
    plan: Plan,
    now_states: Mapping[str, TaskState],
    order: Sequence[str],
    held: Mapping[str, str],
    mergeable: Sequence[str],
) -> Decision:
    """Block, land and launch; `held` tasks (waiting for a retry) take no slot."""
    states = {task_id: state.status for task_id, state in now_states.items()}
    observed = _observed(now_states)
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
        after = _still_after(now_states[task_id], now_states, observed, mergeable)
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


# -- what people ask for: retry an ended task, cancel one (both modes' commands) -----------

RETRYABLE = frozenset({S.FAILED, S.CONFLICT, S.NOOP, S.BLOCKED})


def retry_problem(task_id: str, state: TaskState | None) -> str | None:
    """Why `retry` cannot apply to this task, or None when it goes back to `planned`."""
    if state is None:
        return f"#{task_id} is not a task of this plan."
    if state.status not in RETRYABLE:
        return f"#{task_id} is {state.status.value}; only an ended task can be retried."
    return None


def cancelled(status: TaskStatus) -> TaskStatus | None:
    """What `cancel` makes of a task: a running one, or one in review (it will not land),
    failed; a planned one blocked."""
    return {S.RUNNING: S.FAILED, S.REVIEW: S.FAILED, S.PLANNED: S.BLOCKED}.get(status)
