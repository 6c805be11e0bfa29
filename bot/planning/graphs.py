"""The two graphs behind a plan: dependencies (a DAG) and predicted conflicts (undirected)."""

from __future__ import annotations

import fnmatch
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations

import networkx as nx

from bot.analysis.kinship import Kinship
from bot.models import Conflict, Dependency, Footprint, Task
from bot.planning.changelogs import MERGEABLE, is_mergeable
from bot.planning.deps import implied_dependencies, stated_dependencies
from bot.planning.risk import CONFLICT_THRESHOLD, ConflictRates, PairRisk, describe, pair_risk

NO_SHARE = PairRisk(0.0, 0.0, "")  # a pair that shares no predicted file


class PlanError(Exception):
    """Tasks that cannot be planned: unknown dependency, cycle, duplicate id."""


def _index(tasks: Sequence[Task]) -> dict[str, Task]:
    by_id: dict[str, Task] = {}
    for task in tasks:
        if task.id in by_id:
            raise PlanError(
                f"duplicate task id {task.id}: {by_id[task.id].source or by_id[task.id].title} "
                f"and {task.source or task.title}"
            )
        by_id[task.id] = task
    return by_id


def dependency_graph(
    tasks: Sequence[Task], footprints: Mapping[str, Footprint] | None = None
) -> nx.DiGraph[str]:
    """Edges run from the task that must land first to the task that needs it.

    Declared (`depends_on`, GitHub's "blocked by") and stated ("depends on #12") dependencies
    are binding: a cycle
    among them is an error naming it. Implied ones (a task mentions a file another creates) are
    added only where they close no cycle.
    """
    by_id = _index(tasks)
    graph: nx.DiGraph[str] = nx.DiGraph()
    graph.add_nodes_from(by_id)
    for task in tasks:
        for needed in task.depends_on:
            if needed == task.id:
                raise PlanError(f"task {task.id} depends on itself")
            if needed not in by_id:
                raise PlanError(f"task {task.id} depends on unknown task {needed}")
            graph.add_edge(needed, task.id, reason=f"{task.id} declares depends_on: {needed}")
        for needed in task.blocked_by:
            if needed in by_id and needed != task.id and not graph.has_edge(needed, task.id):
                graph.add_edge(
                    needed, task.id, reason=f"GitHub: #{task.id} is blocked by #{needed}"
                )
        for needed, phrase in stated_dependencies(task, set(by_id)):
            if not graph.has_edge(needed, task.id):
                graph.add_edge(needed, task.id, reason=f"{task.id} says '{phrase}'")
    try:
        cycle = nx.find_cycle(graph)
    except nx.NetworkXNoCycle:
        pass
    else:
        names = [edge[0] for edge in cycle] + [cycle[0][0]]
        raise PlanError("dependency cycle: " + " -> ".join(names))
    for creator, user, path in implied_dependencies(tasks, footprints or {}):
        if graph.has_edge(creator, user) or nx.has_path(graph, user, creator):
            continue
        graph.add_edge(creator, user, reason=f"{user} mentions {path}, which {creator} creates")
    return graph


def dependencies(graph: nx.DiGraph[str]) -> list[Dependency]:
    return [
        Dependency(before=a, after=b, reason=data["reason"])
        for a, b, data in sorted(graph.edges(data=True))
    ]


def _pattern_overlap(a: Footprint, b: Footprint) -> set[str]:
    shared: set[str] = set()
    for pattern in a.patterns:
        shared.update(f for f in b.files if fnmatch.fnmatchcase(f, pattern))
        shared.update(p for p in b.patterns if p == pattern)
    for pattern in b.patterns:
        shared.update(f for f in a.files if fnmatch.fnmatchcase(f, pattern))
    return shared


def _shared_files(
    footprints: Mapping[str, Footprint], mergeable: Sequence[str]
) -> dict[tuple[str, str], set[str]]:
    """For every pair of tasks (in input order), the non-mergeable files both may touch."""
    order = {task_id: index for index, task_id in enumerate(footprints)}
    holders: dict[str, list[str]] = defaultdict(list)
    for task_id, footprint in footprints.items():
        for path in footprint.files:
            holders[path].append(task_id)
    shared: dict[tuple[str, str], set[str]] = defaultdict(set)
    for path, owners in holders.items():
        if len(owners) > 1 and not is_mergeable(path, mergeable):
            for a, b in combinations(owners, 2):
                shared[(a, b)].add(path)
    with_patterns = [t for t in footprints if footprints[t].patterns]
    for task_id in with_patterns:
        for other in footprints:
            if other == task_id:
                continue
            a, b = sorted((task_id, other), key=order.__getitem__)
            found = _pattern_overlap(footprints[a], footprints[b])
            shared[(a, b)].update(f for f in found if not is_mergeable(f, mergeable))
    return shared


