"""Dependencies (declared, stated, implied), cycles, weighted conflicts, estimates."""

from __future__ import annotations

import pytest

from bot.analysis.kinship import Kinship
from bot.models import Footprint, Task
from bot.planning import PlanError, build_plan, dependency_graph, find_conflicts
from bot.planning.changelogs import is_mergeable
from bot.planning.estimates import estimate
from bot.planning.risk import NAME_RATE, TEXT_WEIGHT, ConflictRates


def task(task_id: str, text: str = "", **kw) -> Task:
    return Task(id=task_id, slug="t", title=text or f"task {task_id}", **kw)


def test_declared_cycle_is_an_error_that_names_it():
    tasks = [
        task("1", depends_on=("3",)),
        task("2", depends_on=("1",)),
        task("3", depends_on=("2",)),
    ]
    with pytest.raises(PlanError, match=r"dependency cycle: .*1.*->.*2.*->.*3"):
        dependency_graph(tasks)


def test_stated_dependencies_in_text():
    tasks = [task("12"), task("13"), task("14", "Blocked by #12, depends on #13 and after #99")]
    graph = dependency_graph(tasks)
    assert graph.has_edge("12", "14") and graph.has_edge("13", "14")
    assert "Blocked by #12" in graph.edges["12", "14"]["reason"]


def test_stated_cycle_is_an_error():
    with pytest.raises(PlanError, match="cycle"):
        dependency_graph([task("1", "after #2"), task("2", "after #1")])


def test_implied_dependency_when_a_task_mentions_a_file_another_creates():
    creator = Footprint(files=("src/pkg/cache.py",), reasons={"src/pkg/cache.py": "(new file)"})
    footprints = {"1": creator, "2": Footprint(files=("a.py",))}
    tasks = [task("1", "Add src/pkg/cache.py"), task("2", "Use pkg.cache in the views")]
    graph = dependency_graph(tasks, footprints)
    assert graph.has_edge("1", "2")
    assert "creates" in graph.edges["1", "2"]["reason"]


def test_unknown_dependency_and_duplicates_are_errors():
    with pytest.raises(PlanError, match="unknown task 9"):
        dependency_graph([task("1", depends_on=("9",))])
    with pytest.raises(PlanError, match="duplicate"):
        dependency_graph([task("1"), task("1")])


def test_conflicts_are_weighted_by_confidence():
    sure = Footprint(files=("app.py",))
    likely = Footprint(files=("app.py",), confidence={"app.py": 0.5})
    faint = Footprint(files=("app.py",), confidence={"app.py": 0.1})
    always = ConflictRates(base=1.0)  # every shared file conflicts: risk = chance of sharing
    found = find_conflicts({"a": sure, "b": likely, "c": faint}, threshold=0.2, rates=always)
    pairs = {(c.a, c.b): c for c in found}
    assert pairs[("a", "b")].weight == 0.5
    assert ("b", "c") not in pairs  # 0.5 * 0.1 = 0.05 < 0.2
    assert pairs[("a", "b")].reason == "both may touch app.py (50% that both do): conflict risk 50%"


def test_sharing_a_file_that_rarely_conflicts_here_runs_side_by_side():
    both = Footprint(files=("requirements.txt", "app.py"), confidence={"app.py": 0.5})
    calm = ConflictRates(base=0.3, by_file={"requirements.txt": 0.1})
    plan = build_plan([task("1"), task("2")], {"1": both, "2": both}, 4, rates=calm)
    assert plan.conflicts == () and plan.waves == (("1", "2"),)
    [pair] = plan.side_by_side
    # P(share) 1 - (1 - 1)(1 - 0.25) = 1; rate (1 * 0.1 + 0.25 * 0.3) / 1.25 = 0.14
    assert (pair.share, pair.weight) == (1.0, 0.14)
    assert pair.reason == "both touch requirements.txt (+1 more): conflict risk 14%"
    hot = ConflictRates(base=0.3, by_file={"requirements.txt": 0.9})
    kept = build_plan([task("1"), task("2")], {"1": both, "2": both}, 4, rates=hot)
    assert len(kept.waves) == 2 and kept.conflicts[0].weight >= kept.conflict_threshold


