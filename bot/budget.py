"""What the agents cost, and what the budget still lets start (`budget:` in the config). Pure."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from bot.models import TaskState, TaskStatus

S = TaskStatus


@dataclass(frozen=True)
class Budget:
    max_usd: float | None = None
    task_max_usd: float | None = None
    max_agent_minutes: float | None = None


@dataclass(frozen=True)
class Spend:
    """What the agents have cost so far: dollars where they report them, and running time."""

    usd: float
    agent_seconds: float
    largest_attempt_usd: float  # the dearest attempt seen: what the next one may cost


def spend(states: Mapping[str, TaskState], now: float | None) -> Spend:
    """Spend so far; `now` None leaves out the time of agents still running (for a line that
    does not change while nothing else does)."""
    usd, seconds, largest = 0.0, 0.0, 0.0
    for state in states.values():
        usd += state.spent_usd + (state.cost_usd or 0.0)
        largest = max(largest, state.cost_usd or 0.0)
        seconds += state.agent_seconds
        end = state.finished_at if state.finished_at is not None else now
        if state.started_at is not None and end is not None:
            seconds += max(0.0, end - state.started_at)
    return Spend(usd, seconds, largest)


def budget_room(states: Mapping[str, TaskState], now: float, budget: Budget) -> tuple[int, str]:
    """How many more agents the budget lets start now (a large number when no limit binds),
    and the reason given to the tasks it holds. The next attempt is expected to cost
    `task_max_usd`, else as much as the dearest attempt so far."""
    used = spend(states, now)
    minutes = budget.max_agent_minutes
    if minutes is not None and used.agent_seconds >= minutes * 60:
        return 0, f"budget: {used.agent_seconds / 60:.1f} of {minutes:g} agent minutes used"
    if budget.max_usd is None:
        return 1_000_000, ""
    per_task = budget.task_max_usd or used.largest_attempt_usd
    running = sum(1 for s in states.values() if s.status is S.RUNNING and s.cost_usd is None)
    left = budget.max_usd - used.usd - running * per_task  # set aside for agents still at it
    room = 0 if left <= 0 else (int((left + 1e-9) // per_task) if per_task > 0 else 1_000_000)
    return room, f"budget: ${used.usd:.2f} spent of ${budget.max_usd:.2f}"


def spend_line(states: Mapping[str, TaskState], budget: Budget) -> str:
    """`Spent $0.84 of $5.00; agents ran 12.3 of 60 minutes.` for the attempts that ended
    (empty when there is nothing to say: no cost reported, no budget set)."""
    used = spend(states, None)
    money = f"${used.usd:.2f}" + (f" of ${budget.max_usd:.2f}" if budget.max_usd else "")
    minutes = f"{used.agent_seconds / 60:.1f}" + (
        f" of {budget.max_agent_minutes:g}" if budget.max_agent_minutes else ""
    )
    if not (used.usd or budget.max_usd or budget.max_agent_minutes):
        return ""
    return f"Spent {money}; agents ran {minutes} minutes."
