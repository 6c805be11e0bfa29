import pytest

from bot.analysis import RepoSnapshot, predict_footprints
from bot.models import Rates, TaskState, TaskStatus
from bot.planning import build_plan
from bot.state.decide import decide
from bot.state.policy import Policy, Retry
from bot.state.transitions import TransitionError, check_transition
from bot.taskfile import parse_task_file

S = TaskStatus


def plan_of(max_parallel=4, **tasks):
    parsed = [parse_task_file(f"{tid}-t.md", text) for tid, text in tasks.items()]
    snapshot = RepoSnapshot(files=("a.py", "b.py", "c.py", "d.py"))
    return build_plan(parsed, predict_footprints(parsed, snapshot), max_parallel)


def statuses(plan, **given):
    """Every task's state: `t1=S.RUNNING` gives a status, `t1={...}` any fields."""
    states = {}
    for tid in plan.merge_order:
        value = given.get(f"t{tid}", S.PLANNED)
        fields = value if isinstance(value, dict) else {"status": value}
        states[tid] = TaskState(id=tid, **fields)
    return states


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
    assert decide(plan, statuses(plan, t1=S.CONFLICT)).block == ()  # it will be redone
    blocked = decide(plan, statuses(plan, t1={"status": S.CONFLICT, "redos": 1})).block
    assert blocked == (("2", "dependency 1 ended conflict"),)


def test_unrelated_work_lands_at_once_and_related_work_in_plan_order():
    plan = plan_of(**{str(n): f"---\nfiles: [f{n}.py]\n---\n" for n in range(1, 4)})
    first, second, _ = plan.merge_order
    # the earlier task's agent is slow, but nothing relates the two: the later one lands now
    given = statuses(plan, **{f"t{second}": S.REVIEW, f"t{first}": S.RUNNING})
    assert decide(plan, given).merge == second
    # seen changing a file the later one changes too: it lands first, the other waits
    given[first] = given[first].model_copy(update={"files": (f"f{first}.py", f"f{second}.py")})
    given[second] = given[second].model_copy(update={"files": (f"f{second}.py",)})
    decision = decide(plan, given)
    assert decision.merge is None
    assert decision.waiting[second] == (
        f"review: lands after {first} (it changed f{second}.py, which this task changes too: "
        "conflict risk 30%)"
    )
    # the history says that file rarely conflicts: the later one lands, the risk is the plan's
    quiet = plan.model_copy(update={"rates": Rates(base=0.3, by_file={f"f{second}.py": 0.1})})
    assert decide(quiet, given).merge == second
    # changelog-style files relate nothing: the merge queue merges them as a union
    given[first] = given[first].model_copy(update={"files": ("CHANGES.rst",)})
    given[second] = given[second].model_copy(update={"files": ("CHANGES.rst",)})
    assert decide(plan, given).merge == second
    # of two tasks in review, the first in merge order lands first
    both = statuses(plan, **{f"t{second}": S.REVIEW, f"t{first}": S.REVIEW})
    assert decide(plan, both).merge == first


def test_a_predicted_conflict_keeps_plan_order_at_landing():
    plan = plan_of(**{"1": "---\nfiles: [a.py]\n---\n", "2": "---\nfiles: [a.py]\n---\n"})
    # a redo moves 1 behind 2; if both are in flight, 2 lands only after 1 has ended
    given = statuses(plan, t1=S.RUNNING, t2=S.REVIEW)
    decision = decide(plan, given)
    assert decision.merge is None and decision.waiting["2"].startswith("review: lands after 1")
    given["1"] = given["1"].model_copy(update={"status": S.FAILED})
    assert decide(plan, given).merge == "2"


def _plan_with(max_parallel=4, **footprints):
    from bot.models import Footprint
    from bot.taskfile import parse_task_file

    tasks = [parse_task_file(f"{tid}-t.md", "") for tid in footprints]
    prints = {
        tid: Footprint(files=tuple(conf), confidence=conf) for tid, conf in footprints.items()
    }
    return build_plan(tasks, prints, max_parallel)


def test_a_failure_while_work_it_may_need_is_unfinished_waits_for_that_work():
    # 1 probably creates new.py; 2 might need it: too unlikely to keep them apart
    plan = _plan_with(**{"1": {"a.py": 1.0, "new.py": 0.3}, "2": {"b.py": 1.0, "new.py": 0.2}})
    assert plan.conflicts == ()
    failed = {"status": S.FAILED, "retryable": True, "attempt": 1, "detail": "exit 1"}
    given = statuses(plan, t1=S.RUNNING, t2=failed)
    decision = decide(plan, given, 100.0)
    [requeue] = decision.requeue
    assert requeue.fields == {
        "waits": 1,
        "after": ("1",),
        "retryable": False,
        "retried_after": "",
    }
    assert requeue.detail == (
        "failed (exit 1) while 1 may still change new.py; tried again once it has ended "
        "(wait 1 of 2)"
    )
    waiting = statuses(plan, t1=S.RUNNING, t2={"status": S.PLANNED, "waits": 1, "after": ("1",)})
    decision = decide(plan, waiting, 100.0)
    assert decision.launch == ()
    assert decision.waiting["2"] == "waits for 1 to end (it failed while they were unfinished)"
    waiting["1"] = waiting["1"].model_copy(update={"status": S.MERGED})
    assert decide(plan, waiting, 100.0).launch == ("2",)
    # a second failure waits again (the work it lacked may be another task's); a third, with
    # no wait left, is an ordinary transient failure (retry 1, not 3)
    again = {**failed, "attempt": 2, "waits": 1, "finished_at": 100.0}
    [wait] = decide(plan, statuses(plan, t1=S.RUNNING, t2=again), 100.0).requeue
    assert wait.fields["after"] == ("1",) and wait.detail.endswith("(wait 2 of 2)")
    again = {**failed, "attempt": 3, "waits": 2, "finished_at": 100.0}
    [retry] = decide(plan, statuses(plan, t1=S.RUNNING, t2=again), 100.0).requeue
    assert retry.detail == "transient failure (exit 1); retry 1 of 2 in 10s"


