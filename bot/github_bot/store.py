"""GitHub mode's `TaskStore`: the task states in the dashboard's hidden block.

Changes are made to the board in memory and written once, at the end of the job, by
`bot.github_bot.orchestration.publish` (labels, status comments, the dashboard comment).
"""

from __future__ import annotations

from collections.abc import Mapping

from bot.github_bot.board import Board
from bot.models import TaskState, TaskStatus
from bot.state.transitions import check_transition


class BoardStore:
    def __init__(self, board: Board) -> None:
        self.board = board

    def states(self) -> dict[str, TaskState]:
        return dict(self.board.state.tasks)

    def transition(
        self, task_id: str, new: TaskStatus, detail: str = "", **fields: object
    ) -> TaskState:
        old = self.board.state.tasks[task_id]
        check_transition(old.status, new)
        state = old.model_copy(update={**fields, "status": new, "detail": detail})
        self.board.state.tasks[task_id] = state
        self.board.notes.append(f"#{task_id}: {old.status.value} -> {new.value}: {detail}")
        return state

    def update(self, task_id: str, **fields: object) -> TaskState:
        state = self.board.state.tasks[task_id].model_copy(update=fields)
        self.board.state.tasks[task_id] = state
        return state

    def note(self, detail: str, task_id: str | None = None) -> None:
        self.board.notes.append(f"#{task_id}: {detail}" if task_id else detail)

    def set_waiting(self, waiting: Mapping[str, str]) -> None:
        self.board.waiting = dict(waiting)
