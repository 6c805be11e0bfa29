"""The GitHub-mode crash-point harness in a bounded form (tests/crash_points_github.py tries
every point of a 10-task pipeline): the Actions jobs of a 4-task run against the served fake
GitHub, one job crashed at points spread over the pipeline, in each of the three ways, then
re-run as GitHub would; each time every issue is closed by one merged pull request, the base
is as expected and nothing is left behind."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from tests.crash_points_github import Count, count_points, crash_then_finish
from tests.crashing import trials

TASKS = 4  # the last two conflict: one of them is redone
FIRST = "coordinate (issue_comment)"


@pytest.fixture(scope="module")
def count(tmp_path_factory: pytest.TempPathFactory) -> Count:
    return count_points(tmp_path_factory.mktemp("count"), TASKS)


def test_the_uncrashed_pipeline_converges_through_every_kind_of_job(count: Count) -> None:
    assert count.problems == []
    jobs = Counter(name.split(" (")[0] for name in count.jobs)
    assert jobs == {"coordinate": 2, "agent #1": 1, "agent #2": 1, "agent #3": 1,
                    "agent #4": 2, "merge queue": 2}  # fmt: skip
    for name, points in zip(count.jobs, count.points, strict=True):
        writes = not name.startswith("agent")  # the dashboard: coordinator and merge queue only
        assert "forge" in points and ("transition" in points) == writes, name
        assert "git" in points or name.startswith("coordinate"), name


def _crash(count: Count, chosen: list[tuple[int, str]], root: Path) -> None:
    trial = [(root / f"{mode}-{point}", count, point, mode) for point, mode in chosen]
    for outcome in trials(crash_then_finish, trial, jobs=len(trial)):
        assert outcome.problems == [], f"point {outcome.point} ({outcome.mode}, {outcome.where})"
        assert outcome.first_exit != 0  # the crash really stopped that job


def _share(count: Count, share: float) -> int:
    return max(1, int(count.total * share))


def test_a_crashed_job_then_a_rerun_converges(count: Count, tmp_path: Path) -> None:
    launches_written = count.first(FIRST, "transition")  # its matrix never reaches Actions
    chosen = [
        (launches_written, "kill"),
        (_share(count, 0.1), "group"),
        (_share(count, 0.45), "int"),
    ]
    _crash(count, chosen, tmp_path)  # the first coordinator, an agent job, the merge queue


@pytest.mark.slow
def test_more_crashed_jobs_converge(count: Count, tmp_path: Path) -> None:
    chosen = [
        (_share(count, 0.6), "kill"),
        (_share(count, 0.8), "group"),
        (_share(count, 0.95), "int"),
    ]
    _crash(count, chosen, tmp_path)
