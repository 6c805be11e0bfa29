"""The whole loop in GitHub mode, job by job: coordinator -> agent jobs -> merge-queue job ->
dispatch -> coordinator ..., over the fake GitHub with a real bare repository and fresh
checkouts per job, as Actions runs them. The test plays GitHub's event loop."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import psutil
import pytest
from fakegithub import Delivery, FakeGitHub, Repo
from github_mode import (
    BOT_TOKEN,
    NOW,
    agent_job,
    checkout,
    deliver,
    deliver_all,
    job_env,
    merge_job,
    next_run,
)

from bot.blocks import decode_state
from bot.forge.base import ForgeError
from bot.forge.github import GitHubForge, connect
from bot.forge.issues import ALL_STATUS_LABELS, STATUS_LABELS, TASK_LABEL
from bot.github_bot.agent_job import _board, _cancelled, run_agent_job
from bot.github_bot.checks import AGENT_CHECK, agent_check
from bot.models import TaskState, TaskStatus
from bot.redact import Redactor
from bot.render.dashboard import DASHBOARD_MARKER

CONFIG = """\
agent: {preset: scripted}
merge: {test_command: python3 check.py}
max_parallel: 4
"""
FILES = {
    "src/app.py": "def greet():\n    return 'hi'\n",
    "src/shared.py": "VALUE = 0\n",
    "check.py": "import pathlib, sys\nsys.exit(1 if pathlib.Path('RED').exists() else 0)\n",
    ".github/orchestrate.yml": CONFIG,
}


def _issue(files: list[str], edits: dict[str, str], prose: str = "") -> str:
    block = f"```orchestrate\nfiles: [{', '.join(files)}]\n```\n"
    writes = "".join(f"```write {path}\n{text}```\n" for path, text in edits.items())
    return f"{prose}\n{block}\n{writes}"


ISSUES = {
    "Add a farewell": _issue(["src/farewell.py"], {"src/farewell.py": "def bye():\n    pass\n"}),
    "Use the farewell": _issue(["src/use.py"], {"src/use.py": "from farewell import bye\n"}),
    # 3 and 4 say they touch different files, but both rewrite src/shared.py: a real conflict
    "Set three": _issue(["src/three.py"], {"src/three.py": "T = 3\n", "src/shared.py": "V = 3\n"}),
    "Set four": _issue(["src/four.py"], {"src/four.py": "F = 4\n", "src/shared.py": "V = 4\n"}),
    "Break the build": _issue(["RED"], {"RED": "red\n"}),
}


def _state(repo: Repo) -> dict[str, dict[str, object]]:
    body = next(c.body for c in repo.comments.values() if DASHBOARD_MARKER in c.body)
    state = decode_state(body)
    assert state is not None
    tasks = state["tasks"]
    assert isinstance(tasks, dict)
    return tasks


def _tree(repo: Repo) -> dict[str, str]:
    out = subprocess.run(
        ["git", "-C", str(repo.git.path), "ls-tree", "-r", "--name-only", "main"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return {
        name: subprocess.run(
            ["git", "-C", str(repo.git.path), "show", f"main:{name}"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for name in out
    }


def test_issues_to_merged_pull_requests_through_actions_jobs(
    fake_github: FakeGitHub, fake_repo: Repo, tmp_path: Path
) -> None:
    fake = fake_github
    fake.push(fake_repo, "main", FILES, "project", user="octo")
    fake.add_collaborator(fake_repo, "alice", "write")
    fake.add_workflow(fake_repo, ".github/workflows/orchestrate.yml", "orchestrate")
    for title, body in ISSUES.items():
        issue = fake.create_issue(fake_repo, title, textwrap.dedent(body), user="alice")
        fake.state.add_labels(fake_repo, fake.state.user("alice"), issue.number, [TASK_LABEL])
    fake.add_blocked_by(fake_repo, 2, 1)  # GitHub's own relation: #2 is blocked by #1
    deliver_all(fake, fake_repo, tmp_path / "labels")
    home = max(fake_repo.issues)
    fake.comment(fake_repo, home, "/orchestrate run", user="alice")
    [command] = fake.take_deliveries("issue_comment")
    run = deliver(fake, fake_repo, command, tmp_path / "run")
    assert run.outcome.error is None, run.outcome.error
    fake.take_deliveries()

    launched: list[list[str]] = []
    matrix = json.loads(run.outputs["matrix"])["include"]
    for round_ in range(8):
        launched.append([entry["task"] for entry in matrix])
        comment = int(run.outputs["dashboard-comment"])
        for entry in matrix:
            workdir = tmp_path / f"r{round_}-agent-{entry['task']}"
            agent_job(fake_repo, entry["task"], workdir, comment)
        outcome = merge_job(fake_repo, tmp_path / f"r{round_}-merge")
        assert outcome.error is None, outcome.error
        dispatched = fake.take_deliveries("workflow_dispatch")
        fake.take_deliveries()  # caused with the bot's token: GitHub starts no workflow
        if not dispatched:
            break
        [delivery] = dispatched
        run = deliver(fake, fake_repo, delivery, tmp_path / f"r{round_}-coordinate")
        assert run.outcome.error is None, run.outcome.error
        fake.take_deliveries()
        matrix = json.loads(run.outputs["matrix"])["include"]

    tasks = _state(fake_repo)
    statuses = {task_id: state["status"] for task_id, state in tasks.items()}
    assert statuses == {"1": "merged", "2": "merged", "3": "merged", "4": "merged", "5": "failed"}
    assert "tests exited 1" in str(tasks["5"]["detail"])
    # the dependency ran only after #1 had merged; the conflicting pair: one was redone
    assert "2" not in launched[0] and "1" in launched[0]
    summary = (tmp_path / "r0-merge" / "summary.md").read_text()
    assert "GitHub: #\u200b2 is blocked by #\u200b1" in summary  # references made inert
    redone = [t for t in ("3", "4") if tasks[t].get("redos") == 1]
    assert len(redone) == 1 and any(redone[0] in wave for wave in launched[1:])
    # every merged task's issue was closed by its pull request; the red one stays open
    assert [n for n in (1, 2, 3, 4, 5) if fake_repo.issues[n].state == "closed"] == [1, 2, 3, 4]
    tree = _tree(fake_repo)
    assert "RED" not in tree
    assert tree["src/farewell.py"] and tree["src/use.py"] and tree["src/three.py"]
    assert tree["src/shared.py"] == ("V = 3\n" if redone == ["3"] else "V = 4\n")
    # one pull request per task, one agent check run per pushed head
    heads = [p.head for p in fake_repo.pulls.values()]
    assert len(heads) == len(set(heads)) == 5
    agent_runs = [c for c in fake_repo.check_runs.values() if c.name == AGENT_CHECK]
    assert all(c.status == "completed" for c in agent_runs)
    assert len({c.head_sha for c in agent_runs}) == len(agent_runs)


def test_a_rerun_agent_job_converges(
    fake_github: FakeGitHub, fake_repo: Repo, tmp_path: Path
) -> None:
    fake = fake_github
    fake.push(fake_repo, "main", FILES, "project", user="octo")
    fake.add_collaborator(fake_repo, "alice", "write")
    title, body = "Add a farewell", ISSUES["Add a farewell"]
    issue = fake.create_issue(fake_repo, title, body, user="alice")
    fake.state.add_labels(fake_repo, fake.state.user("alice"), issue.number, [TASK_LABEL])
    deliver_all(fake, fake_repo, tmp_path / "labels")
    fake.comment(fake_repo, max(fake_repo.issues), "/orchestrate run", user="alice")
    [command] = fake.take_deliveries("issue_comment")
    deliver(fake, fake_repo, command, tmp_path / "run")

    first = agent_job(fake_repo, "1", tmp_path / "first")
    assert first.pull is not None and first.state is not None
    before = (dict(fake_repo.pulls), dict(fake_repo.check_runs))
    again = agent_job(fake_repo, "1", tmp_path / "again")
    assert again.pull is not None and again.pull.number == first.pull.number
    assert (dict(fake_repo.pulls), dict(fake_repo.check_runs)) == before
    assert "already ran" in " ".join(again.messages)
    summary = (tmp_path / "first" / "summary.md").read_text()
    assert "task #1" in summary and "review" in summary


def _one_task(
    fake: FakeGitHub,
    repo: Repo,
    tmp_path: Path,
    config: str,
    files: dict[str, str],
    titles: tuple[str, ...] = ("Add a farewell",),
):
    fake.push(repo, "main", {**files, ".github/orchestrate.yml": config}, "project", user="octo")
    fake.add_collaborator(repo, "alice", "write")
    fake.add_workflow(repo, ".github/workflows/orchestrate.yml", "orchestrate")
    for title in titles:
        issue = fake.create_issue(repo, title, ISSUES[title], user="alice")
        fake.state.add_labels(repo, fake.state.user("alice"), issue.number, [TASK_LABEL])
    deliver_all(fake, repo, tmp_path / "labels")
    fake.comment(repo, max(repo.issues), "/orchestrate run", user="alice")
    [command] = fake.take_deliveries("issue_comment")
    fake.take_deliveries()
    return deliver(fake, repo, command, tmp_path / "run")


FLAKY = """\
import os, pathlib, runpy, sys
seen = pathlib.Path(os.environ["FLAKY_STATE"])
if not seen.exists():
    seen.write_text("once")
    print("API error: 529 overloaded while reading src/shared.py, src/later.py", flush=True)
    sys.exit(1)
