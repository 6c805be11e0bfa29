"""The `orchestrate/agent` check run on a task's pull request, from its `TaskState`."""

from __future__ import annotations

from bot.forge.base import CheckRunOutput, Forge
from bot.models import TaskState
from bot.redact import Redactor
from bot.render.dashboard import agent_check_output, check_conclusion

AGENT_CHECK = "orchestrate/agent"


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
