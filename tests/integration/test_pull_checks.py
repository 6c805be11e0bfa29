"""The `orchestrate/overlap` check on every pull request, people's too, over the fake GitHub with
real git: git's verdict on the pull request against the work in flight, annotations on the
conflicting lines, and the check kept current as that work moves."""

from __future__ import annotations

from pathlib import Path

import pytest
from fakegithub import FakeGitHub, Repo
from github import Github

from bot.collisions import OVERLAP_CHECK
from bot.render.dashboard import DASHBOARD_MARKER
from tests.github_mode import agent_job_done, deliver, deliver_all
from tests.integration.test_github_mode import make_client

BASE = [f"line {n}" for n in range(1, 31)]
TASK_BRANCH = "orchestrate/1-rework-the-report"


def text(**changed: str) -> str:
    """The 30-line src/report.py with some lines (`l11="..."`) changed."""
    lines = list(BASE)
    for key, value in changed.items():
        lines[int(key[1:]) - 1] = value
    return "\n".join(lines) + "\n"


@pytest.fixture
def project(fake_github: FakeGitHub, fake_repo: Repo) -> Repo:
    files = {"src/report.py": text(), "src/parser.py": "y = 2\n", "docs/report.md": "# r\n"}
    fake_github.push(fake_repo, "main", files, "project", user="octo")
    for login in ("alice", "bob", "carol", "dave"):
        fake_github.add_collaborator(fake_repo, login, "write")
    return fake_repo


def _check(repo: Repo, sha: str):
    """The check run GitHub shows for `sha`: the newest of the name."""
    found = [c for c in repo.check_runs.values() if c.head_sha == sha and c.name == OVERLAP_CHECK]
    assert found, f"no {OVERLAP_CHECK} on {sha[:8]}"
    return found[-1]


def _person_opens(fake: FakeGitHub, repo: Repo, login: str, branch: str, files: dict) -> int:
    fake.push(repo, branch, files, f"{login}'s change", user=login)
    client: Github = make_client(fake.token_for(login))
    pull = client.get_repo(repo.full_name).create_pull(
        title=f"{login}: {branch}", body="", head=branch, base="main"
    )
    return pull.number


def _task_in_review(fake: FakeGitHub, project: Repo, workdir: Path) -> str:
    """Task 1, which rewrites lines 10-11 of src/report.py, in review; its head."""
    alice = make_client(fake.token_for("alice")).get_repo(project.full_name)
    alice.create_issue(
        "Rework the report", body="```orchestrate\nfiles: [src/report.py]\n```\n"
    ).add_to_labels("parallel")
    deliver_all(fake, project, workdir / "label")
    home = next(n for n, i in project.issues.items() if i.title == "Parallel work")
    fake.comment(project, home, "/orchestrate run", user="alice")
    deliver_all(fake, project, workdir / "run")
    head = agent_job_done(fake, project, TASK_BRANCH, {
        "src/report.py": text(l10="ten, by the task", l11="eleven, by the task"),
    })  # fmt: skip
    deliver_all(fake, project, workdir / "task-pr")
    return head


