"""Helpers for tests that drive orchestrate against real git repositories on disk."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

from bot.cli import main
from bot.gitops import create_repo
from bot.local.store import LocalStore
from bot.models import TaskState

# An agent written for these tests: it applies the patch file named on a `Patch:` line of
# the task body with `git apply`, after an optional `Sleep:` seconds.
PATCH_AGENT = textwrap.dedent(
    """
    import json, os, re, subprocess, sys, time
    task = json.load(open(os.environ["ORCHESTRATE_TASK_FILE"]))["task"]
    body = task["body"]
    sleep = re.search(r"^Sleep: (\\S+)$", body, re.M)
    if sleep:
        time.sleep(float(sleep.group(1)))
    if re.search(r"^Fail$", body, re.M):
        print("agent: giving up", flush=True)
        sys.exit(3)
    patch = re.search(r"^Patch: (\\S+)$", body, re.M)
    if patch:
        subprocess.run(["git", "apply", patch.group(1)], check=True)
        print("agent: applied", patch.group(1), flush=True)
    """
)


def make_repo(root: Path, files: dict[str, str], config: dict[str, object] | None = None) -> Path:
    files = dict(files)
    if config is not None:
        # Tests that need agents in flight together must not depend on how busy the machine
        # is; the resource gate has its own test.
        ceiling = {"max_cpu_percent": 100, "max_memory_percent": 100}
        config = {"resources": ceiling, **config}
        files[".github/orchestrate.yml"] = json.dumps(config)
    repo = root / "repo"
    create_repo(repo, files, "initial")
    git(repo, "config", "user.name", "Test")
    git(repo, "config", "user.email", "test@example.com")
    return repo


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=True)
    return done.stdout.strip()


def write_tasks(folder: Path, tasks: dict[str, str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in tasks.items():
        (folder / name).write_text(textwrap.dedent(text).lstrip())
    return folder


def patch_agent(root: Path) -> str:
    script = root / "patch_agent.py"
    script.write_text(PATCH_AGENT)
    return f"{sys.executable} {script}"


def make_patch(root: Path, name: str, path: str, old: str, new: str) -> Path:
    """A unified diff replacing the whole of a one-line file `path` (old -> new)."""
    diff = (
        f"--- a/{path}\n+++ b/{path}\n@@ -1 +1 @@\n-{old}\n+{new}\n"
        if old
        else f"--- /dev/null\n+++ b/{path}\n@@ -0,0 +1 @@\n+{new}\n"
    )
    patch = root / "patches" / name
    patch.parent.mkdir(parents=True, exist_ok=True)
    patch.write_text(diff)
    return patch


def states(repo: Path) -> dict[str, TaskState]:
    store = LocalStore(repo / ".orchestrate" / "state.db")
    try:
        return store.states()
    finally:
        store.close()


def cli(capsys, *argv: str) -> tuple[int, str, str]:  # type: ignore[no-untyped-def]
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def landed_tasks(repo: Path, branch: str = "main") -> list[str]:
    """Task ids in the order their `Orchestrate-Task:` trailers reached `branch`."""
    log = git(
        repo,
        "log",
        "--first-parent",
        "--reverse",
        "--format=%(trailers:key=Orchestrate-Task,valueonly)",
        branch,
    )
    return [line.strip() for line in log.splitlines() if line.strip()]
