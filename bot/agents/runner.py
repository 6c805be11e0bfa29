"""Start an agent for a task in its checkout: resolve the command, write its brief, launch it."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import psutil
from pydantic import ValidationError

from bot import crashpoints, process
from bot.agents.presets import AgentError, argv_template, preset_of
from bot.config import AgentConfig
from bot.inputs import field_problem
from bot.models import Task


@dataclass(frozen=True)
class Brief:
    task_file: Path
    prompt_file: Path
    log: Path


def agent_for(default: AgentConfig, task: Task) -> AgentConfig:
    """The agent config in force for `task`: the default with the task's overrides applied."""
    if not task.agent:
        return default
    try:
        return AgentConfig.model_validate({**default.model_dump(), **task.agent})
    except ValidationError as exc:
        raise AgentError(f"{task.source}: agent.{field_problem(exc)}") from None


def check_agent(agent: AgentConfig, repo_root: Path) -> None:
    """Fail early, before any state changes, when the agent's program cannot be found."""
    preset = preset_of(agent)
    program = argv_template(agent)[0]
    if "/" in program:
        found = (repo_root / program).exists() or Path(program).exists()
    else:
        found = shutil.which(program) is not None
    if not found:
        hint = (
            "agent.command"
            if preset.name == "command"
            else f"preset {preset.name}; install it with: {preset.installs}"
        )
        raise AgentError(f"agent command not found: '{program}' ({hint})")


INSTALL_TIMEOUT = 600.0


def install_agent(
    agent: AgentConfig, repo_root: Path, log: Path, redact: Callable[[str], str] = str
) -> str | None:
    """Install the preset's program where it is missing (a fresh Actions runner): its own
    installer (npm, pip), never through a shell. None when it can be started now, else why
    not (one line)."""
    try:
        check_agent(agent, repo_root)
        return None
    except AgentError as missing:
        preset = preset_of(agent)
        installer = shlex.split(preset.installs)
        if preset.name == "command" or not installer or installer[0] not in ("npm", "pip"):
            return str(missing)
        if installer[0] == "pip":
            installer = [sys.executable, "-m", *installer]
        log.unlink(missing_ok=True)
        ran = process.run(installer, repo_root, agent_environment(os.environ), log, INSTALL_TIMEOUT)
        process.mask_file(log, redact)
        if ran.returncode != 0:
            return f"{missing}; `{preset.installs}` failed: {process.tail(log, lines=3)}"
    try:
        check_agent(agent, repo_root)
    except AgentError as still:
        return str(still)
    return None


def argv_for(agent: AgentConfig, brief: Brief, task: Task, checkout: Path) -> list[str]:
    values = {
        "prompt_file": str(brief.prompt_file),
        "task_file": str(brief.task_file),
        "task_id": task.id,
        "worktree": str(checkout),
    }
    argv = argv_template(agent)
    for key, value in values.items():
        argv = [arg.replace("{" + key + "}", value) for arg in argv]
    return argv


def write_brief(run_dir: Path, document: Mapping[str, object], prompt: str) -> Brief:
    """The task file and prompt sit outside the checkout, so they are never committed."""
    run_dir.mkdir(parents=True, exist_ok=True)
    brief = Brief(run_dir / "task.json", run_dir / "prompt.md", run_dir / "agent.log")
    brief.task_file.write_text(json.dumps(document, indent=2) + "\n")
    brief.prompt_file.write_text(prompt)
    return brief


# What orchestrate itself holds and an agent must never get (unless `agent.env` names it):
# the forge token and the Actions runtime's tokens (an agent must not move refs on GitHub),
# and git settings that carry the token's header.
WITHHELD = (
    "GITHUB_TOKEN",
    "GH_TOKEN",
    "ACTIONS_RUNTIME_TOKEN",
    "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
    crashpoints.VARIABLE,
)


def agent_environment(base: Mapping[str, str], checkout: Path | None = None) -> dict[str, str]:
    """The environment an agent (or the code under test) inherits: orchestrate's own, minus
    what it must not see. In a task's `checkout`, git never looks for a repository above it,
    so git commands there reach no other repository, even once the checkout's `.git` is gone
    (checkouts lie inside the user's `.orchestrate/`)."""
    env = {
        name: value
        for name, value in base.items()
        if name not in WITHHELD and not name.startswith(("GIT_CONFIG_", "GIT_CEILING_"))
    }
    if checkout is not None:
        env["GIT_CEILING_DIRECTORIES"] = str(checkout.resolve().parent)
    return env


def slot_environment(agent: AgentConfig, task: Task, slot: int) -> dict[str, str]:
    """What tells agents running side by side apart: their slot (0 .. max_parallel-1), a
    block of ports of their own, and `agent.env` with `{slot}`, `{port_base}`, `{task_id}`
    filled in (a database or a directory per slot)."""
    port_base = agent.port_base + slot * agent.ports_per_slot
    values = {"slot": str(slot), "port_base": str(port_base), "task_id": task.id}
    env = {}
    for name, template in agent.env.items():
        for key, value in values.items():
            template = template.replace("{" + key + "}", value)
        env[name] = template
    return {**env, "ORCHESTRATE_SLOT": str(slot), "ORCHESTRATE_PORT_BASE": str(port_base)}


def launch(
    agent: AgentConfig, task: Task, checkout: Path, brief: Brief, slot: int = 0
) -> psutil.Popen:
    env = {
        **agent_environment(os.environ, checkout),
        **slot_environment(agent, task, slot),
        "ORCHESTRATE_TASK_ID": task.id,
        "ORCHESTRATE_TASK_FILE": str(brief.task_file),
        "ORCHESTRATE_PROMPT_FILE": str(brief.prompt_file),
        "ORCHESTRATE_WORKTREE": str(checkout),
    }
    argv = argv_for(agent, brief, task, checkout)
    stdin = brief.prompt_file if preset_of(agent).prompt_on_stdin else None
    try:
        return process.start(argv, checkout, env, brief.log, stdin=stdin)
    except FileNotFoundError:
        raise AgentError(f"agent command not found: '{argv[0]}'") from None
    except PermissionError:
        raise AgentError(f"agent command is not executable: '{argv[0]}'") from None
