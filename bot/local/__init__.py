"""Local mode's adapters for the engine: SQLite state (`store`), agents as supervised
subprocesses in worktrees (`agents`), landing by ref compare-and-swap (`lander`); the terminal
(`bot.console`) is where people are told."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from bot.config import Config
from bot.engine import Engine, Notifier, Silent
from bot.gitops import GitRepo
from bot.local.agents import ProcessAgents
from bot.local.lander import RefLander
from bot.local.store import LocalStore, load_tasks
from bot.models import Plan, Task
from bot.redact import Redactor

__all__ = ["LocalStore", "ProcessAgents", "RefLander", "load_tasks", "local_engine"]


def local_engine(
    repo: GitRepo,
    config: Config,
    tasks: Mapping[str, Task],
    plan: Plan,
    store: LocalStore,
    notifier: Notifier | None = None,
    redact: Redactor | None = None,
    machine: Callable[[Config], str | None] | None = None,
) -> Engine:
    """The engine over local adapters, as `orchestrate run` and `orchestrate merge` use it."""
    redact = redact or Redactor()
    agents = ProcessAgents(repo, config, tasks, redact=redact)
    if machine is not None:
        agents.machine = machine
    return Engine(
        plan,
        tasks,
        config,
        store,
        agents,
        RefLander(repo, config, store, agents.run_dir, redact),
        notifier or Silent(),
        redact=redact,
    )