def test_a_failure_after_related_work_landed_is_tried_again_at_once_on_the_new_base():
    """2 started, then 1 landed a change to new.py, which 2 may touch, and 2 failed: what it
    needed may be what 1 brought, so it goes again now (one wait), unless work it may need is
    still unfinished."""
    plan = _plan_with(**{"1": {"a.py": 1.0, "new.py": 0.3}, "2": {"b.py": 1.0, "new.py": 0.2}})
    failed = {"status": S.FAILED, "retryable": True, "attempt": 1, "detail": "exit 1"}
    landed = {"status": S.MERGED, "files": ("a.py", "new.py"), "finished_at": 50.0}
    given = statuses(plan, t1=landed, t2={**failed, "started_at": 40.0, "finished_at": 60.0})
    [requeue] = decide(plan, given, 60.0).requeue
    assert requeue.fields == {"waits": 1, "after": (), "retryable": False, "retried_after": ""}
    assert requeue.detail == (
        "failed (exit 1) after 1 landed a change to new.py it may build on; tried again at "
        "once on the new main (wait 1 of 2)"
    )
    # work still unfinished that it may need comes first: waiting for it covers both
    plan3 = _plan_with(**{"1": {"a.py": 1.0, "new.py": 0.3}, "2": {"b.py": 1.0, "new.py": 0.2},
                          "3": {"c.py": 1.0, "new.py": 0.2}})  # fmt: skip
    given3 = statuses(plan3, t1=landed, t2={**failed, "started_at": 40.0}, t3=S.RUNNING)
    [requeue] = decide(plan3, given3, 60.0).requeue
    assert requeue.fields["after"] == ("3",) and "while 3 may still change new.py" in requeue.detail
    # tried again at once, it keeps its place: it starts before 3, which comes after it
    plan3 = _plan_with(1, **{"1": {"a.py": 1.0}, "2": {"b.py": 1.0}, "3": {"c.py": 1.0}})
    again = statuses(plan3, t1=S.MERGED, t2={"status": S.PLANNED, "waits": 1, "attempt": 1})
    assert decide(plan3, again, 60.0).launch == ("2",)
    # landed before 2 started: 2 had it already, so this is an ordinary failure
    given["2"] = given["2"].model_copy(update={"started_at": 55.0})
    assert decide(plan, given, 60.0).requeue[0].detail.startswith("transient failure")
    # what 1 really changed is what counts, once it is known: not new.py, nothing to retry for
    given = statuses(
        plan,
        t1={**landed, "files": ("a.py",)},
        t2={**failed, "started_at": 40.0, "finished_at": 60.0},
    )
    assert decide(plan, given, 60.0).requeue[0].detail.startswith("transient failure")


def test_a_failure_that_names_its_files_is_judged_on_them():
    """2 failed naming b.py. 1 landed a change to b.py since 2 started, and 3, still running,
    may change b.py too: what 2 lacked has landed, so it goes again at once rather than a whole
    run later. A file the failure does not name (new.py, which 4 may still change) no longer
    holds it back; a failure naming files nobody touches is an ordinary transient failure."""
    plan = _plan_with(**{"1": {"a.py": 1.0, "b.py": 0.2}, "2": {"b.py": 1.0, "new.py": 0.2},
                         "3": {"b.py": 0.3}, "4": {"new.py": 0.3}})  # fmt: skip
    failed = {"status": S.FAILED, "retryable": True, "attempt": 1, "detail": "exit 1",
              "started_at": 40.0, "finished_at": 60.0, "named_files": ("b.py",)}  # fmt: skip
    landed = {"status": S.MERGED, "files": ("a.py", "b.py"), "finished_at": 50.0}
    given = statuses(plan, t1=landed, t2=failed, t3=S.RUNNING, t4=S.RUNNING)
    [requeue] = decide(plan, given, 60.0).requeue
    assert requeue.fields["after"] == ()
    assert requeue.detail.startswith("failed (exit 1) after 1 landed a change to b.py")
    # nothing landed on b.py yet: it waits for 3, the one unfinished task that may change b.py
    given = statuses(plan, t1=S.RUNNING, t2=failed, t3=S.RUNNING, t4=S.RUNNING)
    [requeue] = decide(plan, given, 60.0).requeue
    assert requeue.fields["after"] == ("1", "3")
    # the named file is one no other task is predicted or seen to touch
    given = statuses(plan, t1=landed, t2={**failed, "named_files": ("c.py",)}, t4=S.RUNNING)
    assert decide(plan, given, 60.0).requeue[0].detail.startswith("transient failure")
    # waiting behind 1 and 3, it goes as soon as 1 lands a change to b.py: 3 was only predicted
    waiting = {"status": S.PLANNED, "waits": 1, "after": ("1", "3"), "named_files": ("b.py",)}
    given = statuses(plan, t1=S.RUNNING, t2=waiting, t3=S.RUNNING, t4=S.RUNNING)
    assert "2" not in decide(plan, given, 60.0).launch
    given = statuses(plan, t1=landed, t2=waiting, t3=S.RUNNING, t4=S.RUNNING)
    assert decide(plan, given, 60.0).launch == ("2",)
    given = statuses(plan, t1={**landed, "files": ("a.py",)}, t2=waiting, t3=S.RUNNING)
    assert "2" not in decide(plan, given, 60.0).launch  # 1 landed, but not on b.py
    # without named files, every file it may touch counts, waiting first (before this change)
    given = statuses(plan, t1=landed, t2={**failed, "named_files": ()}, t4=S.RUNNING)
    assert decide(plan, given, 60.0).requeue[0].fields["after"] == ("3", "4")


