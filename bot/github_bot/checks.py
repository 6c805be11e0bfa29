"""The check runs on a task's pull request: `orchestrate/agent` (how the agent did) and
`orchestrate/overlap` (which other tasks in flight touch the same files)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from bot.forge.base import CheckRunOutput, Forge
from bot.models import Plan, TaskState
from bot.redact import Redactor
from bot.render.dashboard import agent_check_output, check_conclusion, overlap_check_output

AGENT_CHECK = "orchestrate/agent"
OVERLAP_CHECK = "orchestrate/overlap"


def agent_check(state: TaskState, title: str, head_sha: str, redact: Redactor) -> CheckRunOutput:
    """What the check run should show (pure): outcome, duration, cost, turns, peak memory."""
    heading, summary, text = agent_check_output(state, title)
    return CheckRunOutput(
        name=AGENT_CHECK,
        head_sha=head_sha,
        title=redact(heading)[:1000],
        summary=redact(summary),
        text=redact(text)[:60_000],
        conclusion=check_conclusion(state.status),
    )


def post_agent_check(
    forge: Forge, state: TaskState, title: str, head_sha: str, redact: Redactor | None = None
) -> int:
    """Create or update the check run on `head_sha`; returns its id. Unchanged: no write."""
    return forge.put_check_run(agent_check(state, title, head_sha, redact or Redactor()))


def overlap_check(
    task_id: str,
    head_sha: str,
    shared: Mapping[str, Sequence[str]],
    plan: Plan,
    pulls: Mapping[str, int],
    changed: int,
) -> CheckRunOutput:
    """What the overlap check run should show (pure). Informational: `neutral` when files are
    shared (the merge queue orders them), `success` when none are."""
    title, summary, conclusion = overlap_check_output(
        task_id, shared, plan.merge_order, pulls, changed
    )
    return CheckRunOutput(
        name=OVERLAP_CHECK,
        head_sha=head_sha,
        title=title[:1000],
        summary=summary,
        text="",
        conclusion=conclusion,
    )
