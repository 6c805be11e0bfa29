"""Task state machine and the reconcile decision. Pure: observed states in, typed actions out.

```mermaid
stateDiagram-v2
    [*] --> planned
    planned --> running: launched (dependencies merged, no conflicting task in flight)
    planned --> blocked: a dependency failed
    running --> review: agent finished with changes
    running --> no-op: agent finished without changes
    running --> failed: non-zero exit, timeout, crash
    running --> planned: interrupted (orchestrate stopped mid-run)
    review --> merged: rebased, tested, landed on base
    review --> conflict: rebase conflict
    review --> failed: tests red on the rebased result
    failed --> planned: retry (transient failure)
    conflict --> planned: redo on the new base, after the others
    blocked --> planned: dependency retried
```
"""

from __future__ import annotations

import base64
import json
import re
import zlib
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field

from bot.models import Footprint, Plan, TaskState, TaskStatus

S = TaskStatus

TRANSITIONS: Mapping[TaskStatus, frozenset[TaskStatus]] = {
    S.PLANNED: frozenset({S.RUNNING, S.BLOCKED}),
    S.RUNNING: frozenset({S.REVIEW, S.NOOP, S.FAILED, S.PLANNED}),
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
class Decision:
    """What the reconcile loop should do next, in this order."""

    block: tuple[tuple[str, str], ...] = ()
    merge: str | None = None
    launch: tuple[str, ...] = ()
    waiting: Mapping[str, str] = field(default_factory=dict)

    @property
    def done(self) -> bool:
        return not (self.block or self.merge or self.launch or self.waiting)


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
) -> str | None:
    """Why a planned task cannot start yet, or None when it may."""
    for dep in plan.dependencies:
        if dep.after == task_id and states[dep.before] not in SATISFIES_DEPENDENCY:
            return f"waits for dependency {dep.before} to land"
    position = order.index(task_id)
    earlier = {other for other in order[:position] if not states[other].terminal}
    for conflict in plan.conflicts:
        if task_id in (conflict.a, conflict.b):
            other = conflict.b if conflict.a == task_id else conflict.a
            if other in earlier:
                return f"waits for {other} ({conflict.reason})"
    seen = set(observed.get(task_id, ()))
    likely = seen | likely_files(plan.task(task_id).footprint)
    for other in order[:position]:
        if other not in earlier:
            continue
        theirs = set(observed.get(other, ()))
        shared = sorted((likely & theirs) | (seen & likely_files(plan.task(other).footprint)))
        if shared:
            return f"waits for {other} (it changed {shared[0]}, which this task touches too)"
    return None


LIKELY = 0.5


def likely_files(footprint: Footprint) -> set[str]:
    """Predicted files the predictor is fairly sure of (explicit ones always)."""
    return {f for f in footprint.files if footprint.confidence.get(f, 1.0) >= LIKELY}


IN_FLIGHT = (S.RUNNING, S.REVIEW)


def overlaps(
    task_id: str, touching: Collection[str], plan: Plan, states: Mapping[str, TaskState]
) -> dict[str, list[str]]:
    """Files this in-flight task changes that another task in flight changes or likely touches,
    by the other task's id, in merge order."""
    found: dict[str, list[str]] = {}
    for other in plan.merge_order:
        if other == task_id or other not in states or states[other].status not in IN_FLIGHT:
            continue
        theirs = set(states[other].files) | likely_files(plan.task(other).footprint)
        shared = sorted(set(touching) & theirs)
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


def decide(
    plan: Plan,
    states: Mapping[str, TaskStatus],
    requeued: Collection[str] = (),
    observed: Mapping[str, Collection[str]] | None = None,
) -> Decision:
    """Given every task's status, what to block, which task to merge, which to launch.

    Merges happen strictly in merge order: the first task in that order that has not ended
    is merged when it is in review, and nothing behind it merges before it. Launches follow
    merge order too, up to `max_parallel` running at once. `requeued` tasks go last.
    `observed` holds the files tasks really changed (so far, or in an earlier attempt): a
    planned task waits for an earlier one whose observed files it likely touches.
    """
    order = effective_order(plan, requeued)
    block = tuple(
        (task_id, reason)
        for task_id in order
        if states[task_id] is S.PLANNED and (reason := _blocker(task_id, plan, states)) is not None
    )
    blocked = {task_id for task_id, _ in block}
    merge = next((t for t in order if not states[t].terminal), None)
    if merge is not None and states[merge] is not S.REVIEW:
        merge = None

    running = sum(1 for status in states.values() if status is S.RUNNING)
    launch: list[str] = []
    waiting: dict[str, str] = {}
    for task_id in order:
        if states[task_id] is not S.PLANNED or task_id in blocked:
            continue
        reason = _wait_reason(task_id, plan, states, order, observed or {})
        if reason is None and running + len(launch) >= plan.max_parallel:
            reason = f"all {plan.max_parallel} agent slots busy"
        if reason is None:
            launch.append(task_id)
        else:
            waiting[task_id] = reason
    for task_id in order:
        if states[task_id] in (S.RUNNING, S.REVIEW):
            waiting.setdefault(task_id, str(states[task_id]))
    return Decision(block=block, merge=merge, launch=tuple(launch), waiting=waiting)


# -- the hidden state block of the dashboard comment ------------------------------------------

STATE_OPEN = "<!-- orchestrate:state v1"
STATE_CLOSE = "-->"
_STATE_BLOCK = re.compile(r"<!-- orchestrate:state v1(?P<z>z?)\n(?P<data>.*?)\n-->", re.S)
COMPRESS_ABOVE = 40_000


class StateBlockError(Exception):
    """A state block that is present but unreadable (edited by hand, or truncated)."""


def encode_state(data: Mapping[str, object]) -> str:
    """The hidden block: JSON that cannot close the HTML comment early (`<`, `>`, `&` escaped),
    compressed when large so the dashboard stays under GitHub's comment size limit."""
    text = json.dumps(data, sort_keys=True, separators=(",", ":"))
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    if len(text) > COMPRESS_ABOVE:
        packed = base64.b64encode(zlib.compress(text.encode(), 9)).decode()
        return f"{STATE_OPEN}z\n{packed}\n{STATE_CLOSE}"
    return f"{STATE_OPEN}\n{text}\n{STATE_CLOSE}"


def decode_state(body: str) -> dict[str, object] | None:
    """The state in a comment body, None when it has no block."""
    match = _STATE_BLOCK.search(body)
    if match is None:
        return None
    data = match.group("data")
    try:
        if match.group("z"):
            data = zlib.decompress(base64.b64decode(data)).decode()
        decoded = json.loads(data)
    except (ValueError, zlib.error) as exc:
        raise StateBlockError(f"the dashboard's state block cannot be read: {exc}") from None
    if not isinstance(decoded, dict):
        raise StateBlockError("the dashboard's state block is not a JSON object")
    return decoded
