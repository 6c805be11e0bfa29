"""GitHub mode end to end: fake GitHub at the HTTP level, real PyGithub, `orchestrate event`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fakegithub import Delivery, FakeGitHub, Repo
from fakegithub.fixtures import make_client
from fakegithub.model import CheckRun
from github_mode import Run, agent_job_done, deliver, deliver_all, observed

from bot.blocks import decode_state
from bot.collisions import OVERLAP_CHECK as OVERLAP
from bot.forge.issues import DASHBOARD_LABEL
from bot.render.dashboard import DASHBOARD_MARKER, TASK_MARKER

ISSUES = [
    ("Add a --json flag to report", "```orchestrate\nfiles: [src/report.py]\n```\n"),
    ("Cache the parser", "```orchestrate\nfiles: [src/parser.py]\n```\n"),
    ("Document the json flag", "Depends on #1.\n```orchestrate\nfiles: [docs/report.md]\n```\n"),
]


@pytest.fixture
def project(fake_github: FakeGitHub, fake_repo: Repo) -> Repo:
    files = {"src/report.py": "x = 1\n", "src/parser.py": "y = 2\n", "docs/report.md": "# r\n"}
    fake_github.push(fake_repo, "main", files, "project", user="octo")
    fake_github.add_collaborator(fake_repo, "alice", "write")
    fake_github.state.user("mallory")
    return fake_repo


def _label_three(fake: FakeGitHub, repo: Repo) -> None:
    alice = make_client(fake.token_for("alice")).get_repo(repo.full_name)
    for title, body in ISSUES:
        alice.create_issue(title, body=body).add_to_labels("parallel")


def _say(fake: FakeGitHub, repo: Repo, number: int, text: str, user: str) -> int:
    comment = fake.comment(repo, number, text, user=user)
    return comment.id


def _command(
    fake: FakeGitHub, repo: Repo, number: int, text: str, user: str, workdir: Path
) -> tuple[int, Delivery, Run]:
    """`user` says `text` on issue `number`; the bot handles the comment event."""
    comment_id = _say(fake, repo, number, text, user)
    [delivery] = fake.take_deliveries("issue_comment")
    run = deliver(fake, repo, delivery, workdir, tag=f"c{comment_id}")
    fake.take_deliveries()  # what the bot caused itself
    return comment_id, delivery, run


def _dashboards(fake: FakeGitHub, repo: Repo) -> list[int]:
    return [
        c.id
        for c in repo.comments.values()
        if DASHBOARD_MARKER in c.body and c.user.login == fake.bot.login
    ]


def _reactions(repo: Repo, comment_id: int) -> list[str]:
    return sorted(r.content for r in repo.comments[comment_id].reactions)


def test_label_plan_run_refuse_and_repeat(
    fake_github: FakeGitHub, project: Repo, tmp_path: Path
) -> None:
    fake = fake_github
    _label_three(fake, project)
    label_runs = deliver_all(fake, project, tmp_path / "labels")
    assert all(run.outcome.error is None for run in label_runs), [
        r.outcome.error for r in label_runs
    ]
    home = next(n for n, i in project.issues.items() if i.title == "Parallel work")
    assert DASHBOARD_LABEL in {lb.name for lb in project.issues[home].labels}
    [dashboard] = _dashboards(fake, project)

    # /orchestrate plan, said on the dashboard issue by a collaborator
    plan_id, _, plan = _command(fake, project, home, "/orchestrate plan", "alice", tmp_path)
    assert plan.outcome.error is None
    assert _reactions(project, plan_id) == ["eyes", "rocket"]
    for number in (1, 2, 3):
        assert _status_labels(project, number) == ["parallel:planned"]

    # /orchestrate run
    run_id, run_delivery, first = _command(
        fake, project, home, "/orchestrate run", "alice", tmp_path
    )
    assert first.outcome.error is None
    assert _reactions(project, run_id) == ["eyes", "rocket"]
    matrix = json.loads(first.outputs["matrix"])["include"]
    assert [(m["task"], m["branch"]) for m in matrix] == [
        ("1", "orchestrate/1-add-a-json-flag-to-report"),
        ("2", "orchestrate/2-cache-the-parser"),
    ]
    assert first.outputs["launch"] == "true" and first.outputs["dashboard"] == str(home)
    assert _status_labels(project, 1) == ["parallel:running"]
    assert _status_labels(project, 2) == ["parallel:running"]
    assert _status_labels(project, 3) == ["parallel:planned"]
    for number, expected in ((1, [True]), (2, [True]), (3, [])):  # once started, not before
        mine = [c for c in project.comments.values() if c.issue_number == number]
        assert [TASK_MARKER in c.body for c in mine] == expected

    # still one dashboard comment, the same one, edited in place, holding the state
    assert _dashboards(fake, project) == [dashboard]
    body = project.comments[dashboard].body
    assert "running" in body and "```mermaid" in body
    # the threshold comes from the config (auto: 1 / redo_cost), the rate from the history
    assert "Pairs are kept apart from a conflict risk of 25% (plan.redo_cost 4" in body
    assert "no past pairs to learn from: 30% assumed" in body
    state = decode_state(body)
    assert state is not None and state["running"] is True
    assert f"GitHub API requests: **{first.requests}**" in first.summary
    assert "### Plan" in first.summary
    assert first.requests == first.served  # the bot counts every request it sends

    # a non-collaborator is refused politely; nothing else changes
    before = observed(project)
    mallory_id, _, refused = _command(
        fake, project, home, "/orchestrate cancel", "mallory", tmp_path
    )
    assert refused.outputs["launch"] == "false"
    after = observed(project)
    new = {cid: c for cid, c in after["comments"].items() if cid not in before["comments"]}
    assert mallory_id in new
    [reply] = [c for cid, c in new.items() if cid != mallory_id]
    assert reply[1] == fake.bot.login and "Sorry @mallory" in reply[2]
    assert _reactions(project, mallory_id) == []
    for cid in before["comments"]:
        assert after["comments"][cid] == before["comments"][cid]
    assert after["issues"] == before["issues"]

    # the same `run` event again: nothing changes, fewer requests
    before = observed(project)
    again = deliver(fake, project, run_delivery, tmp_path, tag="again")
    assert again.outcome.error is None
    assert observed(project) == before
    assert fake.take_deliveries() == []  # no webhook: GitHub saw no change
    assert json.loads(again.outputs["matrix"])["include"] == []
    assert again.requests < first.requests
    print(f"requests: run {first.requests}, repeated run {again.requests}")


def _status_labels(repo: Repo, number: int) -> list[str]:
    return sorted(lb.name for lb in repo.issues[number].labels if lb.name.startswith("parallel:"))


def test_bot_ignores_its_own_events(fake_github: FakeGitHub, project: Repo, tmp_path: Path) -> None:
    _label_three(fake_github, project)
    deliver_all(fake_github, project, tmp_path / "first")
    bot = make_client()
    bot.get_repo(project.full_name).get_issue(1).create_comment("/orchestrate run")
    [own] = fake_github.take_deliveries("issue_comment")
    before = observed(project)
    run = deliver(fake_github, project, own, tmp_path, tag="own")
    assert "ignored" in " ".join(run.outcome.messages)
    assert observed(project) == before


def test_help_and_bad_command_reply_once(
    fake_github: FakeGitHub, project: Repo, tmp_path: Path
) -> None:
    issue = fake_github.create_issue(project, "Sprint", user="alice")
    good = _say(fake_github, project, issue.number, "/orchestrate help", "alice")
    bad = _say(fake_github, project, issue.number, "/orchestrate frobnicate", "alice")
    deliveries = fake_github.take_deliveries("issue_comment")
    for delivery in deliveries * 2:  # every delivery twice: replies are not duplicated
        deliver(fake_github, project, delivery, tmp_path, tag=str(delivery.delivery_id))
    replies = [c.body for c in project.comments.values() if c.user.login == fake_github.bot.login]
    assert len(replies) == 2
    assert "| command | what it does |" in replies[0]
    assert "unknown command" in replies[1]
    assert _reactions(project, good) == ["eyes", "rocket"]
    assert _reactions(project, bad) == ["confused", "eyes"]


def test_repeated_label_event_changes_nothing(
    fake_github: FakeGitHub, project: Repo, tmp_path: Path
) -> None:
    _label_three(fake_github, project)
    deliveries = fake_github.take_deliveries("issues", "labeled")
    first = deliver(fake_github, project, deliveries[-1], tmp_path, tag="first")
    fake_github.take_deliveries()
    before = observed(project)
    again = deliver(fake_github, project, deliveries[-1], tmp_path, tag="again")
    assert observed(project) == before and fake_github.take_deliveries() == []
    assert again.requests < first.requests
    assert len(_dashboards(fake_github, project)) == 1


def test_orchestrate_event_verb(
    fake_github: FakeGitHub,
    project: Repo,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from bot.cli import main

    _label_three(fake_github, project)
    delivery = fake_github.take_deliveries("issues", "labeled")[0]
    event, output, summary = tmp_path / "e.json", tmp_path / "out", tmp_path / "summary.md"
    event.write_text(json.dumps(delivery.payload))
    for name, value in {
        "GITHUB_EVENT_NAME": "issues",
        "GITHUB_EVENT_PATH": str(event),
        "GITHUB_REPOSITORY": project.full_name,
        "GITHUB_TOKEN": "ghs_" + "z" * 36,
        "GITHUB_OUTPUT": str(output),
        "GITHUB_STEP_SUMMARY": str(summary),
    }.items():
        monkeypatch.setenv(name, value)
    assert main(["event", "--repo", str(project.git.path)]) == 0
    assert "launch=false" in output.read_text()
    assert "GitHub API requests:" in summary.read_text()
    assert "z" * 36 not in output.read_text() + summary.read_text()
    capsys.readouterr()
    assert main(["event", "--repo", str(tmp_path / "no-checkout")]) == 2  # no traceback either
    [line] = capsys.readouterr().err.strip().splitlines()
    assert line == f"orchestrate: error: {tmp_path / 'no-checkout'}: no such directory"
    monkeypatch.delenv("GITHUB_TOKEN")
    assert main(["event"]) == 2  # a missing variable is a usage error, not a traceback


def test_secrets_never_reach_comments_or_the_summary(
    fake_github: FakeGitHub, project: Repo, tmp_path: Path
) -> None:
    token = "ghp_" + "Zz9" * 12
    alice = make_client(fake_github.token_for("alice")).get_repo(project.full_name)
    alice.create_issue(f"Rotate {token} in src/report.py", body=f"old key {token}").add_to_labels(
        "parallel"
    )
    runs = deliver_all(fake_github, project, tmp_path / "labels")
    assert runs and all(run.outcome.error is None for run in runs)
    written = [c.body for c in project.comments.values() if c.user.login == fake_github.bot.login]
    assert written  # the dashboard and the task's status comment
    for surface in [*written, *(run.summary for run in runs)]:
        assert token not in surface
    assert any("***" in body for body in written)


def _overlap_check(repo: Repo, sha: str) -> CheckRun:
    """The check run GitHub shows for `sha`: the newest of the name."""
    return [c for c in repo.check_runs.values() if c.head_sha == sha and c.name == OVERLAP][-1]


def test_pull_requests_show_overlaps_with_other_tasks_in_flight(
    fake_github: FakeGitHub, project: Repo, tmp_path: Path
) -> None:
    """Task 2's agent also edits src/report.py, which task 1 owns, on the same line: once both
    pull requests are open, each shows it in its `orchestrate/overlap` check, with git's
    verdict and the landing order; before that, task 1's check is green."""
    fake = fake_github
    _label_three(fake, project)
    deliver_all(fake, project, tmp_path / "labels")
    home = next(n for n, i in project.issues.items() if i.title == "Parallel work")
    _command(fake, project, home, "/orchestrate run", "alice", tmp_path)

    first = agent_job_done(fake, project, "orchestrate/1-add-a-json-flag-to-report", {
        "src/report.py": "x = 1\njson = True\n",
    })  # fmt: skip
    runs = deliver_all(fake, project, tmp_path / "pr1")  # pull_request.opened, check_run
    assert all(run.outcome.error is None for run in runs)
    check = _overlap_check(project, first)
    assert check.conclusion == "success" and check.output["title"].startswith("No overlap")

    second = agent_job_done(fake, project, "orchestrate/2-cache-the-parser", {
        "src/parser.py": "y = 2\ncache = {}\n", "src/report.py": "x = 1\nfrom parser import y\n",
    })  # fmt: skip
    runs = deliver_all(fake, project, tmp_path / "pr2")
    assert all(run.outcome.error is None for run in runs)
    mine = _overlap_check(project, second)
    assert mine.conclusion == "failure"  # it really conflicts with task 1, which lands first
    assert mine.output["title"] == "Conflicts with task #1"
    assert "**conflicts**: `src/report.py` lines 2" in mine.output["summary"]
    assert "| before this one |" in mine.output["summary"]
    [note] = mine.annotations
    assert (note["path"], note["start_line"], note["end_line"]) == ("src/report.py", 2, 2)
    assert note["annotation_level"] == "failure" and note["title"] == "Conflicts with task #1"
    [theirs] = [  # its own check was made anew: it has a note now, and notes cannot be removed
        c for c in project.check_runs.values() if c.head_sha == first and c.name == OVERLAP
    ][-1:]
    assert theirs.conclusion == "neutral" and theirs.output["title"] == "Conflicts with task #2"
    assert "not before this one" in theirs.output["summary"]
    assert [n["annotation_level"] for n in theirs.annotations] == ["warning"]
    state = decode_state(
        next(c.body for c in project.comments.values() if DASHBOARD_MARKER in c.body)
    )
    assert state is not None
    tasks = state["tasks"]
    assert isinstance(tasks, dict)
    assert tasks["2"]["files"] == ["src/parser.py", "src/report.py"]

    # a repeated delivery changes nothing and writes nothing
    before = [(c.id, c.conclusion, dict(c.output)) for c in project.check_runs.values()]
    pull, alice = project.pulls[max(project.pulls)], fake.state.user("alice")
    fake.state.emit(
        "pull_request", "synchronize", repo=project, pull=pull, sender=alice,
        before=second, after=second,
    )  # fmt: skip
    [again] = deliver_all(fake, project, tmp_path / "again")
    assert again.outcome.error is None
    assert [(c.id, c.conclusion, dict(c.output)) for c in project.check_runs.values()] == before


