"""Agent presets: the command line, how the prompt is given, how output is read, what secrets
each needs. The prompt always travels in a file or on stdin, never on the command line."""

from __future__ import annotations

import shlex
import sys
from dataclasses import dataclass
from typing import Literal

from bot.config import AgentConfig


class AgentError(Exception):
    """An agent that cannot be started; the message says which and why."""


@dataclass(frozen=True)
class Preset:
    name: str
    argv: tuple[str, ...]
    prompt_on_stdin: bool
    output: Literal["claude-stream-json", "plain"]
    secrets: tuple[str, ...]
    installs: str


PRESETS: dict[str, Preset] = {
    "claude": Preset(
        "claude",
        (
            "claude",
            "-p",
            "--output-format",
            "stream-json",
            "--verbose",
            "--permission-mode",
            "acceptEdits",
        ),
        prompt_on_stdin=True,
        output="claude-stream-json",
        secrets=("ANTHROPIC_API_KEY", "CLAUDE_CODE_OAUTH_TOKEN"),
        installs="npm install -g @anthropic-ai/claude-code",
    ),
    "codex": Preset(
        "codex",
        ("codex", "exec", "--full-auto"),
        prompt_on_stdin=True,
        output="plain",
        secrets=("OPENAI_API_KEY", "CODEX_API_KEY"),
        installs="npm install -g @openai/codex",
    ),
    "aider": Preset(
        "aider",
        ("aider", "--yes-always", "--no-auto-commits", "--message-file", "{prompt_file}"),
        prompt_on_stdin=False,
        output="plain",
        secrets=("ANTHROPIC_API_KEY", "OPENAI_API_KEY"),
        installs="pip install aider-chat",
    ),
    "gemini": Preset(
        "gemini",
        ("gemini", "--approval-mode", "yolo", "-p", "Carry out the task described above."),
        prompt_on_stdin=True,
        output="plain",
        secrets=("GEMINI_API_KEY",),
        installs="npm install -g @google/gemini-cli",
    ),
    "scripted": Preset(
        "scripted",
        (sys.executable, "-P", "-m", "bot.agents.scripted"),
        prompt_on_stdin=False,
        output="plain",
        secrets=(),
        installs="bundled with orchestrate",
    ),
}


def preset_of(agent: AgentConfig) -> Preset:
    if agent.preset != "command":
        return PRESETS[agent.preset]
    if not agent.command:
        raise AgentError("agent.command is required with preset 'command'")
    try:
        argv = shlex.split(agent.command)
    except ValueError as exc:
        raise AgentError(f"agent.command cannot be parsed: {exc}") from None
    if not argv:
        raise AgentError("agent.command is empty")
    return Preset("command", tuple(argv), False, "plain", (), "your own command")


def argv_template(agent: AgentConfig) -> list[str]:
    """The full command line before `{placeholders}` are filled in."""
    preset = preset_of(agent)
    argv = list(preset.argv)
    if preset.name == "claude":
        argv += ["--max-turns", str(agent.max_turns)]
    if agent.model and preset.name in ("claude", "codex", "aider", "gemini"):
        argv += ["--model", agent.model]
    if preset.name == "codex":
        argv.append("-")  # read the prompt from stdin
    return argv + list(agent.extra_args)