def test_a_failure_that_names_only_a_changelog_is_judged_on_it():
    """Seen in a replay of click's history: 2 moves CHANGES.rst to CHANGES.md, and its agent
    could not delete a CHANGES.rst that 1 (not landed yet) had added to. The failure named
    only the changelog: that is what it is about, not every file 2 may touch (which made it
    wait for every other task). Once 1 lands a change to CHANGES.rst, 2 goes again at once."""
    plan = _plan_with(**{"1": {"a.py": 1.0, "CHANGES.rst": 0.6}, "2": {"CHANGES.rst": 0.7,
                         "docs/a.md": 0.1}, "3": {"b.py": 1.0, "docs/a.md": 0.2}})  # fmt: skip
    failed = {"status": S.FAILED, "retryable": True, "attempt": 1, "detail": "exit 1",
              "started_at": 40.0, "finished_at": 60.0, "named_files": ("CHANGES.rst",)}  # fmt: skip
    given = statuses(plan, t1=S.REVIEW, t2=failed, t3=S.RUNNING)
    [requeue] = decide(plan, given, 60.0).requeue
    assert requeue.fields["after"] == ("1",)
    assert "while 1 may still change CHANGES.rst" in requeue.detail
    landed = {"status": S.MERGED, "files": ("a.py", "CHANGES.rst"), "finished_at": 50.0}
    [requeue] = decide(plan, statuses(plan, t1=landed, t2=failed, t3=S.RUNNING), 60.0).requeue
    assert requeue.fields["after"] == () and "after 1 landed a change to CHANGES.rst" in (
        requeue.detail
    )
    # a file named beside the changelog is the one that counts
    both = {**failed, "named_files": ("CHANGES.rst", "docs/a.md")}
    [requeue] = decide(plan, statuses(plan, t1=S.REVIEW, t2=both, t3=S.RUNNING), 60.0).requeue
    assert requeue.fields["after"] == ("3",)


def test_a_failure_naming_a_file_it_lacks_waits_for_any_unfinished_task_that_may_create_it():
    """Seen in a replay of click's history: 3 and 5 failed for a CHANGES.md that 2 (`Move
    changes to markdown`) was creating; no prediction had 2 touch a file that did not exist,
    so they were retried after a backoff, not after 2. A file its failure names that its
    checkout lacks, which no unfinished task is predicted or seen to touch: any of them may be
    creating it, so it waits for them all, and goes as soon as one lands it."""
    plan = _plan_with(**{"1": {"a.py": 1.0}, "2": {"b.py": 1.0}, "3": {"c.py": 1.0},
                         "4": {"d.py": 1.0}})  # fmt: skip
    failed = {"status": S.FAILED, "retryable": True, "attempt": 1, "detail": "exit 1",
              "started_at": 40.0, "finished_at": 60.0, "named_files": ("CHANGES.md", "c.py"),
              "missing_files": ("CHANGES.md",)}  # fmt: skip
    given = statuses(plan, t1=S.RUNNING, t2=failed, t3=S.MERGED)
    [requeue] = decide(plan, given, 60.0).requeue
    assert requeue.fields["after"] == ("1", "4")
    assert requeue.detail == (
        "failed (exit 1) while 1, 4 may still create CHANGES.md; tried again once they have "
        "ended (wait 1 of 2)"
    )
    # the same name, there all along: nobody is predicted to touch it, a plain failure
    there = {**failed, "named_files": ("CHANGES.md",), "missing_files": ()}
    given = statuses(plan, t1=S.RUNNING, t2=there, t3=S.MERGED)
    assert decide(plan, given, 60.0).requeue[0].detail.startswith("transient failure")
    # a task predicted to touch it is the one it waits for
    known = _plan_with(**{"1": {"a.py": 1.0}, "2": {"b.py": 1.0}, "3": {"c.py": 1.0},
                          "4": {"d.py": 1.0, "CHANGES.md": 0.3}})  # fmt: skip
    [requeue] = decide(known, statuses(known, t1=S.RUNNING, t2=failed, t3=S.MERGED), 60.0).requeue
    assert requeue.fields["after"] == ("4",)
    # once one of them lands the file, the wait is over
    waiting = {**failed, "status": S.PLANNED, "waits": 1, "after": ("1", "4")}
    created = {"status": S.MERGED, "files": ("a.py", "CHANGES.md"), "finished_at": 70.0}
    given = statuses(plan, t1=created, t2=waiting, t3=S.MERGED, t4=S.RUNNING)
    assert decide(plan, given, 70.0).launch == ("2",)
    given = statuses(plan, t1={**created, "files": ("a.py",)}, t2=waiting, t4=S.RUNNING)
    assert "2" not in decide(plan, given, 70.0).launch


def test_a_failure_never_waits_for_work_that_waits_for_it_or_needs_it():
    plan = _plan_with(**{"1": {"a.py": 1.0, "new.py": 0.3}, "2": {"b.py": 1.0, "new.py": 0.2}})
    failed = {"status": S.FAILED, "retryable": True, "attempt": 1, "detail": "exit 1"}
    # 1 already waits for 2: 2 failing does not wait for 1 (they would wait forever)
    given = statuses(plan, t1={"status": S.PLANNED, "waits": 1, "after": ("2",)}, t2=failed)
    [requeue] = decide(plan, given, 100.0).requeue
    assert requeue.detail.startswith("transient failure")
    # a rate limit is the provider's doing, not missing work: the shared backoff applies
    limited = {**failed, "rate_limited": True}
    [requeue] = decide(plan, statuses(plan, t1=S.RUNNING, t2=limited), 100.0).requeue
    assert requeue.detail.startswith("transient failure")
    # nothing unfinished shares its files: an ordinary retry
    [requeue] = decide(plan, statuses(plan, t1=S.MERGED, t2=failed), 100.0).requeue
    assert requeue.detail.startswith("transient failure")


