"""The crash-point harness: a 10-task `orchestrate run` killed at one crash point, then run again
until it finishes, and checked: each task landed exactly once, the base's tree as expected, no
agent left running, no lock, no task checkout left behind.

Crash points (`bot.crashpoints`) are every state transition written and every git command
orchestrate runs; a counting run says how many a whole run passes. Each point is tried in three
ways: SIGKILL of orchestrate alone, SIGKILL of its whole process group, and SIGINT to the group
(Ctrl-C); with `--rotate`, in one of them, the three in turn.
`tests/integration/test_crash_points.py` tries a sample in the default suite; this script tries
them all and prints the number of points tried:

    .venv/bin/python tests/crash_points.py [--step K] [--modes kill,group,int] [--rotate] [--jobs J]
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.crashpoints import LOG, VARIABLE
from tests.crashing import (
    Outcome,
    agents_running,
    arguments,
    checkout_leftovers,
    chosen,
    ctrl_c_works,
    environment,
    plan,
    points_to_try,
    report,
    settle,
    trials,
)
from tests.localrepo import landed_tasks, make_patch, make_repo, patch_agent, states, write_tasks

TASKS = 10


@dataclass
class Scenario:
    root: Path
    repo: Path
    tasks: Path
    agent_marker: str  # in the command line of every agent of this scenario

    def run(self, extra_env: dict[str, str] | None = None, timeout: float = 120) -> int:
        """`orchestrate run` as a user starts it, in a session of its own (a group kill
        reaches it and its agents, never this harness)."""
        env = environment(extra_env)
        with (self.root / "runs.log").open("a") as log:
            done = subprocess.run(
                [sys.executable, "-m", "bot.cli", "run", "--repo", str(self.repo),
                 "--tasks", str(self.tasks)],
                env=env, stdout=log, stderr=subprocess.STDOUT, timeout=timeout,
                start_new_session=True, preexec_fn=ctrl_c_works,
            )  # fmt: skip
        return done.returncode


def scenario(root: Path) -> Scenario:
    """Ten tasks, each finishing its own module; 9 and 10 also rewrite shared.txt, which no
    prediction sees: a real conflict, redone on the new base. `root` starts empty: what an
    earlier sweep left there would be run on again."""
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
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


def _leftovers(found: Scenario) -> list[str]:
    running = [f"agent process {pid} still running" for pid in agents_running(found.agent_marker)]
    return checkout_leftovers(found.repo) + running


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
    settle(lambda: _leftovers(found))
    outcome.problems.extend(check(found))
    return outcome


def sweep(root: Path, tried: list[tuple[int, str]], jobs: int = 1) -> list[Outcome]:
    """Each (point, mode) of `tried`, in a folder of its own."""
    chosen = [(root / f"{mode}-{point}", point, mode) for point, mode in tried]
    return trials(crash_then_finish, chosen, jobs)


def main(argv: list[str] | None = None) -> int:
    args = arguments(__doc__.split("\n\n")[0], Path("/tmp/orchestrate-crash-points"), argv)
    started = time.monotonic()
    total = count_points(args.workdir / "count")
    points = points_to_try(total, args.step)
    modes = args.modes.split(",")
    print(f"a whole run passes {total} crash points; {plan(points, modes, args.rotate)}")
    outcomes = sweep(args.workdir, chosen(points, modes, args.rotate), args.jobs)
    return report(outcomes, "runs of orchestrate", started)


if __name__ == "__main__":
    raise SystemExit(main())
