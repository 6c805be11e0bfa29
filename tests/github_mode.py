"""GitHub-mode test helpers: deliver a fake webhook to `orchestrate event`, snapshot the fake."""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fakegithub import Delivery, FakeGitHub, Repo

from bot.github_bot.action import ActionsEnv, run_event, run_merge
from bot.github_bot.agent_job import AgentJobResult, run_agent_job
from bot.github_bot.checks import agent_check
from bot.github_bot.context import Outcome
from bot.models import TaskState, TaskStatus
from bot.redact import Redactor

BOT_TOKEN = "bot-token-not-a-secret-1234"
WORKFLOW = ".github/workflows/orchestrate.yml"


@dataclass
class Run:
    outcome: Outcome
    outputs: dict[str, str]
    summary: str
    requests: int  # as counted by the bot
    served: int  # as counted by the fake
    slept: list[float]


NOW = 1_700_000_000.0  # the coordinator's clock in these tests, unless a test moves it


def deliver(
    fake: FakeGitHub,
    repo: Repo,
    delivery: Delivery,
    workdir: Path,
    *,
    tag: str = "run",
    now: float = NOW,
    run: tuple[str, int] = ("", 1),
) -> Run:
    """Run `orchestrate event` on one delivery, as the workflow would; `run`: the Actions
    run's id and attempt (GITHUB_RUN_ID, GITHUB_RUN_ATTEMPT)."""
    workdir.mkdir(parents=True, exist_ok=True)
    event_path = workdir / f"{tag}-event.json"
    event_path.write_text(json.dumps(delivery.payload))
    output, summary = workdir / f"{tag}-output.txt", workdir / f"{tag}-summary.md"
    output.write_text("")
    summary.write_text("")
    env = ActionsEnv(
        event_name=delivery.event,
        event_path=event_path,
        repository=repo.full_name,
        token=BOT_TOKEN,
        output_path=output,
        summary_path=summary,
        bot_login=fake.bot.login,  # the workflow names it (GITHUB_TOKEN cannot ask)
        run_id=run[0],
        run_attempt=run[1],
    )
    slept: list[float] = []
    before = fake.total_requests
    outcome, outputs = run_event(
        env,
        checkout(repo, workdir, f"{tag}-checkout"),  # as the coordinator job has one
        sleep=slept.append,
        clock=lambda: now,
        environ={},
    )
    return Run(
        outcome,
        outputs,
        summary.read_text(),
        int(outputs["requests"]),
        fake.total_requests - before,
        slept,
    )


def deliver_all(fake: FakeGitHub, repo: Repo, workdir: Path) -> list[Run]:
    """Deliver every pending webhook (the bot's own included, which it must ignore)."""
    runs = []
    for index, delivery in enumerate(fake.take_deliveries()):
        runs.append(deliver(fake, repo, delivery, workdir, tag=f"d{index}"))
    fake.take_deliveries()  # what the bot caused: GitHub would not start a workflow for these
    return runs


def observed(repo: Repo) -> dict[str, Any]:
    """Everything a user could see change on the repo."""
    return {
        "issues": {
            n: (i.state, i.title, sorted(lb.name for lb in i.labels))
            for n, i in repo.issues.items()
        },
        "comments": {
            c.id: (c.issue_number, c.user.login, c.body, c.updated_at)
            for c in repo.comments.values()
        },
        "reactions": {
            c.id: sorted((r.content, r.user.login) for r in c.reactions)
            for c in repo.comments.values()
        },
        "dispatches": len(repo.dispatches),
        "check_runs": len(repo.check_runs),
    }


def agent_job_done(
    fake: FakeGitHub, repo: Repo, branch: str, files: dict[str, str], attempt: int = 1
) -> str:
    """What a finished agent job leaves behind, written directly: its branch, its pull request,
    and its `orchestrate/agent` check run with the report the coordinator reads."""
    sha = fake.push(repo, branch, files, "agent work", user="alice")
    alice = fake.state.user("alice")
    fake.state.create_pull(repo, alice, title=branch, head=branch, base="main", body=None)
    task_id = branch.split("/")[1].split("-")[0]
    done = TaskState(
        id=task_id,
        status=TaskStatus.REVIEW,
        attempt=attempt,
        head_sha=sha,
        files=tuple(sorted(files)),
    )
    check = agent_check(done, branch, sha, Redactor())
    output = {"title": check.title, "summary": check.summary, "text": check.text}
    fields = {"name": check.name, "head_sha": sha, "conclusion": "success", "output": output}
    fake.state.create_check_run(repo, fake.bot, fields)
    return sha


def next_run(fake: FakeGitHub, repo: Repo, workdir: Path) -> Run:
    """The bot's own loop continues (a `workflow_dispatch`): what agent jobs wrote with
    GITHUB_TOKEN started no workflow, so the coordinator learns it on its next run."""
    if not any(w.path == WORKFLOW for w in repo.workflows.values()):
        fake.add_workflow(repo, WORKFLOW, "orchestrate")
    fake.take_deliveries()
    fake.state.dispatch(repo, fake.bot, WORKFLOW, repo.default_branch, {})
    [delivery] = fake.take_deliveries("workflow_dispatch")
    return deliver(fake, repo, delivery, workdir, tag="dispatch")


def checkout(repo: Repo, workdir: Path, name: str = "checkout") -> Path:
    """What actions/checkout leaves a job: a fresh clone of the default branch, origin set."""
    target = workdir / name
    shutil.rmtree(target, ignore_errors=True)  # a repeated delivery: a fresh checkout again
    subprocess.run(
        ["git", "clone", "--quiet", str(repo.git.path), str(target)],
        check=True,
        capture_output=True,
    )
    for key, value in (("user.name", "runner"), ("user.email", "runner@example.com")):
        subprocess.run(["git", "-C", str(target), "config", key, value], check=True)
    return target


def job_env(
    repo: Repo, workdir: Path, workflow: str | None = WORKFLOW, comment: int | None = None
) -> ActionsEnv:
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "output.txt").write_text("")
    (workdir / "summary.md").write_text("")
    return ActionsEnv(
        event_name="",
        event_path=Path(),
        repository=repo.full_name,
        token=BOT_TOKEN,
        output_path=workdir / "output.txt",
        summary_path=workdir / "summary.md",
        workflow=workflow.rsplit("/", 1)[-1] if workflow else None,
        bot_login="orchestrate-bot[bot]",  # the workflow names it (GITHUB_TOKEN cannot ask)
        dashboard_comment=comment,
    )


def agent_job(repo: Repo, task: str, workdir: Path, comment: int | None = None) -> AgentJobResult:
    """One matrix leg: `orchestrate agent --task N` in its own fresh checkout; `comment` is
    the dashboard comment the coordinator output."""
    env = job_env(repo, workdir, comment=comment)
    return run_agent_job(env, checkout(repo, workdir), task, environ={}, poll_seconds=0.05)


def merge_job(repo: Repo, workdir: Path) -> Outcome:
    """The merge-queue job, in its own fresh checkout."""
    env = job_env(repo, workdir)
    outcome, _ = run_merge(env, checkout(repo, workdir), sleep=lambda _: None, environ={})
    return outcome