def test_a_failure_wait_that_would_close_a_circle_of_waits_is_dropped():
    """Seen in a replay of click's history: 5 failed while 8 was unfinished and waited for it;
    8, redone, came after 5 in the merge order and waited for it, seen at work on a file 8
    touches. Nobody started again and the run hung. A failure's wait gives way whenever the
    task it waits for waits, by plan order or through others, for the failed one."""
    waiting = {"status": S.PLANNED, "waits": 1, "after": ("2",), "named_files": ("t.py",)}
    redone = {"status": S.PLANNED, "redos": 1}  # requeued too: both go last, in plan order
    # 2 waits for 1: it comes later and likely touches t.py, which 1's failure named
    plan = _plan_with(**{"1": {"a.py": 1.0, "t.py": 0.2}, "2": {"t.py": 0.9}})
    assert plan.conflicts == ()
    decision = decide(plan, statuses(plan, t1=waiting, t2=redone), 100.0)
    assert decision.launch == ("1",)
    assert "it changed t.py" in decision.waiting["2"]
    # 2 is kept apart from 1 by the plan
    apart = _plan_with(**{"1": {"a.py": 1.0}, "2": {"a.py": 1.0}})
    assert len(apart.conflicts) == 1
    assert decide(apart, statuses(apart, t1=waiting, t2=redone), 100.0).launch == ("1",)
    # a longer circle: 1 waits for 3, 3 for 2 (seen at y.py), 2 for 1 (whose failure named x.py)
    chain = _plan_with(**{"1": {"a.py": 1.0}, "2": {"x.py": 0.9}, "3": {"y.py": 0.9}})
    longer = {"status": S.PLANNED, "waits": 1, "after": ("3",), "named_files": ("x.py",)}
    seen = {**redone, "conflict_files": ("y.py",)}
    given = statuses(chain, t1=longer, t2=seen, t3=redone)
    decision = decide(chain, given, 100.0)
    assert decision.launch == ("1",)
    assert [decision.waiting[t][:12] for t in "23"] == ["waits for 1 ", "waits for 2 "]
    # no circle (3 is running, or nothing waits for 1): the wait stands
    running = statuses(chain, t1=longer, t2=seen, t3=S.RUNNING)
    assert decide(chain, running, 100.0).waiting["1"].startswith("waits for 3 to end")
    alone = statuses(chain, t1={**longer, "named_files": ()}, t2=seen, t3=redone)
    assert decide(chain, alone, 100.0).waiting["1"].startswith("waits for 3 to end")


def test_done_only_when_everything_ended():
    plan = plan_of(**{"1": "---\nfiles: [a.py]\n---\n"})
    assert not decide(plan, statuses(plan, t1=S.RUNNING)).done
    assert decide(plan, statuses(plan, t1=S.MERGED)).done


def test_transitions():
    check_transition(S.PLANNED, S.RUNNING)
    check_transition(S.RUNNING, S.PLANNED)  # interrupted, resumed
    with pytest.raises(TransitionError, match="from merged to running"):
        check_transition(S.MERGED, S.RUNNING)
    check_transition(S.PLANNED, S.MERGED)  # found already on the base
    with pytest.raises(TransitionError):
        check_transition(S.PLANNED, S.REVIEW)


def test_requeued_task_and_its_dependents_merge_after_the_others():
    plan = plan_of(
        **{
            "1": "---\nfiles: [a.py]\n---\n",
            "2": "---\nfiles: [b.py]\n---\n",
            "3": "---\ndepends_on: [1]\nfiles: [c.py]\n---\n",
            "4": "---\nfiles: [d.py]\n---\n",
        }
    )
    from bot.state.schedule import effective_order

    order = effective_order(plan, {"1"})
    assert order[-2:] == ["1", "3"]
    assert set(order[:-2]) == {"2", "4"}
    # everything is in review: without the requeue 1 merges first, with it 2 or 4 does
    given = statuses(plan, t1=S.REVIEW, t2=S.REVIEW, t4=S.REVIEW)
    assert decide(plan, given).merge == plan.merge_order[0] == "1"
    given["1"] = given["1"].model_copy(update={"redos": 1})  # conflicted once, redone
    assert decide(plan, given).merge == order[0] != "1"


def test_files_changed_in_an_earlier_attempt_conflict_like_predicted_ones():
    plan = plan_of(**{"1": "---\nfiles: [a.py]\n---\n", "2": "---\nfiles: [b.py]\n---\n"})
    given = statuses(plan)
    assert decide(plan, given).launch == ("1", "2")
    seen = statuses(
        plan,
        t1={"conflict_files": ("notes.txt", "a.py")},
        t2={"conflict_files": ("notes.txt", "b.py")},
    )
    decision = decide(plan, seen)
    assert decision.launch == ("1",)
    assert (
        decision.waiting["2"]
        == "waits for 1 (it changed notes.txt, which this task changes too: conflict risk 30%)"
    )
    seen["1"] = seen["1"].model_copy(update={"status": S.MERGED})
    assert decide(plan, seen).launch == ("2",)


