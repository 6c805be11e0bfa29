"""Every GitHub request of one run goes through here: counted, cached, retried with care.

Built on PyGithub's `Requester` (auth, base URL, user agent, typed exceptions); each call is
one explicit request, so it can be counted and its answer reused within the run.

Retries, bounded by `max_attempts` and `max_wait`:
- reads are retried on 5xx, connection errors and rate limits;
- writes are retried only when GitHub says it refused them (a rate limit, 403/429): such a
  request was never applied. After a 5xx or a dropped connection a write may or may not have
  happened, so the caller's `verify` read runs first and the write is repeated only if the read
  shows it did not take effect; without a `verify` the error is raised.
- waits honour `Retry-After`, then `X-RateLimit-Reset` when the limit is spent, else back off
  exponentially; a wait longer than `max_wait` gives up at once instead of sleeping.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import requests
from github import GithubException
from github.Requester import Requester

from bot import crashpoints
from bot.forge.base import ForgeError

T = TypeVar("T")
Params = Mapping[str, str | int]
_NEXT = re.compile(r'<([^>]+)>;\s*rel="next"')
SECONDARY_WAIT = 60.0  # GitHub: wait at least a minute when no Retry-After is given


class _Retry(Exception):
    def __init__(self, wait: float, reason: str) -> None:
        super().__init__(reason)
        self.wait = wait
        self.reason = reason


def _header(headers: Mapping[str, Any] | None, name: str) -> str | None:
    for key, value in (headers or {}).items():
        if key.lower() == name:
            return str(value)
    return None


def _message(exc: GithubException) -> str:
    data = exc.data if isinstance(exc.data, dict) else {}
    return str(data.get("message") or exc.message or "")


def rate_limit_wait(exc: GithubException, now: float) -> float | None:
    """Seconds to wait when `exc` is a rate limit (primary or secondary), else None."""
    if exc.status not in (403, 429):
        return None
    retry_after = _header(exc.headers, "retry-after")
    if retry_after is not None and retry_after.strip().isdigit():
        return float(retry_after)
    reset = _header(exc.headers, "x-ratelimit-reset")
    if _header(exc.headers, "x-ratelimit-remaining") == "0" and reset and reset.isdigit():
        return max(0.0, float(reset) - now) + 1.0
    if exc.status == 429 or "rate limit" in _message(exc).lower():
        return SECONDARY_WAIT
    return None


class GitHubHttp:
    """Counted, cached, carefully retried JSON requests over one PyGithub `Requester`."""

    def __init__(
        self,
        requester: Requester,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
        max_attempts: int = 4,
        max_wait: float = 120.0,
    ) -> None:
        self._requester = requester
        self._sleep = sleep
        self._clock = clock
        self.max_attempts = max_attempts
        self.max_wait = max_wait
        self.requests = 0
        self.waited = 0.0
        self._cache: dict[str, Any] = {}

    # -- the cache ----------------------------------------------------------------------------

    @staticmethod
    def _key(path: str, params: Params | None) -> str:
        query = "&".join(f"{k}={v}" for k, v in sorted((params or {}).items()))
        return f"{path}?{query}"

    def cached(self, path: str, params: Params | None = None) -> Any:
        return self._cache.get(self._key(path, params))

    def remember(self, path: str, value: Any, params: Params | None = None) -> None:
        self._cache[self._key(path, params)] = value

    def forget(self, prefix: str) -> None:
        for key in [k for k in self._cache if k.startswith(prefix)]:
            del self._cache[key]

    # -- requests -----------------------------------------------------------------------------

    def _send(self, verb: str, url: str, params: Params | None, body: Any) -> tuple[Any, Any]:
        crashpoints.reached("forge")
        self.requests += 1
        parameters = {k: str(v) for k, v in (params or {}).items()} or None
        headers, data = self._requester.requestJsonAndCheck(verb, url, parameters, input=body)
        return headers, data

    def _classify(self, exc: Exception, attempt: int, write: bool) -> _Retry | None:
        """A retry (with its wait) for a transient failure, None for a final one."""
        if isinstance(exc, requests.ConnectionError | requests.Timeout):
            return None if write else _Retry(2.0**attempt, f"connection error: {exc}")
        if not isinstance(exc, GithubException):
            return None
        wait = rate_limit_wait(exc, self._clock())
        if wait is not None:
            return _Retry(wait, f"rate limited ({exc.status})")
        if exc.status >= 500 and not write:
            return _Retry(2.0**attempt, f"GitHub answered {exc.status}")
        return None

    def _attempts(self, verb: str, url: str, params: Params | None, body: Any) -> Any:
        """Send until success or a final failure; returns (headers, data)."""
        write = verb != "GET"
        for attempt in range(self.max_attempts):
            try:
                return self._send(verb, url, params, body)
            except (GithubException, requests.RequestException) as exc:
                retry = self._classify(exc, attempt, write)
                last = attempt + 1 == self.max_attempts
                if retry is None or last or retry.wait > self.max_wait:
                    raise _as_forge_error(exc, verb, url) from exc
                self.waited += retry.wait
                self._sleep(retry.wait)
        raise AssertionError("unreachable")  # pragma: no cover

    def get(self, path: str, params: Params | None = None, *, fresh: bool = False) -> Any:
        key = self._key(path, params)
        if not fresh and key in self._cache:
            return self._cache[key]
        _, data = self._attempts("GET", path, params, None)
        self._cache[key] = data
        return data

    def get_all(self, path: str, params: Params | None = None, *, fresh: bool = False) -> list[Any]:
        """Every page of a list endpoint (100 per page), cached as one list."""
        key = self._key(path, params)
        if not fresh and key in self._cache:
            return list(self._cache[key])
        items: list[Any] = []
        url: str | None = path
        query: Params | None = {**(params or {}), "per_page": 100}
        while url is not None:
            headers, data = self._attempts("GET", url, query, None)
            items.extend(data if isinstance(data, list) else [])
            found = _NEXT.search(_header(headers, "link") or "")
            url, query = (found.group(1), None) if found else (None, None)
        self._cache[key] = items
        return list(items)

    def write(
        self,
        verb: str,
        path: str,
        body: Any = None,
        *,
        verify: Callable[[], T | None] | None = None,
    ) -> Any:
        """One write. After an ambiguous failure, `verify` (a fresh read) decides: a value means
        the write took effect and is returned; None means it did not and it is sent once more."""
        try:
            return self._attempts(verb, path, None, body)[1]
        except GitHubRequestError as error:
            if verify is None or not error.ambiguous:
                raise
            done = verify()
            if done is not None:
                return done
            return self._attempts(verb, path, None, body)[1]


class GitHubRequestError(ForgeError):
    def __init__(self, message: str, status: int | None, ambiguous: bool) -> None:
        super().__init__(message, status)
        self.ambiguous = ambiguous


def _as_forge_error(exc: Exception, verb: str, url: str) -> GitHubRequestError:
    path = url.split("?", 1)[0]
    if isinstance(exc, GithubException):
        ambiguous = exc.status >= 500
        message = f"{verb} {path}: {exc.status} {_message(exc)[:200]}"
        return GitHubRequestError(message, exc.status, ambiguous)
    return GitHubRequestError(f"{verb} {path}: {type(exc).__name__}", None, True)
