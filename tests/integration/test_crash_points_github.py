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
SPREAD = ((0.1, "kill"), (0.45, "int"), (0.8, "group"))  # an agent job, a merge, a coordinator
MORE = ((0.05, "group"), (0.6, "kill"), (0.95, "int"))


@pytest.fixture(scope="module")
def count(tmp_path_factory: pytest.TempPathFactory) -> Count:
    return count_points(tmp_path_factory.mktemp("count"), TASKS)


def test_the_uncrashed_pipeline_converges_through_every_kind_of_job(count: Count) -> None:
    assert count.problems == []
    kinds = Counter(name.split(" (")[0] for name in count.jobs)
    assert kinds == {"coordinate": 2, "agent #1": 1, "agent #2": 1, "agent #3": 1,
                     "agent #4": 2, "merge queue": 2}  # fmt: skip
    assert all(points > 10 for points in count.points)  # git commands and requests, each job


def _crash(count: Count, spread: tuple[tuple[float, str], ...], root: Path) -> None:
    chosen = [
        (root / f"{mode}-{share}", count, max(1, int(count.total * share)), mode)
        for share, mode in spread
    ]
    for outcome in trials(crash_then_finish, chosen, jobs=len(chosen)):
        assert outcome.problems == [], f"point {outcome.point} ({outcome.mode}, {outcome.where})"
        assert outcome.first_exit != 0  # the crash really stopped that job


def test_a_crashed_job_then_a_rerun_converges(count: Count, tmp_path: Path) -> None:
    _crash(count, SPREAD, tmp_path)


@pytest.mark.slow
def test_more_crashed_jobs_converge(count: Count, tmp_path: Path) -> None:
    _crash(count, MORE, tmp_path)
