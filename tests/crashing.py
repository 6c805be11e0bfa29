"""What the crash-point harnesses share (tests/crash_points.py for local mode,
tests/crash_points_github.py for GitHub mode): the ways to crash, what a crashed run leaves
behind that it must not, and the report."""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from bot.crashpoints import LOG, VARIABLE

MODES = ("kill", "group", "int")


@dataclass
class Outcome:
    point: int
    mode: str
    first_exit: int = 0  # the crashed process's exit status (-9: killed; 0: it did not crash)
    runs: int = 0  # orchestrate processes run, the crashed one included
    problems: list[str] = field(default_factory=list)  # it did not converge
    where: str = ""  # what crashed, when it is not the only process (GitHub mode: which job)


def environment(extra: dict[str, str] | None = None) -> dict[str, str]:
    """This process's environment without a crash spec of its own, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if k not in (VARIABLE, LOG)}
    env.update(extra or {})
    return env


def ctrl_c_works() -> None:
    """`preexec_fn` of every process the harnesses start: Ctrl-C as a terminal delivers it.
    A harness started in the background of a shell (`.ci/run &`) has SIGINT ignored, and an
    ignored SIGINT is inherited: the `int` crashes would then stop nothing."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def agents_running(marker: str) -> list[int]:
    """Processes whose command line carries `marker` (every agent of one scenario does)."""
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        if any(marker in part for part in proc.info["cmdline"] or ()):
            found.append(proc.pid)
    return found


def checkout_leftovers(checkout: Path) -> list[str]:
    """A lock, task checkout or worktree orchestrate left in a git checkout."""
    problems = []
    if (checkout / ".git" / "index.lock").exists():
        problems.append(f"git's index.lock left behind in {checkout.name}")
    tasks = checkout / ".orchestrate" / "checkouts"
    left = sorted(path.name for path in tasks.iterdir()) if tasks.exists() else []
    if left:
        problems.append(f"task checkout(s) left behind in {checkout.name}: {', '.join(left)}")
    worktrees = subprocess.run(
        ["git", "worktree", "list", "--porcelain"], cwd=checkout, capture_output=True,
        text=True, check=True,
    ).stdout.count("worktree ")  # fmt: skip
    if worktrees != 1:
        problems.append(f"{worktrees - 1} worktree(s) left behind in {checkout.name}")
    return problems


def settle(leftovers: Callable[[], list[str]], seconds: float = 5.0) -> None:
    """Give processes SIGKILLed with their group time to be reaped before looking."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and leftovers():
        time.sleep(0.1)


def arguments(description: str, workdir: Path, argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--step", type=int, default=1, help="try every K-th point")
    parser.add_argument("--modes", default=",".join(MODES))
    parser.add_argument("--workdir", type=Path, default=workdir)
    parser.add_argument("--jobs", type=int, default=1, help="trials at once")
    parser.add_argument(
        "--rotate",
        action="store_true",
        help="try each point with one of the modes, in turn, instead of with every mode",
    )
    return parser.parse_args(argv)


def points_to_try(total: int, step: int) -> list[int]:
    return list(range(1, total + 1, step))


def chosen(points: Sequence[int], modes: Sequence[str], rotate: bool) -> list[tuple[int, str]]:
    """(point, mode) of each trial: every point with every mode, mode after mode; or, with
    `rotate`, the k-th point with modes[k % len(modes)] alone (with `--step K`, point i is the
    ((i - 1) // K)-th), so that a dense sweep costs one trial a point and each mode still gets
    its share of them."""
    if rotate:
        return [(point, modes[k % len(modes)]) for k, point in enumerate(points)]
    return [(point, mode) for mode in modes for point in points]


def plan(points: Sequence[int], modes: Sequence[str], rotate: bool) -> str:
    """How the chosen points are tried, for the harness's first line."""
    if rotate:
        return f"trying {len(points)} of them, each with one of {tuple(modes)} in turn"
    return f"trying {len(points)} of them x {tuple(modes)}"


def trials(
    trial: Callable[..., Outcome], arguments: Sequence[tuple[object, ...]], jobs: int = 1
) -> list[Outcome]:
    """`trial(*arguments[i])` for each i, in `jobs` processes, saying on stderr how each went
    as it ends."""
    done = []
    with ProcessPoolExecutor(jobs) as pool:
        for outcome in pool.map(trial, *zip(*arguments, strict=True)):
            how = "converged" if not outcome.problems else "did not converge"
            print(f"point {outcome.point} ({outcome.mode}): {how}", file=sys.stderr, flush=True)
            done.append(outcome)
    return done


def report(outcomes: list[Outcome], processes: str, started: float) -> int:
    """Print what did not converge and the figures; the exit status of the harness."""
    failed = [o for o in outcomes if o.problems]
    for outcome in failed:
        where = f", {outcome.where}" if outcome.where else ""
        print(f"point {outcome.point} ({outcome.mode}{where}): " + "; ".join(outcome.problems))
    runs = sum(o.runs for o in outcomes)
    uncrashed = sum(1 for o in outcomes if o.first_exit == 0)
    print(
        f"{len(outcomes)} crash points tried ({runs} {processes}, "
        f"{time.monotonic() - started:.0f} s): {len(outcomes) - len(failed)} converged, "
        f"{len(failed)} did not; {uncrashed} did not crash where they were meant to"
    )
    return 1 if failed else 0
