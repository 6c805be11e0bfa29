"""The dashboard comment, per-task status comments, the agent check run and the job summary. Pure.

GitHub refuses comments over 65,536 characters. The dashboard keeps its hidden state block whole
and trims the human part instead: the graph goes first, then the plan table, then the problems,
then task rows, each replaced by a note saying where to look.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from bot.commands import PREFIX, VERBS
from bot.models import Plan, TaskState, TaskStatus
from bot.render.markdown import md
from bot.render.plan import plan_markdown, plan_mermaid

DASHBOARD_MARKER = "<!-- orchestrate:dashboard -->"
TASK_MARKER = "<!-- orchestrate:task -->"
COMMENT_LIMIT = 65_536
MARGIN = 64  # headroom for GitHub's own counting of line endings

ICONS: dict[TaskStatus, str] = {
    TaskStatus.PLANNED: "⏳",
    TaskStatus.RUNNING: "🏃",
    TaskStatus.REVIEW: "👀",
    TaskStatus.MERGED: "✅",
    TaskStatus.CONFLICT: "⚔️",
    TaskStatus.FAILED: "❌",
    TaskStatus.NOOP: "💤",
    TaskStatus.BLOCKED: "⛔",
}


class DashboardTooLarge(Exception):
    """The state block alone does not fit in one comment."""


@dataclass(frozen=True)
class DashboardView:
    """Everything the dashboard shows. `titles` and `pulls` are keyed by task id."""

    states: Mapping[str, TaskState]
    titles: Mapping[str, str]
    plan: Plan | None = None
    pulls: Mapping[str, int] = field(default_factory=dict)
    waiting: Mapping[str, str] = field(default_factory=dict)
    problems: Sequence[str] = ()
    running: bool = False  # `/orchestrate run` was given: ready tasks start on their own
    threshold: str = ""  # the conflict threshold the plan used, and why
    spend: str = ""  # what the agents cost so far, against the budget
    collisions: Mapping[str, Sequence[str]] = field(default_factory=dict)  # people's pulls


def summary_line(states: Mapping[str, TaskState]) -> str:
    counts: dict[str, int] = {}
    for state in states.values():
        counts[state.status.value] = counts.get(state.status.value, 0) + 1
    parts = [f"{n} {status}" for status, n in sorted(counts.items())]
    return f"**{len(states)} tasks**: " + (", ".join(parts) if parts else "none yet")


def task_rows(view: DashboardView, limit: int | None = None) -> str:
    order = list(view.plan.merge_order) if view.plan else []
    order += sorted((t for t in view.states if t not in order), key=_number)  # finished, closed
    order = [task_id for task_id in order if task_id in view.states]
    lines = ["| Merge | Task | State | PR | Detail |", "|---:|---|---|---|---|"]
    for index, task_id in enumerate(order[:limit] if limit is not None else order, start=1):
        state = view.states[task_id]
        pull = f"#{view.pulls[task_id]}" if task_id in view.pulls else ""
        detail = state.detail or view.waiting.get(task_id, "")
        lines.append(
            f"| {index} | #{task_id} {md(view.titles.get(task_id, ''), 60)} | "
            f"{ICONS[state.status]} {state.status.value} | {pull} | {md(detail)} |"
        )
    hidden = len(order) - (limit if limit is not None else len(order))
    if hidden > 0:
        lines.append(f"\n_{hidden} more tasks are not shown (comment size limit)._")
    return "\n".join(lines) + "\n"


def _number(task_id: str) -> tuple[int, str]:
    return (int(task_id), "") if task_id.isdigit() else (1 << 30, task_id)


def _sections(view: DashboardView) -> list[tuple[str, str]]:
    mode = (
        f"Running: ready tasks start on their own. `{PREFIX} cancel` stops."
        if view.running
        else f"Not started. `{PREFIX} run` starts the tasks that are ready."
    )
    sections = [
        (
            "head",
            f"{DASHBOARD_MARKER}\n## Parallel work\n\n{summary_line(view.states)}. {mode}\n"
            + (f"\n{view.spend}\n" if view.spend else ""),
        ),
        ("tasks", "### Tasks\n\n" + task_rows(view)),
    ]
    if view.problems:
        sections.append(("problems", "### Problems\n\n" + _bullets(view.problems)))
    if view.collisions:
        lines = [
            f"#{number} " + "; ".join(found)
            for number, found in sorted(view.collisions.items(), key=lambda item: int(item[0]))
        ]
        sections.append(
            ("collisions", "### Open pull requests that meet tasks in flight\n\n" + _bullets(lines))
        )
    if view.plan is not None:
        why = f"\n{md(view.threshold, 500)}.\n" if view.threshold else ""
        sections.append(("plan", "### Plan\n\n" + plan_markdown(view.plan) + why))
        sections.append(("graph", "### Graph\n\n```mermaid\n" + plan_mermaid(view.plan) + "```\n"))
    commands = " · ".join(f"`{PREFIX} {verb}`" for verb in VERBS)
    sections.append(("foot", f"<sub>{commands}</sub>\n"))
    return sections


def _bullets(items: Sequence[str]) -> str:
    return "".join(f"- {md(item, 300)}\n" for item in items)


LEFT_OUT = {
    "graph": "_The graph is left out to fit GitHub's comment size limit; see the job summary._\n",
    "plan": "_The plan table is left out to fit GitHub's comment size limit._\n",
    "problems": "_Problems are left out to fit GitHub's comment size limit._\n",
}


def dashboard_body(
    view: DashboardView,
    state_block: str,
    limit: int = COMMENT_LIMIT,
    redact: Callable[[str], str] | None = None,
) -> str:
    """The whole comment: human part first, the state block last and always whole. `redact`
    masks secrets in the human part (the caller masks the state before encoding it)."""
    budget = limit - MARGIN - len(state_block) - 2
    if budget < len(DASHBOARD_MARKER) + 200:
        raise DashboardTooLarge(f"the state block is {len(state_block)} characters")
    sections = dict(_sections(view))
    for name in ("graph", "plan", "problems"):
        if _size(sections) <= budget:
            break
        if name in sections:
            sections[name] = LEFT_OUT[name]
    rows = len(view.states)
    while _size(sections) > budget and rows > 0:
        rows = rows // 2 if rows > 8 else rows - 1
        sections["tasks"] = "### Tasks\n\n" + task_rows(view, limit=rows)
    human = "\n".join(sections.values())
    if redact is not None:
        human = redact(human)
    return human[:budget] + "\n" + state_block + "\n"


def _size(sections: Mapping[str, str]) -> int:
    return sum(len(text) + 1 for text in sections.values())


# -- per task ---------------------------------------------------------------------------------


def task_status_body(
    state: TaskState, dashboard_url: str, pull: int | None = None, waiting: str = ""
) -> str:
    """The one status comment on a task's issue."""
    lines = [
        TASK_MARKER,
        f"**orchestrate**: {ICONS[state.status]} `{state.status.value}`"
        + (f" (attempt {state.attempt})" if state.attempt > 1 else ""),
    ]
    detail = state.detail or waiting
    if detail:
        lines.append(f"\n{md(detail, 500)}")
    lines.append(f"\nBranch `{md(state.branch, 200)}`" + (f" · PR #{pull}" if pull else ""))
    lines.append(f"\n[Dashboard]({dashboard_url})")
    return "\n".join(lines) + "\n"


