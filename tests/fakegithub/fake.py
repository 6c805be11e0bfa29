"""``FakeGitHub``: the stateful fake GitHub REST API as one WSGI app.

Reach it in-process through ``responses`` (``with fake.mock(): ...``) or over
HTTP on 127.0.0.1 (``with fake.serve() as url: ...``). Every exchange is
counted and validated against GitHub's OpenAPI description.
"""

from __future__ import annotations

import itertools
import json
import re
import threading
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import responses
from werkzeug.test import EnvironBuilder, run_wsgi_app

from bot.events import parse_event
from fakegithub import routes_issues, routes_repo  # noqa: F401  (registers routes)
from fakegithub.app import (
    ROUTER,
    SECONDARY_RATE_LIMIT_MESSAGE,
    STATUS_TEXT,
    Ctx,
    Fault,
    Reply,
    decode_body,
    error_body,
    paginate,
    parse_query,
)
from fakegithub.model import ApiError, Comment, Issue, Repo, User, Workflow, WorkflowRun
from fakegithub.openapi import STATS, SpecValidator, SpecViolation, get_validator
from fakegithub.server import LocalServer
from fakegithub.state import State
from fakegithub.webhooks import WEBHOOK_NAMES, Delivery, build

API = "https://api.github.com"
SECONDARY_DOCS = (
    "https://docs.github.com/free-pro-team@latest/rest/overview/"
    "rate-limits-for-the-rest-api#about-secondary-rate-limits"
)


