"""The fake GitHub's data: users, repos and what lives in them, and ``ApiError``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fakegithub.gitrepo import ZERO_SHA, BareRepo

REACTIONS = ("+1", "-1", "laugh", "confused", "heart", "hooray", "rocket", "eyes")
ROLES = ("read", "triage", "write", "maintain", "admin")
# role -> legacy ``permission`` value of the collaborator permission endpoint
LEGACY_PERMISSION = {
    "read": "read",
    "triage": "read",
    "write": "write",
    "maintain": "write",
    "admin": "admin",
}


class ApiError(Exception):
    """An error answer: status, GitHub's message, optional validation errors."""

    def __init__(
        self,
        status: int,
        message: str,
        errors: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(f"{status} {message}")
        self.status = status
        self.message = message
        self.errors = errors
        self.headers = headers or {}


def not_found() -> ApiError:
    return ApiError(404, "Not Found")


def invalid(message: str, resource: str = "", field: str = "", code: str = "custom") -> ApiError:
    error = {"resource": resource, "field": field, "code": code, "message": message}
    return ApiError(422, "Validation Failed", errors=[error])


@dataclass
class User:
    login: str
    id: int
    type: str = "User"  # "User", "Bot", "Organization"
    name: str | None = None
    created_at: str = "2020-01-01T00:00:00Z"


@dataclass
class Label:
    id: int
    name: str
    color: str = "ededed"
    description: str | None = None


@dataclass
class Reaction:
    id: int
    content: str
    user: User
    created_at: str


@dataclass
class Comment:
    id: int
    issue_number: int
    body: str
    user: User
    created_at: str
    updated_at: str
    reactions: list[Reaction] = field(default_factory=list)


@dataclass
class Issue:
    number: int
    id: int
    title: str
    body: str | None
    user: User
    created_at: str
    updated_at: str
    state: str = "open"
    state_reason: str | None = None
    closed_at: str | None = None
    closed_by: User | None = None
    labels: list[Label] = field(default_factory=list)
    reactions: list[Reaction] = field(default_factory=list)
    is_pull: bool = False
    blocked_by: list[int] = field(default_factory=list)  # ids of the issues blocking this one


@dataclass
class Pull:
    number: int
    id: int
    head: str  # branch name
    base: str
    draft: bool = False
    merged_at: str | None = None
    merged_by: User | None = None
    merge_commit_sha: str | None = None
    closed_head_sha: str | None = None  # head sha kept once the branch may be gone


@dataclass
class CheckRun:
    id: int
    name: str
    head_sha: str
    status: str
    conclusion: str | None
    started_at: str | None
    completed_at: str | None
    app: User
    details_url: str | None = None
    external_id: str | None = None
    output: dict[str, Any] = field(default_factory=dict)
    annotations: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Workflow:
    id: int
    name: str
    path: str
    created_at: str


@dataclass
class Dispatch:
    workflow: Workflow
    ref: str
    inputs: dict[str, Any]
    actor: User


@dataclass
class WorkflowRun:
    id: int
    workflow: Workflow
    head_branch: str
    head_sha: str
    event: str
    conclusion: str
    run_number: int
    actor: User
    created_at: str
    pull_numbers: tuple[int, ...] = ()


@dataclass
class Repo:
    id: int
    owner: User
    name: str
    git: BareRepo
    default_branch: str = "main"
    private: bool = False
    created_at: str = "2020-01-01T00:00:00Z"
    labels: dict[str, Label] = field(default_factory=dict)  # lower-case name -> label
    issues: dict[int, Issue] = field(default_factory=dict)
    pulls: dict[int, Pull] = field(default_factory=dict)
    comments: dict[int, Comment] = field(default_factory=dict)
    check_runs: dict[int, CheckRun] = field(default_factory=dict)
    collaborators: dict[str, str] = field(default_factory=dict)  # login -> role
    workflows: dict[int, Workflow] = field(default_factory=dict)
    dispatches: list[Dispatch] = field(default_factory=list)
    workflow_runs: dict[int, WorkflowRun] = field(default_factory=dict)

    @property
    def full_name(self) -> str:
        return f"{self.owner.login}/{self.name}"

    def issue(self, number: int) -> Issue:
        if number not in self.issues:
            raise not_found()
        return self.issues[number]

    def pull(self, number: int) -> Pull:
        if number not in self.pulls:
            raise not_found()
        return self.pulls[number]

    def comment(self, comment_id: int) -> Comment:
        if comment_id not in self.comments:
            raise not_found()
        return self.comments[comment_id]

    def label(self, name: str) -> Label:
        label = self.labels.get(name.lower())
        if label is None:
            raise not_found()
        return label

    def role(self, login: str) -> str | None:
        if login.lower() == self.owner.login.lower():
            return "admin"
        return self.collaborators.get(login.lower())

    def head_sha(self, pull: Pull) -> str:
        return self.git.branch_sha(pull.head) or pull.closed_head_sha or ZERO_SHA

    def open_pulls_with_head(self, branch: str) -> list[Pull]:
        return [
            p
            for p in self.pulls.values()
            if p.head == branch and self.issues[p.number].state == "open"
        ]
