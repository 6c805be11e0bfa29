"""pytest fixtures and the session summary line of the fake GitHub.

Wire with ``pytest_plugins = ["fakegithub.fixtures"]`` in ``tests/conftest.py``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import github
import pytest

from fakegithub.fake import FakeGitHub
from fakegithub.model import Repo
from fakegithub.openapi import STATS


@pytest.fixture
def fake_github() -> Iterator[FakeGitHub]:
    """A fresh fake, active for ``requests`` to https://api.github.com/ during the test.

    The test fails at teardown if any exchange violated the OpenAPI description
    or used a route the fake does not serve.
    """
    fake = FakeGitHub()
    with fake.mock():
        yield fake
    fake.check()


@pytest.fixture
def fake_repo(fake_github: FakeGitHub, tmp_path: Path) -> Repo:
    """``octo/demo`` backed by a bare git repo with one commit on ``main``."""
    return fake_github.create_repo("octo/demo", tmp_path / "demo.git")


def make_client(token: str = "x", base_url: str | None = None, **kwargs: Any) -> github.Github:
    """A real PyGithub client without retries (faults surface at once) or throttling.

    PyGithub >= 2 sleeps between requests by default (0.25 s, 1 s between
    writes); against the fake that only slows tests down.
    """
    kwargs.setdefault("seconds_between_requests", None)
    kwargs.setdefault("seconds_between_writes", None)
    if base_url:
        kwargs["base_url"] = base_url
    return github.Github(auth=github.Auth.Token(token), retry=None, **kwargs)


@pytest.fixture
def gh(fake_github: FakeGitHub) -> github.Github:
    """PyGithub, authenticated as the fake's bot user."""
    return make_client()


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not (STATS.requests or STATS.webhooks):
        return
    deliberate = f" ({STATS.deliberate} deliberate, caught)" if STATS.deliberate else ""
    terminalreporter.write_line(
        f"fake GitHub: {STATS.requests} requests validated against the OpenAPI description "
        f"({STATS.responses} responses, {STATS.webhooks} webhook payloads), "
        f"{len(STATS.violations)} violations{deliberate}; spec load {STATS.load_seconds:.2f}s"
    )