def test_a_risk_just_under_the_threshold_never_reads_as_the_threshold():
    """Seen in a replay's plan: `conflict risk 25%, below 25%` for a risk of 24.9%."""
    faint = Footprint(files=("app.py",), confidence={"app.py": 0.249})
    sure = Footprint(files=("app.py",), confidence={"app.py": 1.0})
    plan = build_plan(
        [task("1"), task("2")], {"1": sure, "2": faint}, 4, rates=ConflictRates(base=1.0)
    )
    [pair] = plan.side_by_side
    assert pair.weight < plan.conflict_threshold == 0.25
    assert pair.reason.endswith("conflict risk 24%")


def test_changelog_files_never_conflict():
    assert is_mergeable("CHANGES.rst") and is_mergeable("docs/changelog.md")
    assert is_mergeable("NEWS") and is_mergeable("HISTORY.txt")
    # a source file the patterns match is code, not a changelog (sphinx, orchestrate itself)
    assert not is_mergeable("sphinx/builders/changes.py")
    assert not is_mergeable("bot/analysis/history.py")
    assert not is_mergeable("src/changelog.ts")
    both = Footprint(files=("CHANGES.rst",))
    assert find_conflicts({"a": both, "b": both}) == []


def test_unknown_footprint_conflicts_with_everything_and_runs_alone():
    footprints = {
        "1": Footprint(files=("a.py",)),
        "2": Footprint(unknown=True),
        "3": Footprint(files=("b.py",)),
    }
    plan = build_plan([task("1"), task("2"), task("3")], footprints, 4)
    assert ("2",) in plan.waves
    assert any("no predicted footprint" in note for note in plan.notes)


def test_size_labels_set_estimates():
    assert estimate(task("1", labels=("size/S",))) == 0.5
    assert estimate(task("1", labels=("size: L",))) == 2.0
    assert estimate(task("1", labels=("estimate/3",))) == 3.0
    assert estimate(task("1", labels=("bug",))) == 1.0


def test_estimate_uses_sizes():
    tasks = [task("1", labels=("size/XL",)), task("2"), task("3")]
    footprints = {t.id: Footprint(files=(f"{t.id}.py",)) for t in tasks}
    plan = build_plan(tasks, footprints, 2)
    assert plan.estimate.sequential == 6.0
    assert plan.estimate.lower_bound == 4.0
    assert plan.estimate.makespan == 4.0
    assert plan.critical_path == ("1",)


def test_of_two_tasks_kept_apart_the_older_goes_first_even_when_the_newer_is_busier():
    """3 may conflict with 1 and 2: it used to start first as the most conflicted; now 1 and 2,
    older, go first and 3 follows, as a newer change is the likelier to build on older ones."""
    shared = Footprint(files=("app.py",))
    prints = {
        "1": shared,
        "2": Footprint(files=("cli.py",)),
        "3": Footprint(files=("app.py", "cli.py")),
    }
    plan = build_plan([task("1"), task("2"), task("3")], prints, 4, rates=ConflictRates(base=1.0))
    assert plan.waves == (("1", "2"), ("3",))
    assert plan.merge_order == ("1", "2", "3")


