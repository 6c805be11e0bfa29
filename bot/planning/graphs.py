"""The two graphs behind a plan: dependencies (a DAG) and predicted conflicts (undirected)."""

from __future__ import annotations

import fnmatch
from collections import defaultdict
from collections.abc import Mapping, Sequence
from itertools import combinations

import networkx as nx

from bot.models import Conflict, Dependency, Footprint, Task


class PlanError(Exception):
    """Tasks that cannot be planned: unknown dependency, cycle, duplicate id."""


def dependency_graph(tasks: Sequence[Task]) -> nx.DiGraph[str]:
    """Edges run from the task that must land first to the task that needs it."""
    graph: nx.DiGraph[str] = nx.DiGraph()
    by_id: dict[str, Task] = {}
    for task in tasks:
        if task.id in by_id:
            raise PlanError(
                f"duplicate task id {task.id}: {by_id[task.id].source or by_id[task.id].title} "
                f"and {task.source or task.title}"
            )
        by_id[task.id] = task
        graph.add_node(task.id)
    for task in tasks:
        for needed in task.depends_on:
            if needed == task.id:
                raise PlanError(f"task {task.id} depends on itself")
            if needed not in by_id:
                raise PlanError(f"task {task.id} depends on unknown task {needed}")
            graph.add_edge(needed, task.id, reason=f"{task.id} declares depends_on: {needed}")
    try:
        cycle = nx.find_cycle(graph)
    except nx.NetworkXNoCycle:
        return graph
    names = [edge[0] for edge in cycle] + [cycle[0][0]]
    raise PlanError("dependency cycle: " + " -> ".join(names))


def dependencies(graph: nx.DiGraph[str]) -> list[Dependency]:
    return [
        Dependency(before=a, after=b, reason=data["reason"])
        for a, b, data in sorted(graph.edges(data=True))
    ]


def _overlap(a: Footprint, b: Footprint) -> list[str]:
    shared = set(a.files) & set(b.files)
    for pattern in a.patterns:
        shared.update(f for f in b.files if fnmatch.fnmatchcase(f, pattern))
        shared.update(p for p in b.patterns if p == pattern)
    for pattern in b.patterns:
        shared.update(f for f in a.files if fnmatch.fnmatchcase(f, pattern))
    return sorted(shared)


def find_conflicts(footprints: Mapping[str, Footprint]) -> list[Conflict]:
    """Pairs of tasks that must not be in flight together, with the files they share.

    A task whose footprint is unknown conflicts with every other task: it runs alone.
    """
    ids = list(footprints)
    unknown = {task_id for task_id in ids if footprints[task_id].unknown}
    holders: dict[str, list[str]] = defaultdict(list)
    for task_id in ids:
        for path in footprints[task_id].files:
            holders[path].append(task_id)
    candidates: set[tuple[str, str]] = set()
    for owners in holders.values():
        candidates.update(combinations(owners, 2))
    with_patterns = [task_id for task_id in ids if footprints[task_id].patterns]
    for task_id in with_patterns:
        candidates.update((task_id, other) for other in ids if other != task_id)

    conflicts: dict[tuple[str, str], Conflict] = {}
    order = {task_id: index for index, task_id in enumerate(ids)}
    for a, b in candidates:
        a, b = sorted((a, b), key=order.__getitem__)
        if (a, b) in conflicts or a in unknown or b in unknown:
            continue
        shared = _overlap(footprints[a], footprints[b])
        if shared:
            reason = f"both touch {shared[0]}" + (
                f" (+{len(shared) - 1} more)" if len(shared) > 1 else ""
            )
            conflicts[(a, b)] = Conflict(a=a, b=b, files=tuple(shared), reason=reason)
    for lone in sorted(unknown, key=order.__getitem__):
        for other in ids:
            if other == lone:
                continue
            a, b = sorted((lone, other), key=order.__getitem__)
            if (a, b) not in conflicts:
                conflicts[(a, b)] = Conflict(
                    a=a, b=b, files=(), reason=f"task {lone} has no predicted footprint"
                )
    return [conflicts[key] for key in sorted(conflicts, key=lambda k: (order[k[0]], order[k[1]]))]
