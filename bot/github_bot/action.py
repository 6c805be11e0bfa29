"""The GitHub jobs inside Actions: read the environment, build the job's context, write
`$GITHUB_OUTPUT` and `$GITHUB_STEP_SUMMARY`. Everything written is redacted first.

- `run_event`: the coordinator (`orchestrate event`): handle the event, output the matrix;
- `run_merge`: the merge-queue job (`orchestrate merge --github`): land what is ready, in
  plan order, and continue the loop by dispatch while tasks remain;
- the agent job (`orchestrate agent --task N`) is `bot.github_bot.agent_job`.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.analysis import RepoSnapshot
from bot.config import Config, ConfigError, load_config, with_default_base
from bot.forge.base import ForgeError
from bot.forge.github import DEFAULT_API, GitHubForge, connect
from bot.github_bot.board import find_home, load_board, view_of
from bot.github_bot.context import Context, Outcome
from bot.github_bot.lander import PullLander
from bot.github_bot.orchestration import NEXT_RUN, publish, reconcile, relaunch
from bot.github_bot.routes import handle_event
from bot.gitops import GitError, GitRepo, auth_env
from bot.models import TaskStatus
from bot.redact import Redactor
from bot.render.dashboard import job_summary
from bot.snapshot import SnapshotError, load_snapshot, plan_risk


class ActionError(Exception):
    """The Actions environment lacks something `orchestrate event` needs."""


@dataclass(frozen=True)
class ActionsEnv:
    event_name: str
    event_path: Path
    repository: str
    token: str
    api_url: str = DEFAULT_API
    server_url: str = "https://github.com"
    output_path: Path | None = None
    summary_path: Path | None = None
    bot_login: str | None = None
    workflow: str | None = None  # this run's workflow file, to dispatch it again
    dashboard_comment: int | None = None  # the coordinator's output, for agent jobs
    run_id: str = ""  # GITHUB_RUN_ID: the workflow run, the same in each of its attempts
    run_attempt: int = 1  # GITHUB_RUN_ATTEMPT: 2 and on are re-runs

    @classmethod
    def from_env(cls, env: Mapping[str, str], needs_event: bool = True) -> ActionsEnv:
        required: tuple[str, ...] = ("GITHUB_REPOSITORY", "GITHUB_TOKEN")
        if needs_event:
            required = ("GITHUB_EVENT_NAME", "GITHUB_EVENT_PATH", *required)
        missing = [name for name in required if not env.get(name)]
        if missing:
            raise ActionError(
                "missing environment variables: " + ", ".join(missing) + " (run this inside "
                "a GitHub Actions job, with the token in GITHUB_TOKEN)"
            )
        output, summary = env.get("GITHUB_OUTPUT"), env.get("GITHUB_STEP_SUMMARY")
        workflow_ref = env.get("GITHUB_WORKFLOW_REF") or ""
        workflow = workflow_ref.split("@", 1)[0].rsplit("/", 1)[-1] or None
        return cls(
            event_name=env.get("GITHUB_EVENT_NAME", ""),
            event_path=Path(env.get("GITHUB_EVENT_PATH", "")),
            repository=env["GITHUB_REPOSITORY"],
            token=env["GITHUB_TOKEN"],
            api_url=env.get("GITHUB_API_URL") or DEFAULT_API,
            server_url=env.get("GITHUB_SERVER_URL") or "https://github.com",
            output_path=Path(output) if output else None,
            summary_path=Path(summary) if summary else None,
            bot_login=env.get("ORCHESTRATE_BOT_LOGIN") or None,
            workflow=workflow if workflow and workflow.endswith((".yml", ".yaml")) else None,
            dashboard_comment=_number(env.get("ORCHESTRATE_DASHBOARD_COMMENT")),
            run_id=env.get("GITHUB_RUN_ID", ""),
            run_attempt=_number(env.get("GITHUB_RUN_ATTEMPT")) or 1,
        )


def _number(text: str | None) -> int | None:
    return int(text) if text and text.strip().isdigit() else None


def _snapshot_loader(repo_dir: Path, base: str) -> Callable[[], RepoSnapshot]:
    def load() -> RepoSnapshot:
        for revision in (base, f"origin/{base}", "HEAD"):
            try:
                return load_snapshot(repo_dir, revision)
            except SnapshotError:
                continue
        return RepoSnapshot(files=())  # no checkout: footprints come from `files:` blocks only

    return load


def _config(repo_dir: Path) -> tuple[Config, str | None]:
    try:
        config, problem = load_config(repo_dir)[0], None
    except ConfigError as exc:
        config, problem = Config(), f"config ignored, defaults used: {exc}"
    try:
        checkout = GitRepo(repo_dir)
        detected, exists = checkout.default_branch(), checkout.has_branch(config.base)
    except GitError:
        detected, exists = None, True  # no checkout: the config's base, or main
    config, chosen = with_default_base(config, detected, exists)
    return config, "; ".join(note for note in (problem, chosen) if note) or None


def outputs(outcome: Outcome, requests: int, max_parallel: int = 1) -> dict[str, str]:
    board = outcome.board
    return {
        "matrix": json.dumps({"include": outcome.launch}, separators=(",", ":")),
        "max-parallel": str(max_parallel),
        "launch": "true" if outcome.launch else "false",
        "merge": outcome.merge or "",
        "dashboard": str(board.home) if board is not None else "",
        "dashboard-comment": str(board.comment.id) if board and board.comment else "",
        "requests": str(requests),
        "error": "true" if outcome.error else "false",
    }


def _append(path: Path | None, text: str) -> None:
    if path is not None:
        with path.open("a", encoding="utf-8") as handle:
            handle.write(text)


def job_context(
    env: ActionsEnv,
    repo_dir: Path,
    *,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.time,
    environ: Mapping[str, str] | None = None,
) -> tuple[Context, GitHubForge, str | None]:
    """What every GitHub job works with: the forge, the config (a bad one is reported and the
    defaults used), the redactor, the clock. Returns (context, forge, config problem). A
    folder that is not a checkout is allowed (checks rest on the API); one that is not there
    is a mistake in the workflow."""
    if not repo_dir.is_dir():
        raise ActionError(f"{repo_dir}: no such directory")
    config, config_problem = _config(repo_dir)
    secrets = {*config.agent.secrets, "GITHUB_TOKEN"}
    values = {**(os.environ if environ is None else environ), "GITHUB_TOKEN": env.token}
    redact = Redactor.from_env(sorted(secrets), values)
    forge = connect(
        env.token, env.repository, api_url=env.api_url, bot_login=env.bot_login, sleep=sleep
    )
    try:
        checkout: GitRepo | None = GitRepo(repo_dir)
    except GitError:
        checkout = None  # no checkout: checks rest on what the API says
    ctx = Context(
        forge=forge,
        config=config,
        snapshot=_snapshot_loader(repo_dir, config.base),
        risk=lambda snapshot: plan_risk(repo_dir, snapshot, config),
        redact=redact,
        now=clock(),
        web_url=env.server_url.rstrip("/"),
        repository=env.repository,
        checkout=checkout,
        git_env=auth_env(env.token, env.server_url),
        run=env.run_id,
    )
    return ctx, forge, config_problem


def finish(
    env: ActionsEnv, ctx: Context, forge: GitHubForge, outcome: Outcome, problem: str | None
) -> dict[str, str]:
    """Write the job's outputs and summary (redacted); returns the outputs."""
    redact = ctx.redact
    if problem:
        outcome.note(problem)
    outcome.messages = [redact(message) for message in outcome.messages]
    written = outputs(outcome, forge.request_count, ctx.config.max_parallel)
    _append(env.output_path, "".join(f"{k}={redact(v)}\n" for k, v in written.items()))
    messages = [*outcome.messages, *([f"error: {outcome.error}"] if outcome.error else [])]
    view = view_of(outcome.board) if outcome.board is not None else None
    summary = job_summary(outcome.event, messages, view, forge.request_count, forge.http.waited)
    _append(env.summary_path, redact(summary))
    return written