def check_conclusion(status: TaskStatus) -> str | None:
    """The check run conclusion of a task state (None while it is still under way)."""
    if status in (TaskStatus.REVIEW, TaskStatus.MERGED, TaskStatus.NOOP):
        return "success"
    if status in (TaskStatus.FAILED, TaskStatus.CONFLICT, TaskStatus.BLOCKED):
        return "failure"
    return None


def _duration(state: TaskState) -> str:
    if state.started_at is None or state.finished_at is None:
        return "-"
    seconds = max(0.0, state.finished_at - state.started_at)
    return f"{int(seconds // 60)}m {seconds % 60:.0f}s" if seconds >= 60 else f"{seconds:.1f}s"


def agent_check_output(state: TaskState, title: str) -> tuple[str, str, str]:
    """(title, summary, text) of the `orchestrate/agent` check run for one task."""
    cost = f"${state.cost_usd:.2f}" if state.cost_usd is not None else "-"
    memory = f"{state.peak_memory_mb:.0f} MB" if state.peak_memory_mb is not None else "-"
    heading = f"#{state.id} {state.status.value}: {md(state.detail or title, 80)}"
    summary = "\n".join(
        [
            "| outcome | duration | cost | turns | peak memory |",
            "|---|---|---|---|---|",
            f"| {state.status.value} | {_duration(state)} | {cost} | "
            f"{state.turns if state.turns is not None else '-'} | {memory} |",
        ]
    )
    tail = state.log_tail.replace("~~~", "~ ~ ~")[-20_000:]
    text = f"Last lines of the agent's log:\n\n~~~\n{tail}\n~~~\n" if tail else ""
    return heading, summary, text


# -- job summary ------------------------------------------------------------------------------


def _inert(text: str) -> str:
    """One line without HTML (the job summary notifies nobody, so mentions may stay)."""
    text = " ".join(text.split())[:500]
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def job_summary(
    event: str, messages: Sequence[str], view: DashboardView | None, requests: int, waited: float
) -> str:
    lines = [f"## orchestrate: `{md(event, 80)}`", ""]
    lines.extend(f"- {_inert(message)}" for message in messages)
    if view is not None:
        lines += ["", summary_line(view.states), "", task_rows(view)]
        if view.spend:
            lines += ["", view.spend]
        if view.plan is not None:
            lines += ["### Plan", "", plan_markdown(view.plan)]
            lines += ["```mermaid", plan_mermaid(view.plan) + "```"]
    pause = f", {waited:.0f}s spent waiting on rate limits" if waited else ""
    lines += ["", f"GitHub API requests: **{requests}**{pause}."]
    return "\n".join(lines) + "\n"
