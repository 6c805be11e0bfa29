"""Task state machine: which status may follow which, and what people ask for (retry an ended
task, cancel one). `TRANSITIONS` is the authority; the diagram says the same.

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

from collections.abc import Mapping

from bot.models import TaskState, TaskStatus

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

IN_FLIGHT = (S.RUNNING, S.REVIEW)


class TransitionError(Exception):
    pass


def check_transition(old: TaskStatus, new: TaskStatus) -> None:
    if new not in TRANSITIONS[old]:
        raise TransitionError(f"a task cannot go from {old} to {new}")


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
