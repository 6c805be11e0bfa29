"""The `orchestrate/agent` check run on a task's pull request: how the agent did, with the
agent job's report for the coordinator. (`orchestrate/overlap`, on every pull request, is
`bot.collisions`.)"""

from __future__ import annotations

import json

from pydantic import ValidationError

from bot.blocks import AGENT_BLOCK, StateBlockError, decode_block, encode_block
from bot.forge.base import CheckRunInfo, CheckRunOutput, Forge
from bot.models import TaskState
from bot.redact import Redactor
from bot.render.dashboard import agent_check_output, check_conclusion

AGENT_CHECK = "orchestrate/agent"


REPORTED = (
    "status",
    "attempt",
    "detail",
    "start_sha",
    "head_sha",
    "files",
    "named_files",
    "missing_files",
    "conflict_files",
    "progress",
    "heartbeat_at",
    "started_at",
    "finished_at",
    "cost_usd",
    "turns",
    "peak_memory_mb",
    "cpu_seconds",
    "retryable",
    "rate_limited",
    "failure_digest",
)


def agent_check(
    state: TaskState, title: str, head_sha: str, redact: Redactor, pull: int | None = None
) -> CheckRunOutput:
    """What the check run should show (pure): outcome, duration, cost, turns, peak memory,
    the log's tail, and, hidden in the summary, the agent job's report for the coordinator
    (with the task's pull request, when it has one)."""
    heading, summary, text = agent_check_output(state, title)
    report = json.loads(redact(state.model_dump_json(include={"id", *REPORTED})))
    if pull is not None:
        report["pull"] = pull
    return CheckRunOutput(
        name=AGENT_CHECK,
        head_sha=head_sha,
        title=redact(heading)[:1000],
        summary=redact(summary) + "\n\n" + encode_block(AGENT_BLOCK, report),
        text=redact(text)[:60_000],
        conclusion=check_conclusion(state.status),
    )


def agent_report(check: CheckRunInfo | None) -> tuple[TaskState, int | None] | None:
    """The agent job's report in its check run, and its pull request's number (None when
    there is none or it is unreadable: the coordinator then waits, and a silent agent is
    eventually treated as lost)."""
    if check is None:
        return None
    try:
        data = decode_block(AGENT_BLOCK, check.summary)
        if data is None:
            return None
        pull = data.pop("pull", None)
        return TaskState.model_validate(data), pull if isinstance(pull, int) else None
    except (StateBlockError, ValidationError):
        return None


def post_agent_check(
    forge: Forge, state: TaskState, title: str, head_sha: str, redact: Redactor | None = None
) -> int:
    """Create or update the check run on `head_sha`; returns its id. Unchanged: no write."""
    return forge.put_check_run(agent_check(state, title, head_sha, redact or Redactor()))
