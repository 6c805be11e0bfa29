"""Typed models of the GitHub webhook events the bot handles.

Each model parses only the fields the bot reads; every other field of the
payload is ignored. ``parse_event`` picks the model from the event name (the
``X-GitHub-Event`` header) and the payload's ``action`` and returns ``None`` for
events or actions the bot does not handle. No I/O happens here.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "HANDLED_EVENTS",
    "Account",
    "CheckRun",
    "CheckRunEvent",
    "Comment",
    "Event",
    "GitBranch",
    "Installation",
    "Issue",
    "IssueChanges",
    "IssueCommentEvent",
    "IssuesEvent",
    "Label",
    "PullRequest",
    "PullRequestEvent",
    "PullRequestRef",
    "Repository",
    "WorkflowDispatchEvent",
    "WorkflowRef",
    "WorkflowRun",
    "WorkflowRunEvent",
    "parse_event",
    "route_key",
]


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class Account(_Model):
    """A user, bot or organization (``sender``, ``user``, ``owner``)."""

    login: str
    type: str = "User"

    @property
    def is_bot(self) -> bool:
        return self.type == "Bot"


class Installation(_Model):
    id: int


class Repository(_Model):
    full_name: str
    name: str
    owner: Account


class Label(_Model):
    name: str


class Issue(_Model):
    number: int
    title: str
    body: str | None = None
    state: str = "open"
    user: Account
    labels: tuple[Label, ...] = ()
    # Present (as an object of URLs) only when the issue is a pull request.
    pull_request: dict[str, Any] | None = None

    @property
    def is_pull_request(self) -> bool:
        return self.pull_request is not None

    @property
    def label_names(self) -> frozenset[str]:
        return frozenset(label.name for label in self.labels)


class Comment(_Model):
    id: int
    body: str = ""
    user: Account


class GitBranch(_Model):
    """``head`` / ``base`` of a pull request."""

    ref: str
    sha: str


class PullRequest(_Model):
    number: int
    title: str = ""
    body: str | None = None
    state: str = "open"
    head: GitBranch
    base: GitBranch
    merged: bool | None = None
    merge_commit_sha: str | None = None
    user: Account


class PullRequestRef(_Model):
    """The short pull request entries of check runs and workflow runs."""

    number: int


class CheckRun(_Model):
    id: int
    name: str
    head_sha: str
    status: str
    conclusion: str | None = None
    pull_requests: tuple[PullRequestRef, ...] = ()


class WorkflowRun(_Model):
    id: int
    name: str | None = None
    head_branch: str | None = None
    head_sha: str
    event: str
    status: str | None = None
    conclusion: str | None = None
    pull_requests: tuple[PullRequestRef, ...] = ()


class WorkflowRef(_Model):
    path: str
    name: str = ""


class _Change(_Model):
    from_: str | None = Field(default=None, alias="from")


class IssueChanges(_Model):
    title: _Change | None = None
    body: _Change | None = None


class _Event(_Model):
    event_name: ClassVar[str]
    repository: Repository
    sender: Account
    installation: Installation | None = None


class IssuesEvent(_Event):
    event_name: ClassVar[str] = "issues"
    action: Literal["opened", "edited", "closed", "labeled", "unlabeled"]
    issue: Issue
    # The label added or removed (``labeled`` / ``unlabeled`` only).
    label: Label | None = None
    changes: IssueChanges | None = None


class IssueCommentEvent(_Event):
    event_name: ClassVar[str] = "issue_comment"
    action: Literal["created"]
    issue: Issue
    comment: Comment


class PullRequestEvent(_Event):
    event_name: ClassVar[str] = "pull_request"
    action: Literal["opened", "synchronize", "reopened", "closed"]
    number: int
    pull_request: PullRequest
    # ``synchronize`` only: head sha before and after the push.
    before: str | None = None
    after: str | None = None


class CheckRunEvent(_Event):
    event_name: ClassVar[str] = "check_run"
    action: Literal["completed"]
    check_run: CheckRun


class WorkflowRunEvent(_Event):
    event_name: ClassVar[str] = "workflow_run"
    action: Literal["completed"]
    workflow_run: WorkflowRun
    workflow: WorkflowRef | None = None


class WorkflowDispatchEvent(_Event):
    event_name: ClassVar[str] = "workflow_dispatch"
    ref: str
    workflow: str
    inputs: dict[str, Any] | None = None


class ScheduleEvent(_Model):
    """A `schedule:` trigger of the workflow: not a webhook (no repository, no sender); the
    bot's own clock, to pick up lost agents and retries that came due without an event."""

    event_name: ClassVar[str] = "schedule"
    schedule: str = ""


Event = (
    IssuesEvent
    | IssueCommentEvent
    | PullRequestEvent
    | CheckRunEvent
    | WorkflowRunEvent
    | WorkflowDispatchEvent
    | ScheduleEvent
)

_MODELS: dict[str, type[Event]] = {
    model.event_name: model
    for model in (
        IssuesEvent,
        IssueCommentEvent,
        PullRequestEvent,
        CheckRunEvent,
        WorkflowRunEvent,
        WorkflowDispatchEvent,
        ScheduleEvent,
    )
}

# Event name -> handled actions (``None``: the event has no action).
HANDLED_EVENTS: dict[str, frozenset[str | None]] = {
    "issues": frozenset({"opened", "edited", "closed", "labeled", "unlabeled"}),
    "issue_comment": frozenset({"created"}),
    "pull_request": frozenset({"opened", "synchronize", "reopened", "closed"}),
    "check_run": frozenset({"completed"}),
    "workflow_run": frozenset({"completed"}),
    "workflow_dispatch": frozenset({None}),
    "schedule": frozenset({None}),
}


def route_key(name: str, payload: dict[str, Any]) -> tuple[str, str | None]:
    """The routing key of a delivery: (event name, action or None)."""
    action = payload.get("action")
    return name, action if isinstance(action, str) else None


def parse_event(name: str, payload: dict[str, Any]) -> Event | None:
    """Parse a webhook delivery into its model.

    Returns ``None`` when the bot does not handle this event or action. Raises
    ``pydantic.ValidationError`` when a handled payload lacks a field it needs.
    """
    event, action = route_key(name, payload)
    if action not in HANDLED_EVENTS.get(event, frozenset()):
        return None
    return _MODELS[event].model_validate(payload)
