"""`orchestrate demo`: a throwaway repository with a small real project and nine tasks.

The tasks read like issues; the edits the bundled scripted agent makes for each sit beside
it in `<id>-<slug>.edits`. They cover what orchestrate is for: independent work in parallel,
tasks that share a file and so run one after the other (2 and 3 on stats.py, 6 and 7 on
cli.py, 4 and 9 on slug.py), a dependency chain (5 -> 6 -> 8), and a change that breaks a
test (9), which the merge queue must refuse. No LLM and no network are needed.
"""

from __future__ import annotations

import shlex
import shutil
import sys
from pathlib import Path

import yaml

from bot.gitops import create_repo
from bot.models import TaskStatus

HERE = Path(__file__).parent
EXPECTED = {str(n): TaskStatus.MERGED for n in range(1, 9)} | {"9": TaskStatus.FAILED}


def _config(delay: float) -> str:
    test = f"{shlex.quote(sys.executable)} -m unittest discover -s tests -t . -q"
    return yaml.safe_dump(
        {
            "base": "main",
            "max_parallel": 4,
            "agent": {
                "preset": "scripted",
                "timeout": "2m",
                "env": {"ORCHESTRATE_SCRIPTED_DELAY": str(delay)},
            },
            "merge": {"method": "merge", "test_command": test, "test_timeout": "2m"},
        },
        sort_keys=False,
    )


def create(root: Path, delay: float) -> tuple[Path, Path]:
    """Make the demo repository and task folder under `root`; return both paths."""
    repo_dir = root / "textkit"
    files = {
        str(path.relative_to(HERE / "project")): path.read_text()
        for path in sorted((HERE / "project").rglob("*"))
        if path.is_file() and "__pycache__" not in path.parts
    }
    files[".github/orchestrate.yml"] = _config(delay)
    create_repo(repo_dir, files, "textkit: initial project")
    tasks_dir = root / "tasks"
    shutil.copytree(HERE / "tasks", tasks_dir)
    return repo_dir, tasks_dir
