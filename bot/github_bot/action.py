"""`orchestrate event` inside GitHub Actions: read the event from the environment, handle it,
write `$GITHUB_OUTPUT` and `$GITHUB_STEP_SUMMARY`. Everything written is redacted first."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.analysis import RepoSnapshot
from bot.config import Config, ConfigError, load_config
from bot.forge.github import DEFAULT_API, connect
from bot.github_bot.board import view_of
from bot.github_bot.context import Context, Outcome
from bot.github_bot.routes import handle_event
from bot.redact import Redactor
from bot.render.dashboard import job_summary
from bot.snapshot import SnapshotError, load_snapshot, plan_threshold


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

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> ActionsEnv:
        required = ("GITHUB_EVENT_NAME", "GITHUB_EVENT_PATH", "GITHUB_REPOSITORY", "GITHUB_TOKEN")
        missing = [name for name in required if not env.get(name)]
        if missing:
            raise ActionError("missing environment variables: " + ", ".join(missing))
        output, summary = env.get("GITHUB_OUTPUT"), env.get("GITHUB_STEP_SUMMARY")
        return cls(
            event_name=env["GITHUB_EVENT_NAME"],
            event_path=Path(env["GITHUB_EVENT_PATH"]),
            repository=env["GITHUB_REPOSITORY"],
            token=env["GITHUB_TOKEN"],
            api_url=env.get("GITHUB_API_URL") or DEFAULT_API,
            server_url=env.get("GITHUB_SERVER_URL") or "https://github.com",
            output_path=Path(output) if output else None,
            summary_path=Path(summary) if summary else None,
            bot_login=env.get("ORCHESTRATE_BOT_LOGIN") or None,
        )


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
        return load_config(repo_dir)[0], None
    except ConfigError as exc:
        return Config(), f"config ignored, defaults used: {exc}"


def outputs(outcome: Outcome, requests: int) -> dict[str, str]:
    board = outcome.board
    return {
        "matrix": json.dumps({"include": outcome.launch}, separators=(",", ":")),
        "launch": "true" if outcome.launch else "false",
        "merge": outcome.merge or "",
        "dashboard": str(board.home) if board is not None else "",
        "requests": str(requests),
        "error": "true" if outcome.error else "false",
    }


def _append(path: Path | None, text: str) -> None:
    if path is not None:
        with path.open("a", encoding="utf-8") as handle:
            handle.write(text)


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
    config, config_problem = _config(repo_dir)
    secrets = {*config.agent.secrets, "GITHUB_TOKEN"}
    values = {**(os.environ if environ is None else environ), "GITHUB_TOKEN": env.token}
    redact = Redactor.from_env(sorted(secrets), values)
    forge = connect(
        env.token, env.repository, api_url=env.api_url, bot_login=env.bot_login, sleep=sleep
    )
    ctx = Context(
        forge=forge,
        config=config,
        snapshot=_snapshot_loader(repo_dir, config.base),
        threshold=lambda snapshot: plan_threshold(repo_dir, snapshot, config),
        redact=redact,
        now=clock(),
        web_url=env.server_url.rstrip("/"),
        repository=env.repository,
    )
    outcome = handle_event(ctx, env.event_name, payload if isinstance(payload, dict) else {})
    if config_problem:
        outcome.note(config_problem)
    outcome.messages = [redact(message) for message in outcome.messages]
    written = outputs(outcome, forge.request_count)
    _append(env.output_path, "".join(f"{k}={redact(v)}\n" for k, v in written.items()))
    messages = [*outcome.messages, *([f"error: {outcome.error}"] if outcome.error else [])]
    view = view_of(outcome.board) if outcome.board is not None else None
    summary = job_summary(outcome.event, messages, view, forge.request_count, forge.http.waited)
    _append(env.summary_path, redact(summary))
    return outcome, written
