"""The fake GitHub closes issues a merged pull request references with a closing keyword."""

from __future__ import annotations

import github
from fakegithub import FakeGitHub, Repo

from bot import events


def _pull(
    fake: FakeGitHub, gh: github.Github, base: str, body: str
) -> github.PullRequest.PullRequest:
    fake.push(fake.repo("octo/demo"), "feature", {"src/f.txt": "change\n"}, "change", user="alice")
    return gh.get_repo("octo/demo").create_pull(base=base, head="feature", title="Work", body=body)


def test_merge_into_default_branch_closes_referenced_issues(
    fake_github: FakeGitHub, fake_repo: Repo, gh: github.Github
) -> None:
    for title in ("one", "two", "three", "four"):
        fake_github.create_issue(fake_repo, title, user="alice")
    fake_github.state.edit_issue(fake_repo, fake_github.bot, 4, state="closed")  # already closed
    closed_at = fake_repo.issue(4).closed_at
    fake_github.push(fake_repo, "other", {"o.txt": "o\n"}, "other", user="alice")
    gh.get_repo("octo/demo").create_pull(base="main", head="other", title="Other")  # pull #5
    body = "Closes #1, and FIXES: #2.\nSee #3; resolves octo/demo#4, fixes other/repo#3, fixes #5"
    pr = _pull(fake_github, gh, "main", body)
    fake_github.take_deliveries()

    assert pr.merge().merged
    issues = gh.get_repo("octo/demo")
    for number in (1, 2):
        issue = issues.get_issue(number)
        assert (issue.state, issue.state_reason) == ("closed", "completed")
        assert issue.closed_by is not None and issue.closed_by.login == fake_github.bot.login
    assert issues.get_issue(3).state == "open"  # a mention without a keyword
    assert fake_repo.issue(4).closed_at == closed_at  # already closed: left alone
    assert issues.get_pull(5).state == "open"  # pull requests are not closed

    merged = fake_github.take_deliveries("pull_request", "closed")
    assert [d.payload["pull_request"]["merged"] for d in merged] == [True]
    closed = fake_github.take_deliveries("issues", "closed")
    assert [d.payload["issue"]["number"] for d in closed] == [1, 2]
    assert fake_github.validator is not None
    for delivery in closed:
        fake_github.validator.webhook("issues-closed", delivery.payload)  # raises if invalid
        parsed = events.parse_event("issues", delivery.payload)
        assert isinstance(parsed, events.IssuesEvent)
        assert delivery.payload["issue"]["state_reason"] == "completed"
        assert delivery.payload["sender"]["login"] == fake_github.bot.login
    assert not fake_github.take_deliveries()  # nothing else (issue 4, pull 5) was emitted

    issues.get_issue(3).edit(state="closed")  # a manual close emits the same shape
    manual = fake_github.take_deliveries("issues", "closed")[0].payload
    assert manual.keys() == closed[0].payload.keys()
    assert manual["issue"].keys() == closed[0].payload["issue"].keys()
    fake_github.check()


def test_merge_into_another_branch_closes_nothing(
    fake_github: FakeGitHub, fake_repo: Repo, gh: github.Github
) -> None:
    fake_github.create_issue(fake_repo, "one", user="alice")
    fake_github.push(fake_repo, "release", {"notes.txt": "v1\n"}, "release", user="octo")
    pr = _pull(fake_github, gh, "release", "Closes #1")
    fake_github.take_deliveries()

    assert pr.merge().merged
    assert gh.get_repo("octo/demo").get_issue(1).state == "open"
    assert not fake_github.take_deliveries("issues")
    fake_github.check()
