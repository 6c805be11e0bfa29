"""GitHub mode's `Lander`, run by the merge-queue job in a checkout of the repository.

For the next task in plan order: its pull request, pinned to the head SHA the coordinator saw,
is rebased onto the current base in the runner (changelog-style files union-merged), the test
command runs on the result, the rebased head is pushed with a lease on the pinned SHA, and the
pull request is merged through the API with the `sha` guard and the configured method. A head
or base that moved means "not now" (tried again on the next pass), never a force; a refusal or
an unclear answer from GitHub is read back and reported, never blindly retried.
"""

from __future__ import annotations

from pathlib import Path

from bot.config import Config
from bot.engine.ports import Landing
from bot.forge.base import Forge, ForgeError, PullInfo
from bot.github_bot.board import Board
from bot.gitops import GitRepo
from bot.models import Task, TaskState, TaskStatus
from bot.queue import Tested, rebase_and_test
from bot.redact import Redactor

S = TaskStatus
REMOTE = "origin"
BASE_REF, HEAD_REF = "refs/orchestrate/base", "refs/orchestrate/head"  # what was fetched


class PullLander:
    def __init__(
        self,
        forge: Forge,
        repo: GitRepo,
        config: Config,
        board: Board,
        git_env: dict[str, str],
        log_dir: Path,
        redact: Redactor | None = None,
    ) -> None:
        self.forge = forge
        self.repo = repo
        self.config = config
        self.board = board
        self.git_env = git_env
        self.log_dir = log_dir
        self.redact = redact or Redactor()

    def land(self, task: Task, state: TaskState) -> Landing:
        pull = self._pull(task, state)
        if pull is None:
            return Landing(S.REVIEW, "no pull request found for this task yet")
        if pull.merged:
            return Landing(S.MERGED, f"pull request #{pull.number} was already merged")
        if pull.state != "open":
            return Landing(S.FAILED, f"pull request #{pull.number} closed without merging")
        if state.head_sha and pull.head_sha != state.head_sha:
            return Landing(S.REVIEW, f"#{pull.number} has a new head; it lands on the next pass")
        base = self.config.base
        refspecs = [f"+refs/heads/{base}:{BASE_REF}", f"+refs/heads/{task.branch}:{HEAD_REF}"]
        self.repo.fetch(REMOTE, refspecs, self.git_env)
        if self.repo.resolve(HEAD_REF) != pull.head_sha:
            return Landing(S.REVIEW, f"#{pull.number} has a new head; it lands on the next pass")
        tip = self.repo.resolve(BASE_REF)
        checkout = self.repo.fresh_checkout(task.branch, pull.head_sha)
        try:
            tested = rebase_and_test(
                self.repo,
                self.config,
                task,
                checkout,
                tip,
                self.log_dir,
                apply_method=False,
                redact=self.redact,
            )
            if not isinstance(tested, Tested):
                return tested
            return self._merge(task, pull, tested)
        finally:
            self.repo.remove_checkout(task.branch)

    def _pull(self, task: Task, state: TaskState) -> PullInfo | None:
        number = self.board.state.pulls.get(task.id)
        if number is None:
            found = self.forge.find_pull(task.branch)
            number = found.number if found is not None else None
        # as read this run (the lease on the push and the merge's `sha` guard catch a newer head)
        return self.forge.get_pull(number) if number is not None else None

    def _merge(self, task: Task, pull: PullInfo, tested: Tested) -> Landing:
        base = self.config.base
        if tested.head != pull.head_sha and not self.repo.push(
            REMOTE, tested.head, task.branch, pull.head_sha, self.git_env
        ):
            return Landing(S.REVIEW, f"#{pull.number} was pushed to while it was tested")
        if self.repo.remote_sha(REMOTE, base, self.git_env) != tested.tip:
            return Landing(S.REVIEW, f"{base} moved while #{pull.number} was tested")
        try:
            merged = self.forge.merge_pull(pull.number, tested.head, self.config.merge.method)
        except ForgeError as error:
            return self._refused(pull, error)
        self.repo.push(REMOTE, "", task.branch, tested.head, self.git_env)  # delete, leased
        return Landing(
            S.MERGED,
            f"pull request #{pull.number} merged into {base} as {merged[:10]}",
            merged or None,
            tested.files,
            tested.log_tail,
        )

    def _refused(self, pull: PullInfo, error: ForgeError) -> Landing:
        """GitHub refused the merge (405, 409) or gave no clear answer (5xx): read what
        happened instead of retrying."""
        now = self.forge.get_pull(pull.number, fresh=True)
        if now.merged:
            return Landing(S.MERGED, f"pull request #{pull.number} merged", now.merge_sha or None)
        why = {405: "not mergeable", 409: "its head moved"}.get(error.status or 0, str(error))
        return Landing(S.REVIEW, f"GitHub did not merge #{pull.number} ({why}); tried again later")