def test_tasks_whose_texts_are_alike_are_kept_apart_without_a_shared_file():
    prints = {"1": Footprint(files=("a.py",)), "2": Footprint(files=("b.py",))}
    tasks = [task("1"), task("2")]
    apart = build_plan(tasks, prints, 4, alike={("1", "2"): Kinship(0.5)})
    [pair] = apart.conflicts
    assert (pair.weight, pair.files) == (TEXT_WEIGHT * 0.5, ())
    assert pair.reason == f"texts alike (0.50): conflict risk {TEXT_WEIGHT * 0.5:.0%}"
    assert apart.waves == (("1",), ("2",))
    # a shared file and texts alike: two independent ways to conflict
    both = Footprint(files=("a.py",), confidence={"a.py": 0.5})
    calm = ConflictRates(base=0.4)
    plan = build_plan(
        tasks, {"1": both, "2": both}, 4, rates=calm, alike={("2", "1"): Kinship(0.1)}
    )
    [pair] = plan.side_by_side
    risk = 1 - (1 - 0.25 * 0.4) * (1 - TEXT_WEIGHT * 0.1)
    assert pair.weight == round(risk, 3)
    assert pair.reason == (
        "both may touch a.py (25% that both do): 10% from the files, texts alike (0.10): "
        f"conflict risk {risk:.0%}"
    )


def test_tasks_naming_one_rare_thing_are_kept_apart_and_the_plan_says_what():
    prints = {"1": Footprint(files=("CHANGES.rst",)), "2": Footprint(files=("src/version.py",))}
    named = {("1", "2"): Kinship(0.0, ("0.27.1",))}
    plan = build_plan([task("1"), task("2")], prints, 4, alike=named)
    [pair] = plan.conflicts
    assert (pair.weight, pair.reason) == (NAME_RATE, "both name `0.27.1`: conflict risk 85%")
    assert plan.waves == (("1",), ("2",))


def test_a_task_others_must_wait_for_starts_first():
    """3 and 4 are kept apart (both change c.py), 1 and 2 hold nobody up. Taken by age, 1 and
    2 fill the first wave and 4 waits a wave behind 3: three waves. Taken by what waits on
    them, 3 goes first and 4 follows in the second wave, beside 2."""
    prints = {n: Footprint(files=(f"{f}.py",)) for n, f in zip("1234", "abcc", strict=True)}
    tasks = [task(n) for n in "1234"]
    plan = build_plan(tasks, prints, 2, rates=ConflictRates(base=1.0))
    assert [(c.a, c.b) for c in plan.conflicts] == [("3", "4")]
    assert plan.waves == (("3", "1"), ("2", "4"))
    # the older of the pair still goes first: 4 never starts before 3
    assert plan.merge_order.index("3") < plan.merge_order.index("4")


def test_of_pairs_that_run_side_by_side_the_riskiest_go_to_different_waves_where_there_is_room():
    """1 and 2 may conflict (22%), too little to keep them apart; 3 and 4 touch nothing they
    do. Two slots, four tasks: two waves either way. Taken by age, 1 and 2 share the first
    and risk a redo; taken by risk, 2 waits for a slot behind 3, and the plan says why."""
    risky = Footprint(files=("app.py",), confidence={"app.py": 0.5})
    calm = {n: Footprint(files=(f"{n}.py",)) for n in "34"}
    prints = {"1": risky, "2": risky, **calm}
    tasks = [task(n) for n in "1234"]
    plan = build_plan(tasks, prints, 2, rates=ConflictRates(base=0.9))
    assert plan.conflicts == () and plan.side_by_side[0].weight == 0.225
    assert plan.waves == (("1", "3"), ("2", "4"))
    [second] = [t for t in plan.tasks if t.id == "2"]
    assert second.why == "ready at 0 but all slots taken, and beside 1 its conflict risk is 22%"
    # with room for all, nothing waits: the risk stays under the threshold
    assert build_plan(tasks, prints, 4, rates=ConflictRates(base=0.9)).waves == (
        ("1", "2", "3", "4"),
    )
    # the newest two may conflict: taken by age they would share the second wave; one of
    # them starts first instead, and the other waits apart from it
    late = {
        "1": Footprint(files=("1.py",)),
        "2": Footprint(files=("2.py",)),
        "3": risky,
        "4": risky,
    }
    plan = build_plan(tasks, late, 2, rates=ConflictRates(base=0.9))
    assert plan.waves == (("1", "3"), ("2", "4"))
