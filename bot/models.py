"""The data every part of orchestrate shares: tasks, footprints, plans and task states.

Plain pydantic models with no behaviour beyond validation, so that the pure core
(analysis, planning, state, render) and the adapters (local, GitHub) speak one language.
"""

from __future__ import annotations

import hashlib
import json
import re
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator

_NUMERIC = re.compile(r"^\d+$")


def normalize_task_id(value: object) -> str:
    """`7`, `"07"` and `"#7"` all name task `7`; other ids are kept as written."""
    text = str(value).strip().removeprefix("#")
    if _NUMERIC.match(text):
        return str(int(text))
    return text


TaskId = Annotated[str, BeforeValidator(normalize_task_id)]


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TaskSettings(BaseModel):
    """What a task's author may say about it: in a task file's front matter, or in an
    issue's ```orchestrate block. Single values are accepted where lists are expected."""

    model_config = ConfigDict(extra="forbid")

    depends_on: list[TaskId] = []
    files: list[str] = []
    priority: int = 0
    agent: dict[str, Any] | str | None = None

    @field_validator("depends_on", "files", mode="before")
    @classmethod
    def _one_or_many(cls, value: object) -> object:
        return [value] if isinstance(value, str | int) else value

    @property
    def agent_override(self) -> dict[str, Any] | None:
        """`agent: claude` names a preset; a mapping overrides agent config keys."""
        return {"preset": self.agent} if isinstance(self.agent, str) else self.agent


class Task(Model):
    """One unit of work: an issue on GitHub, a task file locally."""

    id: TaskId
    slug: str
    title: str
    body: str = ""
    labels: tuple[str, ...] = ()
    depends_on: tuple[TaskId, ...] = ()
    blocked_by: tuple[TaskId, ...] = ()  # GitHub's own issue dependencies
    files: tuple[str, ...] = ()
    priority: int = 0
    agent: dict[str, Any] | None = None
    source: str = ""

    @property
    def branch(self) -> str:
        return f"orchestrate/{self.id}-{self.slug}"

    @property
    def text(self) -> str:
        return f"{self.title}\n\n{self.body}"

    @property
    def digest(self) -> str:
        """What the task asks for, as a short hash: the same id with other words is new work."""
        what = json.dumps([self.title, self.body, list(self.files), list(self.depends_on)])
        return hashlib.sha256(what.encode()).hexdigest()[:12]


class Footprint(Model):
    """The files a task is predicted to touch, each with the reason it was predicted."""

    files: tuple[str, ...] = ()
    patterns: tuple[str, ...] = ()
    reasons: dict[str, str] = Field(default_factory=dict)
    confidence: dict[str, float] = Field(default_factory=dict)
    unknown: bool = False
    lines: dict[str, tuple[int, ...]] = Field(default_factory=dict)  # lines its text points at

    @property
    def ranked(self) -> list[str]:
        """Files, most likely first (a file without a confidence is certain)."""
        return sorted(self.files, key=lambda f: (-self.confidence.get(f, 1.0), f))


class Dependency(Model):
    before: str
    after: str
    reason: str


class Conflict(Model):
    a: str
    b: str
    files: tuple[str, ...]
    reason: str
    weight: float = 1.0  # the predicted chance that they really conflict
    share: float = 1.0  # the predicted chance that both touch one of `files`


class PlannedTask(Model):
    id: str
    title: str
    branch: str
    footprint: Footprint
    wave: int
    why: str
    start: float = 0.0  # when the schedule starts it, in task units
    duration: float = 1.0  # its estimate, in task units


class Estimate(Model):
    """Predicted duration in task units (every task counts 1 unless estimated otherwise)."""

    makespan: float
    lower_bound: float
    sequential: float
    speedup: float


class Rates(Model):
    """How often sharing a file really conflicted in the repository's history: the rates a
    plan used (`bot.planning.risk.ConflictRates`), for the files of its footprints, so the
    run judges files its agents are seen changing by the same numbers."""

    base: float
    by_file: dict[str, float] = Field(default_factory=dict)


class Plan(Model):
    max_parallel: int
    tasks: tuple[PlannedTask, ...]
    dependencies: tuple[Dependency, ...]
    conflicts: tuple[Conflict, ...]  # pairs kept apart
    waves: tuple[tuple[str, ...], ...]
    merge_order: tuple[str, ...]
    critical_path: tuple[str, ...]
    estimate: Estimate
    notes: tuple[str, ...] = ()
    side_by_side: tuple[Conflict, ...] = ()  # pairs that may touch a common file, run together
    conflict_threshold: float = 0.25  # the conflict risk from which a pair is kept apart
    rates: Rates | None = None  # None: a plan made before plans kept them (the default rate)

    def task(self, task_id: str) -> PlannedTask:
        for planned in self.tasks:
            if planned.id == task_id:
                return planned
        raise KeyError(task_id)


class TaskStatus(StrEnum):
    PLANNED = "planned"
    RUNNING = "running"
    REVIEW = "review"
    MERGED = "merged"
    CONFLICT = "conflict"
    FAILED = "failed"
    NOOP = "no-op"
    BLOCKED = "blocked"

    @property
    def terminal(self) -> bool:
        return self in TERMINAL


TERMINAL = frozenset(
    {TaskStatus.MERGED, TaskStatus.CONFLICT, TaskStatus.FAILED, TaskStatus.NOOP, TaskStatus.BLOCKED}
)


class TaskState(BaseModel):
    """What is known about one task at run time (mutable: the store rewrites it)."""

    id: str
    status: TaskStatus = TaskStatus.PLANNED
    attempt: int = 0
    branch: str = ""
    start_sha: str | None = None
    head_sha: str | None = None
    merged_sha: str | None = None
    pid: int | None = None
    pid_started: float | None = None
    started_at: float | None = None
    finished_at: float | None = None
    detail: str = ""
    files: tuple[str, ...] = ()
    log_tail: str = ""
    progress: str = ""
    heartbeat_at: float | None = None
    retry_at: float | None = None
    cost_usd: float | None = None
    turns: int | None = None
    peak_memory_mb: float | None = None
    cpu_seconds: float | None = None
    redos: int = 0
    waits: int = 0  # times requeued behind unfinished work it may have needed
    after: tuple[str, ...] = ()  # the tasks it waits for before it is tried again
    conflict_files: tuple[str, ...] = ()
    conflict_hunks: str = ""  # the conflicting hunks of the last rebase (bounded), for a redo
    clashes: tuple[str, ...] = ()  # running tasks its work in progress really conflicts with
    base_clash: bool = False  # its work in progress conflicts with what landed since it started
    clash_files: tuple[str, ...] = ()  # the files of those conflicts
    named_files: tuple[str, ...] = ()  # files of its checkout a failure's output names
    missing_files: tuple[str, ...] = ()  # of those, the ones not there: another task may create
    failure_digest: str = ""  # what its agent last said when it failed (numbers aside)
    retried_after: str = ""  # what its agent said in the failure it was last tried again after
    retryable: bool = False  # a failure worth another attempt (overload, crash, lost agent)
    rate_limited: bool = False  # its provider said "slow down": its agents all wait
    slot: int | None = None  # the agent slot it runs in (ORCHESTRATE_SLOT), while it runs
    digest: str = ""  # of the task's text when this state was made for it (Task.digest)
    spent_usd: float = 0.0  # what earlier attempts cost (this attempt's is `cost_usd`)
    agent_seconds: float = 0.0  # how long earlier attempts' agents ran
    launched_by: str = ""  # GitHub mode: the Actions run (GITHUB_RUN_ID) that launched it
