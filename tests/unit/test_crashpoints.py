"""bot.crashpoints counts every point once, whichever thread passes it."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from bot import crashpoints


def test_points_passed_from_many_threads_get_one_number_each(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = tmp_path / "points.log"
    monkeypatch.setenv(crashpoints.VARIABLE, "0:count")
    monkeypatch.setenv(crashpoints.LOG, str(log))
    monkeypatch.setattr(crashpoints, "_seen", 0)

    def passing() -> None:
        for _ in range(100):
            crashpoints.reached("git")

    threads = [threading.Thread(target=passing) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    numbers = [int(line.split()[0]) for line in log.read_text().splitlines()]
    assert sorted(numbers) == list(range(1, 8 * 100 + 1))