def test_a_command_whose_run_was_lost_is_handled_by_the_next_run(
    fake_github: FakeGitHub, project: Repo, tmp_path: Path
) -> None:
    """GitHub keeps one pending run per concurrency group: a `/orchestrate run` said while two
    runs waited never gets its own. The next run of the coordinator handles it, once."""
    fake = fake_github
    _label_three(fake, project)
    deliver_all(fake, project, tmp_path / "labels")
    home = next(n for n, i in project.issues.items() if i.title == "Parallel work")
    lost = _say(fake, project, home, "/orchestrate run", "alice")
    _say(fake, project, home, "/orchestrate cancel", "mallory")  # not allowed: ignored
    fake.take_deliveries()  # neither run ever starts
    [label] = [d for d in _relabel(fake, project, 2)]
    run = deliver(fake, project, label, tmp_path / "later")
    assert run.outcome.error is None
    assert any("its run was lost" in m for m in run.outcome.messages)
    assert [m["task"] for m in json.loads(run.outputs["matrix"])["include"]] == ["1", "2"]
    assert _reactions(project, lost) == ["rocket"]
    assert any("Sorry @mallory" in c.body for c in project.comments.values())
    again = deliver(fake, project, label, tmp_path / "again")  # handled once, not twice
    assert json.loads(again.outputs["matrix"])["include"] == []
    assert not any("its run was lost" in m for m in again.outcome.messages)


