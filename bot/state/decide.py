"""The reconcile decision: given every task's state, the clock and the policy, what to fail,
requeue, block, stop early, land and launch (`decide`); and the running agents to stop now,
their work in progress already in conflict (`restarts`, which an agent job asks of its own
task)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

from bot.budget import budget_room
from bot.models import Plan, TaskState, TaskStatus
from bot.render.text import listed
from bot.state.actions import Decision, Restart
from bot.state.failures import lost, repeated, requeues, still_after
from bot.state.overlap import observed_files
from bot.state.policy import Policy
from bot.state.schedule import effective_order, schedule
from bot.state.transitions import IN_FLIGHT

S = TaskStatus


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
        shown = listed(files, 3)
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
    requeued = _requeued(states, _waits(states, policy.mergeable))
    return tuple(_restarts(effective_order(plan, requeued), states, policy))


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
    backoff, unless it failed as the attempt before it did with nothing new landed since
    (`repeated`), after the others while they wait for it; merge conflicts with redos left
    are redone after the others (with whatever depends on them). A task in review lands once
    every earlier task in merge order that is related to it (predicted to conflict, or seen
    changing the same files) has ended; unrelated work never waits. Launches follow merge
    order, up to `max_parallel` running at once. Files a task really changed (so far, or in
    an earlier attempt) count like predicted ones: a planned task waits for an earlier task
    seen changing the files it likely touches.
    """
    policy = policy or Policy()
    order = plan.merge_order
    now_states = {task_id: states[task_id] for task_id in order}
    fail = tuple(lost(order, now_states, now, policy))
    for task_id, detail in fail:
        now_states[task_id] = now_states[task_id].model_copy(
            update={"status": S.FAILED, "detail": detail, "retryable": True, "finished_at": now}
        )
    give_up = tuple(repeated(order, plan, now_states, policy))
    for task_id, detail in give_up:
        now_states[task_id] = now_states[task_id].model_copy(
            update={"detail": detail, "retryable": False}
        )
    requeue = tuple(requeues(order, plan, now_states, now, policy))
    for item in requeue:
        now_states[item.task_id] = now_states[item.task_id].model_copy(
            update={**item.fields, "status": S.PLANNED}
        )
    restart = restarts(plan, now_states, policy)
    for stopped in restart:
        now_states[stopped.task_id] = now_states[stopped.task_id].model_copy(
            update={"status": S.CONFLICT, "conflict_files": stopped.files}
        )
    waits = _waits(now_states, policy.mergeable)
    requeued = _requeued(now_states, waits)
    held = {
        task_id: f"retrying in {state.retry_at - now:.0f}s"
        for task_id, state in now_states.items()
        if state.status is S.PLANNED and state.retry_at is not None and state.retry_at > now
    }
    for provider, until in _paused(now_states, now, policy).items():
        for task_id, state in now_states.items():
            if state.status is S.PLANNED and policy.provider_of(task_id) == provider:
                held.setdefault(task_id, f"{provider} rate-limited: resumes in {until - now:.0f}s")
    in_effect = effective_order(plan, requeued)
    decision = schedule(plan, now_states, in_effect, held, waits, policy.mergeable)
    room, why = budget_room(now_states, now, policy.budget)
    if len(decision.launch) > room:  # the budget holds the rest: they stay planned
        waiting = {**decision.waiting, **{t: why for t in decision.launch[room:]}}
        decision = replace(decision, launch=decision.launch[:room], waiting=waiting)
    return replace(decision, fail=fail, give_up=give_up, requeue=requeue, restart=restart)


def _waits(states: Mapping[str, TaskState], mergeable: Sequence[str]) -> dict[str, tuple[str, ...]]:
    """The tasks each unfinished task that failed still waits for (`still_after`), where any."""
    observed = observed_files(states)
    return {
        task_id: after
        for task_id, state in states.items()
        if state.after
        and not state.status.terminal
        and (after := still_after(state, states, observed, mergeable))
    }


def _requeued(states: Mapping[str, TaskState], waits: Mapping[str, Sequence[str]]) -> set[str]:
    """Tasks redone, waiting behind others or waiting out a retry's backoff: they come after
    the rest in the merge order. A task in its backoff holds up no related task (seen in a
    replay of click's history: two tasks waited 35 s behind one retried twice, then given up);
    once due, it waits for those in flight instead. One tried again at once, after the work it
    needed landed, keeps its place, and so does one whose wait is over (see `still_after`)."""
    return {
        t
        for t, s in states.items()
        if not s.status.terminal
        and (s.redos or t in waits or (s.status is S.PLANNED and s.retry_at is not None))
    }