def run_event(
    env: ActionsEnv,
    repo_dir: Path,
    *,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.time,
    environ: Mapping[str, str] | None = None,
) -> tuple[Outcome, dict[str, str]]:
    """Handle the event of `env`; write outputs and summary; returns (outcome, outputs)."""
    try:
        payload: Any = json.loads(env.event_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ActionError(f"{env.event_path}: cannot read the event payload: {exc}") from None
    ctx, forge, problem = job_context(env, repo_dir, sleep=sleep, clock=clock, environ=environ)
    outcome = handle_event(ctx, env.event_name, payload if isinstance(payload, dict) else {})
    if env.run_attempt > 1 and env.run_id and outcome.error is None:
        try:
            relaunch(ctx, outcome)
        except ForgeError as exc:
            outcome.error = ctx.redact(f"GitHub request failed: {exc}")
    return outcome, finish(env, ctx, forge, outcome, problem)


def run_merge(
    env: ActionsEnv,
    repo_dir: Path,
    *,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.time,
    environ: Mapping[str, str] | None = None,
) -> tuple[Outcome, dict[str, str]]:
    """The merge-queue job: observe, land in plan order what is ready, write the board back,
    and dispatch the workflow again when tasks became ready to start (events caused with
    GITHUB_TOKEN start no workflow, so the loop continues by dispatch)."""
    ctx, forge, problem = job_context(env, repo_dir, sleep=sleep, clock=clock, environ=environ)
    outcome = Outcome(event="merge queue")
    try:
        merge_queue(ctx, env, GitRepo(repo_dir), outcome, sleep)
    except ForgeError as exc:
        outcome.error = ctx.redact(f"GitHub request failed: {exc}")
    except GitError as exc:
        outcome.error = ctx.redact(f"git: {exc}")
    return outcome, finish(env, ctx, forge, outcome, problem)


RETRY_WAIT = 300.0  # the merge job waits this long at most for a retry to come due


def merge_queue(
    ctx: Context,
    env: ActionsEnv,
    repo: GitRepo,
    outcome: Outcome,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    home = find_home(ctx.forge, None, create=False)
    if home is None:
        outcome.note("no dashboard yet; nothing to merge")
        return
    board = load_board(ctx.forge, home)
    repo.ignore_state_dir()
    repo.union_merge(ctx.config.merge.union_files)
    git_env = auth_env(env.token, env.server_url)
    log_dir = repo.state_dir / "merge"
    lander = PullLander(ctx.forge, repo, ctx.config, board, git_env, log_dir, ctx.redact)
    decision = reconcile(ctx, board, outcome, lander=lander, launching=False)
    publish(ctx, board, outcome)
    if decision is None or not board.state.running:
        return
    ready = [t for t, why in decision.waiting.items() if why == NEXT_RUN]
    due = [
        s.retry_at
        for s in board.state.tasks.values()
        if s.status is TaskStatus.PLANNED and s.retry_at
    ]
    if not ready and due and 0 < min(due) - ctx.now <= RETRY_WAIT:
        sleep(min(due) - ctx.now)  # nothing else would start the retry before the next event
        ready = [t for t, s in board.state.tasks.items() if s.retry_at == min(due)]
    if ready and env.workflow:
        ctx.forge.dispatch_workflow(env.workflow, ctx.config.base, {})
        outcome.note("dispatched the workflow again to start " + ", ".join(f"#{t}" for t in ready))
    elif ready:
        outcome.note("tasks are ready but the workflow file is unknown (GITHUB_WORKFLOW_REF)")
