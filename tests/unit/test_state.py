import pytest

from bot.analysis import RepoSnapshot, predict_footprints
from bot.models import TaskStatus
from bot.planning import build_plan
from bot.state import TransitionError, check_transition, decide
from bot.taskfile import parse_task_file

S = TaskStatus


def plan_of(max_parallel=4, **tasks):
    parsed = [parse_task_file(f"{tid}-t.md", text) for tid, text in tasks.items()]
    snapshot = RepoSnapshot(files=("a.py", "b.py", "c.py", "d.py"))
    return build_plan(parsed, predict_footprints(parsed, snapshot), max_parallel)


def statuses(plan, **given):
    return {tid: given.get(f"t{tid}", S.PLANNED) for tid in plan.merge_order}


def test_launches_up_to_max_parallel_in_merge_order():
    plan = plan_of(2, **{str(n): f"---\nfiles: [f{n}.py]\n---\n" for n in range(1, 5)})
    decision = decide(plan, statuses(plan))
    assert decision.launch == plan.merge_order[:2]
    assert "slots busy" in decision.waiting[plan.merge_order[2]]


def test_conflicting_tasks_are_never_in_flight_together():
    plan = plan_of(**{"1": "---\nfiles: [a.py]\n---\n", "2": "---\nfiles: [a.py]\n---\n"})
    assert decide(plan, statuses(plan)).launch == ("1",)
    assert decide(plan, statuses(plan, t1=S.RUNNING)).launch == ()
    assert decide(plan, statuses(plan, t1=S.REVIEW)).launch == ()
    assert "both" in decide(plan, statuses(plan, t1=S.REVIEW)).waiting["2"]
    assert decide(plan, statuses(plan, t1=S.MERGED)).launch == ("2",)
    # a conflict partner that gave up no longer holds the file
    assert decide(plan, statuses(plan, t1=S.FAILED)).launch == ("2",)


def test_dependencies_wait_for_the_merge_and_block_on_failure():
    plan = plan_of(
        **{"1": "---\nfiles: [a.py]\n---\n", "2": "---\ndepends_on: [1]\nfiles: [b.py]\n---\n"}
    )
    assert decide(plan, statuses(plan, t1=S.REVIEW)).launch == ()
    assert decide(plan, statuses(plan, t1=S.REVIEW)).merge == "1"
    assert decide(plan, statuses(plan, t1=S.MERGED)).launch == ("2",)
    assert decide(plan, statuses(plan, t1=S.NOOP)).launch == ("2",)
    blocked = decide(plan, statuses(plan, t1=S.CONFLICT)).block
    assert blocked == (("2", "dependency 1 ended conflict"),)


def test_merges_strictly_in_merge_order():
    plan = plan_of(**{str(n): f"---\nfiles: [f{n}.py]\n---\n" for n in range(1, 4)})
    first, second, _ = plan.merge_order
    assert (
        decide(plan, statuses(plan, **{f"t{second}": S.REVIEW, f"t{first}": S.RUNNING})).merge
        is None
    )
    assert (
        decide(plan, statuses(plan, **{f"t{second}": S.REVIEW, f"t{first}": S.FAILED})).merge
        == second
    )


def test_done_only_when_everything_ended():
    plan = plan_of(**{"1": "---\nfiles: [a.py]\n---\n"})
    assert not decide(plan, statuses(plan, t1=S.RUNNING)).done
    assert decide(plan, statuses(plan, t1=S.MERGED)).done


def test_transitions():
    check_transition(S.PLANNED, S.RUNNING)
    check_transition(S.RUNNING, S.PLANNED)  # interrupted, resumed
    with pytest.raises(TransitionError, match="from merged to running"):
        check_transition(S.MERGED, S.RUNNING)
    with pytest.raises(TransitionError):
        check_transition(S.PLANNED, S.MERGED)


def test_requeued_task_and_its_dependents_merge_after_the_others():
    plan = plan_of(
        **{
            "1": "---\nfiles: [a.py]\n---\n",
            "2": "---\nfiles: [b.py]\n---\n",
            "3": "---\ndepends_on: [1]\nfiles: [c.py]\n---\n",
            "4": "---\nfiles: [d.py]\n---\n",
        }
    )
    from bot.state import effective_order

    order = effective_order(plan, {"1"})
    assert order[-2:] == ["1", "3"]
    assert set(order[:-2]) == {"2", "4"}
    # everything is in review: without the requeue 1 merges first, with it 2 or 4 does
    given = statuses(plan, t1=S.REVIEW, t2=S.REVIEW, t4=S.REVIEW)
    assert decide(plan, given).merge == plan.merge_order[0] == "1"
    assert decide(plan, given, requeued={"1"}).merge == order[0] != "1"


def test_files_changed_in_an_earlier_attempt_conflict_like_predicted_ones():
    plan = plan_of(**{"1": "---\nfiles: [a.py]\n---\n", "2": "---\nfiles: [b.py]\n---\n"})
    given = statuses(plan)
    assert decide(plan, given).launch == ("1", "2")
    observed = {"1": {"notes.txt", "a.py"}, "2": {"notes.txt", "b.py"}}
    decision = decide(plan, given, observed=observed)
    assert decision.launch == ("1",)
    assert (
        decision.waiting["2"] == "waits for 1 (it changed notes.txt, which this task touches too)"
    )
    assert decide(plan, statuses(plan, t1=S.MERGED), observed=observed).launch == ("2",)


def test_a_planned_task_waits_for_an_earlier_one_seen_changing_its_likely_files():
    plan = plan_of(**{"1": "---\nfiles: [a.py]\n---\n", "2": "---\nfiles: [b.py]\n---\n"})
    running = statuses(plan, t1=S.RUNNING)
    assert decide(plan, running).launch == ("2",)
    # task 1 was seen editing b.py, which task 2 lists: task 2 holds until 1 has landed
    decision = decide(plan, running, observed={"1": {"a.py", "b.py"}})
    assert decision.launch == ()
    assert "it changed b.py" in decision.waiting["2"]