runpy.run_module("bot.agents.scripted", run_name="__main__")
"""


def test_a_transient_agent_failure_is_retried_by_the_loop(
    fake_github: FakeGitHub, fake_repo: Repo, tmp_path: Path
) -> None:
    """The first attempt dies of an overloaded API: the merge job sees a transient failure,
    waits out the backoff and dispatches; the next coordinator run starts attempt 2."""
    fake = fake_github
    state = tmp_path / "flaky-state"
    agent = {"command": f"{sys.executable} flaky.py", "retry_backoff": "0.01s"}
    config = json.dumps({"agent": {**agent, "env": {"FLAKY_STATE": str(state)}}})
    run = _one_task(fake, fake_repo, tmp_path, config, {**FILES, "flaky.py": FLAKY})
    comment = int(run.outputs["dashboard-comment"])
    first = agent_job(fake_repo, "1", tmp_path / "a1", comment)
    assert first.state is not None and first.state.status.value == "failed"
    assert first.state.retryable and "overloaded" in first.state.log_tail
    merge_job(fake_repo, tmp_path / "m1")
    # what the failure named reached the dashboard through the agent job's report
    assert _state(fake_repo)["1"]["named_files"] == ["src/shared.py", "src/later.py"]
    assert _state(fake_repo)["1"]["missing_files"] == ["src/later.py"]
    [dispatch] = fake.take_deliveries("workflow_dispatch")
    fake.take_deliveries()
    run = deliver(fake, fake_repo, dispatch, tmp_path / "c2", now=time.time() + 1)
    assert [e["attempt"] for e in json.loads(run.outputs["matrix"])["include"]] == [2]
    second = agent_job(fake_repo, "1", tmp_path / "a2", comment)
    assert second.state is not None and second.state.status.value == "review"
    merge_job(fake_repo, tmp_path / "m2")
    tasks = _state(fake_repo)
    assert tasks["1"]["status"] == "merged" and tasks["1"]["attempt"] == 2
    assert len(fake_repo.pulls) == 1


def test_an_agent_job_failing_the_same_way_twice_is_retried_once(
    fake_github: FakeGitHub, fake_repo: Repo, tmp_path: Path
) -> None:
    """An agent that cannot start (the same words every time, nothing changed): the loop
    tries it once more, and when the second attempt fails alike with nothing landed meanwhile,
    it stays failed and says why; no third agent job is dispatched."""
    fake = fake_github
    broken = "import sys\nprint('setup.cfg: no [tool] section', flush=True)\nsys.exit(1)\n"
    agent = {"command": f"{sys.executable} broken.py", "retry_backoff": "0.01s"}
    config = json.dumps({"agent": agent})
    run = _one_task(fake, fake_repo, tmp_path, config, {**FILES, "broken.py": broken})
    comment = int(run.outputs["dashboard-comment"])
    first = agent_job(fake_repo, "1", tmp_path / "a1", comment)
    assert first.state is not None and first.state.failure_digest
    merge_job(fake_repo, tmp_path / "m1")
    [dispatch] = fake.take_deliveries("workflow_dispatch")
    fake.take_deliveries()
    deliver(fake, fake_repo, dispatch, tmp_path / "c2", now=time.time() + 1)
    second = agent_job(fake_repo, "1", tmp_path / "a2", comment)
    assert second.state is not None and second.state.start_sha == first.state.start_sha
    merge_job(fake_repo, tmp_path / "m2")
    task = _state(fake_repo)["1"]
    assert task["status"] == "failed" and task["attempt"] == 2
    assert str(task["detail"]).endswith(
        "it failed as the attempt before it did, and nothing has landed since it started "
        "that changes setup.cfg: not tried again"
    )
    assert fake.take_deliveries("workflow_dispatch") == []


def test_a_lost_agent_job_is_found_by_the_schedule_and_retried(
    fake_github: FakeGitHub, fake_repo: Repo, tmp_path: Path
) -> None:
    """A launched agent job never reports (its run was cancelled): the hourly schedule run
    finds it silent past `stale_after` and puts it back for a retry."""
    fake = fake_github
    run = _one_task(fake, fake_repo, tmp_path, "agent: {preset: scripted}\n", FILES)
    assert json.loads(run.outputs["matrix"])["include"]
    schedule = Delivery("schedule", None, {"schedule": "23 * * * *"}, "schedule-1")
    soon = deliver(fake, fake_repo, schedule, tmp_path / "soon", now=NOW + 600)
    assert soon.outcome.error is None and _state(fake_repo)["1"]["status"] == "running"
    late = deliver(fake, fake_repo, schedule, tmp_path / "late", now=NOW + 3 * 3600)
    assert late.outcome.error is None
    task = _state(fake_repo)["1"]
    assert task.get("status", "planned") == "planned"
    assert "no heartbeat for" in str(task["detail"]) or "retry 1 of 2" in str(task["detail"])
    again = deliver(fake, fake_repo, schedule, tmp_path / "again", now=NOW + 4 * 3600)
    assert [e["attempt"] for e in json.loads(again.outputs["matrix"])["include"]] == [2]


def test_the_merge_queue_never_retries_blindly_and_lands_what_a_human_pushed(
    fake_github: FakeGitHub, fake_repo: Repo, tmp_path: Path
) -> None:
    """GitHub answers 502 to the merge: the job reads the pull request back, reports, and
    leaves it for the next pass (one PUT, not two). Someone then pushes to the pull request:
    the next merge job tests and lands that head, not the agent's."""
    fake = fake_github
    run = _one_task(fake, fake_repo, tmp_path, CONFIG, FILES)
    agent_job(fake_repo, "1", tmp_path / "a1", int(run.outputs["dashboard-comment"]))
    merge_route = "/repos/{owner}/{repo}/pulls/{pull_number}/merge"
    fake.fail_next(502, method="PUT", route=merge_route)
    outcome = merge_job(fake_repo, tmp_path / "m1")
    assert outcome.error is None
    assert fake.request_count("PUT", merge_route) == 1
    task = _state(fake_repo)["1"]
    assert task["status"] == "review" and "GitHub did not merge" in str(task["detail"])

    [pull] = fake_repo.pulls.values()
    fake.push(fake_repo, pull.head, {"src/farewell.py": "def bye():\n    return 'bye'\n"},
              "review fix", user="alice")  # fmt: skip
    fake.take_deliveries()
    second = merge_job(fake_repo, tmp_path / "m2")
    assert _state(fake_repo)["1"]["status"] == "merged", second.messages
    assert _tree(fake_repo)["src/farewell.py"] == "def bye():\n    return 'bye'\n"
    assert fake.request_count("PUT", merge_route) == 2


