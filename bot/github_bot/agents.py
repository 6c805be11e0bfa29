"""GitHub mode's `Agents`, as the coordinator and merge jobs see them.

Starting an agent adds an entry to the Actions matrix this job outputs; the agent job
(`bot.github_bot.agent_job`) runs it on a runner. Watching reads what agent jobs write: the
`orchestrate/agent` check run on the head of the task's branch (heartbeat, then the result, in
a hidden report) and the task's pull request. One request per running task, one per task in
review, per job.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from bot.agents.prompt import AgentContext
from bot.engine.ports import Moved, Progress, Report
from bot.forge.base import Forge, PullInfo
from bot.github_bot.board import Board
from bot.github_bot.checks import AGENT_CHECK, REPORTED, agent_report
from bot.models import Task, TaskState, TaskStatus

S = TaskStatus
# What the coordinator takes from an agent job's report: while it runs, and once it ended
# (the status and detail travel in the transition; the launch time stays the coordinator's).
PROGRESS_FIELDS = {"heartbeat_at", "progress", "cost_usd", "turns", "files", "start_sha"}
RESULT_FIELDS = (
    set(REPORTED)
    - {"status", "attempt", "detail", "progress"}
    - {
        "heartbeat_at",
        "started_at",
    }
)


def matrix_entry(task_id: str, branch: str, attempt: int) -> dict[str, str | int]:
    """One matrix job. Only values the bot made (ids, branch from a slug), never issue text:
    a matrix value may end up in a workflow expression."""
    return {"task": task_id, "issue": int(task_id), "branch": branch, "attempt": attempt}


def reported(forge: Forge, state: TaskState) -> bool:
    """An agent job of the task's current attempt has written its check run (it started)."""
    found = agent_report(forge.check_run(state.branch, AGENT_CHECK))
    return found is not None and found[0].attempt == state.attempt


def pull_reports(state: TaskState, pull: PullInfo | None, files: tuple[str, ...]) -> list[Report]:
    """What a task's pull request says happened to a task in review (pure)."""
    if pull is None:
        return []
    if pull.merged:
        head = {"merged_sha": pull.merge_sha or None}
        return [Moved(state.id, S.MERGED, f"pull request #{pull.number} merged", head)]
    if pull.state == "closed":
        return [Moved(state.id, S.FAILED, f"pull request #{pull.number} closed without merging")]
    if pull.head_sha and pull.head_sha != state.head_sha:  # someone pushed to it
        return [Progress(state.id, {"head_sha": pull.head_sha, "files": files})]
    return []


class MatrixAgents:
    def __init__(self, forge: Forge, board: Board, run: str = "") -> None:
        self.forge = forge
        self.board = board
        self.run = run  # the Actions run whose matrix this is
        self.matrix: list[dict[str, str | int]] = []

    def room(self) -> str | None:
        return None  # runners are GitHub's to schedule; `max_parallel` bounds the matrix

    def halt(self, task_id: str) -> None:
        """An agent job cannot be stopped from here: it sees its own clashes with the other
        agent jobs' work in progress and stops itself (`bot.github_bot.wip`)."""

    def stop(self) -> Sequence[str]:
        return ()

    def start(
        self, task: Task, context: AgentContext, attempt: int, slot: int
    ) -> Mapping[str, object]:
        self.matrix.append(matrix_entry(task.id, task.branch, attempt))
        detail = f"launched: an agent job is starting (attempt {attempt})"
        return {"detail": detail, "launched_by": self.run}

    def observe(self, states: Mapping[str, TaskState], now: float) -> Sequence[Report]:
        reports: list[Report] = []
        for state in states.values():
            if state.status is S.RUNNING:
                reports.extend(self._running(state))
            elif state.status is S.REVIEW:
                reports.extend(self._in_review(state))
        return reports

    def _running(self, state: TaskState) -> list[Report]:
        check = self.forge.check_run(state.branch, AGENT_CHECK)
        if check is not None and check.app != self.forge.bot_login().removesuffix("[bot]"):
            return []  # another app's check run of the same name: not our agent's report
        found = agent_report(check)
        if found is None or found[0].attempt != state.attempt:
            return []  # not started yet, or an older attempt's result
        report, pull = found
        if report.status is S.RUNNING:
            fields = report.model_dump(include=PROGRESS_FIELDS)
            if fields.get("heartbeat_at") == state.heartbeat_at:
                return []
            return [Progress(state.id, fields)]
        fields = report.model_dump(include=RESULT_FIELDS)
        if report.status is S.REVIEW and pull is not None:
            self.board.state.pulls[state.id] = pull
        return [Moved(state.id, report.status, report.detail, fields)]

    def _in_review(self, state: TaskState) -> list[Report]:
        number = self.board.state.pulls.get(state.id)
        pull = self.forge.find_pull(state.branch) if number is None else None
        if pull is None and number is not None:
            pull = self.forge.get_pull(number)
        if pull is None:
            return []
        self.board.state.pulls[state.id] = pull.number
        moved = pull.state == "open" and pull.head_sha and pull.head_sha != state.head_sha
        files = self.forge.pull_files(pull.number) if moved else state.files
        return pull_reports(state, pull, files)