@dataclass(frozen=True)
class RiskyPair:
    """Two tasks that may touch a common file: the files, and the risk (None: `unknown` has
    no predicted footprint, so they may conflict anywhere)."""

    a: str
    b: str
    files: tuple[str, ...]
    risk: PairRisk | None
    unknown: str = ""

    @property
    def weight(self) -> float:
        return round(self.risk.conflict, 3) if self.risk is not None else 1.0

    def conflict(self) -> Conflict:
        if self.risk is None:
            reason = f"task {self.unknown} has no predicted footprint"
            return Conflict(a=self.a, b=self.b, files=(), reason=reason)
        return Conflict(
            a=self.a,
            b=self.b,
            files=self.files,
            reason=describe(self.risk, len(self.files)),
            weight=self.weight,
            share=round(self.risk.share, 3),
        )


def risky_pairs(
    footprints: Mapping[str, Footprint],
    rates: ConflictRates | None = None,
    mergeable: Sequence[str] = MERGEABLE,
    alike: Mapping[tuple[str, str], Kinship] | None = None,
) -> list[RiskyPair]:
    """Every pair of tasks that may touch a common file or whose texts are alike (`alike`,
    from `bot.analysis.kinship`), with its chance of a real conflict (`bot.planning.risk`),
    in input order. Changelog-style files matching `mergeable` never count. A task whose
    footprint is unknown may conflict with every other task (risk 1)."""
    rates = rates or ConflictRates()
    ids = list(footprints)
    order = {task_id: index for index, task_id in enumerate(ids)}
    unknown = {task_id for task_id in ids if footprints[task_id].unknown}
    pairs: dict[tuple[str, str], RiskyPair] = {}
    for (a, b), files in _shared_files(footprints, mergeable).items():
        if not files or a in unknown or b in unknown:
            continue
        shared = tuple(sorted(files))
        pairs[(a, b)] = RiskyPair(
            a, b, shared, pair_risk(footprints[a], footprints[b], shared, rates)
        )
    for (one, other), kin in (alike or {}).items():
        if one not in order or other not in order or {one, other} & unknown:
            continue
        a, b = sorted((one, other), key=order.__getitem__)
        found = pairs.get((a, b))
        both, risk = (found.files, found.risk) if found and found.risk else ((), NO_SHARE)
        pairs[(a, b)] = RiskyPair(a, b, both, risk.with_texts(kin))
    for lone in sorted(unknown, key=order.__getitem__):
        for other in ids:
            a, b = sorted((lone, other), key=order.__getitem__)
            if other != lone and (a, b) not in pairs:
                pairs[(a, b)] = RiskyPair(a, b, (), None, unknown=lone)
    return [pairs[key] for key in sorted(pairs, key=lambda k: (order[k[0]], order[k[1]]))]


@dataclass(frozen=True)
class SplitPairs:
    """The pairs kept apart (their risk of a real conflict reaches the threshold), the riskiest
    of the others, which run side by side, explained (a large plan has many thousands of them),
    and the risk of every pair that runs side by side, both ways round (`beside[a][b]`)."""

    apart: list[Conflict]
    side_by_side: list[Conflict]
    beside: dict[str, dict[str, float]]


def split_pairs(
    footprints: Mapping[str, Footprint],
    threshold: float = CONFLICT_THRESHOLD,
    mergeable: Sequence[str] = MERGEABLE,
    rates: ConflictRates | None = None,
    shown: int | None = None,
    alike: Mapping[tuple[str, str], Kinship] | None = None,
) -> SplitPairs:
    """Split every pair of tasks that may conflict by `threshold`; explain the riskiest
    `shown` of those that run side by side."""
    risks = risky_pairs(footprints, rates, mergeable, alike)
    apart = [pair.conflict() for pair in risks if pair.weight >= threshold]
    together = sorted((p for p in risks if 0 < p.weight < threshold), key=lambda p: -p.weight)
    beside: dict[str, dict[str, float]] = defaultdict(dict)
    for pair in together:
        beside[pair.a][pair.b] = beside[pair.b][pair.a] = pair.weight
    return SplitPairs(apart, [pair.conflict() for pair in together[:shown]], dict(beside))


def find_conflicts(
    footprints: Mapping[str, Footprint],
    threshold: float = CONFLICT_THRESHOLD,
    mergeable: Sequence[str] = MERGEABLE,
    rates: ConflictRates | None = None,
) -> list[Conflict]:
    """Pairs of tasks that must not be in flight together (see `split_pairs`)."""
    return split_pairs(footprints, threshold, mergeable, rates, shown=0).apart