def test_an_agent_job_cancelled_while_it_runs_opens_no_pull_request(
    fake_github: FakeGitHub, fake_repo: Repo, tmp_path: Path
) -> None:
    """The agent job reads the dashboard again before it opens the pull request: a task
    cancelled meanwhile (or relaunched as a newer attempt) is left alone."""
    fake = fake_github
    run = _one_task(fake, fake_repo, tmp_path, CONFIG, FILES)
    forge = connect(BOT_TOKEN, fake_repo.full_name, bot_login=fake.bot.login)
    board = _board(forge, int(run.outputs["dashboard-comment"]))
    launched = board.state.tasks["1"]
    assert launched.status.value == "running" and not _cancelled(forge, board, launched)
    fake.take_deliveries()
    fake.comment(fake_repo, board.home, "/orchestrate cancel #1", user="alice")
    [command] = fake.take_deliveries("issue_comment")
    deliver(fake, fake_repo, command, tmp_path / "cancel")
    assert _cancelled(forge, board, launched)
    result = agent_job(fake_repo, "1", tmp_path / "a1", int(run.outputs["dashboard-comment"]))
    assert result.state is None and "nothing to run" in " ".join(result.messages)
    assert fake_repo.pulls == {}


def test_an_agent_that_cannot_start_fails_at_once_without_a_retry(
    fake_github: FakeGitHub, fake_repo: Repo, tmp_path: Path
) -> None:
    fake = fake_github
    config = "agent: {command: no-such-agent-program --go}\n"
    run = _one_task(fake, fake_repo, tmp_path, config, FILES)
    result = agent_job(fake_repo, "1", tmp_path / "a1", int(run.outputs["dashboard-comment"]))
    assert result.state is not None and result.state.status.value == "failed"
    assert "agent command not found: 'no-such-agent-program'" in result.state.detail
    assert not result.state.retryable
    [check] = [c for c in fake_repo.check_runs.values() if c.name == AGENT_CHECK]
    assert check.conclusion == "failure" and "no-such-agent-program" in check.output["title"]
    merge_job(fake_repo, tmp_path / "m1")
    task = _state(fake_repo)["1"]
    assert task["status"] == "failed" and "not found" in str(task["detail"])
    assert fake.take_deliveries("workflow_dispatch") == []  # nothing to retry


