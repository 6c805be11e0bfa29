"""Failed, lost and conflicting tasks: which running agents count as lost, and which ended
tasks go back to `planned`, and when. A transient failure that may lack other work waits
behind unfinished tasks that may still change its files, or is tried again at once when a task
that changed them landed since it started; other transient failures are retried after a
backoff, unless it failed as the attempt before it did with nothing new landed since; merge
conflicts are redone on the new base, after the others."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence

import networkx as nx

from bot.models import Plan, TaskState, TaskStatus
from bot.planning.changelogs import is_mergeable
from bot.render.text import listed
from bot.state.actions import Requeue
from bot.state.overlap import observed_files
from bot.state.policy import Policy

S = TaskStatus


def _span(seconds: float) -> str:
    return f"{seconds / 60:g}m" if seconds >= 120 else f"{seconds:g}s"


def lost(
    order: Sequence[str], states: Mapping[str, TaskState], now: float, policy: Policy
) -> list[tuple[str, str]]:
    """Running tasks whose agent has not reported for longer than `policy.stale_after`."""
    if policy.stale_after is None:
        return []
    found = []
    for task_id in order:
        state = states[task_id]
        beat = state.heartbeat_at if state.heartbeat_at is not None else state.started_at
        if state.status is S.RUNNING and beat is not None and now - beat > policy.stale_after:
            found.append((task_id, f"no heartbeat for {_span(now - beat)}: the agent was lost"))
    return found


def _footprint_files(task_id: str, plan: Plan, observed: Mapping[str, Collection[str]]) -> set[str]:
    """Every file a task is predicted (at any confidence) or seen to touch."""
    return set(plan.task(task_id).footprint.files) | set(observed.get(task_id, ()))


def _named(state: TaskState, mergeable: Sequence[str]) -> set[str]:
    """The files its failure's output named, changelog-style ones aside unless they are all it
    named or not there: a changelog merges as a union, but one the agent could not change (a
    file another task renames or creates, say) is still what the failure is about."""
    named, missing = set(state.named_files), set(state.missing_files)
    return {f for f in named if not is_mergeable(f, mergeable) or f in missing} or named


def _failed_on(
    task_id: str, plan: Plan, states: Mapping[str, TaskState], mergeable: Sequence[str]
) -> tuple[set[str], bool]:
    """The files a failed task's failure is about, and whether its own output named them: the
    files of its checkout its agent's last words name, else every file (changelog-style ones
    aside) it is predicted or seen to touch."""
    if named := _named(states[task_id], mergeable):
        return named, True
    mine = _footprint_files(task_id, plan, observed_files(states))
    return {f for f in mine if not is_mergeable(f, mergeable)}, False


def _needed_work(
    task_id: str, plan: Plan, states: Mapping[str, TaskState], mine: set[str]
) -> dict[str, str]:
    """Unfinished tasks a failed task may have needed: ones predicted or seen to touch one of
    `mine`, with that file; and where its failure named a file it did not have that none of
    them may touch, every one of them (one may be creating it: a file's creator is the
    hardest thing to predict). Never one that depends on it or waits for it (that would wait
    forever)."""
    observed = observed_files(states)
    needs: nx.DiGraph[str] = nx.DiGraph((d.after, d.before) for d in plan.dependencies)
    needs.add_edges_from(
        (t, a) for t, s in states.items() if not s.status.terminal for a in s.after
    )
    needs.add_nodes_from(states)
    found: dict[str, str] = {}
    unfinished = [
        other
        for other in plan.merge_order
        if other != task_id
        and not states[other].status.terminal
        and not nx.has_path(needs, other, task_id)
    ]
    touched: set[str] = set()
    for other in unfinished:
        shared = sorted(mine & _footprint_files(other, plan, observed))
        touched.update(shared)
        if shared:
            found[other] = shared[0]
    if unclaimed := sorted((mine & set(states[task_id].missing_files)) - touched):
        return {other: found.get(other, unclaimed[0]) for other in unfinished}
    return found


def _landed_since(
    task_id: str, plan: Plan, states: Mapping[str, TaskState], mine: set[str]
) -> dict[str, str]:
    """Tasks that landed after a failed task started, changing one of `mine`, with that file:
    the failure may be the work they brought not being there yet, and it is there now."""
    started = states[task_id].started_at
    if started is None:
        return {}
    observed = observed_files(states)
    found: dict[str, str] = {}
    for other in plan.merge_order:
        state = states[other]
        if other == task_id or state.status is not S.MERGED or (state.finished_at or 0) < started:
            continue
        shared = sorted(mine & (observed[other] or _footprint_files(other, plan, observed)))
        if shared:
            found[other] = shared[0]
    return found


def _said(state: TaskState) -> str:
    """What a failed attempt's agent said (a digest of its last words, numbers aside, and the
    failure's detail); empty when its words were not read (a lost agent) or the service caused
    the failure (it may pass by itself)."""
    return f"{state.failure_digest}:{state.detail}" if state.failure_digest else ""


def _tried_again(state: TaskState) -> dict[str, object]:
    """The fields of a failed task sent back to be tried again: what it said goes with it, for
    the next attempt's failure to be compared with (`_repeats`)."""
    return {"retryable": False, "retried_after": _said(state)}


