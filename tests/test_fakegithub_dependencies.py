"""The fake GitHub's issue dependencies ("blocked by" / "blocking"), through real PyGithub calls."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import github
import pytest
from fakegithub import FakeGitHub, Repo
from github import GithubException, UnknownObjectException

API = "https://api.github.com"
BLOCKED_BY = "/repos/{owner}/{repo}/issues/{issue_number}/dependencies/blocked_by"


def _numbers(issues: github.PaginatedList.PaginatedList[github.Issue.Issue]) -> list[int]:
    return [i.number for i in issues]


def test_add_list_reverse_and_remove(
    fake_github: FakeGitHub, fake_repo: Repo, gh: github.Github
) -> None:
    repo = gh.get_repo("octo/demo")
    blocked = repo.create_issue("Wave 2: wire the cache in")
    blocker = repo.create_issue("Wave 1: add a cache", labels=["agent:queued"])
    assert _numbers(blocked.get_blocked_by()) == []
    assert _numbers(blocker.get_blocking()) == []

    blocked.add_blocked_by(blocker)  # posts {"issue_id": blocker.id}, reads the answer into blocked
    assert (blocked.number, blocked.title) == (1, "Wave 2: wire the cache in")
    listed = list(repo.get_issue(blocked.number).get_blocked_by())
    assert [(i.number, i.id, i.title) for i in listed] == [
        (blocker.number, blocker.id, "Wave 1: add a cache")
    ]
    assert [lb.name for lb in listed[0].labels] == ["agent:queued"]
    assert _numbers(repo.get_issue(blocker.number).get_blocking()) == [blocked.number]
    assert _numbers(blocked.get_blocking()) == []
    assert fake_repo.issue(blocked.number).blocked_by == [blocker.id]

    blocked.remove_blocked_by(blocker)
    assert _numbers(blocked.get_blocked_by()) == []
    assert _numbers(blocker.get_blocking()) == []
    fake_github.check()  # every exchange matched the OpenAPI description


def test_post_and_delete_answer_with_the_blocked_issue(
    fake_github: FakeGitHub, fake_repo: Repo, gh: github.Github
) -> None:
    """As recorded from GitHub: the issue of the path comes back, Location is its URL."""
    blocked = fake_github.create_issue(fake_repo, "blocked", user="alice")
    blocker = fake_github.create_issue(fake_repo, "blocker", user="alice")
    requester = gh.requester
    url = f"/repos/octo/demo/issues/{blocked.number}/dependencies/blocked_by"

    status, headers, data = requester.requestJson("POST", url, input={"issue_id": blocker.id})
    body = json.loads(data or "null")
    assert (status, body["number"], body["title"]) == (201, blocked.number, "blocked")
    assert headers["location"] == body["url"] == f"{API}/repos/octo/demo/issues/{blocked.number}"

    status, _, data = requester.requestJson("DELETE", f"{url}/{blocker.id}")
    assert (status, json.loads(data or "null")["number"]) == (200, blocked.number)
    assert fake_github.request_count("POST", BLOCKED_BY) == 1
    fake_github.check()


def test_state_helper_pagination_and_cross_repo(
    fake_github: FakeGitHub, fake_repo: Repo, gh: github.Github, tmp_path: Path
) -> None:
    other = fake_github.create_repo("octo/lib", tmp_path / "lib.git")
    blocked = fake_github.create_issue(fake_repo, "needs many", user="octo")
    for n in range(35):
        blocker = fake_github.create_issue(fake_repo, f"step {n}", user="octo")
        assert fake_github.add_blocked_by(fake_repo, blocked.number, blocker.number) is blocked
    upstream = fake_github.create_issue(other, "upstream fix", user="octo")
    fake_github.add_blocked_by(fake_repo, blocked.number, upstream.number, blocking_repo=other)

    fake_github.reset_counts()
    listed = list(gh.get_repo("octo/demo").get_issue(blocked.number).get_blocked_by())
    assert len(listed) == 36
    assert fake_github.request_count("GET", BLOCKED_BY) == 2  # two pages of 30
    assert listed[-1].repository.full_name == "octo/lib"
    assert _numbers(gh.get_repo("octo/lib").get_issue(upstream.number).get_blocking()) == [
        blocked.number
    ]
    assert [(r.full_name, i.number) for r, i in fake_github.state.blocking(other, 1)] == [
        ("octo/demo", blocked.number)
    ]
    fake_github.check()


def test_errors(fake_github: FakeGitHub, fake_repo: Repo, gh: github.Github) -> None:
    repo = gh.get_repo("octo/demo")
    blocked = repo.create_issue("blocked")
    blocker = repo.create_issue("blocker")
    blocked.add_blocked_by(blocker)

    def status_of(call: Callable[[], object]) -> tuple[int, str]:
        with pytest.raises(GithubException) as err:
            call()
        errors = err.value.data.get("errors") or [{}]
        return err.value.status, str(errors[0].get("message", err.value.data["message"]))

    assert status_of(lambda: blocked.add_blocked_by(blocker)) == (
        422,
        "Issue is already blocked by this issue",
    )
    assert status_of(lambda: blocked.add_blocked_by(blocked)) == (
        422,
        "An issue cannot be blocked by itself",
    )
    fake_github.push(fake_repo, "feature", {"f.txt": "f\n"}, "change", user="octo")
    pull = repo.create_pull(base="main", head="feature", title="a pull request")
    assert status_of(lambda: blocked.add_blocked_by(repo.get_issue(pull.number))) == (
        422,
        "A pull request cannot be a dependency",
    )

    requester = gh.requester
    url = f"/repos/octo/demo/issues/{blocked.number}/dependencies/blocked_by"
    with pytest.raises(UnknownObjectException):  # no issue has this id
        requester.requestJsonAndCheck("POST", url, input={"issue_id": 999_999})
    with pytest.raises(UnknownObjectException):  # no issue has this number
        requester.requestJsonAndCheck(
            "POST", "/repos/octo/demo/issues/99/dependencies/blocked_by", input={"issue_id": 1}
        )
    with pytest.raises(UnknownObjectException):
        requester.requestJsonAndCheck("GET", "/repos/octo/demo/issues/99/dependencies/blocking")
    with pytest.raises(UnknownObjectException):  # blocker blocks nothing
        blocker.remove_blocked_by(blocked)

    blocked.remove_blocked_by(blocker)
    with pytest.raises(UnknownObjectException):  # already removed
        blocked.remove_blocked_by(blocker)
    assert _numbers(blocked.get_blocked_by()) == []
    fake_github.check()


def test_missing_issue_id_is_a_spec_violation(
    fake_github: FakeGitHub, fake_repo: Repo, gh: github.Github
) -> None:
    issue = fake_github.create_issue(fake_repo, "x", user="octo")
    with fake_github.expect_violation() as found:
        gh.requester.requestJson(
            "POST", f"/repos/octo/demo/issues/{issue.number}/dependencies/blocked_by", input={}
        )
    assert "issue_id" in found[0]
