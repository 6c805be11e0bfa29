"""Small pure decisions behind the handlers: whose event it is, who may command the bot, which
task states survive a replan. Typed values in, typed values out. (What to launch, merge and
retry is the engine's decision, `bot.state.decide.decide`, shared with local mode.)"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from bot.events import Event, IssuesEvent, ScheduleEvent, WorkflowDispatchEvent, WorkflowRunEvent
from bot.forge.base import WRITE_ROLES
from bot.forge.issues import TASK_LABEL
from bot.models import Task, TaskState, TaskStatus

S = TaskStatus

# The bot's own loop: a workflow_dispatch it sends, a workflow run it started. Handled even when
# the bot is the sender; every other event the bot caused is ignored.
OWN_LOOP_EVENTS = (WorkflowDispatchEvent, WorkflowRunEvent, ScheduleEvent)
FINISHED = frozenset({S.MERGED, S.NOOP})


def is_own_event(event: Event, bot_login: str) -> bool:
    if isinstance(event, OWN_LOOP_EVENTS):
        return False
    return event.sender.login.lower() == bot_login.lower()


def may_be_own(event: Event) -> bool:
    """Only an event sent by a bot account can be ours (spares a lookup of our login)."""
    return not isinstance(event, OWN_LOOP_EVENTS) and event.sender.is_bot


def issue_event_matters(event: IssuesEvent) -> bool:
    """A `parallel` label came or went, or a `parallel` issue was edited, closed or opened."""
    if event.action in ("labeled", "unlabeled"):
        return event.label is not None and event.label.name == TASK_LABEL
    return TASK_LABEL in event.issue.label_names


@dataclass(frozen=True)
class Authorization:
    allowed: bool
    reason: str


def authorize(login: str, role: str) -> Authorization:
    if role in WRITE_ROLES:
        return Authorization(True, f"@{login} has {role} permission")
    return Authorization(
        False,
        f"Sorry @{login}, only people with write, maintain or admin permission on this "
        "repository can run `/orchestrate` commands. Nothing was changed.",
    )


def task_states(
    old: Mapping[str, TaskState], tasks: Sequence[Task]
) -> tuple[dict[str, TaskState], list[str]]:
    """Keep the states of tasks still in the set, add new ones as planned; (states, dropped).
    A finished task whose issue was closed stays, as history; other tasks that left are dropped."""
    states = {
        task.id: old.get(task.id) or TaskState(id=task.id, branch=task.branch) for task in tasks
    }
    dropped = []
    for task_id, state in old.items():
        if task_id in states:
            continue
        if state.status in FINISHED:
            states[task_id] = state
        else:
            dropped.append(task_id)
    return states, dropped
