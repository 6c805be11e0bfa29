"""`orchestrate init`: what it writes into a repository, and what it tells the user to do next.

The caller workflow stays short: everything else lives in orchestrate's reusable workflow,
pinned to one commit (both in `uses:` and in `orchestrate-ref`, so the workflow and the code
it installs are the same version).
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from bot.agents.presets import PRESETS
from bot.config import CONFIG_PATH

HOME = "orchestrate-dev/orchestrate"  # where orchestrate is published
WORKFLOW_PATH = Path(".github/workflows/orchestrate.yml")
_SOURCE = re.compile(r"^[\w.-]+/[\w.-]+@[\w./-]+$")
_SHA = re.compile(r"^[0-9a-f]{40}$")

CALLER = """\
# Parallel coding agents from issues labeled `parallel` (https://github.com/{repo})
name: orchestrate
on:
  issues: {{types: [labeled, unlabeled, edited, closed]}}
  issue_comment: {{types: [created]}} # zizmor: ignore[dangerous-triggers] commands only, no PR code runs
  pull_request: {{types: [opened, synchronize, reopened, closed]}} # every pull request gets the overlap check
  workflow_dispatch: # the bot continues its own loop with it
  schedule: [{{cron: "23 * * * *"}}] # hourly: finds lost agent jobs, retries that came due
permissions: {{}}
jobs:
  orchestrate:
    uses: {repo}/.github/workflows/orchestrate.yml@{ref}
    with: {{orchestrate-ref: {ref}{repository}}}
    permissions: {{contents: write, issues: write, pull-requests: write, checks: write, actions: write}} # each job narrows its own
    secrets: inherit # zizmor: ignore[secrets-inherit] agents need their API keys
"""

CONFIG = """\
# orchestrate settings. Every key is optional; all of them: docs/configuration.md
base: {base}
max_parallel: 4 # agent jobs at once
agent:
  preset: {preset} # claude, codex, aider, gemini, or command (with command: "...")
  # timeout: 30m
  # retries: 2
merge:
  method: squash # or rebase, merge
  {test_line}
"""


class InitError(Exception):
    """`orchestrate init` cannot write what it was asked to (one line, with the way out)."""


@dataclass(frozen=True)
class Written:
    files: tuple[Path, ...]
    next_steps: tuple[str, ...]


def default_source() -> str:
    """This orchestrate's own commit when it runs from a git checkout, else its version tag."""
    root = Path(__file__).resolve().parents[1]
    try:
        sha = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        sha = ""
    if _SHA.match(sha) and (root / "action.yml").exists():
        return f"{HOME}@{sha}"
    return f"{HOME}@v{metadata.version('orchestrate')}"


def caller_workflow(source: str) -> str:
    if not _SOURCE.match(source):
        raise InitError(f"--source {source!r}: expected OWNER/REPO@REF (a commit SHA is best)")
    repo, ref = source.split("@", 1)
    repository = "" if repo == HOME else f", orchestrate-repository: {repo}"  # a fork
    return CALLER.format(repo=repo, ref=ref, repository=repository)


def config_file(base: str, preset: str, test_command: str | None) -> str:
    if preset not in PRESETS:
        names = ", ".join(sorted(PRESETS))
        raise InitError(f"--agent {preset!r}: not a preset (choose one of {names})")
    test_line = (
        f"test_command: {_yaml_string(test_command)} # on the rebased result; red never merges"
        if test_command
        else '# test_command: "pip install -q -e . && pytest -q" # in a fresh checkout; red never merges'
    )
    return CONFIG.format(base=base, preset=preset, test_line=test_line)


def _yaml_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def init(
    root: Path,
    *,
    base: str,
    preset: str,
    test_command: str | None,
    source: str,
    force: bool = False,
) -> Written:
    """Write the caller workflow and the config into `root`; nothing is written if either
    exists already (unless `force`)."""
    files = {
        root / WORKFLOW_PATH: caller_workflow(source),
        root / CONFIG_PATH: config_file(base, preset, test_command),
    }
    existing = [path for path in files if path.exists()]
    if existing and not force:
        raise InitError(
            f"{existing[0]} exists already; nothing was written (use --force to replace it)"
        )
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return Written(tuple(files), _next_steps(preset, source))


def _next_steps(preset: str, source: str) -> tuple[str, ...]:
    secret = PRESETS[preset].secrets[:1]
    steps = [
        "Commit both files and push them to the default branch.",
        "The merge queue runs merge.test_command in a fresh checkout on a runner: make it "
        "install what the tests need (e.g. pip install -q -e . && pytest -q).",
        "Settings > Actions > General > Workflow permissions: tick 'Allow GitHub Actions to "
        "create and approve pull requests' (the agent jobs open pull requests).",
    ]
    if secret:
        steps.append(f"Settings > Secrets and variables > Actions: add {secret[0]}.")
    steps += [
        "Label issues `parallel`, then comment `/orchestrate plan` (or `run`) on one of them.",
        "Optional: to have your own CI run on the agents' pull requests, act as a GitHub App: "
        "add `app-id: <its id>` under `with:` and its private key as the secret "
        "ORCHESTRATE_APP_PRIVATE_KEY (docs/github.md, Tokens).",
    ]
    if not _SHA.match(source.rsplit("@", 1)[-1]):
        steps.append(f"Pin {source} to a commit SHA in the workflow (both places).")
    return tuple(steps)