def test_every_pull_request_shows_real_conflicts_with_work_in_flight(
    fake_github: FakeGitHub, project: Repo, tmp_path: Path
) -> None:
    fake = fake_github
    task_head = _task_in_review(fake, project, tmp_path)
    assert _check(project, task_head).conclusion == "success"

    conflicting = _person_opens(fake, project, "bob", "bob/report", {
        "src/report.py": text(l11="eleven, by bob", l12="twelve, by bob"),
    })  # fmt: skip
    same_file = _person_opens(fake, project, "carol", "carol/report", {
        "src/report.py": text(l25="twenty-five, by carol"),
    })  # fmt: skip
    unrelated = _person_opens(fake, project, "dave", "dave/parser", {"src/parser.py": "y = 3\n"})
    deliveries = fake.take_deliveries("pull_request")
    assert {d.payload["action"] for d in deliveries} == {"opened"}  # real payloads drive it
    for index, delivery in enumerate(deliveries):
        run = deliver(fake, project, delivery, tmp_path / "people", tag=f"p{index}")
        assert run.outcome.error is None
    fake.take_deliveries()

    heads = {n: project.git.branch_sha(project.pulls[n].head) for n in project.pulls}
    bob = _check(project, heads[conflicting])
    assert bob.conclusion == "failure"  # it conflicts with task #1, which lands first
    assert bob.output["title"] == "Conflicts with task #1"
    [note] = bob.annotations
    assert (note["path"], note["start_line"], note["end_line"]) == ("src/report.py", 11, 12)
    assert note["annotation_level"] == "failure" and "task #1" in note["message"]
    assert f"/{project.full_name}/issues/1)" in bob.output["summary"]  # a link to the task
    carol = _check(project, heads[same_file])
    assert carol.conclusion == "neutral" and carol.annotations == []
    assert "merges cleanly" in carol.output["summary"]
    assert _check(project, heads[unrelated]).conclusion == "success"
    dashboard = next(c.body for c in project.comments.values() if DASHBOARD_MARKER in c.body)
    assert "Open pull requests that meet tasks in flight" in dashboard
    assert "conflicts with task #1 (src/report.py)" in dashboard

    # the task's agent pushes again, now also on carol's line: her check follows
    moved = fake.push(project, TASK_BRANCH, {
        "src/report.py": text(l10="ten", l11="eleven", l25="twenty-five, by the task"),
    }, "the agent again", user="alice")  # fmt: skip
    [sync] = [
        d for d in fake.take_deliveries("pull_request") if d.payload["action"] == "synchronize"
    ]
    fake.take_deliveries()
    assert deliver(fake, project, sync, tmp_path / "sync", tag="s").outcome.error is None
    carol = _check(project, heads[same_file])
    assert carol.conclusion == "failure"
    assert [(n["start_line"], n["end_line"]) for n in carol.annotations] == [(25, 25)]
    assert _check(project, moved).conclusion == "neutral"  # people's pulls land when they choose

    # the task lands: bob's and carol's pull requests now meet only each other, cleanly
    task_pull = next(n for n, p in project.pulls.items() if p.head == TASK_BRANCH)
    fake.state.merge_pull(
        project,
        fake.state.user("alice"),
        task_pull,
        sha=None,
        method="merge",
        title=None,
        message=None,
    )
    closed = [d for d in fake.take_deliveries("pull_request") if d.payload["action"] == "closed"]
    fake.take_deliveries()
    assert deliver(fake, project, closed[0], tmp_path / "merged", tag="m").outcome.error is None
    for number in (conflicting, same_file):
        check = _check(project, heads[number])
        assert check.conclusion == "neutral" and check.annotations == []
        assert (
            "task #" not in check.output["summary"] and "merges cleanly" in check.output["summary"]
        )
    assert _check(project, heads[unrelated]).conclusion == "success"

    # a repeated delivery writes nothing
    before = len(project.check_runs), [dict(c.output) for c in project.check_runs.values()]
    served = fake.total_requests
    assert deliver(fake, project, closed[0], tmp_path / "again", tag="a").outcome.error is None
    assert (len(project.check_runs), [dict(c.output) for c in project.check_runs.values()]) == (
        before
    )
    assert fake.total_requests - served < 15


def test_a_persons_pull_request_that_lands_says_which_tasks_it_moved_under(
    fake_github: FakeGitHub, project: Repo, tmp_path: Path
) -> None:
    fake = fake_github
    _task_in_review(fake, project, tmp_path)
    number = _person_opens(fake, project, "bob", "bob/report", {
        "src/report.py": text(l11="eleven, by bob"),
    })  # fmt: skip
    deliver_all(fake, project, tmp_path / "opened")
    fake.state.merge_pull(
        project, fake.state.user("alice"), number, sha=None, method="merge", title=None,
        message=None,
    )  # fmt: skip
    [closed] = [d for d in fake.take_deliveries("pull_request") if d.payload["action"] == "closed"]
    fake.take_deliveries()
    run = deliver(fake, project, closed, tmp_path / "landed", tag="l")
    assert run.outcome.error is None
    assert (
        f"pull request #{number} landed on main; it conflicts with task #1 (src/report.py): "
        "those tasks are rebased onto it before they land"
    ) in run.outcome.messages
    assert f"pull request #{number}" in run.summary
