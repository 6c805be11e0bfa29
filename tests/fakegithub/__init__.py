"""A stateful fake of GitHub's REST API for tests, validated against GitHub's OpenAPI description.

Usage (see ``fixtures.py`` for the pytest fixtures)::

    fake = FakeGitHub()
    repo = fake.create_repo("octo/demo", tmp_path / "demo.git")
    with fake.mock():  # or: with fake.serve() as url: make_client(base_url=url)
        gh = make_client()  # PyGithub without retries and throttling
        gh.get_repo("octo/demo").create_issue("hello")
    fake.take_deliveries("issues")  # -> [Delivery(event="issues", action="opened", ...)]
"""

from fakegithub.fake import FakeGitHub
from fakegithub.gitrepo import BareRepo
from fakegithub.model import ApiError, Repo, User
from fakegithub.openapi import STATS, TOLERATED_GAPS, SpecViolation
from fakegithub.state import State
from fakegithub.webhooks import Delivery

__all__ = [
    "STATS",
    "TOLERATED_GAPS",
    "ApiError",
    "BareRepo",
    "Delivery",
    "FakeGitHub",
    "Repo",
    "SpecViolation",
    "State",
    "User",
]
