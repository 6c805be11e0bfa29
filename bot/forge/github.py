"""The `Forge` over GitHub's REST API, through PyGithub (the only module that builds a client).

Every request goes through `GitHubHttp` (counted, cached for the run, retried with care). What a
write returns updates the cached reads, so one run never reads the same thing twice.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict
from typing import Any
from urllib.parse import quote

import github

from bot.forge.base import (
    MAX_ANNOTATIONS,
    CheckRunInfo,
    CheckRunOutput,
    CommentInfo,
    ForgeError,
    IssueInfo,
    PullInfo,
    Reaction,
    Role,
)
from bot.forge.github_http import GitHubHttp

DEFAULT_API = "https://api.github.com"
ACTIONS_BOT = "github-actions[bot]"
ROLES: tuple[Role, ...] = ("none", "read", "triage", "write", "maintain", "admin")


def _issue(data: Mapping[str, Any]) -> IssueInfo:
    return IssueInfo(
        number=int(data["number"]),
        title=str(data.get("title") or ""),
        body=str(data.get("body") or ""),
        state=str(data.get("state") or "open"),
        labels=tuple(str(label["name"]) for label in data.get("labels") or ()),
        author=str((data.get("user") or {}).get("login") or ""),
        is_pull=data.get("pull_request") is not None,
        open_blockers=_open_blockers(data.get("issue_dependencies_summary")),
    )


def _open_blockers(summary: Any) -> int | None:
    count = summary.get("blocked_by") if isinstance(summary, dict) else None
    return count if isinstance(count, int) else None


def _pull(data: Mapping[str, Any], head_branch: str = "") -> PullInfo:
    head, base = data.get("head") or {}, data.get("base") or {}
    return PullInfo(
        number=int(data["number"]),
        head=str(head.get("ref") or head_branch),
        head_sha=str(head.get("sha") or ""),
        state=str(data.get("state") or "open"),
        merged=bool(data.get("merged_at")),
        url=str(data.get("html_url") or ""),
        base=str(base.get("ref") or ""),
        merge_sha=str(data.get("merge_commit_sha") or ""),
        title=str(data.get("title") or ""),
        author=str((data.get("user") or {}).get("login") or ""),
        fork=_repo_name(head) != _repo_name(base),
    )


def _repo_name(end: Mapping[str, Any]) -> str:
    return str((end.get("repo") or {}).get("full_name") or "").lower()


def _is_sha(ref: str) -> bool:
    return len(ref) == 40 and all(c in "0123456789abcdef" for c in ref)


def _comment(data: Mapping[str, Any]) -> CommentInfo:
    user = data.get("user") or {}
    issue = str(data.get("issue_url") or "").rsplit("/", 1)[-1]
    return CommentInfo(
        int(data["id"]),
        str(data.get("body") or ""),
        str(user.get("login") or ""),
        int(issue) if issue.isdigit() else 0,
    )


class GitHubForge:
    """One repository, one run. `bot_login` is the account the token acts as (looked up via
    `GET /user` when not given; Actions' GITHUB_TOKEN cannot, and is `github-actions[bot]`)."""

    def __init__(self, http: GitHubHttp, repository: str, bot_login: str | None = None) -> None:
        self.http = http
        self.repository = repository
        self.owner = repository.split("/", 1)[0]
        self._base = f"/repos/{repository}"
        self._bot = bot_login

    @property
    def request_count(self) -> int:
        return self.http.requests

    def bot_login(self) -> str:
        if self._bot is None:
            try:
                self._bot = str(self.http.get("/user")["login"])
            except ForgeError:
                self._bot = ACTIONS_BOT
        return self._bot

    # -- issues and labels --------------------------------------------------------------------

    def _issue_path(self, number: int) -> str:
        return f"{self._base}/issues/{number}"

    def get_issue(self, number: int) -> IssueInfo:
        return _issue(self.http.get(self._issue_path(number)))

    def list_issues(self, label: str) -> Sequence[IssueInfo]:
        found = self.http.get_all(f"{self._base}/issues", {"labels": label, "state": "open"})
        for data in found:
            self.http.remember(self._issue_path(int(data["number"])), data)
        return [issue for issue in map(_issue, found) if not issue.is_pull]

    def create_issue(self, title: str, body: str, labels: Sequence[str]) -> IssueInfo:
        def already() -> Any:
            mine = self.http.get_all(
                f"{self._base}/issues",
                {"creator": self.bot_login(), "state": "all"},
                fresh=True,
            )
            return next((i for i in mine if i.get("title") == title), None)

        payload = {"title": title, "body": body, "labels": list(labels)}
        data = self.http.write("POST", f"{self._base}/issues", payload, verify=already)
        self.http.remember(self._issue_path(int(data["number"])), data)
        for label in labels:
            self.http.forget(f"{self._base}/issues?labels={label}&")
        return _issue(data)

    def _set_cached_labels(self, number: int, labels: Any) -> None:
        cached = self.http.cached(self._issue_path(number))
        if isinstance(cached, dict) and isinstance(labels, list):
            cached["labels"] = labels

    def add_labels(self, number: int, labels: Sequence[str]) -> None:
        path = f"{self._issue_path(number)}/labels"

        def present() -> Any:
            now = self.http.get_all(path, fresh=True)
            return now if set(labels) <= {label["name"] for label in now} else None

        data = self.http.write("POST", path, {"labels": list(labels)}, verify=present)
        self._set_cached_labels(number, data)

    def remove_label(self, number: int, label: str) -> None:
        path = f"{self._issue_path(number)}/labels/{quote(label, safe='')}"
        try:
            data = self.http.write("DELETE", path)
        except ForgeError as error:
            if error.status != 404:  # already gone is what we wanted
                raise
            return
        self._set_cached_labels(number, data)

    # -- comments and reactions ---------------------------------------------------------------

    def _comments(self, number: int, fresh: bool = False) -> list[Any]:
        return self.http.get_all(f"{self._issue_path(number)}/comments", fresh=fresh)

    def bot_comment(self, number: int, marker: str) -> CommentInfo | None:
        bot = self.bot_login()
        for data in self._comments(number):
            comment = _comment(data)
            if comment.author == bot and marker in comment.body:
                return comment
        return None

    def create_comment(self, number: int, body: str) -> CommentInfo:
        path = f"{self._issue_path(number)}/comments"

        def already() -> Any:
            bot = self.bot_login()
            mine = [c for c in self._comments(number, fresh=True) if _comment(c).author == bot]
            return next((c for c in mine if c.get("body") == body), None)

        data = self.http.write("POST", path, {"body": body}, verify=already)
        cached = self.http.cached(path)
        if isinstance(cached, list) and data not in cached:
            cached.append(data)
        return _comment(data)

    def comments_since(self, since: str) -> Sequence[CommentInfo]:
        params = {"since": since, "sort": "created", "direction": "asc"}
        return [_comment(c) for c in self.http.get_all(f"{self._base}/issues/comments", params)]

    def get_comment(self, comment_id: int, fresh: bool = False) -> CommentInfo | None:
        path = f"{self._base}/issues/comments/{comment_id}"
        try:
            return _comment(self.http.get(path, fresh=fresh))
        except ForgeError as error:
            if error.status == 404:
                return None
            raise

    def edit_comment(self, comment_id: int, body: str) -> None:
        data = self.http.write(
            "PATCH", f"{self._base}/issues/comments/{comment_id}", {"body": body}
        )
        number = int(str(data.get("issue_url", "")).rsplit("/", 1)[-1] or 0)
        cached = self.http.cached(f"{self._issue_path(number)}/comments")
        for item in cached if isinstance(cached, list) else ():
            if item.get("id") == comment_id:
                item["body"] = body

    def react(self, comment_id: int, content: Reaction) -> None:
        path = f"{self._base}/issues/comments/{comment_id}/reactions"

        def present() -> Any:
            bot = self.bot_login()
            now = self.http.get_all(path, {"content": content}, fresh=True)
            return next((r for r in now if (r.get("user") or {}).get("login") == bot), None)

        self.http.write("POST", path, {"content": content}, verify=present)

    # -- people, pulls, checks, workflows -----------------------------------------------------

    def role(self, login: str) -> Role:
        try:
            data = self.http.get(f"{self._base}/collaborators/{quote(login)}/permission")
        except ForgeError as error:
            if error.status == 404:
                return "none"
            raise
        role = str(data.get("role_name") or data.get("permission") or "none")
        return role if role in ROLES else "none"

    def list_pulls(self, base: str) -> Sequence[PullInfo]:
        params = {"state": "open", "base": base, "per_page": "100"}
        return [_pull(data) for data in self.http.get_all(f"{self._base}/pulls", params)]

    def find_pull(self, head_branch: str) -> PullInfo | None:
        params = {"head": f"{self.owner}:{head_branch}", "state": "all"}
        for data in self.http.get_all(f"{self._base}/pulls", params):
            return _pull(data, head_branch)
        return None

    def get_pull(self, number: int, fresh: bool = False) -> PullInfo:
        return _pull(self.http.get(f"{self._base}/pulls/{number}", fresh=fresh))

    def create_pull(self, head: str, base: str, title: str, body: str) -> PullInfo:
        def already() -> Any:
            params = {"head": f"{self.owner}:{head}", "state": "open"}
            found = self.http.get_all(f"{self._base}/pulls", params, fresh=True)
            return found[0] if found else None

        payload = {"title": title, "head": head, "base": base, "body": body}
        try:
            data = self.http.write("POST", f"{self._base}/pulls", payload, verify=already)
        except ForgeError as error:
            found = already() if error.status == 422 else None  # one is open already
            if found is None:
                raise
            data = found
        self.http.forget(f"{self._base}/pulls?")
        return _pull(data, head)

    def merge_pull(self, number: int, sha: str, method: str) -> str:
        body = {"sha": sha, "merge_method": method}
        data = self.http.write("PUT", f"{self._base}/pulls/{number}/merge", body)
        return str(data.get("sha") or "")

    def branch_sha(self, branch: str) -> str | None:
        try:
            data = self.http.get(f"{self._base}/git/ref/heads/{quote(branch)}", fresh=True)
        except ForgeError as error:
            if error.status == 404:
                return None
            raise
        return str((data.get("object") or {}).get("sha") or "") or None

    def check_run(self, ref: str, name: str) -> CheckRunInfo | None:
        commit = ref if _is_sha(ref) else f"heads/{ref}"
        path = f"{self._base}/commits/{quote(commit, safe='')}/check-runs"
        try:
            found = self.http.get(path, {"check_name": name})
        except ForgeError as error:
            if error.status in (404, 422):  # no such branch (yet)
                return None
            raise
        runs = found.get("check_runs") or [] if isinstance(found, dict) else []
        if not runs:
            return None
        run = max(runs, key=lambda r: int(r["id"]))
        return CheckRunInfo(
            id=int(run["id"]),
            name=str(run.get("name") or name),
            head_sha=str(run.get("head_sha") or ""),
            status=str(run.get("status") or ""),
            conclusion=run.get("conclusion"),
            summary=str((run.get("output") or {}).get("summary") or ""),
            app=str((run.get("app") or {}).get("slug") or ""),
        )

    def blocked_by(self, number: int) -> tuple[int, ...]:
        path = f"{self._issue_path(number)}/dependencies/blocked_by"
        try:
            found = self.http.get_all(path)
        except ForgeError as error:
            if error.status in (404, 410):  # dependencies not available here
                return ()
            raise
        own = f"/repos/{self.repository}".lower()
        return tuple(
            sorted(
                int(issue["number"])
                for issue in found
                if str(issue.get("repository_url") or "").lower().endswith(own)
            )
        )

    def pull_files(self, number: int) -> tuple[str, ...]:
        found: list[str] = []
        for data in self.http.get_all(f"{self._base}/pulls/{number}/files", {}):
            found.append(str(data["filename"]))
            if data.get("previous_filename"):
                found.append(str(data["previous_filename"]))
        return tuple(sorted(set(found)))

    def put_check_run(self, check: CheckRunOutput, new_head: bool = False) -> int:
        path = f"{self._base}/commits/{check.head_sha}/check-runs"
        if new_head and self.http.cached(path, {"check_name": check.name}) is None:
            self.http.remember(
                path, {"total_count": 0, "check_runs": []}, {"check_name": check.name}
            )
        found = self.http.get(path, {"check_name": check.name})
        runs = found.get("check_runs", []) if isinstance(found, dict) else []
        body: dict[str, Any] = {
            "name": check.name,
            "output": {"title": check.title, "summary": check.summary, "text": check.text},
        }
        if check.annotations:
            body["output"]["annotations"] = [
                {k: v for k, v in asdict(note).items() if k != "level"}
                | {"annotation_level": note.level}
                for note in check.annotations[:MAX_ANNOTATIONS]
            ]
        if check.conclusion is None:
            body["status"] = "in_progress"
        else:
            body.update(status="completed", conclusion=check.conclusion)
        run = runs[0] if runs else None
        if run is not None and _same_check(run, body):
            return int(run["id"])
        annotated = check.annotations or (run or {}).get("output", {}).get("annotations_count")
        if run is not None and not annotated:
            data = self.http.write("PATCH", f"{self._base}/check-runs/{run['id']}", body)
        else:  # a new one: the first, or annotations that cannot be taken back

            def already() -> Any:
                again = self.http.get(path, {"check_name": check.name}, fresh=True)
                return (again.get("check_runs") or [None])[0]

            body["head_sha"] = check.head_sha
            data = self.http.write("POST", f"{self._base}/check-runs", body, verify=already)
        self.http.remember(
            path, {"total_count": 1, "check_runs": [data]}, {"check_name": check.name}
        )
        return int(data["id"])

    def dispatch_workflow(self, workflow: str, ref: str, inputs: Mapping[str, str]) -> None:
        path = f"{self._base}/actions/workflows/{quote(workflow, safe='')}/dispatches"
        self.http.write("POST", path, {"ref": ref, "inputs": dict(inputs)})  # never re-sent


def _same_check(run: Mapping[str, Any], body: Mapping[str, Any]) -> bool:
    output = run.get("output") or {}
    wanted = body["output"]
    return (
        run.get("status") == body["status"]
        and run.get("conclusion") == body.get("conclusion")
        and all(output.get(key) == wanted[key] for key in ("title", "summary", "text"))
    )


def connect(
    token: str,
    repository: str,
    *,
    api_url: str | None = None,
    bot_login: str | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> GitHubForge:
    """A forge for `repository` ("owner/name"). PyGithub's own retries and throttling are off:
    `GitHubHttp` decides what may be retried."""
    client = github.Github(
        auth=github.Auth.Token(token),
        base_url=(api_url or DEFAULT_API).rstrip("/"),
        retry=None,
        seconds_between_requests=None,
        seconds_between_writes=None,
    )
    return GitHubForge(GitHubHttp(client.requester, sleep=sleep), repository, bot_login)
