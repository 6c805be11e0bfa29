"""Small pure decisions behind the handlers: whose event it is, who may command the bot, what a
pull request says about its task, which tasks to launch. Typed values in, typed values out."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from bot.events import Event, IssuesEvent, WorkflowDispatchEvent, WorkflowRunEvent
from bot.forge.base import WRITE_ROLES, PullInfo
from bot.forge.issues import TASK_LABEL
from bot.models import Plan, Task, TaskState, TaskStatus
from bot.state import check_transition, decide

S = TaskStatus

# The bot's own loop: a workflow_dispatch it sends, a workflow run it started. Handled even when
# the bot is the sender; every other event the bot caused is ignored.
OWN_LOOP_EVENTS = (WorkflowDispatchEvent, WorkflowRunEvent)
FINISHED = frozenset({S.MERGED, S.NOOP})


def is_own_event(event: Event, bot_login: str) -> bool:
    if isinstance(event, OWN_LOOP_EVENTS):
        return False
    return event.sender.login.lower() == bot_login.lower()


def may_be_own(event: Event) -> bool:
    """Only an event sent by a bot account can be ours (spares a lookup of our login)."""
    return event.sender.is_bot and not isinstance(event, OWN_LOOP_EVENTS)


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


def transition(state: TaskState, status: TaskStatus, detail: str, **fields: object) -> TaskState:
    """A new TaskState after a checked transition of the state machine."""
    check_transition(state.status, status)
    return state.model_copy(update={"status": status, "detail": detail, **fields})


def pull_transitions(state: TaskState, pull: PullInfo | None) -> list[tuple[TaskStatus, str]]:
    """What a task's pull request says happened: the transitions to apply, in order."""
    if pull is None:
        return []
    steps: list[tuple[TaskStatus, str]] = []
    status = state.status
    if status is S.RUNNING and (pull.state == "open" or pull.merged):
        steps.append((S.REVIEW, f"pull request #{pull.number} opened"))
        status = S.REVIEW
    if status is S.REVIEW and pull.merged:
        steps.append((S.MERGED, f"pull request #{pull.number} merged"))
    elif status is S.REVIEW and pull.state == "closed":
        steps.append((S.FAILED, f"pull request #{pull.number} closed without merging"))
    return steps


@dataclass(frozen=True)
class Step:
    """What to do with the plan now: tasks to block (with reasons), to launch, to merge next."""

    block: tuple[tuple[str, str], ...]
    launch: tuple[str, ...]
    merge: str | None
    waiting: Mapping[str, str]


def next_step(plan: Plan, states: Mapping[str, TaskState], running: bool) -> Step:
    order = plan.merge_order
    observed = {task_id: states[task_id].files for task_id in order}  # from pull requests
    decision = decide(plan, {task_id: states[task_id].status for task_id in order}, (), observed)
    waiting = dict(decision.waiting)
    if not running:
        for task_id in decision.launch:
            waiting[task_id] = "ready; `/orchestrate run` starts it"
    launch = decision.launch if running else ()
    return Step(decision.block, launch, decision.merge, waiting)


def matrix_entry(task: Task, state: TaskState) -> dict[str, str | int]:
    """One matrix job. Only values the bot made (ids, branch from a slug), never issue text:
    a matrix value may end up in a workflow expression."""
    return {"task": task.id, "issue": int(task.id), "branch": task.branch, "attempt": state.attempt}
