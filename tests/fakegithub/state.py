"""In-memory state of the fake GitHub: ``State`` and the operations on it.

Methods take the acting user and raise ``ApiError`` the way GitHub answers.
State changes that GitHub would deliver as webhooks call ``State.emit``.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from fakegithub.devflow import DevFlow
from fakegithub.gitrepo import BareRepo
from fakegithub.model import (
    LEGACY_PERMISSION,
    REACTIONS,
    ROLES,
    ApiError,
    Comment,
    Issue,
    Label,
    Reaction,
    Repo,
    User,
    invalid,
    not_found,
)

Listener = Callable[[str, str | None, dict[str, Any]], None]


class State(DevFlow):
    """All repos and users; ``emit`` forwards webhook-worthy changes to listeners."""

    def __init__(self, bot_login: str = "orchestrate-bot[bot]") -> None:
        self._ids = itertools.count(1001)
        self._clock = datetime(2024, 1, 1, tzinfo=UTC)
        self.users: dict[str, User] = {}
        self.repos: dict[str, Repo] = {}
        self.listeners: list[Listener] = []
        self.bot = self.add_user(bot_login, type="Bot")

    def next_id(self) -> int:
        return next(self._ids)

    def now(self) -> str:
        """A deterministic clock: each call is one second later."""
        self._clock += timedelta(seconds=1)
        return self._clock.strftime("%Y-%m-%dT%H:%M:%SZ")

    def emit(self, event: str, action: str | None, **objects: Any) -> None:
        for listener in self.listeners:
            listener(event, action, objects)

    # ------------------------------------------------------------------ users and repos
    def add_user(self, login: str, *, type: str = "User", name: str | None = None) -> User:
        user = User(login=login, id=self.next_id(), type=type, name=name)
        self.users[login.lower()] = user
        return user

    def user(self, login: str) -> User:
        """The user with this login, created on first use."""
        return self.users.get(login.lower()) or self.add_user(login)

    def find_user(self, login: str) -> User:
        if login.lower() not in self.users:
            raise not_found()
        return self.users[login.lower()]

    def create_repo(
        self,
        full_name: str,
        git_dir: Path,
        *,
        default_branch: str = "main",
        private: bool = False,
        files: dict[str, str] | None = None,
    ) -> Repo:
        """A repo backed by the bare git repo at ``git_dir`` (created if missing)."""
        owner, name = full_name.split("/")
        git_dir = Path(git_dir)
        if (git_dir / "HEAD").exists():
            git = BareRepo(git_dir)
        else:
            git = BareRepo.init(git_dir, files, branch=default_branch)
        repo = Repo(
            id=self.next_id(),
            owner=self.user(owner),
            name=name,
            git=git,
            default_branch=default_branch,
            private=private,
            created_at=self.now(),
        )
        self.repos[full_name.lower()] = repo
        return repo

    def repo(self, owner: str, name: str) -> Repo:
        repo = self.repos.get(f"{owner}/{name}".lower())
        if repo is None:
            raise not_found()
        return repo

    # ------------------------------------------------------------------ permissions
    def set_role(self, repo: Repo, login: str, role: str) -> None:
        if role not in ROLES:
            raise ValueError(f"role must be one of {ROLES}")
        self.user(login)
        repo.collaborators[login.lower()] = role

    def permission(self, repo: Repo, login: str) -> tuple[User, str, str]:
        """(user, legacy permission, role name) of a user on a repo."""
        user = self.find_user(login)
        role = repo.role(login)
        if role is None:
            return user, "none" if repo.private else "read", "none" if repo.private else "read"
        return user, LEGACY_PERMISSION[role], role

    def _emit_issue(self, repo: Repo, issue: Issue, action: str, actor: User, **extra: Any) -> None:
        """An ``issues`` event, or ``pull_request`` when the issue is a pull request."""
        if issue.is_pull:
            self.emit(
                "pull_request",
                action,
                repo=repo,
                pull=repo.pulls[issue.number],
                sender=actor,
                **extra,
            )
        else:
            self.emit("issues", action, repo=repo, issue=issue, sender=actor, **extra)

    # ------------------------------------------------------------------ labels
    def create_label(
        self, repo: Repo, name: str, color: str = "ededed", description: str | None = None
    ) -> Label:
        if name.lower() in repo.labels:
            raise invalid("already_exists", "Label", "name", code="already_exists")
        label = Label(self.next_id(), name, color.lstrip("#"), description)
        repo.labels[name.lower()] = label
        return label

    def _label_for(self, repo: Repo, name: str) -> Label:
        return repo.labels.get(name.lower()) or self.create_label(repo, name)

    def add_labels(self, repo: Repo, actor: User, number: int, names: Iterable[str]) -> Issue:
        issue = repo.issue(number)
        for name in names:
            label = self._label_for(repo, name)
            if label not in issue.labels:
                issue.labels.append(label)
                issue.updated_at = self.now()
                self._emit_issue(repo, issue, "labeled", actor, label=label)
        return issue

    def remove_label(self, repo: Repo, actor: User, number: int, name: str) -> Issue:
        issue = repo.issue(number)
        label = next((lb for lb in issue.labels if lb.name.lower() == name.lower()), None)
        if label is None:
            raise ApiError(404, "Label does not exist")
        issue.labels.remove(label)
        issue.updated_at = self.now()
        self._emit_issue(repo, issue, "unlabeled", actor, label=label)
        return issue

    def set_labels(self, repo: Repo, actor: User, number: int, names: Iterable[str]) -> Issue:
        wanted = {n.lower(): n for n in names}
        issue = repo.issue(number)
        for label in list(issue.labels):
            if label.name.lower() not in wanted:
                self.remove_label(repo, actor, number, label.name)
        return self.add_labels(repo, actor, number, wanted.values())

    # ------------------------------------------------------------------ issues
    def create_issue(
        self,
        repo: Repo,
        actor: User,
        title: str,
        body: str | None = None,
        labels: Iterable[str] = (),
    ) -> Issue:
        number = max(repo.issues, default=0) + 1
        now = self.now()
        issue = Issue(number, self.next_id(), title, body, actor, now, now)
        issue.labels = [self._label_for(repo, name) for name in labels]
        repo.issues[number] = issue
        self.emit("issues", "opened", repo=repo, issue=issue, sender=actor)
        return issue

    def edit_issue(self, repo: Repo, actor: User, number: int, **changes: Any) -> Issue:
        issue = repo.issue(number)
        old = {"title": issue.title, "body": issue.body}
        edited = {k: v for k, v in changes.items() if k in old and v is not None and v != old[k]}
        for key, value in edited.items():
            setattr(issue, key, value)
        if edited:
            issue.updated_at = self.now()
            self._emit_issue(repo, issue, "edited", actor, changes={k: old[k] for k in edited})
        if changes.get("labels") is not None:
            self.set_labels(repo, actor, number, changes["labels"])
        state = changes.get("state")
        if state and state != issue.state:
            issue.state = state
            issue.updated_at = self.now()
            if state == "closed":
                issue.closed_at, issue.closed_by = issue.updated_at, actor
                issue.state_reason = changes.get("state_reason") or "completed"
            else:
                issue.closed_at, issue.closed_by, issue.state_reason = None, None, "reopened"
            if issue.is_pull:
                pull = repo.pulls[number]
                pull.closed_head_sha = repo.head_sha(pull)
                self.emit(
                    "pull_request",
                    "closed" if state == "closed" else "reopened",
                    repo=repo,
                    pull=pull,
                    sender=actor,
                )
            else:
                self.emit(
                    "issues",
                    "closed" if state == "closed" else "reopened",
                    repo=repo,
                    issue=issue,
                    sender=actor,
                )
        return issue

    # ------------------------------------------------------------------ dependencies
    def issue_by_id(self, issue_id: int) -> tuple[Repo, Issue]:
        """The issue (of any repo) with this ``id`` (not number), and its repo."""
        for repo in self.repos.values():
            for issue in repo.issues.values():
                if issue.id == issue_id:
                    return repo, issue
        raise not_found()

    def blocked_by(self, repo: Repo, number: int) -> list[tuple[Repo, Issue]]:
        """The issues blocking issue ``number``, in the order they were added."""
        return [self.issue_by_id(i) for i in repo.issue(number).blocked_by]

    def blocking(self, repo: Repo, number: int) -> list[tuple[Repo, Issue]]:
        """The issues that issue ``number`` blocks (the reverse of ``blocked_by``)."""
        issue_id = repo.issue(number).id
        return [
            (other_repo, other)
            for other_repo in self.repos.values()
            for other in other_repo.issues.values()
            if issue_id in other.blocked_by
        ]

    def add_blocked_by(self, repo: Repo, number: int, blocking_id: int) -> Issue:
        """Issue ``number`` is now blocked by the issue with id ``blocking_id``; returns the former.

        Like the REST API the blocker is named by its ``id``, not its number (it may
        live in another repo). 404 for an unknown issue; 422 for the issue itself, a
        pull request, or a dependency that already exists.
        """
        issue = repo.issue(number)
        _, blocking = self.issue_by_id(blocking_id)
        if blocking is issue:
            raise invalid("An issue cannot be blocked by itself", "IssueDependency", "issue_id")
        if blocking.is_pull:
            raise invalid("A pull request cannot be a dependency", "IssueDependency", "issue_id")
        if blocking_id in issue.blocked_by:
            raise invalid(
                "Issue is already blocked by this issue",
                "IssueDependency",
                "issue_id",
                code="already_exists",
            )
        issue.blocked_by.append(blocking_id)
        return issue

    def remove_blocked_by(self, repo: Repo, number: int, blocking_id: int) -> Issue:
        """Issue ``number`` is no longer blocked by issue id ``blocking_id`` (404 if it was not)."""
        issue = repo.issue(number)
        if blocking_id not in issue.blocked_by:
            raise not_found()
        issue.blocked_by.remove(blocking_id)
        return issue

    # ------------------------------------------------------------------ comments and reactions
    def create_comment(self, repo: Repo, actor: User, number: int, body: str) -> Comment:
        issue = repo.issue(number)
        now = self.now()
        comment = Comment(self.next_id(), number, body, actor, now, now)
        repo.comments[comment.id] = comment
        self.emit("issue_comment", "created", repo=repo, issue=issue, comment=comment, sender=actor)
        return comment

    def edit_comment(self, repo: Repo, actor: User, comment_id: int, body: str) -> Comment:
        comment = repo.comment(comment_id)
        old = comment.body
        comment.body, comment.updated_at = body, self.now()
        issue = repo.issues[comment.issue_number]
        self.emit(
            "issue_comment",
            "edited",
            repo=repo,
            issue=issue,
            comment=comment,
            sender=actor,
            changes={"body": old},
        )
        return comment

    def delete_comment(self, repo: Repo, actor: User, comment_id: int) -> None:
        comment = repo.comment(comment_id)
        del repo.comments[comment_id]
        issue = repo.issues[comment.issue_number]
        self.emit("issue_comment", "deleted", repo=repo, issue=issue, comment=comment, sender=actor)

    def react(self, reactions: list[Reaction], actor: User, content: str) -> tuple[Reaction, bool]:
        """Add a reaction; (reaction, created). An existing one is returned as is."""
        if content not in REACTIONS:
            raise invalid(
                f"content must be one of {REACTIONS}", "Reaction", "content", code="invalid"
            )
        for reaction in reactions:
            if reaction.user is actor and reaction.content == content:
                return reaction, False
        reaction = Reaction(self.next_id(), content, actor, self.now())
        reactions.append(reaction)
        return reaction, True

    @staticmethod
    def unreact(reactions: list[Reaction], reaction_id: int) -> None:
        for reaction in reactions:
            if reaction.id == reaction_id:
                reactions.remove(reaction)
                return
        raise not_found()