def test_the_merge_queue_runs_tests_without_the_token(
    fake_github: FakeGitHub, fake_repo: Repo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The test command runs code an agent wrote: it never sees the job's token."""
    fake = fake_github
    probe = "import os, sys; sys.exit(3 if 'GITHUB_TOKEN' in os.environ else 0)"
    config = json.dumps(
        {
            "agent": {"preset": "scripted"},
            "merge": {"test_command": f'{sys.executable} -c "{probe}"'},
        }
    )
    run = _one_task(fake, fake_repo, tmp_path, config, FILES)
    agent_job(fake_repo, "1", tmp_path / "a1", int(run.outputs["dashboard-comment"]))
    monkeypatch.setenv("GITHUB_TOKEN", "ghs_not_for_agents_0000000000000000000")
    merge_job(fake_repo, tmp_path / "m1")
    assert _state(fake_repo)["1"]["status"] == "merged"


def test_the_matrix_never_holds_more_agent_jobs_than_the_budget_pays_for(
    fake_github: FakeGitHub, fake_repo: Repo, tmp_path: Path
) -> None:
    fake = fake_github
    config = json.dumps(
        {"agent": {"preset": "scripted"}, "budget": {"max_usd": 0.5, "task_max_usd": 0.3}}
    )
    fake.push(fake_repo, "main", {**FILES, ".github/orchestrate.yml": config}, "p", user="octo")
    fake.add_collaborator(fake_repo, "alice", "write")
    for title in ("Add a farewell", "Set three", "Set four"):
        issue = fake.create_issue(fake_repo, title, ISSUES[title], user="alice")
        fake.state.add_labels(fake_repo, fake.state.user("alice"), issue.number, [TASK_LABEL])
    deliver_all(fake, fake_repo, tmp_path / "labels")
    fake.comment(fake_repo, max(fake_repo.issues), "/orchestrate run", user="alice")
    [command] = fake.take_deliveries("issue_comment")
    run = deliver(fake, fake_repo, command, tmp_path / "run")
    assert len(json.loads(run.outputs["matrix"])["include"]) == 1  # $0.50 buys one $0.30 task
    body = next(c.body for c in fake_repo.comments.values() if DASHBOARD_MARKER in c.body)
    assert "budget: $0.00 spent of $0.50" in body and "Spent $0.00 of $0.50" in body


def test_a_report_from_another_app_is_not_believed(
    fake_github: FakeGitHub, fake_repo: Repo, tmp_path: Path
) -> None:
    """Anyone's app may create a check run named `orchestrate/agent`: only the bot's own is an
    agent job's report."""
    fake = fake_github
    run = _one_task(fake, fake_repo, tmp_path, CONFIG, FILES)
    assert json.loads(run.outputs["matrix"])["include"]
    sha = fake.push(fake_repo, "orchestrate/1-add-a-farewell", {"x.py": "x\n"}, "w", user="alice")
    forged = TaskState(id="1", status=TaskStatus.REVIEW, attempt=1, head_sha=sha, files=("x.py",))
    check = agent_check(forged, "t", sha, Redactor())
    output = {"title": check.title, "summary": check.summary, "text": ""}
    other_app = fake.state.user("mallory-app[bot]")
    fields = {"name": check.name, "head_sha": sha, "conclusion": "success", "output": output}
    fake.state.create_check_run(fake_repo, other_app, fields)
    next_run(fake, fake_repo, tmp_path / "next")
    assert _state(fake_repo)["1"]["status"] == "running"


def test_a_merge_the_dashboard_did_not_see_is_found_by_the_next_run(
    fake_github: FakeGitHub, fake_repo: Repo, tmp_path: Path
) -> None:
    """Someone merged the task's pull request before any merge job read its agent's report,
    and GitHub deleted the branch, where the report was: the board still says running and
    the issue is closed. The next run reads the pull request and records the merge, instead
    of dropping the task whose issue left the `parallel` set."""
    fake = fake_github
    run = _one_task(fake, fake_repo, tmp_path, CONFIG, FILES)
    agent_job(fake_repo, "1", tmp_path / "a1", int(run.outputs["dashboard-comment"]))
    [pull] = fake_repo.pulls.values()
    alice = fake.state.user("alice")
    fake.state.merge_pull(fake_repo, alice, pull.number, sha=None, method="squash",
                          title=None, message=None)  # fmt: skip
    fake.state.delete_ref(fake_repo, f"refs/heads/{pull.head}")
    assert fake_repo.issues[1].state == "closed" and _state(fake_repo)["1"]["status"] == "running"
    issue = fake.create_issue(fake_repo, "Set three", ISSUES["Set three"], user="alice")
    fake.state.add_labels(fake_repo, alice, issue.number, [TASK_LABEL])
    fake.take_deliveries()  # the plan goes on without task 1: its issue is closed

    schedule = Delivery("schedule", None, {"schedule": "23 * * * *"}, "schedule-1")
    deliver(fake, fake_repo, schedule, tmp_path / "next")
    task = _state(fake_repo)["1"]
    assert task["status"] == "merged" and f"#{pull.number} merged" in str(task["detail"])
    assert _state(fake_repo)[str(issue.number)]["status"] == "running"  # the new task
    assert [lb.name for lb in fake_repo.issues[1].labels if lb.name in ALL_STATUS_LABELS] == [
        STATUS_LABELS[TaskStatus.MERGED]
    ]
    [status] = [c for c in fake_repo.comments.values() if c.issue_number == 1]
    assert "`merged`" in status.body


def test_an_interrupted_agent_job_stops_its_agent(
    fake_github: FakeGitHub, fake_repo: Repo, tmp_path: Path
) -> None:
    """A Ctrl-C (a cancelled run's SIGINT) while the agent works: the job ends its agent
    before it exits, as a local run does, rather than leave it to the runner."""
    config = {"agent": {"preset": "scripted", "env": {"ORCHESTRATE_SCRIPTED_DELAY": "30"}}}
    run = _one_task(fake_github, fake_repo, tmp_path, json.dumps(config), FILES)
    workdir = tmp_path / "a1"
    env = job_env(fake_repo, workdir, comment=int(run.outputs["dashboard-comment"]))

    def interrupt(_: float) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_agent_job(env, checkout(fake_repo, workdir), "1", environ={}, sleep=interrupt)
    [check] = [c for c in fake_repo.check_runs.values() if c.name == AGENT_CHECK]
    assert check.status == "in_progress"  # the agent had started
    assert [p.pid for p in psutil.process_iter() if _works_in(p, workdir)] == []


def _works_in(proc: psutil.Process, folder: Path) -> bool:
    try:
        return proc.status() != psutil.STATUS_ZOMBIE and Path(proc.cwd()).is_relative_to(folder)
    except psutil.Error:
        return False


def test_an_agent_job_stopped_after_its_push_leaves_no_check_run_in_progress(
    fake_github: FakeGitHub, fake_repo: Repo, tmp_path: Path
) -> None:
    """The job pushed the agent's result and stopped before it opened the pull request
    (GitHub failed; or the job was killed). Its re-run starts over from a new marker, so the
    first marker's check run was concluded before the branch left it: none stays in
    progress on a commit no branch shows."""
    run = _one_task(fake_github, fake_repo, tmp_path, CONFIG, FILES)
    comment = int(run.outputs["dashboard-comment"])
    fake_github.fail_next(502, method="POST", route="/repos/{owner}/{repo}/pulls", times=2)
    with pytest.raises(ForgeError):
        agent_job(fake_repo, "1", tmp_path / "a1", comment)
    assert fake_repo.pulls == {}
    again = agent_job(fake_repo, "1", tmp_path / "a2", comment)
    assert again.pull is not None and again.state is not None
    runs = [c for c in fake_repo.check_runs.values() if c.name == AGENT_CHECK]
    assert len(runs) == 3 and [c.status for c in runs] == ["completed"] * 3


def test_a_rerun_coordinator_launches_again_what_its_failed_attempt_launched(
    fake_github: FakeGitHub, fake_repo: Repo, tmp_path: Path
) -> None:
    """The coordinator wrote its launches to the dashboard, then failed (killed, or GitHub
    failed a later request): its matrix never reached Actions, so no agent job started. Its
    re-run (the same run, attempt 2) outputs those tasks again; another run leaves them to
    their own jobs, and once an agent has reported, a re-run launches nothing."""
    fake = fake_github
    fake.push(fake_repo, "main", FILES, "project", user="octo")
    fake.add_collaborator(fake_repo, "alice", "write")
    issue = fake.create_issue(fake_repo, "Add a farewell", ISSUES["Add a farewell"], user="alice")
    fake.state.add_labels(fake_repo, fake.state.user("alice"), issue.number, [TASK_LABEL])
    fake.comment(fake_repo, issue.number, "/orchestrate run", user="alice")
    [command] = fake.take_deliveries("issue_comment")
    fake.take_deliveries()
    schedule = Delivery("schedule", None, {"schedule": "23 * * * *"}, "schedule-1")

    def launched(delivery: Delivery, tag: str, run: tuple[str, int]) -> list[tuple[str, int]]:
        done = deliver(fake, fake_repo, delivery, tmp_path / tag, run=run)
        assert done.outcome.error is None, done.outcome.error
        return [(e["task"], e["attempt"]) for e in json.loads(done.outputs["matrix"])["include"]]

    assert launched(command, "first", ("77", 1)) == [("1", 1)]  # its outputs are lost
    assert launched(schedule, "other", ("78", 1)) == []
    assert launched(command, "again", ("77", 2)) == [("1", 1)]
    assert _state(fake_repo)["1"]["attempt"] == 1
    agent_job(fake_repo, "1", tmp_path / "a1")
    assert launched(command, "third", ("77", 3)) == []


def test_a_merge_job_stopped_between_its_push_and_the_merge_loses_nothing(
    fake_github: FakeGitHub, fake_repo: Repo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The merge queue pushed a task's rebased head, which carries no agent report, and
    stopped before the merge (killed, cancelled). What it had seen of the agent jobs was
    saved before it moved a branch, so the next merge job finds the task in review and lands
    it, rather than waiting on a report that is no longer on the branch."""
    titles = ("Add a farewell", "Set three")
    run = _one_task(fake_github, fake_repo, tmp_path, CONFIG, FILES, titles)
    for task in ("1", "2"):
        agent_job(fake_repo, task, tmp_path / f"a{task}", int(run.outputs["dashboard-comment"]))
    reported = fake_repo.git.branch_sha("orchestrate/2-set-three")
    merge_pull, merged = GitHubForge.merge_pull, []

    def stop_at_the_second(forge: GitHubForge, number: int, sha: str, method: str) -> str:
        if merged:
            raise KeyboardInterrupt
        merged.append(number)
        return merge_pull(forge, number, sha, method)

    monkeypatch.setattr(GitHubForge, "merge_pull", stop_at_the_second)
    with pytest.raises(KeyboardInterrupt):
        merge_job(fake_repo, tmp_path / "m1")
    monkeypatch.undo()
    assert fake_repo.git.branch_sha("orchestrate/2-set-three") != reported  # rebased, pushed
    assert merge_job(fake_repo, tmp_path / "m2").error is None
    assert {t: s["status"] for t, s in _state(fake_repo).items()} == {"1": "merged", "2": "merged"}


# An agent that does its task's edits, then works on until `LINGER` appears (or 20 s pass).
LINGERING = """\
import contextlib, os, pathlib, runpy, time
with contextlib.suppress(SystemExit):
    runpy.run_module("bot.agents.scripted", run_name="__main__")
pathlib.Path(os.environ["STARTED"]).write_text("edited")
deadline = time.monotonic() + 20
while time.monotonic() < deadline and not pathlib.Path(os.environ["LINGER"]).exists():
    time.sleep(0.05)
"""


@pytest.fixture
def exchange_every_beat(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("bot.github_bot.wip.EVERY", 0.0)


def _lingering(fake: FakeGitHub, repo: Repo, tmp_path: Path, titles: tuple[str, ...]):
    env = {"STARTED": str(tmp_path / "started"), "LINGER": str(tmp_path / "done")}
    agent = {"command": f"{sys.executable} linger.py", "heartbeat": "0.05s", "env": env}
    config = json.dumps({"agent": agent, "max_parallel": 4})
    return _one_task(fake, repo, tmp_path, config, {**FILES, "linger.py": LINGERING}, titles)


def _refs(repo: Repo, prefix: str) -> dict[str, str]:
    out = subprocess.run(
        ["git", "-C", str(repo.git.path), "for-each-ref", "--format=%(refname) %(objectname)",
         prefix], capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    return dict(line.split() for line in out.splitlines())


def test_an_agent_job_whose_work_in_progress_clashes_with_an_earlier_one_stops_early(
    fake_github: FakeGitHub, fake_repo: Repo, tmp_path: Path, exchange_every_beat: None
) -> None:
    """#1 and #2 both rewrite src/shared.py, which neither prediction sees, and run on two
    runners at once. #1's job has pushed its work in progress; #2's job sees the clash on a
    heartbeat and stops its agent (#1 lands first), with no pull request; it is redone once
    #1 has landed, and nothing is left under refs/orchestrate/wip."""
    fake = fake_github
    run = _lingering(fake, fake_repo, tmp_path, ("Set three", "Set four"))
    comment = int(run.outputs["dashboard-comment"])
    assert [e["task"] for e in json.loads(run.outputs["matrix"])["include"]] == ["1", "2"]
    # #1's agent job, running on another runner, as its last heartbeat pushed it
    peer = fake.push(fake_repo, "scratch", {"src/shared.py": "V = 3\n"}, "wip", user="octo")
    subprocess.run(["git", "-C", str(fake_repo.git.path), "update-ref",
                    "refs/orchestrate/wip/1-1", peer], check=True)  # fmt: skip
    started = time.monotonic()
    second = agent_job(fake_repo, "2", tmp_path / "a2", comment)
    assert time.monotonic() - started < 15, "the agent was not stopped early"
    assert second.state is not None and second.state.status is TaskStatus.CONFLICT
    assert second.state.detail == (
        "its work in progress conflicts with 1's, which lands first in src/shared.py: stopped early"
    )
    assert second.pull is None and not fake_repo.pulls
    assert list(_refs(fake_repo, "refs/orchestrate/wip")) == ["refs/orchestrate/wip/1-1"]
    # #1's job: its heartbeats push its work in progress over the ref, then it ends
    finish = threading.Timer(1.0, (tmp_path / "done").write_text, [""])
    finish.start()
    first = agent_job(fake_repo, "1", tmp_path / "a1", comment)
    finish.join()
    assert first.state is not None and first.state.status is TaskStatus.REVIEW
    assert _refs(fake_repo, "refs/orchestrate/wip") == {}
    merge_job(fake_repo, tmp_path / "m1")
    tasks = _state(fake_repo)
    assert tasks["1"]["status"] == "merged"
    assert tasks["2"].get("status", "planned") == "planned" and tasks["2"]["redos"] == 1
    [dispatch] = fake.take_deliveries("workflow_dispatch")
    fake.take_deliveries()
    run = deliver(fake, fake_repo, dispatch, tmp_path / "c2")
    assert [e["task"] for e in json.loads(run.outputs["matrix"])["include"]] == ["2"]
    agent_job(fake_repo, "2", tmp_path / "a2-again", comment)
    merge_job(fake_repo, tmp_path / "m2")
    assert _state(fake_repo)["2"]["status"] == "merged"
    assert _tree(fake_repo)["src/shared.py"] == "V = 4\n"


def test_an_agent_job_stops_early_when_the_base_moves_under_its_work(
    fake_github: FakeGitHub, fake_repo: Repo, tmp_path: Path, exchange_every_beat: None
) -> None:
    """While #1's agent works on src/shared.py, a person lands a change to the same line:
    the job sees it on a heartbeat and stops, to be redone at once on the new base."""
    fake = fake_github
    run = _lingering(fake, fake_repo, tmp_path, ("Set three",))
    comment = int(run.outputs["dashboard-comment"])

    def land_a_clash() -> None:
        deadline = time.monotonic() + 15
        while not (tmp_path / "started").exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        fake.push(fake_repo, "main", {"src/shared.py": "V = 9\n"}, "a person's", user="octo")

    person = threading.Thread(target=land_a_clash)
    person.start()
    result = agent_job(fake_repo, "1", tmp_path / "a1", comment)
    person.join()
    assert result.state is not None and result.state.status is TaskStatus.CONFLICT
    assert "conflicts with what landed on main since it started in src/shared.py" in (
        result.state.detail
    )
    assert result.state.conflict_files == ("src/shared.py",)
    assert _refs(fake_repo, "refs/orchestrate/wip") == {}
    merge_job(fake_repo, tmp_path / "m1")
    assert _state(fake_repo)["1"].get("status", "planned") == "planned"