class FakeGitHub:
    """In-memory GitHub: state (``.state``), WSGI app, counters, faults, webhooks."""

    def __init__(self, bot_login: str = "orchestrate-bot[bot]", *, validate: bool = True) -> None:
        self.state = State(bot_login)
        self.validator: SpecValidator | None = None
        if validate:
            self.validator = get_validator(ROUTER.templates, frozenset(WEBHOOK_NAMES.values()))
        self.counts: Counter[str] = Counter()  # "GET /repos/{owner}/{repo}/issues" -> n
        self.faults: list[Fault] = []
        self.tokens: dict[str, str] = {}  # token -> login; unknown tokens act as the bot
        self.deliveries: list[Delivery] = []
        self.violations: list[str] = []
        self.unserved: list[str] = []
        self.rate_limit = 5000
        self.rate_remaining = 5000
        self.rate_reset = int(time.time()) + 3600
        self._lock = threading.RLock()
        self._request_ids = itertools.count(1)
        self.state.listeners.append(self._on_event)

    # ------------------------------------------------------------------ setup helpers
    @property
    def bot(self) -> User:
        return self.state.bot

    def create_repo(self, full_name: str, git_dir: Path, **kwargs: Any) -> Repo:
        """A repo backed by a bare git repo at ``git_dir`` (created with one commit if missing)."""
        return self.state.create_repo(full_name, git_dir, **kwargs)

    def repo(self, full_name: str) -> Repo:
        return self.state.repo(*full_name.split("/"))

    def add_collaborator(self, repo: Repo, login: str, role: str = "write") -> User:
        """``role``: read, triage, write, maintain or admin."""
        self.state.set_role(repo, login, role)
        return self.state.user(login)

    def token_for(self, login: str) -> str:
        """A token whose requests act as ``login`` (the user is created if needed)."""
        self.state.user(login)
        token = f"token-{login}"
        self.tokens[token] = login
        return token

    def create_issue(
        self,
        repo: Repo,
        title: str,
        body: str | None = None,
        labels: Iterable[str] = (),
        *,
        user: str,
    ) -> Issue:
        return self.state.create_issue(repo, self.state.user(user), title, body, labels)

    def comment(self, repo: Repo, number: int, body: str, *, user: str) -> Comment:
        return self.state.create_comment(repo, self.state.user(user), number, body)

    def add_blocked_by(
        self, repo: Repo, number: int, blocking_number: int, *, blocking_repo: Repo | None = None
    ) -> Issue:
        """``number`` is now blocked by ``blocking_number`` (of ``blocking_repo``, or ``repo``)."""
        blocking = (blocking_repo or repo).issue(blocking_number)
        return self.state.add_blocked_by(repo, number, blocking.id)

    def push(
        self, repo: Repo, branch: str, files: dict[str, str | None], message: str, *, user: str
    ) -> str:
        """Commit on ``branch`` (from the default branch if new) like a ``git push``."""
        before = repo.git.branch_sha(branch)
        parents = [before or repo.git.branch_sha(repo.default_branch) or ""]
        sha = repo.git.commit(branch, files, message, parents=parents)
        if before:
            self.state.pushed(repo, self.state.user(user), f"refs/heads/{branch}", before, sha)
        return sha

    def add_workflow(self, repo: Repo, path: str, name: str | None = None) -> Workflow:
        return self.state.add_workflow(repo, path, name)

    def complete_workflow_run(
        self, repo: Repo, workflow: str, branch: str, conclusion: str = "success"
    ) -> WorkflowRun:
        """A run of ``workflow`` (id, path or file name) on ``branch`` completed."""
        return self.state.complete_workflow_run(
            repo, self.bot, workflow, branch, conclusion=conclusion
        )

    # ------------------------------------------------------------------ counters
    @property
    def total_requests(self) -> int:
        return sum(self.counts.values())

    def request_count(self, method: str | None = None, route: str | None = None) -> int:
        """Requests so far, optionally only one method and/or route template."""
        return sum(
            n
            for key, n in self.counts.items()
            if (method is None or key.split(" ", 1)[0] == method.upper())
            and (route is None or key.split(" ", 1)[1] == route)
        )

    def reset_counts(self) -> None:
        self.counts.clear()

    # ------------------------------------------------------------------ faults
    def fail_next(
        self,
        status: int = 502,
        *,
        method: str | None = None,
        route: str | None = None,
        times: int = 1,
    ) -> None:
        """The next ``times`` matching requests get ``status`` (a 5xx by default)."""
        message = STATUS_TEXT.get(status, "Server Error")
        self.faults.append(Fault(status, method, route, times, message))

    def secondary_rate_limit(
        self,
        *,
        retry_after: int = 60,
        status: int = 403,
        method: str | None = None,
        route: str | None = None,
    ) -> None:
        """The next matching request hits a secondary rate limit (403, or 429)."""
        headers = {"Retry-After": str(retry_after)}
        self.faults.append(Fault(status, method, route, 1, SECONDARY_RATE_LIMIT_MESSAGE, headers))

    def _take_fault(self, method: str, template: str, path: str) -> Fault | None:
        for fault in self.faults:
            if fault.matches(method, template, path):
                fault.times -= 1
                if fault.times <= 0:
                    self.faults.remove(fault)
                return fault
        return None

    def rate_limit_json(self) -> dict[str, int]:
        used = self.rate_limit - self.rate_remaining
        return {
            "limit": self.rate_limit,
            "remaining": self.rate_remaining,
            "reset": self.rate_reset,
            "used": used,
        }

    # ------------------------------------------------------------------ webhooks
    def _on_event(self, event: str, action: str | None, objects: dict[str, Any]) -> None:
        payload = build(event, action, objects)
        if self.validator is not None:
            self.validator.webhook(WEBHOOK_NAMES[(event, action)], payload)
        parse_event(event, payload)  # the bot's own models must accept every payload
        self.deliveries.append(Delivery(event, action, payload, f"fake-{len(self.deliveries) + 1}"))

    def take_deliveries(
        self, event: str | None = None, action: str | None = None
    ) -> list[Delivery]:
        """Remove and return the webhook deliveries so far (optionally of one event/action)."""
        taken = [
            d
            for d in self.deliveries
            if event in (None, d.event) and (action is None or d.action == action)
        ]
        self.deliveries = [d for d in self.deliveries if d not in taken]
        return taken

    # ------------------------------------------------------------------ validation
    @contextmanager
    def expect_violation(self) -> Iterator[list[str]]:
        """Expect the block to produce (at least) one OpenAPI violation; swallow it."""
        before = len(self.violations)
        found: list[str] = []
        try:
            yield found
        except SpecViolation as violation:  # raised straight from the validator
            if len(self.violations) == before:
                self.violations.append(str(violation))
        found.extend(self.violations[before:])
        del self.violations[before:]
        with STATS.lock:
            for message in found:
                if message in STATS.violations:
                    STATS.violations.remove(message)
                    STATS.deliberate += 1
        if not found:
            raise AssertionError("expected an OpenAPI violation, none happened")

    def check(self) -> None:
        """Raise if any exchange violated the description or hit an unserved route."""
        problems = [*self.violations, *(f"unserved route: {u}" for u in self.unserved)]
        if problems:
            raise AssertionError("fake GitHub problems:\n" + "\n".join(problems))

    # ------------------------------------------------------------------ transport
    def __call__(self, environ: dict[str, Any], start_response: Any) -> list[bytes]:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        raw = environ["wsgi.input"].read(length) if length else b""
        headers = {
            key[5:].replace("_", "-").title(): value
            for key, value in environ.items()
            if key.startswith("HTTP_")
        }
        if environ.get("CONTENT_TYPE"):
            headers["Content-Type"] = environ["CONTENT_TYPE"]
        host = environ.get("HTTP_HOST") or environ["SERVER_NAME"]
        api = f"{environ['wsgi.url_scheme']}://{host.removesuffix(':443')}"
        path = environ.get("PATH_INFO", "/").encode("latin-1").decode("utf-8")
        try:
            status, out_headers, body = self.handle(
                environ["REQUEST_METHOD"], path, environ.get("QUERY_STRING", ""), headers, raw, api
            )
        except SpecViolation as violation:
            self.violations.append(str(violation))
            raise
        start_response(f"{status} {STATUS_TEXT.get(status, 'Unknown')}", list(out_headers.items()))
        return [body]

    def handle(
        self,
        method: str,
        path: str,
        query_string: str,
        headers: dict[str, str],
        raw: bytes,
        api: str,
    ) -> tuple[int, dict[str, str], bytes]:
        """One exchange: (status, headers, body)."""
        with self._lock:
            request_id = f"FAKE:{next(self._request_ids):06d}"
            match = ROUTER.match(method, path)
            if match is None:
                self.unserved.append(f"{method} {path}")
                return (
                    404,
                    {"Content-Type": "application/json"},
                    json.dumps(error_body(404, "Not Found")).encode(),
                )
            route, params = match
            self.counts[f"{method} {route.template}"] += 1
            query = parse_query(query_string)
            oreq = None
            if self.validator is not None:
                oreq = self.validator.request(
                    method=method,
                    path=path,
                    template=route.template,
                    path_params=params,
                    query=query.items(),
                    headers=headers,
                    body=raw,
                )
            fault = self._take_fault(method, route.template, path)
            reply = self._reply(
                method, path, route, params, query, headers, raw, api, fault, request_id
            )
            out = {
                "Content-Type": "application/json; charset=utf-8",
                "X-GitHub-Request-Id": request_id,
                "X-GitHub-Api-Version-Selected": "2022-11-28",
                **self._rate_headers(route.template),
                **reply.headers,
            }
            body = (
                b""
                if reply.status == 204 or reply.body is None
                else json.dumps(reply.body).encode()
            )
            if self.validator is not None and oreq is not None:
                if self.validator.documents(route.template, method, reply.status):
                    self.validator.response(oreq, reply.status, out, body)
                elif reply.status >= 400:
                    self.validator.error_response(oreq, reply.status, body)
                else:
                    self.validator.response(oreq, reply.status, out, body)  # fails: undocumented
            return reply.status, out, body

    def _reply(
        self,
        method: str,
        path: str,
        route: Any,
        params: dict[str, str],
        query: dict[str, str],
        headers: dict[str, str],
        raw: bytes,
        api: str,
        fault: Fault | None,
        request_id: str,
    ) -> Reply:
        if fault is not None:
            message = fault.message.format(request_id=request_id)
            docs = SECONDARY_DOCS if "secondary" in message else "https://docs.github.com/rest"
            return Reply(
                fault.status, {"message": message, "documentation_url": docs}, dict(fault.headers)
            )
        if route.template != "/rate_limit" and self.rate_remaining <= 0:
            message = "API rate limit exceeded for installation."
            return Reply(403, error_body(403, message))
        try:
            token = headers.get("Authorization", "").split(" ")[-1]
            actor = self.state.user(self.tokens[token]) if token in self.tokens else self.state.bot
            ctx = Ctx(
                self, method, path, route.template, params, query, decode_body(raw), actor, api
            )
            reply: Reply = route.handler(ctx)
            if reply.paginate:
                reply.body, link = paginate(reply, ctx)
                if link:
                    reply.headers["Link"] = link
            return reply
        except ApiError as error:
            return Reply(
                error.status, error_body(error.status, error.message, error.errors), error.headers
            )

    def _rate_headers(self, template: str) -> dict[str, str]:
        if template != "/rate_limit" and self.rate_remaining > 0:
            self.rate_remaining -= 1
        rate = self.rate_limit_json()
        return {
            "X-RateLimit-Limit": str(rate["limit"]),
            "X-RateLimit-Remaining": str(rate["remaining"]),
            "X-RateLimit-Reset": str(rate["reset"]),
            "X-RateLimit-Used": str(rate["used"]),
            "X-RateLimit-Resource": "core",
        }

    def _responses_callback(self, request: Any) -> tuple[int, dict[str, str], bytes]:
        url = urlsplit(request.url)
        body = request.body.encode() if isinstance(request.body, str) else request.body or b""
        builder = EnvironBuilder(
            path=url.path,
            base_url=f"{url.scheme}://{url.netloc}",
            query_string=url.query,
            method=request.method,
            headers=dict(request.headers),
            data=body,
        )
        app_iter, status, headers = run_wsgi_app(self, builder.get_environ(), buffered=True)
        return int(status.split(" ", 1)[0]), dict(headers), b"".join(app_iter)

    @contextmanager
    def mock(self) -> Iterator[responses.RequestsMock]:
        """Route every ``requests`` call to https://api.github.com/ to this fake."""
        with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
            pattern = re.compile(re.escape(API) + r"(:443)?/.*")
            mock.add_passthru(re.compile(r"http://(127\.0\.0\.1|localhost)(:\d+)?/"))
            for method in ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"):
                mock.add_callback(method, pattern, callback=self._responses_callback)
            yield mock

    @contextmanager
    def serve(self) -> Iterator[str]:
        """Listen on 127.0.0.1 (a free port) in a thread; yields the base URL."""
        with LocalServer(self) as server:
            yield server.url
