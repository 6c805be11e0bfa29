"""Terminal output: the plan, live progress and status tables (rich on a terminal, plain
lines when piped, so logs and CI stay readable)."""

from __future__ import annotations

import time
from collections.abc import Mapping

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from bot.budget import spend
from bot.models import Plan, TaskState, TaskStatus
from bot.render.plan import side_by_side_lines
from bot.state.actions import Decision

STYLE = {
    TaskStatus.PLANNED: "dim",
    TaskStatus.RUNNING: "bold cyan",
    TaskStatus.REVIEW: "yellow",
    TaskStatus.MERGED: "bold green",
    TaskStatus.CONFLICT: "bold magenta",
    TaskStatus.FAILED: "bold red",
    TaskStatus.NOOP: "dim",
    TaskStatus.BLOCKED: "red",
}


def print_plan(console: Console, plan: Plan) -> None:
    est = plan.estimate
    console.print(
        f"[bold]Plan[/]: {len(plan.tasks)} tasks in {len(plan.waves)} waves, "
        f"up to {plan.max_parallel} at once; predicted makespan {est.makespan:g} "
        f"(lower bound {est.lower_bound:g}, one by one {est.sequential:g}): "
        f"speedup {est.speedup:g}x"
    )
    table = Table(show_header=True, header_style="bold", expand=False)
    for column in ("wave", "task", "title", "predicted files", "why this wave"):
        table.add_column(column, overflow="fold")
    for task in plan.tasks:
        footprint = task.footprint
        ranked = footprint.ranked
        shown = [_with_confidence(f, footprint.confidence.get(f, 1.0)) for f in ranked[:4]]
        shown += list(footprint.patterns[:2])
        more = len(footprint.files) + len(footprint.patterns) - len(shown)
        files = "unknown (runs alone)" if footprint.unknown else ", ".join(shown)
        if more > 0:
            files += f" (+{more})"
        table.add_row(str(task.wave), task.id, task.title, files, task.why)
    console.print(table)
    for dep in plan.dependencies:
        console.print(f"  dependency  {dep.before} -> {dep.after}: {dep.reason}")
    for conflict in plan.conflicts:
        console.print(f"  kept apart  {conflict.a} x {conflict.b}: {conflict.reason}", markup=False)
    for line in side_by_side_lines(plan):
        console.print(f"  together    {line}", markup=False)
    console.print(f"  critical path: {' -> '.join(plan.critical_path) or '-'}")
    console.print(f"  merge order:   {' -> '.join(plan.merge_order) or '-'}")
    for note in plan.notes:
        console.print(f"  [yellow]note[/]: {note}")


def _with_confidence(path: str, confidence: float) -> str:
    return path if confidence >= 0.995 else f"{path} {confidence:.0%}"


def _elapsed(state: TaskState, now: float) -> str:
    if state.started_at is None:
        return ""
    end = state.finished_at if state.status is not TaskStatus.RUNNING else now
    seconds = max(0.0, (end or now) - state.started_at)
    return f"{seconds:.1f}s"


def status_table(
    plan: Plan, states: Mapping[str, TaskState], waiting: Mapping[str, str], now: float
) -> Table:
    table = Table(show_header=True, header_style="bold")
    for column in ("task", "title", "status", "time", "detail"):
        table.add_column(column, overflow="fold")
    for task in plan.tasks:
        state = states.get(task.id)
        if state is None:
            continue
        detail = state.detail
        if state.status is TaskStatus.PLANNED and task.id in waiting:
            detail = waiting[task.id]
        elif state.progress:
            detail = (
                f"{detail} [{state.progress}]"
                if state.status is not TaskStatus.RUNNING
                else state.progress
            )
        table.add_row(
            task.id,
            task.title,
            Text(str(state.status), style=STYLE[state.status]),
            _elapsed(state, now),
            detail,
        )
    return table


def summary_line(states: Mapping[str, TaskState]) -> str:
    counts: dict[str, int] = {}
    for state in states.values():
        counts[str(state.status)] = counts.get(str(state.status), 0) + 1
    return ", ".join(f"{count} {status}" for status, count in sorted(counts.items()))


def run_summary(states: Mapping[str, TaskState], wall_seconds: float) -> dict[str, object]:
    """What the run bought: wall time against the time its agents took one by one (every
    attempt), redos after conflicts, and spend where agents report it."""
    used = spend(states, None)
    priced = any(s.cost_usd is not None or s.spent_usd for s in states.values())
    return {
        "wall_seconds": round(wall_seconds, 1),
        "one_by_one_seconds": round(used.agent_seconds, 1),
        "speedup": round(used.agent_seconds / wall_seconds, 2) if wall_seconds > 0 else None,
        "redos": sum(s.redos for s in states.values()),
        "spend_usd": round(used.usd, 4) if priced else None,
    }


def summary_text(summary: Mapping[str, object]) -> str:
    parts = [f"done in {summary['wall_seconds']}s"]
    if summary["one_by_one_seconds"]:
        parts.append(
            f"the agents alone took {summary['one_by_one_seconds']}s one by one "
            f"({summary['speedup']}x)"
        )
    redos = summary["redos"]
    parts.append(f"{redos} redo{'s' if redos != 1 else ''} after conflicts")
    if summary["spend_usd"] is not None:
        parts.append(f"spend ${summary['spend_usd']:.2f}")
    return "; ".join(parts)


class LineReporter:
    """One plain line per status change: for logs, CI and pipes."""

    def __init__(self, console: Console, titles: Mapping[str, str]) -> None:
        self.console = console
        self.titles = titles
        self.shown: dict[str, tuple[str, str, str]] = {}

    def changed(self, task_id: str, state: TaskState) -> None:
        key = (str(state.status), state.detail, state.progress)
        if self.shown.get(task_id) == key:
            return  # a heartbeat with nothing new to say
        previous = self.shown.get(task_id)
        self.shown[task_id] = key
        text = state.detail
        if previous is not None and previous[:2] == key[:2]:
            text = state.progress  # same state, new progress
        elif state.progress and state.status is not TaskStatus.RUNNING:
            text = f"{state.detail} [{state.progress}]"
        stamp = time.strftime("%H:%M:%S")
        self.console.print(
            f"{stamp}  {task_id:>4}  {state.status!s:<8}  {text}",
            highlight=False,
            markup=False,
            soft_wrap=True,
        )
        ended = state.status in (TaskStatus.FAILED, TaskStatus.CONFLICT)
        if state.log_tail and ended and (previous is None or previous[0] != key[0]):
            for line in state.log_tail.splitlines()[-5:]:
                self.console.print(f"{'':>16}| {line}", highlight=False, markup=False)

    def tick(self, states: Mapping[str, TaskState], decision: Decision) -> None:
        pass


class LiveReporter:
    """A table redrawn in place on a terminal."""

    def __init__(self, console: Console, plan: Plan) -> None:
        self.console = console
        self.plan = plan
        self.live = Live(console=console, refresh_per_second=8, transient=False)
        self.states: Mapping[str, TaskState] = {}
        self.waiting: Mapping[str, str] = {}

    def __enter__(self) -> LiveReporter:
        self.live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._draw()
        self.live.__exit__(None, None, None)

    def changed(self, task_id: str, state: TaskState) -> None:
        self.states = {**self.states, task_id: state}
        self._draw()

    def tick(self, states: Mapping[str, TaskState], decision: Decision) -> None:
        self.states, self.waiting = states, decision.waiting
        self._draw()

    def _draw(self) -> None:
        table = status_table(self.plan, self.states, self.waiting, time.time())
        self.live.update(Group(table, Text(summary_line(self.states), style="dim")))