def test_a_file_seen_changed_holds_up_only_a_task_whose_conflict_risk_it_makes_high():
    """Seen in a replay of httpx's history: task 6 (docstring of the Client class, 87% on
    _client.py) sat out 5 s with three slots free behind task 5, seen changing _client.py,
    though the two did not conflict. A seen file counts as certain in the plan's own risk
    model, with the rates the plan learnt: below its threshold they run side by side, and a
    real conflict is caught while they run."""
    from bot.models import Footprint
    from bot.planning.risk import ConflictRates

    tasks = [parse_task_file(f"{t}-t.md", "") for t in "12"]
    prints = {
        "1": Footprint(files=("a.py",), confidence={"a.py": 0.9}),
        "2": Footprint(files=("app.py",), confidence={"app.py": 0.87}),
    }
    # app.py rarely conflicted; the plan keeps the rates of its footprints' files only
    quiet = ConflictRates(base=0.3, by_file={"app.py": 0.1, "elsewhere.py": 0.9})
    plan = build_plan(tasks, prints, 2, rates=quiet)
    assert plan.rates is not None and plan.rates.by_file == {"app.py": 0.1}
    seen = statuses(plan, t1={"status": S.RUNNING, "files": ("a.py", "app.py")})
    assert decide(plan, seen).launch == ("2",)  # 0.87 x 10%: 8%, under 25%
    hot = ConflictRates(base=0.3, by_file={"app.py": 0.6})
    plan = build_plan(tasks, prints, 2, rates=hot)
    decision = decide(plan, seen)
    assert decision.launch == ()  # 0.87 x 60%: 52%
    assert decision.waiting["2"] == (
        "waits for 1 (it changed app.py, which this task may touch too: conflict risk 52%)"
    )
    # a plan kept in a store before plans kept their rates: the default rate (30%)
    old = plan.model_copy(update={"rates": None})
    assert decide(old, seen).waiting["2"].endswith("conflict risk 26%)")


def test_a_planned_task_waits_for_an_earlier_one_seen_changing_its_likely_files():
    plan = plan_of(**{"1": "---\nfiles: [a.py]\n---\n", "2": "---\nfiles: [b.py]\n---\n"})
    running = statuses(plan, t1=S.RUNNING)
    assert decide(plan, running).launch == ("2",)
    # task 1 was seen editing b.py, which task 2 lists: task 2 holds until 1 has landed
    decision = decide(plan, statuses(plan, t1={"status": S.RUNNING, "files": ("a.py", "b.py")}))
    assert decision.launch == ()
    assert "it changed b.py" in decision.waiting["2"]


def test_a_changelog_git_could_not_merge_as_a_union_relates_tasks_again():
    """2 conflicted in CHANGES.rst (1 renamed the heading 2 added under): redone, it waits
    for 3, which is seen changing CHANGES.rst too, instead of racing it there again."""
    plan = plan_of(**{"1": "---\nfiles: [a.py]\n---\n", "2": "---\nfiles: [b.py]\n---\n",
                      "3": "---\nfiles: [c.py]\n---\n"})  # fmt: skip
    redo = {"status": S.PLANNED, "redos": 1, "conflict_files": ("CHANGES.rst",)}
    busy = {"status": S.RUNNING, "files": ("c.py", "CHANGES.rst")}
    decision = decide(plan, statuses(plan, t1=S.MERGED, t2=redo, t3=busy))
    assert decision.launch == ()
    assert decision.waiting["2"] == (
        "waits for 3 (it changed CHANGES.rst, which this task changes too: conflict risk 100%)"
    )
    # a union merge that never failed relates nobody: the redo of a conflict in b.py goes
    calm = {**redo, "conflict_files": ("b.py",)}
    assert decide(plan, statuses(plan, t1=S.MERGED, t2=calm, t3=busy)).launch == ("2",)


def test_a_transient_failure_is_retried_after_a_doubling_backoff_then_given_up():
    plan = plan_of(**{"1": "---\nfiles: [a.py]\n---\n"})
    policy = Policy(retry=Retry(attempts=2, backoff=10.0))
    failed = {"status": S.FAILED, "retryable": True, "finished_at": 100.0, "detail": "exit 1"}
    decision = decide(plan, statuses(plan, t1={**failed, "attempt": 1}), 100.0, policy)
    [requeue] = decision.requeue
    assert requeue.fields == {"retry_at": 110.0, "retryable": False, "retried_after": ""}
    assert requeue.detail == "transient failure (exit 1); retry 1 of 2 in 10s"
    assert decision.launch == () and decision.waiting["1"] == "retrying in 10s"
    second = decide(plan, statuses(plan, t1={**failed, "attempt": 2}), 100.0, policy)
    assert second.requeue[0].fields["retry_at"] == 120.0  # doubled
    assert decide(plan, statuses(plan, t1={**failed, "attempt": 3}), 100.0, policy).requeue == ()
    not_transient = {**failed, "attempt": 1, "retryable": False}
    assert decide(plan, statuses(plan, t1=not_transient), 100.0, policy).requeue == ()
    # a requeued task starts once its backoff has passed
    held = statuses(plan, t1={"status": S.PLANNED, "retry_at": 110.0})
    assert decide(plan, held, 109.0, policy).launch == ()
    assert decide(plan, held, 110.0, policy).launch == ("1",)


def _failing(**fields):
    """A task's state after its agent failed, saying `d1`, in an attempt started at 90."""
    return {
        "status": S.FAILED,
        "retryable": True,
        "started_at": 90.0,
        "finished_at": 100.0,
        "detail": "agent exited with code 1",
        "attempt": 1,
        "start_sha": "a" * 40,
        "failure_digest": "d1",
        **fields,
    }


def test_a_failure_said_again_with_nothing_new_landed_is_not_tried_again():
    plan = plan_of(**{"1": "---\nfiles: [a.py]\n---\n"})
    policy = Policy(retry=Retry(attempts=3, backoff=10.0))
    [first] = decide(plan, statuses(plan, t1=_failing()), 100.0, policy).requeue
    assert first.fields["retried_after"] == "d1:agent exited with code 1"
    said = first.fields["retried_after"]
    again = _failing(attempt=2, started_at=110.0, finished_at=120.0, retried_after=said)
    decision = decide(plan, statuses(plan, t1=again), 130.0, policy)
    assert decision.requeue == () and decision.launch == ()
    [(task_id, detail)] = decision.give_up
    assert task_id == "1" and detail == (
        "agent exited with code 1; it failed as the attempt before it did, and nothing has "
        "landed since it started that changes a.py: not tried again"
    )
    # the agent said something else, or the service caused it (no digest): another attempt
    # may do better
    for changed in ({"failure_digest": "d2"}, {"failure_digest": ""}):
        decision = decide(plan, statuses(plan, t1={**again, **changed}), 130.0, policy)
        assert decision.give_up == () and len(decision.requeue) == 1