def _repeats(
    task_id: str, plan: Plan, states: Mapping[str, TaskState], mergeable: Sequence[str]
) -> str | None:
    """Why another attempt would only fail again, or None: this attempt failed saying what the
    one before it said, and nothing has landed since it started that changes the files the
    failure is about (those it named, else those it may touch): the next attempt would start
    from what this one had. Giving up is final, so every file it named counts here, a
    changelog too (seen in a replay of click's history: a task lacking the CHANGES.md another
    task created was given up just after that task landed it)."""
    state = states[task_id]
    said = _said(state)
    if not said or said != state.retried_after:
        return None
    mine = set(state.named_files) or _failed_on(task_id, plan, states, mergeable)[0]
    if _landed_since(task_id, plan, states, mine):
        return None
    since = "nothing has landed since it started"
    files = f" that changes {listed(sorted(mine), 3)}" if mine else ""
    return f"it failed as the attempt before it did, and {since}{files}"


def repeated(
    order: Sequence[str], plan: Plan, states: Mapping[str, TaskState], policy: Policy
) -> list[tuple[str, str]]:
    """Failures another attempt would only repeat (`_repeats`), with no unfinished work they
    may lack to wait for. They are not tried again (an agent run saved, and its backoff), and
    say why."""
    found = []
    for task_id in order:
        state = states[task_id]
        if state.status is not S.FAILED or not state.retryable or state.rate_limited:
            continue
        why = _repeats(task_id, plan, states, policy.mergeable)
        if why is not None and _failure_wait(task_id, plan, states, policy) is None:
            found.append((task_id, f"{state.detail}; {why}: not tried again"))
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
    fields = {"waits": state.waits + 1, **_tried_again(state)}
    mine, named = _failed_on(task_id, plan, states, policy.mergeable)
    needed = _needed_work(task_id, plan, states, mine)
    landed = _landed_since(task_id, plan, states, mine)
    if needed and not (named and landed):
        who, file = listed(list(needed)), next(iter(needed.values()))
        ended = "it has" if len(needed) == 1 else "they have"
        does = "create" if file in state.missing_files else "change"
        detail = f"failed ({state.detail}) while {who} may still {does} {file}; tried again "
        return Requeue(
            task_id, f"{detail}once {ended} ended {count}", {**fields, "after": tuple(needed)}
        )
    if landed:
        who, file = listed(list(landed)), next(iter(landed.values()))
        detail = f"failed ({state.detail}) after {who} landed a change to {file} it may build on"
        again = f"tried again at once on the new {policy.base} {count}"
        return Requeue(task_id, f"{detail}; {again}", {**fields, "after": ()})
    return None


def requeues(
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
                        {"retry_at": (state.finished_at or now) + delay, **_tried_again(state)},
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


def still_after(
    state: TaskState,
    states: Mapping[str, TaskState],
    observed: Mapping[str, Collection[str]],
    mergeable: Sequence[str],
) -> tuple[str, ...]:
    """The tasks a failure requeued behind unfinished work still waits for: none once one of
    them has landed a change to a file its failure named (what it lacked is there now; the
    rest was only predicted to matter); nor one whose own attempt has since ended without
    landing (its work is not coming soon, and it may be the one that needs this task's)."""
    named = _named(state, mergeable)
    for other in state.after:
        if states[other].status is S.MERGED and named & set(observed.get(other, ())):
            return ()
    return tuple(o for o in state.after if not _failed_since(states[o], state.finished_at))


def _failed_since(other: TaskState, began: float | None) -> bool:
    """Whether an attempt of `other` has ended without landing since `began` (when a failure
    began to wait for it), and it is back in the queue."""
    ended = other.finished_at
    return began is not None and ended is not None and ended > began and other.status is S.PLANNED
