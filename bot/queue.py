"""The merge queue's shared half: rebase a finished task onto the current base and test the
result. Both landers (`bot.local.lander`, `bot.github_bot.lander`) start here; they differ only
in how the tested head then reaches the base branch.

A conflicting or red task is reported with the files, hunks or test log, and the base is left
untouched.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from fnmatch import fnmatch
from pathlib import Path

from bot import process
from bot.agents.runner import agent_environment
from bot.config import Config
from bot.engine.ports import Landing
from bot.gitops import GitRepo
from bot.models import Task, TaskStatus
from bot.redact import Redactor


@dataclass(frozen=True)
class Tested:
    """A task rebased onto `tip`, with the test command green on the result."""

    head: str
    tip: str
    files: tuple[str, ...]
    log_tail: str = ""


def trailers(task: Task) -> str:
    """What identifies a task's change on the base branch, even with every state lost."""
    return f"Orchestrate-Task: {task.id}\nOrchestrate-Digest: {task.digest}\n"


def commit_message(task: Task, method: str) -> str:
    verb = {"merge": "Merge", "squash": "", "rebase": ""}[method]
    title = f"{verb} {task.branch}: {task.title}".strip() if verb else task.title
    return f"{title}\n\n{trailers(task)}"


def refusal(
    config: Config, changed: Sequence[str], deleted: Sequence[str], base_files: int
) -> str | None:
    """Why a change may not land whatever its tests say (pure): it touches a protected path
    (the workflows, orchestrate's config), or it deletes too much of the base."""
    for path in changed:
        pattern = next((p for p in config.merge.protected_paths if fnmatch(path, p)), None)
        if pattern is not None:
            return (
                f"changes {path}, a protected path ({pattern}): not merged "
                "(merge.protected_paths in the config decides)"
            )
    share = config.merge.max_deleted_share
    if base_files and len(deleted) > share * base_files and share < 1:
        return (
            f"deletes {len(deleted)} of the base's {base_files} files: not merged "
            "(merge.max_deleted_share in the config decides)"
        )
    return None


def rebase_and_test(
    repo: GitRepo,
    config: Config,
    task: Task,
    checkout: Path,
    tip: str,
    log_dir: Path,
    *,
    apply_method: bool = True,
    redact: Redactor | None = None,
) -> Tested | Landing:
    """Rebase `checkout` onto `tip`; with `apply_method`, squash or merge as configured (the
    GitHub lander leaves that to the merge API); then run the test command on the result."""
    base = config.base
    rebased = repo.rebase(checkout, tip)
    if not rebased.ok:
        files = rebased.conflict_files
        named = ", ".join(files) if files else rebased.message
        return Landing(
            TaskStatus.CONFLICT,
            f"conflicts with {base} in {named}",
            files=files,
            hunks=rebased.hunks,
        )
    message = commit_message(task, config.merge.method)
    if apply_method and config.merge.method == "squash":
        repo.squash(checkout, tip, message)
    elif apply_method and config.merge.method == "merge":
        repo.merge_commit(checkout, tip, task.branch, message)
    else:
        repo.add_trailers(checkout, trailers(task))  # on the top commit, for what the agent made
    head = repo.fetch_head(checkout, task.branch)  # before the tests, which cannot change it
    files = repo.changed_files(tip, head)
    refused = refusal(config, files, repo.deleted_files(tip, head), repo.file_count(tip))
    if refused is not None:
        return Landing(TaskStatus.FAILED, refused, files=files)
    if not config.merge.test_command:
        return Tested(head, tip, files)
    log = log_dir / "test.log"
    log.unlink(missing_ok=True)
    ran = process.run(
        ["/bin/sh", "-c", config.merge.test_command],
        checkout,
        agent_environment(os.environ, checkout),  # the code under test is an agent's: no tokens
        log,
        config.merge.test_timeout,
    )
    process.mask_file(log, redact or Redactor())
    if ran.timed_out or ran.returncode != 0:
        why = "timed out" if ran.timed_out else f"exited {ran.returncode}"
        return Landing(
            TaskStatus.FAILED,
            f"tests {why} on the result rebased onto {base}: not merged",
            files=files,
            log_tail=process.tail(log),
        )
    return Tested(head, tip, files, process.tail(log, lines=5))
