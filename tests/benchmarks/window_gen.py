"""Generate benchmark windows from any git repository's history.

A window is K consecutive first-parent changes started, as if in parallel, from the commit
before the first of them (its base W). For each change: its message (the stand-in for an issue)
and the files it really touched. For each pair i < j that shares a file: would they conflict if
made in parallel? We test j's change against its own parent with i's change reverted, with
`git merge-tree --write-tree` on throw-away commits written to a temporary object directory
(the repository itself is never written to). Pairs sharing no file are labelled independent.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from itertools import combinations
from pathlib import Path
from typing import Any

K_CYCLE = (3, 4, 5, 6, 7, 8)
SKIP_SUBJECTS = ("Merge branch", "Merge remote-tracking branch", "Merge tag")
MAX_FILES = 60


class _Git:
    def __init__(self, repo: Path, objects: Path) -> None:
        self.repo = repo
        real = subprocess.run(
            ["git", "rev-parse", "--path-format=absolute", "--git-path", "objects"],
            cwd=repo, capture_output=True, text=True, check=True,
        ).stdout.strip()  # fmt: skip
        self.env = {
            **os.environ,
            "GIT_OBJECT_DIRECTORY": str(objects),
            "GIT_ALTERNATE_OBJECT_DIRECTORIES": real,
            "GIT_AUTHOR_NAME": "bench", "GIT_AUTHOR_EMAIL": "bench@localhost",
            "GIT_COMMITTER_NAME": "bench", "GIT_COMMITTER_EMAIL": "bench@localhost",
            "GIT_AUTHOR_DATE": "1700000000 +0000", "GIT_COMMITTER_DATE": "1700000000 +0000",
        }  # fmt: skip

    def run(self, *args: str, ok: tuple[int, ...] = (0,)) -> tuple[int, str]:
        done = subprocess.run(
            ["git", *args], cwd=self.repo, env=self.env, capture_output=True, text=True
        )
        if done.returncode not in ok:
            raise RuntimeError(f"git {' '.join(args)}: {done.stderr.strip()}")
        return done.returncode, done.stdout

    def commit(self, tree: str, parent: str | None = None) -> str:
        extra = ["-p", parent] if parent else []
        return self.run("commit-tree", tree, *extra, "-m", "x")[1].strip()

    def replay(self, base: str, ours: str, theirs: str) -> tuple[bool, str, list[str]]:
        """Three-way merge of trees `ours` and `theirs` over `base`: (clean, tree, conflicts)."""
        root = self.commit(base)
        code, out = self.run(
            "merge-tree", "--write-tree", "--name-only", "--no-messages",
            self.commit(ours, root), self.commit(theirs, root), ok=(0, 1),
        )  # fmt: skip
        lines = out.splitlines()
        return code == 0, lines[0] if lines else "", [line for line in lines[1:] if line]


def _changes(repo: Path, count: int) -> list[dict[str, Any]]:
    out = subprocess.run(
        ["git", "-c", "core.quotePath=false", "log", "--first-parent", "--name-only",
         "--diff-merges=first-parent", f"--max-count={count * 3}",
         "--format=%x1e%H%x1f%P%x1f%B%x1f"],
        cwd=repo, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    changes = []
    for record in out.split("\x1e")[1:]:
        head, _, names = record.rpartition("\x1f")
        sha, parents, message = head.split("\x1f", 2)
        files = sorted({n for n in names.splitlines() if n.strip()})
        if not parents or not files or len(files) > MAX_FILES:
            continue
        if message.startswith(SKIP_SUBJECTS):
            continue
        parent = parents.split()[0]
        changes.append({"sha": sha, "parent": parent, "message": message.strip(), "files": files})
    return changes[::-1]


def _pair(git: _Git, a: dict[str, Any], b: dict[str, Any]) -> tuple[bool | None, list[str]]:
    """Would b conflict with a if both were made in parallel? None if it cannot be told."""
    commits = {"a": a["sha"], "pa": a["parent"], "b": b["sha"], "pb": b["parent"]}
    tree = {k: git.run("rev-parse", f"{c}^{{tree}}")[1].strip() for k, c in commits.items()}
    clean, without_a, _ = git.replay(tree["a"], tree["pb"], tree["pa"])
    if not clean:
        return None, []
    clean, _, conflicts = git.replay(tree["pb"], tree["b"], without_a)
    return (not clean), conflicts


def generate_windows(repo: Path, count: int, save: Path | None = None) -> list[dict[str, Any]]:
    """`count` windows from the newest history of `repo` (sizes cycling through K_CYCLE)."""
    changes = _changes(repo, count * 6)
    windows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as objects:
        git = _Git(repo, Path(objects))
        position = len(changes)
        while len(windows) < count:
            k = K_CYCLE[len(windows) % len(K_CYCLE)]
            if position - k < 0:
                break
            group = changes[position - k : position]
            position -= k
            tasks = [
                {"i": i, "sha": c["sha"], "message": c["message"], "true_files": c["files"]}
                for i, c in enumerate(group)
            ]
            pairs = []
            for (i, a), (j, b) in combinations(enumerate(group), 2):
                shared = sorted(set(a["files"]) & set(b["files"]))
                label, files = _pair(git, a, b) if shared else (False, [])
                pairs.append(
                    {"i": i, "j": j, "overlap_files": shared, "parallel_conflict": label,
                     "pc_conflict_files": files}
                )  # fmt: skip
            windows.append({"K": k, "base": group[0]["parent"], "tasks": tasks, "pairs": pairs})
    windows.reverse()
    if save is not None:
        with save.open("w", encoding="utf-8") as handle:
            for window in windows:
                handle.write(json.dumps(window) + "\n")
    return windows
