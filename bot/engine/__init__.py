"""The one engine both modes run: observe -> decide (`bot.state.decide.decide`, pure) -> act,
over four ports (`ports.py`) with a local adapter (`bot.local`) and a GitHub adapter
(`bot.github_bot`)."""

from bot.engine.loop import Engine, budget_of, policy_of
from bot.engine.ports import Agents, Lander, Landing, Moved, Notifier, Progress, Silent, TaskStore

__all__ = [
    "Agents",
    "Engine",
    "Lander",
    "Landing",
    "Moved",
    "Notifier",
    "Progress",
    "Silent",
    "TaskStore",
    "budget_of",
    "policy_of",
]
