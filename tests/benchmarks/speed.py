"""Time a whole plan on a large repository, cold and warm: snapshot, learning the conflict rates
from replayed past pairs (`plan_risk`, as `orchestrate plan` does), then `plan_tasks` (footprints,
texts alike, schedule), each run in a fresh interpreter.

The tasks are the messages of the repository's newest first-parent changes; the base is the
commit just before them, so the predictor sees only the history before the work it plans.
"""

from __future__ import annotations

import multiprocessing
import shutil
import subprocess
import time
from pathlib import Path

from bot.config import Config
from bot.models import Task
from bot.planning.plan import plan_tasks
from bot.snapshot import load_snapshot, plan_risk


def _messages(repo: Path, count: int) -> tuple[str, list[str]]:
    out = subprocess.run(
        ["git", "log", "--first-parent", f"--max-count={count}", "--format=%H%x1f%B%x1e"],
        cwd=repo, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    records = [r.strip() for r in out.split("\x1e") if r.strip()]
    oldest = records[-1].split("\x1f", 1)[0]
    base = f"{oldest}^"
    return base, [r.split("\x1f", 1)[1] for r in records]


def _plan_once(repo: Path, base: str, tasks: list[Task], cache: Path) -> tuple[float, int, int]:
    started = time.perf_counter()
    snapshot = load_snapshot(repo, base, cache)
    config = Config()
    plan = plan_tasks(tasks, snapshot, config, plan_risk(repo, snapshot, config, cache_dir=cache))
    return time.perf_counter() - started, len(plan.conflicts), len(plan.waves)


def _fresh(repo: Path, base: str, tasks: list[Task], cache: Path) -> tuple[float, int, int]:
    """`_plan_once` in a new interpreter, as `orchestrate plan` runs: only the disk cache is
    shared between runs, no in-memory one (imports are not timed)."""
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        return pool.apply(_plan_once, (repo, base, tasks, cache))


def time_planning(repo: Path, count: int, cache: Path) -> None:
    base, messages = _messages(repo, count)
    tasks = []
    for index, message in enumerate(messages, start=1):
        title, _, body = message.partition("\n")
        tasks.append(Task(id=str(index), slug="task", title=title, body=body.strip()))
    shutil.rmtree(cache, ignore_errors=True)
    cold, conflicts, waves = _fresh(repo, base, tasks, cache)
    warm, _, _ = _fresh(repo, base, tasks, cache)
    snapshot = load_snapshot(repo, base, cache)
    print(
        f"speed: {len(tasks)} tasks on {repo.name} ({len(snapshot.files)} files, "
        f"{len(snapshot.history)} commits of history read): cold {cold:.2f} s, warm {warm:.2f} s "
        f"({conflicts} conflicts, {waves} waves)"
    )
