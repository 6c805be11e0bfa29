"""The numbers the decision needs beyond the plan: how often and how late a task is tried
again, how many redos and failure waits it gets, when a silent agent counts as lost, and the
budget."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from bot.budget import Budget
from bot.planning.changelogs import MERGEABLE


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
    failure_waits: int = 2
    mergeable: tuple[str, ...] = MERGEABLE
    stale_after: float | None = None  # no heartbeat for this long: the agent is lost
    base: str = "main"
    budget: Budget = field(default_factory=Budget)
    provider: Mapping[str, str] = field(default_factory=dict)  # task id -> its agent's provider

    def provider_of(self, task_id: str) -> str:
        return self.provider.get(task_id, "agent")

    def retry_for(self, task_id: str) -> Retry:
        return self.task_retry.get(task_id, self.retry)
