"""The crash-point harness: a 10-task `orchestrate run` killed at one crash point, then run again
until it finishes, and checked: each task landed exactly once, the base's tree as expected, no
agent left running, no lock, no task checkout left behind.

Crash points (`bot.crashpoints`) are every state transition written and every git command
orchestrate runs; a counting run says how many a whole run passes. Each point is tried in three
ways: SIGKILL of orchestrate alone, SIGKILL of its whole process group, and SIGINT to the group
(Ctrl-C). `tests/integration/test_crash_points.py` tries a sample in the default suite; this
script tries them all and prints the number of points tried:

    .venv/bin/python tests/crash_points.py [--step K] [--modes kill,group,int]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.crashpoints import LOG, VARIABLE
from tests.localrepo import landed_tasks, make_patch, make_repo, patch_agent, states, write_tasks

TASKS = 10
MODES = ("kill", "group", "int")


@dataclass
class Scenario:
    root: Path
    repo: Path
    tasks: Path
    agent_marker: str  # in the command line of every agent of this scenario

    def run(self, extra_env: dict[str, str] | None = None, timeout: float = 120) -> int:
        """`orchestrate run` as a user starts it, in a session of its own (a group kill
        reaches it and its agents, never this harness)."""
        env = {k: v for k, v in os.environ.items() if k not in (VARIABLE, LOG)}
        env.update(extra_env or {})
        with (self.root / "runs.log").open("a") as log:
            done = subprocess.run(
                [sys.executable, "-m", "bot.cli", "run", "--repo", str(self.repo),
                 "--tasks", str(self.tasks)],
                env=env, stdout=log, stderr=subprocess.STDOUT, timeout=timeout,
                start_new_session=True,
            )  # fmt: skip
        return done.returncode


def scenario(root: Path) -> Scenario:
    """Ten tasks, each finishing its own module; 9 and 10 also rewrite shared.txt, which no
    prediction sees: a real conflict, redone on the new base."""
    root.mkdir(parents=True, exist_ok=True)
    files = {f"mod{n}.txt": f"module {n}\n" for n in range(1, TASKS + 1)}
    repo = make_repo(
        root,
        {**files, "shared.txt": "shared\n"},
        {"max_parallel": 3, "agent": {"command": patch_agent(root)},
         "merge": {"conflict_redos": 1}},
    )  # fmt: skip
    tasks = {}
    for n in range(1, TASKS + 1):
        patch = make_patch(root, f"{n}.diff", f"mod{n}.txt", f"module {n}", f"module {n} done")
        tasks[f"{n}-task-{n}.md"] = (
            f"---\nfiles: [mod{n}.txt]\n---\nFinish module {n}.\n\nSleep: 0.1\nPatch: {patch}\n"
        )
    return Scenario(root, repo, write_tasks(root / "tasks", tasks), str(root / "patch_agent.py"))


def count_points(root: Path) -> int:
    """The crash points one uninterrupted run of the scenario passes."""
    found = scenario(root)
    log = root / "points.log"
    assert found.run({VARIABLE: "0:count", LOG: str(log)}) == 0
    return len(log.read_text().splitlines())


@dataclass
class Outcome:
    point: int
    mode: str
    first_exit: int = 0  # the crashed run's exit status (-9: killed)
    runs: int = 0
    problems: list[str] = field(default_factory=list)


def _leftovers(found: Scenario) -> list[str]:
    problems = []
    if (found.repo / ".git" / "index.lock").exists():
        problems.append("git's index.lock left behind")
    checkouts = found.repo / ".orchestrate" / "checkouts"
    left = sorted(path.name for path in checkouts.iterdir()) if checkouts.exists() else []
    if left:
        problems.append(f"task checkout(s) left behind: {', '.join(left)}")
    worktrees = subprocess.run(
        ["git", "worktree", "list", "--porcelain"], cwd=found.repo, capture_output=True,
        text=True, check=True,
    ).stdout.count("worktree ")  # fmt: skip
    if worktrees != 1:
        problems.append(f"{worktrees - 1} worktree(s) left behind")
    for proc in psutil.process_iter(["cmdline"]):
        if any(found.agent_marker in part for part in proc.info["cmdline"] or ()):
            problems.append(f"agent process {proc.pid} still running")
    return problems


def check(found: Scenario) -> list[str]:
    """What is wrong after the run finished (nothing, when it converged)."""
    problems = []
    final = states(found.repo)
    if sorted(s.status.value for s in final.values()) != ["merged"] * TASKS:
        problems.append("not all merged: " + json.dumps({t: s.status for t, s in final.items()}))
    landed = landed_tasks(found.repo)
    if sorted(landed, key=int) != [str(n) for n in range(1, TASKS + 1)]:
        problems.append(f"landed on main (once each expected): {landed}")
    for n in range(1, TASKS + 1):
        text = (found.repo / f"mod{n}.txt").read_text()
        if text != f"module {n} done\n":
            problems.append(f"mod{n}.txt on main is {text!r}")
    status = subprocess.run(
        ["git", "status", "--porcelain"], cwd=found.repo, capture_output=True, text=True
    ).stdout
    if status.strip():
        problems.append(f"the checkout is not clean: {status.strip()[:200]}")
    return problems + _leftovers(found)


def crash_then_finish(root: Path, point: int, mode: str, tries: int = 4) -> Outcome:
    found = scenario(root)
    outcome = Outcome(point, mode, runs=1)
    outcome.first_exit = found.run({VARIABLE: f"{point}:{mode}"})
    code = None
    while outcome.runs <= tries and code != 0:
        code = found.run()
        outcome.runs += 1
    if code != 0:
        outcome.problems.append(f"no run finished after the crash (last exit {code})")
    deadline = time.monotonic() + 5  # processes SIGKILLed with their group are reaped late
    while time.monotonic() < deadline and _leftovers(found):
        time.sleep(0.1)
    outcome.problems.extend(check(found))
    return outcome


def sweep(root: Path, points: list[int], modes: tuple[str, ...]) -> list[Outcome]:
    outcomes = []
    for mode in modes:
        for point in points:
            outcomes.append(crash_then_finish(root / f"{mode}-{point}", point, mode))
    return outcomes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--step", type=int, default=1, help="try every K-th point")
    parser.add_argument("--modes", default=",".join(MODES))
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/orchestrate-crash-points"))
    args = parser.parse_args(argv)
    started = time.monotonic()
    total = count_points(args.workdir / "count")
    points = list(range(1, total + 1, args.step))
    modes = tuple(args.modes.split(","))
    print(f"a whole run passes {total} crash points; trying {len(points)} of them x {modes}")
    outcomes = sweep(args.workdir, points, modes)
    failed = [o for o in outcomes if o.problems]
    for outcome in failed:
        print(f"point {outcome.point} ({outcome.mode}): " + "; ".join(outcome.problems))
    runs = sum(o.runs for o in outcomes)
    print(
        f"{len(outcomes)} crash points tried ({runs} runs of orchestrate, "
        f"{time.monotonic() - started:.0f} s): {len(outcomes) - len(failed)} converged, "
        f"{len(failed)} did not"
    )
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
