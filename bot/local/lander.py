"""Local mode's `Lander`: rebase and test in a fresh checkout of the task, then move the base
branch by a fast-forward or a compare-and-swap of the ref (never a force)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from bot.config import Config
from bot.engine.ports import Landing
from bot.gitops import GitRepo
from bot.local.store import LocalStore
from bot.models import Task, TaskState, TaskStatus
from bot.queue import Tested, rebase_and_test
from bot.redact import Redactor

RunDir = Callable[[str], Path]  # a task id -> the folder of its logs


class RefLander:
    def __init__(
        self,
        repo: GitRepo,
        config: Config,
        store: LocalStore,
        run_dir: RunDir,
        redact: Redactor | None = None,
    ) -> None:
        self.repo = repo
        self.config = config
        self.store = store
        self.run_dir = run_dir
        self.redact = redact or Redactor()

    def land(self, task: Task, state: TaskState) -> Landing:
        base = self.config.base
        tip = self.repo.resolve(base)
        if state.head_sha and self.repo.is_ancestor(state.head_sha, tip):
            self._clean_up(task)
            return Landing(TaskStatus.MERGED, f"already on {base}", state.head_sha, state.files)
        # a checkout of orchestrate's own: what the agent did to its checkout stays behind
        checkout = self.repo.fresh_checkout(task.branch, state.head_sha or task.branch)
        tested = rebase_and_test(
            self.repo, self.config, task, checkout, tip, self.run_dir(task.id), redact=self.redact
        )
        if not isinstance(tested, Tested):
            return tested
        self.store.update(task.id, head_sha=tested.head)  # before the base moves: for resume
        self.repo.advance_base(base, tested.head, tip)
        self._clean_up(task)
        return Landing(
            TaskStatus.MERGED,
            f"landed on {base} as {tested.head[:10]}",
            tested.head,
            tested.files,
            tested.log_tail,
        )

    def _clean_up(self, task: Task) -> None:
        self.repo.remove_checkout(task.branch)
        self.repo.delete_branch(task.branch)
