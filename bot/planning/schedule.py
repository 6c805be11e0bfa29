"""From graphs to a plan: order, waves (list scheduling), critical path, merge order, estimate.

Conflicting tasks may not be in flight together, so each conflict edge is oriented along the
priority order and becomes a precedence edge. Dependency edges plus oriented conflict edges
form one DAG; list scheduling over it with `max_parallel` workers gives the waves.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence

import networkx as nx

from bot.models import Conflict, Estimate, Footprint, Plan, PlannedTask, Task
from bot.planning.graphs import dependencies, dependency_graph, find_conflicts


def natural_key(task_id: str) -> tuple[tuple[int, int | str], ...]:
    """Sort `2` before `10`, and numbers before words."""
    parts = re.findall(r"\d+|\D+", task_id)
    return tuple((0, int(p)) if p.isdigit() else (1, p) for p in parts)


def _bottom_levels(graph: nx.DiGraph[str]) -> dict[str, int]:
    """Length of the longest dependency chain from each task to the end, counting itself."""
    level: dict[str, int] = {}
    for node in reversed(list(nx.topological_sort(graph))):
        level[node] = 1 + max((level[s] for s in graph.successors(node)), default=0)
    return level


def _priority_order(tasks: Sequence[Task], graph: nx.DiGraph[str]) -> list[str]:
    """Topological order; among ready tasks, longest remaining chain, then priority, then id."""
    level = _bottom_levels(graph)
    priority = {task.id: task.priority for task in tasks}
    return list(
        nx.lexicographical_topological_sort(
            graph, key=lambda n: (-level[n], -priority[n], natural_key(n))
        )
    )


def _precedence(
    graph: nx.DiGraph[str], conflicts: Sequence[Conflict], position: Mapping[str, int]
) -> nx.DiGraph[str]:
    precedence: nx.DiGraph[str] = nx.DiGraph(graph)
    for conflict in conflicts:
        first, later = sorted((conflict.a, conflict.b), key=position.__getitem__)
        if not precedence.has_edge(first, later):
            precedence.add_edge(first, later, reason=conflict.reason)
    return precedence


def _list_schedule(
    order: Sequence[str], precedence: nx.DiGraph[str], max_parallel: int
) -> tuple[list[list[str]], dict[str, str]]:
    """Unit-time list scheduling: each step starts up to max_parallel ready tasks, in order."""
    waves: list[list[str]] = []
    why: dict[str, str] = {}
    done: set[str] = set()
    pending = list(order)
    while pending:
        ready = [t for t in pending if all(p in done for p in precedence.predecessors(t))]
        wave = ready[:max_parallel]
        for task_id in ready[max_parallel:]:
            why.setdefault(
                task_id, f"ready in wave {len(waves) + 1} but all {max_parallel} slots taken"
            )
        waves.append(wave)
        done.update(wave)
        pending = [t for t in pending if t not in done]
    return waves, why


def _explain(task_id: str, precedence: nx.DiGraph[str], slot_note: str | None) -> str:
    by_reason: dict[str, list[str]] = {}
    for before in sorted(precedence.predecessors(task_id), key=natural_key):
        by_reason.setdefault(precedence.edges[before, task_id]["reason"], []).append(before)
    parts = [f"waits for {', '.join(ids)} ({reason})" for reason, ids in by_reason.items()]
    if slot_note is not None:
        parts.append(slot_note)
    return "; ".join(parts) or "nothing to wait for"


def build_plan(
    tasks: Sequence[Task], footprints: Mapping[str, Footprint], max_parallel: int
) -> Plan:
    graph = dependency_graph(tasks)
    conflicts = find_conflicts({task.id: footprints[task.id] for task in tasks})
    order = _priority_order(tasks, graph)
    position = {task_id: index for index, task_id in enumerate(order)}
    precedence = _precedence(graph, conflicts, position)
    waves, slot_notes = _list_schedule(order, precedence, max_parallel)
    wave_of = {task_id: index + 1 for index, wave in enumerate(waves) for task_id in wave}
    merge_order = sorted(order, key=lambda t: (wave_of[t], position[t]))
    critical = nx.dag_longest_path(precedence) if tasks else []

    n = len(tasks)
    chain = max(_bottom_levels(graph).values(), default=0)
    lower = max(chain, math.ceil(n / max_parallel)) if n else 0
    makespan = len(waves)
    by_id = {task.id: task for task in tasks}
    planned = tuple(
        PlannedTask(
            id=task_id,
            title=by_id[task_id].title,
            branch=by_id[task_id].branch,
            footprint=footprints[task_id],
            wave=wave_of[task_id],
            why=_explain(task_id, precedence, slot_notes.get(task_id)),
        )
        for task_id in merge_order
    )
    notes = tuple(
        f"task {task_id} has no predicted footprint, so it runs alone: list the files it "
        f"will touch under files: in its front matter, or name them in its text"
        for task_id in merge_order
        if footprints[task_id].unknown
    )
    return Plan(
        max_parallel=max_parallel,
        tasks=planned,
        dependencies=tuple(dependencies(graph)),
        conflicts=tuple(conflicts),
        waves=tuple(tuple(wave) for wave in waves),
        merge_order=tuple(merge_order),
        critical_path=tuple(critical),
        estimate=Estimate(
            makespan=float(makespan),
            lower_bound=float(lower),
            sequential=float(n),
            speedup=round(n / makespan, 2) if makespan else 1.0,
        ),
        notes=notes,
    )
