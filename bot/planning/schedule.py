"""From graphs to a plan: priority order, list scheduling, critical path, merge order, estimate.

Pairs of tasks are kept apart only when their risk of a real conflict (`bot.planning.risk`)
makes a redo dearer than the wait: the others run side by side, even when they may touch a
common file. List scheduling with `max_parallel` workers: whenever a worker is free, start the
ready task that conflicts with no task in flight and comes first by priority (longest remaining
chain of dependencies and of pairs kept apart first, then the task's own priority); among
equals, the one whose risk of a conflict (from the pairs that run side by side) is lowest
beside the tasks in flight and highest beside the tasks left waiting, then the first in order.
So the riskiest pairs that run side by side go to different waves where the waves leave room,
at no cost in parallelism. A conflict is oriented by who starts first; dependency edges plus
these oriented conflict edges form the precedence DAG behind the critical path and the
explanations.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Collection, Mapping, Sequence

import networkx as nx

from bot.analysis.kinship import Kinship
from bot.models import Conflict, Estimate, Footprint, Plan, PlannedTask, Task
from bot.planning.changelogs import MERGEABLE
from bot.planning.estimates import durations
from bot.planning.graphs import dependencies, dependency_graph, split_pairs
from bot.planning.risk import CONFLICT_THRESHOLD, ConflictRates, risk_percent
from bot.render.text import listed

SIDE_BY_SIDE_KEPT = 50  # the riskiest pairs run side by side, kept to explain the plan


def natural_key(task_id: str) -> tuple[tuple[int, int | str], ...]:
    """Sort `2` before `10`, and numbers before words."""
    parts = re.findall(r"\d+|\D+", task_id)
    return tuple((0, int(p)) if p.isdigit() else (1, p) for p in parts)


def _bottom_levels(graph: nx.DiGraph[str], length: Mapping[str, float]) -> dict[str, float]:
    """Longest chain of work from each task to the end, counting itself."""
    level: dict[str, float] = {}
    for node in reversed(list(nx.topological_sort(graph))):
        level[node] = length[node] + max((level[s] for s in graph.successors(node)), default=0)
    return level


Rank = tuple[float, int]  # (-longest remaining chain, -priority): lower starts first


def _priority_order(
    tasks: Sequence[Task],
    graph: nx.DiGraph[str],
    length: Mapping[str, float],
    conflicts: Sequence[Conflict] = (),
) -> tuple[list[str], dict[str, Rank]]:
    """Topological order; among ready tasks: longest remaining chain, then priority, then id;
    and each task's rank (chain, priority). So of two tasks kept apart, the older one goes
    first: the newer is the likelier to build on it, as a change in history builds on the
    changes before it. A pair kept apart counts in the chains that way round, so a task others
    must wait for starts before one that holds nobody up."""
    priority = {task.id: task.priority for task in tasks}

    def ordered(level: Mapping[str, float]) -> tuple[list[str], dict[str, Rank]]:
        rank = {n: (-level[n], -priority[n]) for n in level}
        key = lambda n: (*rank[n], natural_key(n))  # noqa: E731
        return list(nx.lexicographical_topological_sort(graph, key=key)), rank

    order, rank = ordered(_bottom_levels(graph, length))
    if not conflicts:
        return order, rank
    position = {task_id: index for index, task_id in enumerate(order)}
    chained: nx.DiGraph[str] = nx.DiGraph(graph)
    for conflict in conflicts:
        first, later = sorted((conflict.a, conflict.b), key=position.__getitem__)
        chained.add_edge(first, later)
    return ordered(_bottom_levels(chained, length))


class _Run:
    """The outcome of list scheduling: start times and why each task waited."""

    def __init__(self) -> None:
        self.start: dict[str, float] = {}
        self.end: dict[str, float] = {}
        self.slot_note: dict[str, str] = {}


class _Exposure:
    """For each task, how likely it is to conflict with some member of a group of tasks (those
    in flight, or those waiting to start), from the pairs that run side by side, kept up to
    date as tasks join and leave the group: -log P(no conflict) adds up over the members."""

    def __init__(self, beside: Mapping[str, Mapping[str, float]]) -> None:
        self.beside = beside
        self.level: dict[str, float] = defaultdict(float)

    def join(self, task_id: str, sign: float = 1.0) -> None:
        for other, risk in self.beside.get(task_id, {}).items():
            self.level[other] -= sign * math.log1p(-risk)

    def leave(self, task_id: str) -> None:
        self.join(task_id, -1.0)

    def risk(self, task_id: str, but: Collection[str] = ()) -> float:
        """P(a conflict with a member, `but` those), to 9 places (so equal risks stay equal)."""
        risks = self.beside.get(task_id, {})
        level = self.level[task_id] + sum(math.log1p(-risks.get(other, 0.0)) for other in but)
        return round(-math.expm1(-level), 9)


def _list_schedule(
    order: Sequence[str],
    graph: nx.DiGraph[str],
    conflicts: Mapping[str, set[str]],
    length: Mapping[str, float],
    max_parallel: int,
    rank: Mapping[str, Rank],
    beside: Mapping[str, Mapping[str, float]],
) -> _Run:
    run = _Run()
    pending = list(order)
    position = {task_id: index for index, task_id in enumerate(order)}
    running: set[str] = set()
    in_flight, waiting = _Exposure(beside), _Exposure(beside)
    free: set[str] = set()  # pending tasks whose predecessors have ended
    now = 0.0

    def split(task_id: str, held: Collection[str]) -> float:
        """Starting it now: its risk beside the tasks in flight, less its risk beside the
        others that could start now and are left waiting (it stays apart from those)."""
        return in_flight.risk(task_id) - waiting.risk(task_id, held)

    while pending:
        for task_id in pending:
            if task_id in free:
                continue
            if all(p in run.end and run.end[p] <= now for p in graph.predecessors(task_id)):
                free.add(task_id)
                waiting.join(task_id)
        while True:
            ready = [t for t in pending if t in free and not conflicts.get(t, set()) & running]
            if not ready:
                break
            if len(running) >= max_parallel:
                for task_id in ready:
                    if task_id not in run.slot_note:
                        risky = [t for t in running if beside.get(task_id, {}).get(t, 0.0) > 0.0]
                        note = _slot_note(now, in_flight.risk(task_id), risky)
                        run.slot_note[task_id] = note
                break
            best = min(rank[t] for t in ready)
            equals = [t for t in ready if rank[t] == best]
            first = equals[0]
            if len(equals) > 1:
                held = {o for t in running for o in conflicts.get(t, ())} & free  # kept apart
                first = min(equals, key=lambda t: (split(t, held), position[t]))
            run.start[first] = now
            run.end[first] = now + length[first]
            running.add(first)
            pending.remove(first)
            free.discard(first)
            waiting.leave(first)
            in_flight.join(first)
        now = min(run.end[t] for t in running)
        for task_id in [t for t in running if run.end[t] <= now]:
            running.discard(task_id)
            in_flight.leave(task_id)
    return run


def _slot_note(now: float, risk: float, risky: Collection[str]) -> str:
    """Why a ready task waits for a slot, and, where it may conflict with tasks in flight (the
    tasks that took the slots may have been chosen for that), with which and how likely."""
    note = f"ready at {now:g} but all slots taken"
    if not risky:
        return note
    beside = listed(sorted(risky, key=natural_key))
    return f"{note}, and beside {beside} its conflict risk is {risk_percent(risk)}"


def _precedence(
    graph: nx.DiGraph[str], conflicts: Sequence[Conflict], run: _Run
) -> nx.DiGraph[str]:
    precedence: nx.DiGraph[str] = nx.DiGraph(graph)
    for conflict in conflicts:
        first, later = sorted((conflict.a, conflict.b), key=lambda t: (run.start[t], run.end[t]))
        if not precedence.has_edge(first, later):
            precedence.add_edge(first, later, reason=conflict.reason)
    return precedence


def _critical_path(precedence: nx.DiGraph[str], length: Mapping[str, float]) -> list[str]:
    finish: dict[str, float] = {}
    via: dict[str, str | None] = {}
    for node in nx.topological_sort(precedence):
        best = max(precedence.predecessors(node), key=lambda p: finish[p], default=None)
        finish[node] = length[node] + (finish[best] if best is not None else 0.0)
        via[node] = best
    if not finish:
        return []
    last: str | None = max(finish, key=lambda n: (finish[n], -len(n)))
    path: list[str] = []
    while last is not None:
        path.append(last)
        last = via[last]
    return path[::-1]


def _explain(task_id: str, precedence: nx.DiGraph[str], slot_note: str | None) -> str:
    by_reason: dict[str, list[str]] = {}
    for before in sorted(precedence.predecessors(task_id), key=natural_key):
        by_reason.setdefault(precedence.edges[before, task_id]["reason"], []).append(before)
    parts = [f"waits for {', '.join(ids)} ({reason})" for reason, ids in by_reason.items()]
    if slot_note is not None:
        parts.append(slot_note)
    return "; ".join(parts) or "nothing to wait for"


def _estimate(
    graph: nx.DiGraph[str], run: _Run, length: Mapping[str, float], max_parallel: int
) -> Estimate:
    total = sum(length.values())
    chain = max(_bottom_levels(graph, length).values(), default=0.0)
    work = total / max_parallel
    if all(value == 1.0 for value in length.values()):
        work = math.ceil(work)
    lower = max(chain, work, max(length.values(), default=0.0))
    makespan = max(run.end.values(), default=0.0)
    return Estimate(
        makespan=makespan,
        lower_bound=float(lower),
        sequential=total,
        speedup=round(total / makespan, 2) if makespan else 1.0,
    )


def _notes(merge_order: Sequence[str], footprints: Mapping[str, Footprint]) -> tuple[str, ...]:
    return tuple(
        f"task {task_id} has no predicted footprint, so it runs alone: list the files it "
        f"will touch under files: (front matter, or an orchestrate block in the issue), "
        f"or name the files, modules or functions it changes in its text"
        for task_id in merge_order
        if footprints[task_id].unknown
    )


def _waves(order: Sequence[str], run: _Run) -> tuple[dict[str, int], tuple[tuple[str, ...], ...]]:
    """Each task's wave (tasks that start at the same moment share one, numbered from 1), and
    the waves, each in `order`."""
    starts = sorted(set(run.start.values()))
    wave_of = {task_id: starts.index(start) + 1 for task_id, start in run.start.items()}
    waves = tuple(
        tuple(t for t in order if wave_of[t] == wave) for wave in range(1, len(starts) + 1)
    )
    return wave_of, waves


def build_plan(
    tasks: Sequence[Task],
    footprints: Mapping[str, Footprint],
    max_parallel: int,
    *,
    conflict_threshold: float = CONFLICT_THRESHOLD,
    mergeable: Sequence[str] = MERGEABLE,
    rates: ConflictRates | None = None,
    alike: Mapping[tuple[str, str], Kinship] | None = None,
) -> Plan:
    """Plan `tasks` on `max_parallel` workers; see the module docstring for the method. Pairs
    whose risk of a real conflict reaches `conflict_threshold` are kept apart; the others
    that may touch a common file run side by side (`Plan.side_by_side`). `alike`: how alike
    pairs of task texts are and the rare names they share (`bot.analysis.kinship.alike`),
    which add to their risk."""
    max_parallel = max(1, max_parallel)
    graph = dependency_graph(tasks, footprints)
    prints = {task.id: footprints[task.id] for task in tasks}
    pairs = split_pairs(
        prints, conflict_threshold, mergeable, rates, shown=SIDE_BY_SIDE_KEPT, alike=alike
    )
    conflicts, side_by_side = pairs.apart, pairs.side_by_side
    length = durations(tasks)
    clashes: dict[str, set[str]] = {task.id: set() for task in tasks}
    for conflict in conflicts:
        clashes[conflict.a].add(conflict.b)
        clashes[conflict.b].add(conflict.a)
    order, rank = _priority_order(tasks, graph, length, conflicts)
    run = _list_schedule(order, graph, clashes, length, max_parallel, rank, pairs.beside)
    wave_of, waves = _waves(order, run)
    position = {task_id: index for index, task_id in enumerate(order)}
    merge_order = sorted(order, key=lambda t: (run.end[t], wave_of[t], position[t]))
    precedence = _precedence(graph, conflicts, run)
    by_id = {task.id: task for task in tasks}
    planned = tuple(
        PlannedTask(
            id=task_id,
            title=by_id[task_id].title,
            branch=by_id[task_id].branch,
            footprint=footprints[task_id],
            wave=wave_of[task_id],
            why=_explain(task_id, precedence, run.slot_note.get(task_id)),
            start=run.start[task_id],
            duration=length[task_id],
        )
        for task_id in merge_order
    )
    return Plan(
        max_parallel=max_parallel,
        tasks=planned,
        dependencies=tuple(dependencies(graph)),
        conflicts=tuple(conflicts),
        side_by_side=tuple(side_by_side),
        conflict_threshold=conflict_threshold,
        rates=(rates or ConflictRates()).kept(f for fp in prints.values() for f in fp.files),
        waves=waves,
        merge_order=tuple(merge_order),
        critical_path=tuple(_critical_path(precedence, length)),
        estimate=_estimate(graph, run, length, max_parallel),
        notes=_notes(merge_order, footprints),
    )
