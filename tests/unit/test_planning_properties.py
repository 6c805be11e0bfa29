"""The scheduler's guarantees, on random task sets (hypothesis)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.models import Footprint, Task
from bot.planning import build_plan

FILES = ("a.py", "b.py", "c.py", "d.py", "CHANGES.rst")
SIZES = ("size/S", "size/M", "size/L", "")


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[list[Task], dict[str, Footprint], int]:
    n = draw(st.integers(1, 9))
    tasks = []
    footprints = {}
    for i in range(n):
        needs = draw(st.sets(st.integers(0, i - 1), max_size=2)) if i else set()
        size = draw(st.sampled_from(SIZES))
        tasks.append(
            Task(
                id=str(i), slug="t", title=f"t{i}", labels=(size,) if size else (),
                depends_on=tuple(str(d) for d in needs),
            )
        )  # fmt: skip
        files = draw(st.sets(st.sampled_from(FILES), max_size=2))
        confidence = {f: draw(st.sampled_from((0.05, 0.3, 1.0))) for f in files}
        footprints[str(i)] = Footprint(
            files=tuple(sorted(files)), confidence=confidence, unknown=not files and i % 3 == 0
        )
    return tasks, footprints, draw(st.integers(1, 4))


@settings(max_examples=150, deadline=None)
@given(scenarios())
def test_schedule_guarantees(scenario: tuple[list[Task], dict[str, Footprint], int]) -> None:
    tasks, footprints, slots = scenario
    plan = build_plan(tasks, footprints, slots)
    assert plan.estimate.makespan >= plan.estimate.lower_bound
    assert sorted(plan.merge_order) == sorted(t.id for t in tasks)
    assert sorted(t for wave in plan.waves for t in wave) == sorted(plan.merge_order)
    wave = {t.id: t.wave for t in plan.tasks}
    for dep in plan.dependencies:
        assert wave[dep.before] < wave[dep.after]
        assert plan.merge_order.index(dep.before) < plan.merge_order.index(dep.after)
    # No two conflicting tasks in flight at once.
    start = {t.id: t.start for t in plan.tasks}
    end = {t.id: t.start + t.duration for t in plan.tasks}
    for conflict in plan.conflicts:
        a, b = conflict.a, conflict.b
        assert end[a] <= start[b] or end[b] <= start[a]
    for dep in plan.dependencies:
        assert end[dep.before] <= start[dep.after]
    for instant in set(start.values()):
        assert sum(start[t] <= instant < end[t] for t in start) <= slots
    assert plan.estimate.makespan == max(end.values())
