"""The WSGI side of the fake: routing, pagination, headers and faults.

``Router`` maps (method, path) to a handler and the OpenAPI path template the
request answers to; ``Ctx`` is what a handler sees; ``Reply`` what it returns.
``serve_wsgi`` (used by ``FakeGitHub.__call__``) wraps one exchange with
counting, fault injection, rate-limit headers and OpenAPI validation.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, quote, unquote, urlencode

from fakegithub.model import ApiError, Repo, User
from fakegithub.state import State

if TYPE_CHECKING:
    from fakegithub.fake import FakeGitHub

DOCS = "https://docs.github.com/rest"
SECONDARY_RATE_LIMIT_MESSAGE = (
    "You have exceeded a secondary rate limit. Please wait a few minutes before you try again. "
    "If you reach out to GitHub Support for help, please include the request ID {request_id}."
)
STATUS_TEXT = {
    200: "OK",
    201: "Created",
    204: "No Content",
    304: "Not Modified",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    422: "Unprocessable Entity",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
}
# Path parameters that may contain slashes (git refs and branch names).
_GREEDY = {"ref", "branch"}


@dataclass
class Reply:
    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    paginate: bool = False  # body is a list to slice by page/per_page
    list_key: str | None = None  # paginate body[list_key] (e.g. check_runs)


@dataclass
class Ctx:
    fake: FakeGitHub
    method: str
    path: str
    template: str
    params: dict[str, str]
    query: dict[str, str]
    body: Any
    actor: User
    api: str

    @property
    def state(self) -> State:
        return self.fake.state

    def repo(self) -> Repo:
        return self.state.repo(self.params["owner"], self.params["repo"])

    def int_param(self, name: str) -> int:
        return int(self.params[name])

    def require(self, *keys: str) -> dict[str, Any]:
        if not isinstance(self.body, dict):
            raise ApiError(400, "Problems parsing JSON")
        missing = [k for k in keys if k not in self.body]
        if missing:
            raise ApiError(422, f'Invalid request.\n\n"{missing[0]}" wasn\'t supplied.')
        return self.body


Handler = Callable[[Ctx], Reply]


@dataclass(frozen=True)
class Route:
    method: str
    template: str
    regex: re.Pattern[str]
    handler: Handler


class Router:
    def __init__(self) -> None:
        self.routes: list[Route] = []

    def add(self, method: str, template: str) -> Callable[[Handler], Handler]:
        def pattern(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in _GREEDY:
                return f"(?P<{name}>.+)"
            if name.endswith(("_number", "_id")) and name != "workflow_id":
                return f"(?P<{name}>[0-9]+)"
            return f"(?P<{name}>[^/]+)"

        regex = re.compile("^" + re.sub(r"\{(\w+)\}", pattern, template) + "$")

        def register(handler: Handler) -> Handler:
            self.routes.append(Route(method, template, regex, handler))
            return handler

        return register

    @property
    def templates(self) -> frozenset[str]:
        return frozenset(r.template for r in self.routes)

    def match(self, method: str, path: str) -> tuple[Route, dict[str, str]] | None:
        for route in self.routes:
            if route.method == method:
                m = route.regex.match(path)
                if m:
                    return route, {k: unquote(v) for k, v in m.groupdict().items()}
        return None


@dataclass
class Fault:
    """A queued failure for the next request(s) matching method and route."""

    status: int
    method: str | None = None
    route: str | None = None  # an OpenAPI template, or a substring of the path
    times: int = 1
    message: str = "Server Error"
    headers: dict[str, str] = field(default_factory=dict)

    def matches(self, method: str, template: str, path: str) -> bool:
        if self.method and self.method.upper() != method:
            return False
        return self.route is None or self.route == template or self.route in path


def paginate(reply: Reply, ctx: Ctx) -> tuple[Any, str | None]:
    """Slice a list body by ``page``/``per_page``; the ``Link`` header if more pages."""
    items = reply.body[reply.list_key] if reply.list_key else reply.body
    per_page = max(1, min(100, int(ctx.query.get("per_page", 30))))
    page = max(1, int(ctx.query.get("page", 1)))
    last = max(1, -(-len(items) // per_page))
    chunk = items[(page - 1) * per_page : page * per_page]
    body = {**reply.body, reply.list_key: chunk} if reply.list_key else chunk
    if last == 1:
        return body, None

    def url(n: int) -> str:
        query = {**ctx.query, "per_page": str(per_page), "page": str(n)}
        return f"{ctx.api}{quote(ctx.path)}?{urlencode(query)}"

    links = []
    if page < last:
        links += [f'<{url(page + 1)}>; rel="next"', f'<{url(last)}>; rel="last"']
    if page > 1:
        links += [f'<{url(1)}>; rel="first"', f'<{url(page - 1)}>; rel="prev"']
    return body, ", ".join(links) or None


def error_body(
    status: int, message: str, errors: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {"message": message, "documentation_url": DOCS, "status": str(status)}
    if errors:
        body["errors"] = errors
    return body


def parse_query(query_string: str) -> dict[str, str]:
    return dict(parse_qsl(query_string, keep_blank_values=True))


def decode_body(raw: bytes) -> Any:
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError as error:
        raise ApiError(400, "Problems parsing JSON") from error


ROUTER = Router()
route = ROUTER.add