def test_a_failure_said_again_is_tried_again_once_work_on_its_files_has_landed_since():
    plan = plan_of(**{"1": "---\nfiles: [a.py]\n---\n", "2": "---\nfiles: [b.py]\n---\n"})
    first = plan.merge_order[0]
    other = next(t for t in plan.merge_order if t != first)
    said = "d1:agent exited with code 1"
    again = _failing(named_files=("a.py",), attempt=2, started_at=110.0, retried_after=said)

    def decided(landed_files, landed_at):
        landed = {"status": S.MERGED, "files": landed_files, "finished_at": landed_at}
        return decide(plan, statuses(plan, **{f"t{first}": again, f"t{other}": landed}), 130.0)

    # a change to a file it did not name landed while it ran: nothing it lacked
    [(_, detail)] = decided(("b.py",), 115.0).give_up
    assert "nothing has landed since it started that changes a.py" in detail
    # one to a file it named landed while it ran: the next attempt has it, this one did not
    decision = decided(("a.py", "b.py"), 115.0)
    assert decision.give_up == () and len(decision.requeue) == 1
    # it had landed before this attempt started: this attempt had it, and failed alike
    assert len(decided(("a.py",), 105.0).give_up) == 1


def test_a_changelog_it_named_landed_since_is_worth_another_attempt():
    """Seen in a replay of click's history: task 5 failed, naming tests/test_basic.py and the
    CHANGES.md that task 2 ("Move CHANGES to markdown") was creating; 2 landed while 5's
    second attempt ran, which then failed alike. It was given up, a changelog being no file a
    failure is about while another is named; what it lacked had just landed."""
    plan = plan_of(**{"1": "---\nfiles: [t.py]\n---\n", "2": "---\nfiles: [b.py]\n---\n"})
    first = plan.merge_order[0]
    other = next(t for t in plan.merge_order if t != first)
    said = "d1:agent exited with code 1"
    named = ("t.py", "CHANGES.md")
    again = _failing(named_files=named, attempt=2, started_at=110.0, retried_after=said)
    landed = {"status": S.MERGED, "files": ("CHANGES.md", "CHANGES.rst"), "finished_at": 115.0}
    given = statuses(plan, **{f"t{first}": again, f"t{other}": landed})
    decision = decide(plan, given, 130.0)
    assert decision.give_up == ()
    [requeue] = decision.requeue
    assert requeue.task_id == first and requeue.detail.startswith("transient failure")
    # the changelog landed before this attempt started: this one had it, and failed alike
    landed["finished_at"] = 105.0
    given = statuses(plan, **{f"t{first}": again, f"t{other}": landed})
    [(_, detail)] = decide(plan, given, 130.0).give_up
    assert "nothing has landed since it started that changes CHANGES.md, t.py" in detail


def test_the_same_failure_still_waits_for_work_it_may_lack():
    plan = plan_of(**{"1": "---\nfiles: [a.py]\n---\n", "2": "---\nfiles: [a.py]\n---\n"})
    first, later = plan.merge_order
    [requeue] = decide(plan, statuses(plan, **{f"t{later}": _failing()}), 100.0).requeue
    seen = {"retried_after": requeue.fields["retried_after"], "attempt": 2}
    states = statuses(plan, **{f"t{later}": _failing(**seen), f"t{first}": S.RUNNING})
    decision = decide(plan, states, 100.0, Policy())
    assert decision.give_up == ()
    assert decision.requeue[0].fields["after"] == (first,)


def test_a_retry_in_backoff_takes_no_agent_slot():
    plan = plan_of(1, **{"1": "---\nfiles: [a.py]\n---\n", "2": "---\nfiles: [b.py]\n---\n"})
    held = statuses(plan, t1={"status": S.PLANNED, "retry_at": 50.0})
    assert decide(plan, held, 0.0).launch == ("2",)


def test_a_conflict_is_redone_while_redos_remain():
    plan = plan_of(**{"1": "---\nfiles: [a.py]\n---\n"})
    policy = Policy(conflict_redos=1, base="trunk")
    conflict = {"status": S.CONFLICT, "detail": "conflicts with trunk in a.py"}
    [requeue] = decide(plan, statuses(plan, t1=conflict), 0.0, policy).requeue
    assert requeue.fields == {"redos": 1}
    assert requeue.detail.endswith("redo 1 of 1 on the new trunk, after the others")
    redone = decide(plan, statuses(plan, t1={**conflict, "redos": 1}), 0.0, policy)
    assert redone.requeue == () and redone.done


def test_a_silent_agent_is_lost_then_retried_like_a_transient_failure():
    plan = plan_of(**{"1": "---\nfiles: [a.py]\n---\n"})
    policy = Policy(retry=Retry(attempts=1, backoff=5.0), stale_after=600.0)
    running = {"status": S.RUNNING, "attempt": 1, "heartbeat_at": 1000.0}
    assert decide(plan, statuses(plan, t1=running), 1600.0, policy).fail == ()
    decision = decide(plan, statuses(plan, t1=running), 1601.0, policy)
    assert decision.fail == (("1", "no heartbeat for 10.0167m: the agent was lost"),)
    assert decision.requeue[0].fields["retry_at"] == 1606.0
    last = decide(plan, statuses(plan, t1={**running, "attempt": 2}), 1601.0, policy)
    assert last.fail and last.requeue == ()  # no attempt left: it stays failed
    # without a stale limit (local mode owns its agents), silence is never loss
    assert decide(plan, statuses(plan, t1=running), 1e9).fail == ()


