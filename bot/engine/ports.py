"""The four ports the engine drives, each with a local | a GitHub adapter:

- TaskStore: SQLite (`bot.local.store`) | the dashboard's hidden block (`github_bot.store`)
- Agents: subprocesses in worktrees (`bot.local.agents`) | Actions matrix jobs, watched
  through their check runs (`github_bot.agents`; the job itself is `github_bot.agent_job`)
- Lander: rebase, test, ref compare-and-swap (`bot.local.lander`) | rebase, test, push with
  lease, merge API with the `sha` guard (`github_bot.lander`)
- Notifier: the terminal (`bot.console`) | none during the step: a GitHub job writes labels,
  status comments and the dashboard once, at its end (`github_bot.orchestration.publish`)

Adapters report what they observe as values (`Progress`, `Moved`, `Landing`); the engine
applies them through the store, so every transition is checked against the state machine.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from bot.agents.prompt import AgentContext
from bot.models import Task, TaskState, TaskStatus
from bot.state.actions import Decision


@dataclass(frozen=True)
class Progress:
    """A running agent's news: heartbeat, progress line, usage, files changed so far, and
    whether that work in progress already conflicts with other work (`clashes`)."""

    task_id: str
    fields: Mapping[str, object]


@dataclass(frozen=True)
class Moved:
    """Something happened to a task that the adapter saw: an agent finished or was lost, a
    pull request was merged or closed by someone else."""

    task_id: str
    status: TaskStatus
    detail: str
    fields: Mapping[str, object] = field(default_factory=dict)


Report = Progress | Moved


@dataclass(frozen=True)
class Landing:
    """What landing a task did. `status` REVIEW means "not now" (a head or base moved): the
    task stays in review, with `detail` saying why, and is tried again on a later pass."""

    status: TaskStatus
    detail: str
    head: str | None = None
    files: tuple[str, ...] = ()
    log_tail: str = ""
    hunks: str = ""


class TaskStore(Protocol):
    """Where task state lives."""

    def states(self) -> dict[str, TaskState]: ...

    def transition(
        self, task_id: str, new: TaskStatus, detail: str = "", **fields: object
    ) -> TaskState:
        """Move a task to `new`, checked against the state machine."""
        ...

    def update(self, task_id: str, **fields: object) -> TaskState:
        """Change fields other than the status."""
        ...

    def note(self, detail: str, task_id: str | None = None) -> None:
        """Record an event that is not a status change."""
        ...

    def set_waiting(self, waiting: Mapping[str, str]) -> None:
        """Why each task waits, for whoever looks at the state while the engine runs."""
        ...


class Agents(Protocol):
    """How agents are started and watched."""

    def observe(self, states: Mapping[str, TaskState], now: float) -> Sequence[Report]:
        """News of running (and in-review) tasks since the last call."""
        ...

    def room(self) -> str | None:
        """Why no further agent may start right now (a busy machine), or None."""
        ...

    def start(
        self, task: Task, context: AgentContext, attempt: int, slot: int
    ) -> Mapping[str, object]:
        """Start `task`'s agent in agent slot `slot` (0 .. max_parallel-1, unique among the
        agents running); the fields to record with its `running` transition (a `detail`
        among them says how it was started)."""
        ...

    def halt(self, task_id: str) -> None:
        """End one task's agent now (its work in progress already conflicts)."""
        ...

    def stop(self) -> Sequence[str]:
        """End every agent this process runs; the ids of their tasks."""
        ...


class Lander(Protocol):
    """How a finished branch lands on the base branch."""

    def land(self, task: Task, state: TaskState) -> Landing: ...


class Notifier(Protocol):
    """Where people are told."""

    def changed(self, task_id: str, state: TaskState) -> None: ...

    def tick(self, states: Mapping[str, TaskState], decision: Decision) -> None: ...


class Silent:
    """A notifier that tells no one."""

    def changed(self, task_id: str, state: TaskState) -> None:
        pass

    def tick(self, states: Mapping[str, TaskState], decision: Decision) -> None:
        pass
