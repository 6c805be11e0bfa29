"""How long each task is expected to take, in task units (1 unless a label says otherwise). Pure."""

from __future__ import annotations

import re
from collections.abc import Sequence

from bot.models import Task

SIZES = {"xs": 0.5, "s": 0.5, "small": 0.5, "m": 1.0, "medium": 1.0, "l": 2.0, "large": 2.0,
         "xl": 4.0, "xxl": 8.0}  # fmt: skip
_SIZE_LABEL = re.compile(r"^(?:size|effort|estimate)\s*[/:=-]?\s*(?P<size>[a-z]+|\d+(?:\.\d+)?)$")


def estimate(task: Task) -> float:
    """`size/S`, `size:L`, `effort-XL` or `estimate/3` set a task's length; default 1."""
    for label in task.labels:
        match = _SIZE_LABEL.match(label.strip().lower())
        if not match:
            continue
        size = match.group("size")
        if size in SIZES:
            return SIZES[size]
        try:
            value = float(size)
        except ValueError:
            continue
        if value > 0:
            return value
    return 1.0


def durations(tasks: Sequence[Task]) -> dict[str, float]:
    return {task.id: estimate(task) for task in tasks}
