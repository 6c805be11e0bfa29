"""Issues labeled `parallel` become tasks; task states become issue labels. Pure.

An issue may carry a fenced block of YAML settings for its task:

    ```orchestrate
    files: [src/report.py, tests/test_report.py]
    depends_on: [12]
    priority: 1
    ```

Prose such as "depends on #12" is read by the planner (`bot.planning.deps`). A block that cannot
be read does not stop the plan: the task is planned without it and the problem is reported.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import yaml
from pydantic import ValidationError

from bot.forge.base import IssueInfo
from bot.inputs import field_problem, yaml_problem
from bot.models import Task, TaskSettings, TaskStatus

TASK_LABEL = "parallel"
DASHBOARD_LABEL = "parallel:dashboard"
STATUS_LABELS: dict[TaskStatus, str] = {
    TaskStatus.PLANNED: "parallel:planned",
    TaskStatus.RUNNING: "parallel:running",
    TaskStatus.REVIEW: "parallel:review",
    TaskStatus.MERGED: "parallel:merged",
    TaskStatus.CONFLICT: "parallel:conflict",
    TaskStatus.FAILED: "parallel:failed",
    TaskStatus.NOOP: "parallel:merged",  # done: nothing needed changing
    TaskStatus.BLOCKED: "parallel:failed",  # cannot finish: a dependency failed
}
ALL_STATUS_LABELS = frozenset(STATUS_LABELS.values())

_BLOCK = re.compile(r"^[ \t]*```orchestrate[ \t]*\r?\n(?P<yaml>.*?)^[ \t]*```", re.M | re.S)
_SLUG_JUNK = re.compile(r"[^a-z0-9]+")
SLUG_WIDTH = 40


def slugify(title: str) -> str:
    """`Add a --json flag!` -> `add-a-json-flag` (ASCII, at most 40 characters)."""
    slug = _SLUG_JUNK.sub("-", title.lower()).strip("-")
    return slug[:SLUG_WIDTH].rstrip("-") or "task"


def read_settings(body: str) -> tuple[TaskSettings, str | None]:
    """The settings block of an issue body, and a problem (None when fine or absent)."""
    match = _BLOCK.search(body)
    if match is None:
        return TaskSettings(), None
    try:
        data = yaml.safe_load(match.group("yaml"))
        return TaskSettings.model_validate(data or {}), None
    except yaml.YAMLError as exc:
        _, problem = yaml_problem(exc)
        return TaskSettings(), f"the ```orchestrate block is not valid YAML ({problem})"
    except ValidationError as exc:
        return TaskSettings(), f"the ```orchestrate block: {field_problem(exc)}"


# What an issue may choose about its agent: anyone who can edit a `parallel` issue's body can
# write its block, so nothing there may pick a command line, arguments or environment; those
# come from .github/orchestrate.yml only.
ISSUE_AGENT_KEYS = frozenset({"preset", "model"})


def _issue_agent(override: dict[str, object] | None) -> tuple[dict[str, object] | None, str | None]:
    if not override:
        return override, None
    refused = sorted(set(override) - ISSUE_AGENT_KEYS)
    if not refused:
        return override, None
    kept = {k: v for k, v in override.items() if k in ISSUE_AGENT_KEYS}
    keys = ", ".join(f"agent.{key}" for key in refused)
    return kept or None, (
        f"{keys} ignored: an issue may only choose agent.preset and agent.model "
        "(set the rest in .github/orchestrate.yml)"
    )


def task_from_issue(issue: IssueInfo) -> tuple[Task, str | None]:
    settings, problem = read_settings(issue.body)
    agent, refused = _issue_agent(settings.agent_override)
    problem = problem or refused
    task = Task(
        id=str(issue.number),
        slug=slugify(issue.title),
        title=issue.title,
        body=issue.body,
        labels=tuple(lb for lb in issue.labels if lb not in ALL_STATUS_LABELS),
        depends_on=tuple(settings.depends_on),
        files=tuple(settings.files),
        priority=settings.priority,
        agent=agent,
        source=f"#{issue.number}",
    )
    return task, problem


@dataclass(frozen=True)
class TaskSet:
    tasks: tuple[Task, ...]
    problems: tuple[str, ...] = ()


def tasks_from_issues(issues: Iterable[IssueInfo]) -> TaskSet:
    """Open `parallel` issues as tasks, in issue order. A declared dependency on an issue that
    is not a task is dropped (it may be closed, i.e. done) and reported."""
    chosen = sorted(
        (i for i in issues if i.state == "open" and not i.is_pull and TASK_LABEL in i.labels),
        key=lambda i: i.number,
    )
    parsed = [task_from_issue(issue) for issue in chosen]
    known = {task.id for task, _ in parsed}
    tasks: list[Task] = []
    problems: list[str] = []
    for task, problem in parsed:
        if problem:
            problems.append(f"#{task.id}: {problem}")
        unknown = [dep for dep in task.depends_on if dep not in known]
        if unknown:
            problems.append(
                f"#{task.id}: depends_on " + ", ".join(f"#{d}" for d in unknown) + " ignored "
                "(not an open `parallel` issue)"
            )
            task = task.model_copy(
                update={"depends_on": tuple(d for d in task.depends_on if d in known)}
            )
        tasks.append(task)
    return TaskSet(tuple(tasks), tuple(problems))


@dataclass(frozen=True)
class LabelChange:
    add: tuple[str, ...] = ()
    remove: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        return not (self.add or self.remove)


def status_label_change(current: Sequence[str], status: TaskStatus | None) -> LabelChange:
    """Labels to add and remove so the issue carries exactly the label of `status` (None: no
    status label at all, for an issue that left the plan)."""
    wanted = STATUS_LABELS[status] if status is not None else None
    remove = tuple(lb for lb in current if lb in ALL_STATUS_LABELS and lb != wanted)
    add = (wanted,) if wanted is not None and wanted not in current else ()
    return LabelChange(add, remove)
