"""The crash-point harness in a bounded form (tests/crash_points.py tries every point): a
10-task run killed at points spread over the whole run, in each of the three ways, then run
again until it finishes; each time every task lands exactly once and nothing is left behind."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.crash_points import count_points, crash_then_finish
from tests.crashing import MODES

SPREAD = (0.15, 0.5, 0.85)  # where in the run, as a share of its crash points


@pytest.fixture(scope="module")
def total(tmp_path_factory: pytest.TempPathFactory) -> int:
    return count_points(tmp_path_factory.mktemp("count"))


@pytest.mark.parametrize("mode", MODES)
def test_a_crash_anywhere_converges_with_each_task_landed_once(
    total: int, mode: str, tmp_path: Path
) -> None:
    assert total > 100  # every transition and every git command is a crash point
    for share in SPREAD:
        point = max(1, int(total * share))
        outcome = crash_then_finish(tmp_path / str(point), point, mode)
        assert outcome.problems == [], f"crash at point {point} of {total} ({mode})"
        assert outcome.first_exit != 0  # the crash really stopped the first run
