"""The run-time decision's guarantee, on random plans and task states (hypothesis): while work
is left and nothing runs, lands or waits out a retry, something starts. A run never sits idle
with tasks only waiting for each other."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.models import Footprint, Plan, Task, TaskState, TaskStatus
from bot.planning import build_plan
from bot.state.decide import decide

S = TaskStatus
FILES = ("a.py", "b.py", "c.py", "CHANGES.rst")


@st.composite
def stalled(draw: st.DrawFn) -> tuple[Plan, dict[str, TaskState]]:
    """A plan, and a moment when no task is in flight: each has landed or waits to start,
    some after a failure (waiting for others), a redo, or with files seen or named."""
    n = draw(st.integers(2, 7))
    ids = [str(i) for i in range(n)]
    tasks, footprints = [], {}
    for i, task_id in enumerate(ids):
        needs = draw(st.sets(st.sampled_from(ids[:i]), max_size=1)) if i else set()
        tasks.append(Task(id=task_id, slug="t", title=f"t{i}", depends_on=tuple(sorted(needs))))
        files = draw(st.sets(st.sampled_from(FILES), min_size=1, max_size=2))
        confidence = {f: draw(st.sampled_from((0.3, 0.6, 1.0))) for f in files}
        footprints[task_id] = Footprint(files=tuple(sorted(files)), confidence=confidence)
    plan = build_plan(tasks, footprints, draw(st.integers(1, 3)))
    seen = st.sets(st.sampled_from(FILES), max_size=2).map(lambda f: tuple(sorted(f)))
    states: dict[str, TaskState] = {}
    for task_id in ids:
        if draw(st.booleans()) and not any(d.after == task_id for d in plan.dependencies):
            states[task_id] = TaskState(id=task_id, status=S.MERGED, files=draw(seen))
            continue
        others = [t for t in ids if t != task_id]
        states[task_id] = TaskState(
            id=task_id,
            status=S.PLANNED,
            waits=1,
            after=tuple(sorted(draw(st.sets(st.sampled_from(others), max_size=3)))),
            redos=draw(st.integers(0, 1)),
            named_files=draw(seen),
            missing_files=draw(seen),
            conflict_files=draw(seen),
            files=draw(seen),
        )
    return plan, states


@settings(max_examples=300, deadline=None)
@given(stalled())
def test_while_work_is_left_and_nothing_runs_something_starts(
    scenario: tuple[Plan, dict[str, TaskState]],
) -> None:
    plan, states = scenario
    left = [t for t, state in states.items() if state.status is S.PLANNED]
    decision = decide(plan, states, 100.0)
    assert not left or decision.launch, decision.waiting
