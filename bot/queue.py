"""The merge queue: land one finished task on the base branch, safely.

Rebase onto the current base, apply the merge method, run the test command on the result,
and only then move the base (a fast-forward or a compare-and-swap, never a force).
A conflicting or red task is reported with the files or the test log, and the base is
left untouched.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bot import process
from bot.config import Config
from bot.gitops import GitRepo
from bot.models import Task, TaskState, TaskStatus


@dataclass(frozen=True)
class Landing:
    status: TaskStatus
    detail: str
    head: str | None = None
    files: tuple[str, ...] = ()
    log_tail: str = ""


def commit_message(task: Task, method: str) -> str:
    verb = {"merge": "Merge", "squash": "", "rebase": ""}[method]
    title = f"{verb} {task.branch}: {task.title}".strip() if verb else task.title
    return f"{title}\n\nOrchestrate-Task: {task.id}\n"


def land(
    repo: GitRepo,
    config: Config,
    task: Task,
    state: TaskState,
    log_dir: Path,
    record_head: Callable[[str], object],
) -> Landing:
    """Land `task`; `record_head` persists the final head before the base moves (for resume)."""
    base = config.base
    tip = repo.resolve(base)
    if state.head_sha and repo.is_ancestor(state.head_sha, tip):
        return Landing(TaskStatus.MERGED, f"already on {base}", state.head_sha, state.files)
    worktree = repo.worktree_path(task.branch)
    if not worktree.exists():
        worktree = repo.fresh_worktree(task.branch, state.head_sha or task.branch)

    rebased = repo.rebase(worktree, tip)
    if not rebased.ok:
        files = rebased.conflict_files
        named = ", ".join(files) if files else rebased.message
        return Landing(TaskStatus.CONFLICT, f"conflicts with {base} in {named}", files=files)
    message = commit_message(task, config.merge.method)
    if config.merge.method == "squash":
        repo.squash(worktree, tip, message)
    elif config.merge.method == "merge":
        repo.merge_commit(worktree, tip, task.branch, message)
    head = repo.head(worktree)
    files = repo.changed_files(tip, head)

    if config.merge.test_command:
        log = log_dir / "test.log"
        ran = process.run(
            ["/bin/sh", "-c", config.merge.test_command],
            worktree,
            dict(os.environ),
            log,
            config.merge.test_timeout,
        )
        if ran.timed_out or ran.returncode != 0:
            why = "timed out" if ran.timed_out else f"exited {ran.returncode}"
            return Landing(
                TaskStatus.FAILED,
                f"tests {why} on the result rebased onto {base}: not merged",
                files=files,
                log_tail=process.tail(log),
            )
    record_head(head)
    repo.advance_base(base, head, tip)
    return Landing(TaskStatus.MERGED, f"landed on {base} as {head[:10]}", head, files)
