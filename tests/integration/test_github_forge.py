"""The PyGithub forge over the fake: retries of reads, careful writes, cache, check runs."""

from __future__ import annotations

from pathlib import Path

import pytest
from fakegithub import FakeGitHub, Repo
from github_mode import BOT_TOKEN, agent_job_done, deliver_all, next_run

from bot.forge.base import ForgeError
from bot.forge.github import GitHubForge, connect
from bot.github_bot.checks import AGENT_CHECK, post_agent_check
from bot.models import TaskState, TaskStatus
from bot.redact import Redactor

COMMENTS = "/repos/{owner}/{repo}/issues/{issue_number}/comments"
ISSUES = "/repos/{owner}/{repo}/issues"


def _forge(slept: list[float]) -> GitHubForge:
    return connect(BOT_TOKEN, "octo/demo", sleep=slept.append)


def test_reads_are_retried_on_5xx_and_rate_limits(fake_github: FakeGitHub, fake_repo: Repo) -> None:
    issue = fake_github.create_issue(fake_repo, "one", labels=["parallel"], user="octo")
    slept: list[float] = []
    forge = _forge(slept)
    fake_github.fail_next(502, method="GET", route=ISSUES)
    fake_github.secondary_rate_limit(retry_after=7, method="GET", route=ISSUES)
    assert [i.number for i in forge.list_issues("parallel")] == [issue.number]
    assert slept == [1.0, 7.0]  # backoff after the 502, Retry-After after the 403
    assert forge.request_count == 3 == fake_github.request_count("GET", ISSUES)

    fake_github.reset_counts()
    assert forge.get_issue(issue.number).title == "one"  # read by the list already: cached
    assert forge.list_issues("parallel")[0].number == issue.number
    assert fake_github.total_requests == 0


def test_reads_give_up_after_bounded_attempts(fake_github: FakeGitHub, fake_repo: Repo) -> None:
    slept: list[float] = []
    forge = _forge(slept)
    fake_github.fail_next(503, method="GET", times=10)
    with pytest.raises(ForgeError) as error:
        forge.get_issue(1)
    assert error.value.status == 503
    assert forge.request_count == forge.http.max_attempts
    fake_github.faults.clear()

    fake_github.secondary_rate_limit(retry_after=3600, method="GET")
    with pytest.raises(ForgeError):  # an hour is longer than the bounded wait: no sleep
        forge.get_issue(1)
    assert 3600 not in slept


def test_a_failed_write_is_checked_before_it_is_sent_again(
    fake_github: FakeGitHub, fake_repo: Repo
) -> None:
    issue = fake_github.create_issue(fake_repo, "one", user="octo")
    slept: list[float] = []
    forge = _forge(slept)
    fake_github.fail_next(502, method="POST", route=COMMENTS)
    comment = forge.create_comment(issue.number, "hello")
    assert [c.body for c in fake_repo.comments.values()] == ["hello"]
    assert comment.body == "hello"
    # POST (502), GET to see whether it happened, POST again: never two POSTs in a row
    assert fake_github.request_count("POST", COMMENTS) == 2
    assert fake_github.request_count("GET", COMMENTS) == 1
    assert slept == []


def test_a_write_without_a_check_is_not_retried(fake_github: FakeGitHub, fake_repo: Repo) -> None:
    fake_github.add_workflow(fake_repo, ".github/workflows/orchestrate.yml", "orchestrate")
    forge = _forge([])
    fake_github.fail_next(500, method="POST", route="dispatches")
    with pytest.raises(ForgeError):
        forge.dispatch_workflow("orchestrate.yml", "main", {"reason": "next wave"})
    assert fake_repo.dispatches == []
    route = "/repos/{owner}/{repo}/actions/workflows/{workflow_id}/dispatches"
    assert fake_github.request_count("POST", route) == 1
    forge.dispatch_workflow("orchestrate.yml", "main", {"reason": "next wave"})
    assert len(fake_repo.dispatches) == 1


def test_a_rate_limited_write_waits_and_is_sent_again(
    fake_github: FakeGitHub, fake_repo: Repo
) -> None:
    issue = fake_github.create_issue(fake_repo, "one", user="octo")
    comment = fake_github.comment(fake_repo, issue.number, "/orchestrate plan", user="octo")
    slept: list[float] = []
    forge = _forge(slept)
    fake_github.secondary_rate_limit(retry_after=30, method="POST", route="reactions")
    forge.react(comment.id, "eyes")
    assert [r.content for r in comment.reactions] == ["eyes"]
    assert slept == [30.0]


def test_agent_check_run_is_created_then_updated_in_place(
    fake_github: FakeGitHub, fake_repo: Repo
) -> None:
    sha = fake_github.push(fake_repo, "orchestrate/1-x", {"a.py": "a\n"}, "work", user="octo")
    forge = _forge([])
    running = TaskState(id="1", status=TaskStatus.RUNNING, started_at=100.0)
    first = post_agent_check(forge, running, "Add a", sha)
    token = "ghp_" + "a" * 36
    done = running.model_copy(
        update={
            "status": TaskStatus.REVIEW,
            "finished_at": 190.0,
            "cost_usd": 0.42,
            "peak_memory_mb": 321.0,
            "log_tail": f"pushed with {token}",
        }
    )
    assert post_agent_check(forge, done, "Add a", sha, Redactor()) == first
    fake_github.reset_counts()
    post_agent_check(forge, done, "Add a", sha, Redactor())  # unchanged: no request at all
    assert fake_github.total_requests == 0
    [run] = fake_repo.check_runs.values()
    assert (run.name, run.status, run.conclusion) == (AGENT_CHECK, "completed", "success")
    summary = run.output["summary"]
    assert "1m 30s" in summary and "$0.42" in summary and "321 MB" in summary
    assert token not in run.output["text"] and "***" in run.output["text"]


def test_the_agent_jobs_report_moves_a_running_task_to_review(
    fake_github: FakeGitHub, fake_repo: Repo, tmp_path: Path
) -> None:
    fake_github.add_collaborator(fake_repo, "alice", "write")
    fake_github.create_issue(fake_repo, "Add a", "```orchestrate\nfiles: [a.py]\n```", user="alice")
    fake_github.state.add_labels(fake_repo, fake_github.state.user("alice"), 1, ["parallel"])
    deliver_all(fake_github, fake_repo, tmp_path / "label")
    home = max(fake_repo.issues)
    fake_github.comment(fake_repo, home, "/orchestrate run", user="alice")
    deliver_all(fake_github, fake_repo, tmp_path / "run")
    assert {lb.name for lb in fake_repo.issues[1].labels} == {"parallel", "parallel:running"}

    agent_job_done(fake_github, fake_repo, "orchestrate/1-add-a", {"a.py": "b\n"})
    run = next_run(fake_github, fake_repo, tmp_path)
    assert run.outcome.error is None
    assert {lb.name for lb in fake_repo.issues[1].labels} == {"parallel", "parallel:review"}
    dashboard = next(c for c in fake_repo.comments.values() if c.issue_number == home)
    assert "👀 review" in dashboard.body and "| #3 |" in dashboard.body  # the pull request
