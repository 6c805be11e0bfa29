"""The brief an agent gets: a prompt file and a machine-readable task file. Pure.

Untrusted text (titles, bodies) goes into these files only, never onto a command line.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bot.models import Footprint, Plan, Task, TaskState, TaskStatus

HUNKS_SHOWN = 4000  # characters of conflicting hunks an agent is shown on a redo


@dataclass(frozen=True)
class Redo:
    """An earlier attempt conflicted with work that landed on the base in `files`."""

    base: str
    files: tuple[str, ...]
    attempt: int
    hunks: str = ""


@dataclass(frozen=True)
class AgentContext:
    """Everything an agent is told about its task and its neighbours."""

    task: Task
    footprint: Footprint
    owned_by_others: Mapping[str, str]
    landed_before: Mapping[str, str]
    test_command: str | None
    redo: Redo | None = None


def context_for(
    task: Task,
    plan: Plan,
    states: Mapping[str, TaskState],
    titles: Mapping[str, str],
    base: str,
    test_command: str | None,
) -> AgentContext:
    """What `task`'s agent is told, from the plan and every task's state (both modes)."""
    in_flight = (TaskStatus.RUNNING, TaskStatus.REVIEW)
    owned = {
        path: other.id
        for other in plan.tasks
        if other.id != task.id and other.id in states and states[other.id].status in in_flight
        for path in other.footprint.files
    }
    landed = {
        dep: titles.get(dep, dep)
        for dep in (*task.depends_on, *task.blocked_by)
        if dep in states and states[dep].status is TaskStatus.MERGED
    }
    state = states.get(task.id)
    redo = None
    if state is not None and state.redos:
        redo = Redo(base, state.conflict_files, state.attempt + 1, state.conflict_hunks)
    return AgentContext(task, plan.task(task.id).footprint, owned, landed, test_command, redo)


def task_document(context: AgentContext) -> dict[str, Any]:
    """The JSON written to ORCHESTRATE_TASK_FILE."""
    redo = context.redo
    return {
        "redo": None
        if redo is None
        else {"base": redo.base, "conflict_files": list(redo.files), "hunks": redo.hunks},
        "task": context.task.model_dump(mode="json"),
        "branch": context.task.branch,
        "footprint": context.footprint.model_dump(mode="json"),
        "owned_by_others": dict(sorted(context.owned_by_others.items())),
        "landed_before": dict(context.landed_before),
        "test_command": context.test_command,
    }


def _bullets(items: list[str], empty: str) -> str:
    return "\n".join(f"- {item}" for item in items) if items else f"- {empty}"


def build_prompt(context: AgentContext) -> str:
    """The Markdown prompt written to ORCHESTRATE_PROMPT_FILE."""
    task, footprint, test_command = context.task, context.footprint, context.test_command
    yours = [f"`{path}` ({footprint.reasons.get(path, 'predicted')})" for path in footprint.files]
    yours += [f"`{pattern}` (pattern)" for pattern in footprint.patterns]
    theirs = [f"`{path}` (task {owner})" for path, owner in sorted(context.owned_by_others.items())]
    landed = [f"{task_id}: {title}" for task_id, title in context.landed_before.items()]
    testing = (
        f"Before you finish, run `{test_command}`; the merge queue runs it again and never "
        "merges a red result."
        if test_command
        else "No test command is configured; keep the change small and self-checked."
    )
    return f"""# Task {task.id}: {task.title}

You are one of several coding agents working on this repository at the same time, each on
its own branch and checkout. Work only in the current directory, on branch `{task.branch}`.
Commit your work or leave it uncommitted: both are collected when you exit.

## The task

{task.body or task.title}

## Files you are expected to touch

{_bullets(yours, "none predicted: keep the change as small as you can")}

## Files other agents own right now: do not edit

{_bullets(theirs, "none")}

## Landed before you started

{_bullets(landed, "nothing this task depends on")}

## Tests

{testing}
{_redo_section(context.redo)}"""


def _redo_section(redo: Redo | None) -> str:
    if redo is None:
        return ""
    files = ", ".join(f"`{path}`" for path in redo.files) or "files it shares with you"
    return f"""
## This is attempt {redo.attempt}: the last one conflicted

Your previous change conflicted with work that landed on `{redo.base}` in {files}. You start
again from the current `{redo.base}`, which already has that work: build on it rather than
undoing it.
{_hunks(redo.hunks)}"""


def _hunks(hunks: str) -> str:
    if not hunks:
        return ""
    shown = hunks[:HUNKS_SHOWN] + ("\n[...]" if len(hunks) > HUNKS_SHOWN else "")
    return f"""
Where the two changes collided (between `<<<<<<<` and `=======` what landed, then yours):

````diff
{shown}
````
"""