def _relabel(fake: FakeGitHub, repo: Repo, number: int) -> list[Delivery]:
    alice = fake.state.user("alice")
    fake.state.remove_label(repo, alice, number, "parallel")
    fake.state.add_labels(repo, alice, number, ["parallel"])
    return [d for d in fake.take_deliveries("issues") if d.action == "labeled"]


def test_a_command_on_a_task_issue_keeps_it_in_the_plan(
    fake_github: FakeGitHub, project: Repo, tmp_path: Path
) -> None:
    """The first `/orchestrate plan` is said on a task's own issue: the dashboard goes to a
    tracking issue of its own, and the task stays planned."""
    fake = fake_github
    _label_three(fake, project)
    fake.take_deliveries()  # no label event handled yet: no dashboard exists
    _, _, run = _command(fake, project, 1, "/orchestrate plan", "alice", tmp_path)
    assert run.outcome.error is None
    home = int(run.outputs["dashboard"])
    assert home != 1 and project.issues[home].title == "Parallel work"
    assert DASHBOARD_LABEL not in {lb.name for lb in project.issues[1].labels}
    state = decode_state(project.comments[_dashboards(fake, project)[0]].body)
    assert state is not None and set(state["tasks"]) == {"1", "2", "3"}
    replies = [c.body for c in project.comments.values() if c.issue_number == 1]
    assert any(f"the dashboard is on #{home}" in body for body in replies)
