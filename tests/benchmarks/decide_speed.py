"""Time the run-time decision (`bot.state.decide.decide`) on a large plan: the engine takes one
at every step of a run, in both modes. Not a test: a script that prints figures.

    python tests/benchmarks/decide_speed.py [--tasks 200] [--repeat 20]

A random plan of N tasks (two files each, out of 300), every task but the first redone once
and seen at work on one file; then the same with the first task failed and waiting for
another, which makes the decision look for circles of waits.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bot.models import Footprint, Plan, Task, TaskState, TaskStatus
from bot.planning import build_plan
from bot.state.decide import decide

S = TaskStatus


def scenario(count: int, seed: int = 1) -> tuple[Plan, dict[str, TaskState]]:
    rng = random.Random(seed)
    ids = [str(n) for n in range(1, count + 1)]
    tasks = [Task(id=task_id, slug="t", title=f"task {task_id}") for task_id in ids]
    prints = {}
    for task_id in ids:
        likely, maybe = f"f{rng.randrange(300)}.py", f"g{rng.randrange(300)}.py"
        prints[task_id] = Footprint(files=(likely, maybe), confidence={likely: 0.6, maybe: 0.3})
    plan = build_plan(tasks, prints, 4)
    states = {
        task_id: TaskState(
            id=task_id, status=S.PLANNED, redos=1, conflict_files=(f"f{rng.randrange(300)}.py",)
        )
        for task_id in ids
    }
    return plan, states


def timed(plan: Plan, states: dict[str, TaskState], repeat: int) -> float:
    runs = []
    for _ in range(repeat):
        started = time.perf_counter()
        decide(plan, states, 100.0)
        runs.append(time.perf_counter() - started)
    return statistics.median(runs)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args(argv)
    plan, states = scenario(args.tasks)
    plain = timed(plan, states, args.repeat)
    first, other = plan.merge_order[0], plan.merge_order[len(plan.merge_order) // 2]
    states[first] = TaskState(
        id=first, status=S.PLANNED, waits=1, after=(other,), named_files=("x.py",)
    )
    waiting = timed(plan, states, args.repeat)
    print(
        f"decide, {args.tasks} tasks: {plain * 1000:.1f} ms; with a failure waiting: "
        f"{waiting * 1000:.1f} ms (median of {args.repeat})"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
