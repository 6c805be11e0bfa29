"""The `Forge` port: what the GitHub-mode core needs from GitHub, and nothing more.

The handlers in `bot.github_bot` call only these methods; `bot.forge.github` implements them over
PyGithub, and tests can implement them with a recording fake. Values crossing the port are small
frozen dataclasses, never PyGithub objects.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

Reaction = Literal["+1", "-1", "laugh", "confused", "heart", "hooray", "rocket", "eyes"]
Role = Literal["none", "read", "triage", "write", "maintain", "admin"]
WRITE_ROLES: frozenset[str] = frozenset({"write", "maintain", "admin"})


class ForgeError(Exception):
    """A request GitHub refused or could not serve, after any safe retries."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class IssueInfo:
    number: int
    title: str
    body: str
    state: str = "open"
    labels: tuple[str, ...] = ()
    author: str = ""
    is_pull: bool = False
    open_blockers: int | None = None  # GitHub's count of open "blocked by" issues, if it says


@dataclass(frozen=True)
class CommentInfo:
    id: int
    body: str
    author: str
    issue: int = 0  # the issue it is on (filled where the API says)


@dataclass(frozen=True)
class PullInfo:
    number: int
    head: str
    head_sha: str
    state: str = "open"
    merged: bool = False
    url: str = ""
    base: str = ""
    merge_sha: str = ""
    title: str = ""
    author: str = ""
    fork: bool = False  # its head lives in another repository


@dataclass(frozen=True)
class CheckRunInfo:
    """A check run as GitHub shows it."""

    id: int
    name: str
    head_sha: str
    status: str
    conclusion: str | None
    summary: str
    app: str = ""  # the slug of the GitHub App that made it


@dataclass(frozen=True)
class Annotation:
    """A note on lines of one file of the check run's commit."""

    path: str
    start_line: int
    end_line: int
    level: Literal["notice", "warning", "failure"]
    title: str
    message: str


MAX_ANNOTATIONS = 50  # GitHub takes at most this many per request


@dataclass(frozen=True)
class CheckRunOutput:
    """One check run as the bot wants it to look (`conclusion` None: still in progress).
    GitHub appends annotations and never removes them, so a check run whose annotations
    change is made anew on the same commit (the newest of a name is the one shown)."""

    name: str
    head_sha: str
    title: str
    summary: str
    text: str = ""
    conclusion: str | None = None
    details: Mapping[str, str] = field(default_factory=dict)
    annotations: tuple[Annotation, ...] = ()


class Forge(Protocol):
    """The repository the bot works on. Reads may be cached for one run; writes never are."""

    @property
    def request_count(self) -> int:
        """HTTP requests sent so far (retries included)."""
        ...

    def bot_login(self) -> str: ...

    def get_issue(self, number: int) -> IssueInfo: ...

    def list_issues(self, label: str) -> Sequence[IssueInfo]:
        """Open issues (not pull requests) carrying `label`."""
        ...

    def create_issue(self, title: str, body: str, labels: Sequence[str]) -> IssueInfo: ...

    def add_labels(self, number: int, labels: Sequence[str]) -> None: ...

    def remove_label(self, number: int, label: str) -> None: ...

    def bot_comment(self, number: int, marker: str) -> CommentInfo | None:
        """The bot's own comment on issue `number` containing `marker` (first one), or None."""
        ...

    def create_comment(self, number: int, body: str) -> CommentInfo: ...

    def comments_since(self, since: str) -> Sequence[CommentInfo]:
        """Comments on any issue of the repository created or edited since `since` (ISO 8601),
        oldest first."""
        ...

    def get_comment(self, comment_id: int, fresh: bool = False) -> CommentInfo | None:
        """One comment by id (`fresh`: as it is now), None when it was deleted."""
        ...

    def edit_comment(self, comment_id: int, body: str) -> None: ...

    def role(self, login: str) -> Role:
        """The user's role on the repository, asked of the API (never from a payload)."""
        ...

    def react(self, comment_id: int, content: Reaction) -> None: ...

    def put_check_run(self, check: CheckRunOutput, new_head: bool = False) -> int:
        """Create the named check run on `head_sha`, or update the one already there
        (`new_head`: the caller just made that commit, so there is none to look for)."""
        ...

    def check_run(self, ref: str, name: str) -> CheckRunInfo | None:
        """The newest check run named `name` on the commit `ref` (a SHA or a branch) points
        to; None when there is none, or no such branch."""
        ...

    def branch_sha(self, branch: str) -> str | None:
        """Where `branch` points now (read fresh), None when it does not exist."""
        ...

    def get_pull(self, number: int, fresh: bool = False) -> PullInfo:
        """A pull request (`fresh`: as it is now, not as read earlier in this run)."""
        ...

    def create_pull(self, head: str, base: str, title: str, body: str) -> PullInfo: ...

    def merge_pull(self, number: int, sha: str, method: str) -> str:
        """Merge through the API, only if the head is still `sha`; the merge commit's SHA.
        Never retried: a refusal (405, 409) or an unclear answer (5xx) is raised."""
        ...

    def blocked_by(self, number: int) -> tuple[int, ...]:
        """The issues of this repository that GitHub records as blocking issue `number`."""
        ...

    def list_pulls(self, base: str) -> Sequence[PullInfo]:
        """The open pull requests into `base`, newest first."""
        ...

    def find_pull(self, head_branch: str) -> PullInfo | None:
        """The newest pull request (any state) whose head is `head_branch` in this repository."""
        ...

    def pull_files(self, number: int) -> tuple[str, ...]:
        """The paths a pull request changes (renamed files under their old and new names)."""
        ...

    def dispatch_workflow(self, workflow: str, ref: str, inputs: Mapping[str, str]) -> None: ...
