"""The orchestration's state on GitHub: the dashboard issue, its one comment and hidden state.

The dashboard lives on one open issue labeled `parallel:dashboard`: the issue where
`/orchestrate` was first said, or a "Parallel work" issue the bot opens for label-driven runs.
Its comment is found by marker and author, edited in place and never re-posted.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field

from pydantic import BaseModel, ConfigDict, ValidationError

from bot import crashpoints
from bot.blocks import StateBlockError, decode_state, encode_state
from bot.forge.base import CommentInfo, Forge, IssueInfo
from bot.forge.issues import DASHBOARD_LABEL, TASK_LABEL
from bot.models import Plan, Task, TaskState
from bot.redact import Redactor
from bot.render.dashboard import DASHBOARD_MARKER, DashboardTooLarge, DashboardView, dashboard_body

TRACKING_TITLE = "Parallel work"
TRACKING_BODY = (
    "This issue holds the dashboard of the tasks labeled `parallel`: the plan, which agents run, "
    "their pull requests and the merge order. Commands: comment `/orchestrate help`."
)
HANDLED_KEPT = 50


class BoardState(BaseModel):
    """The versioned JSON of the hidden block. Only the bot writes it."""

    model_config = ConfigDict(extra="ignore")

    version: int = 1
    fingerprint: str = ""  # of the task set the plan was made for
    plan: Plan | None = None
    running: bool = False  # `/orchestrate run` was given and not cancelled
    tasks: dict[str, TaskState] = {}
    titles: dict[str, str] = {}
    pulls: dict[str, int] = {}
    status_comments: dict[str, int] = {}  # task id -> id of its status comment
    status_digests: dict[str, str] = {}  # task id -> digest of the body last written there
    handled: dict[str, str] = {}  # command comment id -> final reaction
    problems: list[str] = []
    threshold: str = ""  # the conflict threshold the plan used, and why
    home: int | None = None  # the issue this dashboard is on
    blocked_by: dict[str, list[str]] = {}  # GitHub's "blocked by" relations, as last read
    swept_at: str = ""  # commands said up to this time (ISO 8601) were looked for
    pull_checks: dict[str, tuple[str, str]] = {}  # pull -> (head, digest) of its last check
    collisions: dict[str, list[str]] = {}  # people's pull requests -> the tasks they meet

    def remember_command(self, comment_id: int, reaction: str) -> None:
        self.handled[str(comment_id)] = reaction
        while len(self.handled) > HANDLED_KEPT:
            del self.handled[next(iter(self.handled))]


@dataclass
class Board:
    home: int
    comment: CommentInfo | None
    state: BoardState
    notes: list[str] = field(default_factory=list)  # this run's messages for the job summary
    waiting: dict[str, str] = field(default_factory=dict)
    trusted: bool = False  # the state was read back whole: its comment ids are all there are
    spend: str = ""  # this run's line on spend against the budget


def fingerprint(tasks: Sequence[Task]) -> str:
    """Changes when a task is added, removed or edited in a way that can change the plan."""
    data = [[t.id, t.title, t.body, list(t.depends_on), list(t.files), t.priority] for t in tasks]
    return hashlib.sha256(json.dumps(data).encode()).hexdigest()[:16]


def digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def find_home(forge: Forge, said_on: IssueInfo | None, create: bool) -> int | None:
    """The dashboard issue: the open one labeled `parallel:dashboard`; else the issue a
    command was said on (labeled now), unless that issue is a task (it would drop out of its
    own plan); else, when `create` or a command was said on a task, a new tracking issue."""
    if said_on is not None and DASHBOARD_LABEL in said_on.labels:
        return said_on.number
    homes = sorted(issue.number for issue in forge.list_issues(DASHBOARD_LABEL))
    if homes:
        return homes[0]
    if said_on is not None and TASK_LABEL not in said_on.labels:
        forge.add_labels(said_on.number, [DASHBOARD_LABEL])
        return said_on.number
    if create or said_on is not None:
        return forge.create_issue(TRACKING_TITLE, TRACKING_BODY, [DASHBOARD_LABEL]).number
    return None


def load_board(forge: Forge, home: int) -> Board:
    comment = forge.bot_comment(home, DASHBOARD_MARKER)
    board = Board(home, comment, BoardState())
    if comment is None:
        return board
    try:
        data = decode_state(comment.body)
        if data is not None:
            board.state = BoardState.model_validate(data)
            board.trusted = True
    except (StateBlockError, ValidationError) as exc:
        board.notes.append(f"the dashboard's state could not be read, starting afresh: {exc}")
    return board


def board_of(comment: CommentInfo) -> Board | None:
    """The board in a dashboard comment read by id (None when it is not one, or unreadable)."""
    if DASHBOARD_MARKER not in comment.body:
        return None
    try:
        data = decode_state(comment.body)
        state = BoardState.model_validate(data) if data is not None else None
    except (StateBlockError, ValidationError):
        return None
    if state is None or state.home is None:
        return None
    return Board(state.home, comment, state)


def view_of(board: Board) -> DashboardView:
    state = board.state
    return DashboardView(
        states=state.tasks,
        titles=state.titles,
        plan=state.plan,
        pulls=state.pulls,
        waiting=board.waiting,
        problems=state.problems,
        running=state.running,
        threshold=state.threshold,
        spend=board.spend,
        collisions=state.collisions,
    )


def render_board(board: Board, redact: Redactor) -> str:
    """The dashboard comment, secrets masked in the human part and in the state's strings
    (masked before encoding: a compressed block could not be searched)."""
    data = json.loads(redact(board.state.model_dump_json(exclude_defaults=True)))
    view = view_of(board)
    try:
        return dashboard_body(view, encode_state(data), redact=redact)
    except DashboardTooLarge:  # the plan can be rebuilt; the task states cannot
        data.pop("plan", None)
        data.pop("fingerprint", None)
        return dashboard_body(view, encode_state(data), redact=redact)


def save_board(forge: Forge, board: Board, redact: Redactor) -> bool:
    """Write the dashboard if it changed; True when a request was made."""
    board.state.home = board.home
    body = render_board(board, redact)
    if board.comment is None:
        board.comment = forge.create_comment(board.home, body)
    elif board.comment.body == body:
        return False
    else:
        forge.edit_comment(board.comment.id, body)
        board.comment = CommentInfo(board.comment.id, body, board.comment.author)
    crashpoints.reached("transition")
    return True