def test_retry_applies_to_ended_tasks_and_cancel_to_waiting_or_running_ones():
    from bot.state.transitions import cancelled, retry_problem

    assert retry_problem("1", TaskState(id="1", status=S.FAILED)) is None
    assert retry_problem("1", TaskState(id="1", status=S.BLOCKED)) is None
    assert "only an ended task" in retry_problem("1", TaskState(id="1", status=S.RUNNING))
    assert "not a task of this plan" in retry_problem("7", None)
    assert cancelled(S.RUNNING) is S.FAILED and cancelled(S.PLANNED) is S.BLOCKED
    assert cancelled(S.MERGED) is None and cancelled(S.REVIEW) is S.FAILED  # will not land


def test_the_budget_lets_start_only_what_it_can_pay_for():
    from bot.budget import Budget, spend_line

    plan = plan_of(**{str(n): f"---\nfiles: [f{n}.py]\n---\n" for n in range(1, 5)})
    done = {"status": S.MERGED, "cost_usd": 0.4, "started_at": 0.0, "finished_at": 60.0}
    given = statuses(plan, t1=done)
    budget = Policy(budget=Budget(max_usd=1.0))
    decision = decide(plan, given, 100.0, budget)
    assert len(decision.launch) == 1  # $0.60 left buys one more attempt like the dearest
    assert set(decision.waiting.values()) >= {"budget: $0.40 spent of $1.00"}
    capped = Policy(budget=Budget(max_usd=1.0, task_max_usd=0.2))
    assert len(decide(plan, given, 100.0, capped).launch) == 3  # 0.60 / 0.20
    minutes = Policy(budget=Budget(max_agent_minutes=1))
    held = decide(plan, given, 100.0, minutes)
    assert held.launch == () and "budget: 1.0 of 1 agent minutes used" in held.waiting.values()
    assert decide(plan, given, 100.0).launch == plan.merge_order[1:]  # no budget, no hold
    assert spend_line(given, Budget(max_usd=1.0)) == "Spent $0.40 of $1.00; agents ran 1.0 minutes."
    assert spend_line(statuses(plan), Budget()) == ""


def test_a_rate_limit_pauses_every_task_on_that_provider_until_the_retry():
    plan = plan_of(**{str(n): f"---\nfiles: [f{n}.py]\n---\n" for n in range(1, 4)})
    policy = Policy(
        retry=Retry(attempts=2, backoff=30.0), provider={"1": "claude", "2": "claude", "3": "codex"}
    )
    limited = {
        "status": S.FAILED,
        "retryable": True,
        "rate_limited": True,
        "attempt": 1,
        "finished_at": 100.0,
        "detail": "exit 1",
    }
    decision = decide(plan, statuses(plan, t1=limited), 100.0, policy)
    assert decision.requeue[0].fields["retry_at"] == 130.0
    assert decision.launch == ("3",)  # another provider is not held
    assert decision.waiting["2"] == "claude rate-limited: resumes in 30s"
    assert decision.waiting["1"] == "retrying in 30s"
    after = statuses(
        plan, t1={"status": S.PLANNED, "retry_at": 130.0, "rate_limited": True, "attempt": 1}
    )
    assert set(decide(plan, after, 130.0, policy).launch) == {"1", "2", "3"}


def test_the_budget_sets_money_aside_for_agents_still_running():
    from bot.budget import Budget

    plan = plan_of(**{str(n): f"---\nfiles: [f{n}.py]\n---\n" for n in range(1, 5)})
    policy = Policy(budget=Budget(max_usd=1.0, task_max_usd=0.4))
    assert len(decide(plan, statuses(plan), 0.0, policy).launch) == 2
    two_running = statuses(plan, t1=S.RUNNING, t2=S.RUNNING)
    assert decide(plan, two_running, 0.0, policy).launch == ()  # $0.80 set aside


def test_a_rate_limited_task_with_no_retry_left_still_pauses_its_provider():
    plan = plan_of(**{"1": "---\nfiles: [a.py]\n---\n", "2": "---\nfiles: [b.py]\n---\n"})
    policy = Policy(retry=Retry(attempts=0, backoff=20.0), provider={"1": "claude", "2": "claude"})
    failed = {"status": S.FAILED, "retryable": True, "rate_limited": True, "attempt": 1,
              "finished_at": 100.0}  # fmt: skip
    decision = decide(plan, statuses(plan, t1=failed), 105.0, policy)
    assert decision.requeue == () and decision.waiting["2"].startswith("claude rate-limited")
    assert decide(plan, statuses(plan, t1=failed), 121.0, policy).launch == ("2",)


def test_work_in_progress_that_already_conflicts_is_stopped_and_redone():
    plan = plan_of(**{"1": "---\nfiles: [a.py]\n---\n", "2": "---\nfiles: [b.py]\n---\n"})
    policy = Policy(conflict_redos=1, base="trunk")
    clash = {"status": S.RUNNING, "clashes": ("1",), "clash_files": ("c.py",)}
    # the later of two running tasks whose work conflicts is stopped; the earlier goes on
    given = statuses(plan, t1={**clash, "clashes": ("2",)}, t2=clash)
    [restart] = decide(plan, given, 0.0, policy).restart
    assert (restart.task_id, restart.files) == ("2", ("c.py",))
    assert restart.detail == (
        "its work in progress conflicts with 1's, which lands first in c.py: stopped early"
    )
    # it is then redone like a conflict found at merge time, once 1 has ended
    stopped = statuses(
        plan,
        t1={"status": S.RUNNING, "files": ("a.py", "c.py")},
        t2={"status": S.CONFLICT, "conflict_files": ("c.py",), "detail": restart.detail},
    )
    [redo] = decide(plan, stopped, 0.0, policy).requeue
    assert redo.task_id == "2" and redo.fields == {"redos": 1}
    waiting = statuses(
        plan,
        t1={"status": S.RUNNING, "files": ("a.py", "c.py")},
        t2={"status": S.PLANNED, "redos": 1, "conflict_files": ("c.py",)},
    )
    assert decide(plan, waiting, 0.0, policy).waiting["2"].startswith("waits for 1")
    # what landed on the base since it started: stopped, and redone at once on the new base
    moved = statuses(plan, t2={"status": S.RUNNING, "base_clash": True, "clash_files": ("c.py",)})
    [restart] = decide(plan, moved, 0.0, policy).restart
    assert restart.detail.startswith("its work in progress conflicts with what landed on trunk")
    # no redo left: the agent finishes, the merge queue has the last word
    spent = {"status": S.RUNNING, "base_clash": True, "clash_files": ("c.py",), "redos": 1}
    assert decide(plan, statuses(plan, t2=spent), 0.0, policy).restart == ()
    # a clash with a later task, or one that has ended, stops nothing
    ended = statuses(plan, t1={**clash, "clashes": ("2",)}, t2=S.FAILED)
    assert decide(plan, ended, 0.0, policy).restart == ()


def test_a_failure_whose_wait_is_over_keeps_its_place():
    """Seen in a replay of click's history: 2 failed on the changelog and waited behind every
    task that may change it; 1 landed a change to it, so the wait was over, but 2 still counted
    as requeued, after 3 (kept apart from it), and waited for 3's whole run of retries. A wait
    that is over keeps the task's place: 2 starts, 3 waits for it."""
    plan = _plan_with(**{"1": {"a.py": 1.0, "CHANGES.rst": 0.6}, "2": {"core.py": 1.0,
                         "CHANGES.rst": 0.5}, "3": {"core.py": 1.0}})  # fmt: skip
    assert [(c.a, c.b) for c in plan.conflicts] == [("2", "3")]
    landed = {"status": S.MERGED, "files": ("a.py", "CHANGES.rst"), "finished_at": 50.0}
    waiting = {"status": S.PLANNED, "waits": 1, "after": ("1", "3"),
               "named_files": ("CHANGES.rst",)}  # fmt: skip
    decision = decide(plan, statuses(plan, t1=landed, t2=waiting), 60.0)
    assert decision.launch == ("2",)
    assert decision.waiting["3"].startswith("waits for 2")
    # while the wait lasts (1 has not landed yet), 2 goes after the others
    decision = decide(plan, statuses(plan, t1=S.RUNNING, t2=waiting), 60.0)
    assert decision.launch == ("3",)


def test_a_wait_is_over_for_a_task_that_has_failed_since():
    """Seen in a replay of click's history: 1 failed while 2 might still change t.py and
    waited for it; 2 then failed too (it lacked 1's work) and went into its backoff, while 1
    still waited for it to end: 50 s of two tasks waiting on each other. Once the task waited
    for has itself ended an attempt without landing, its work is not coming soon: 1 goes."""
    plan = _plan_with(**{"1": {"t.py": 0.4, "a.py": 1.0}, "2": {"t.py": 0.4, "b.py": 1.0}})
    waiting = {"status": S.PLANNED, "waits": 1, "after": ("2",), "finished_at": 14.0,
               "named_files": ("t.py",)}  # fmt: skip
    not_yet = statuses(plan, t1=waiting, t2=S.RUNNING)
    assert "1" not in decide(plan, not_yet, 20.0).launch
    backing_off = {"status": S.PLANNED, "finished_at": 26.0, "retry_at": 36.0, "attempt": 1}
    decision = decide(plan, statuses(plan, t1=waiting, t2=backing_off), 27.0)
    assert decision.launch == ("1",)
    # a task that has not run since the wait began is still waited for
    fresh = {"status": S.PLANNED, "finished_at": 10.0}
    assert "1" not in decide(plan, statuses(plan, t1=waiting, t2=fresh), 27.0).launch


def test_a_failure_waiting_for_many_tasks_names_a_few():
    """A changelog may be in every task's footprint: the wait names five and counts the rest."""
    plan = _plan_with(**{str(n): {f"f{n}.py": 1.0, "CHANGES.rst": 0.4} for n in range(1, 10)})
    failed = {"status": S.FAILED, "retryable": True, "attempt": 1, "detail": "exit 1",
              "named_files": ("CHANGES.rst",)}  # fmt: skip
    others = {f"t{n}": S.RUNNING for n in range(2, 10)}
    [requeue] = decide(plan, statuses(plan, t1=failed, **others), 60.0).requeue
    assert len(requeue.fields["after"]) == 8
    assert "while 2, 3, 4, 5, 6 (+3 more) may still change CHANGES.rst" in requeue.detail


def test_a_task_in_its_backoff_holds_up_no_related_task():
    """Seen in a replay of click's history: 3 and 6 waited 35 s behind 8, earlier in the order
    and related, while 8 waited out two backoffs before it was given up. A task in its backoff
    goes after the others; once due, it waits for the related ones in flight instead."""
    plan = plan_of(**{"1": "---\nfiles: [a.py]\n---\n", "2": "---\nfiles: [a.py]\n---\n"})
    assert plan.merge_order == ("1", "2") and plan.conflicts
    backing_off = {"status": S.PLANNED, "attempt": 1, "finished_at": 5.0, "retry_at": 15.0}
    decision = decide(plan, statuses(plan, t1=backing_off), 6.0)
    assert decision.launch == ("2",)
    assert decision.waiting["1"] == "retrying in 9s"
    decision = decide(plan, statuses(plan, t1=backing_off, t2=S.RUNNING), 16.0)
    assert decision.launch == () and decision.waiting["1"].startswith("waits for 2")
    # in review, 2 lands first: 1 is not in flight
    assert decide(plan, statuses(plan, t1=backing_off, t2=S.REVIEW), 16.0).merge == "2"
