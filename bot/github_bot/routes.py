"""The one routing table: (event, action) -> handler, and the entry point that applies it.

An event the bot caused itself is skipped. A handler that fails is reported in the outcome
(and so in the job summary), not raised: one bad event never takes the coordinator down.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from pydantic import ValidationError

from bot.events import Event, parse_event, route_key
from bot.forge.base import ForgeError
from bot.github_bot.context import Context, Outcome
from bot.github_bot.decisions import is_own_event, may_be_own
from bot.github_bot.handlers import on_comment, on_issue, on_reconcile

Handler = Callable[[Context, Any, Outcome], None]
log = logging.getLogger(__name__)

ROUTES: dict[tuple[str, str | None], Handler] = {
    ("issues", "opened"): on_issue,
    ("issues", "edited"): on_issue,
    ("issues", "closed"): on_issue,
    ("issues", "labeled"): on_issue,
    ("issues", "unlabeled"): on_issue,
    ("issue_comment", "created"): on_comment,
    ("pull_request", "opened"): on_reconcile,
    ("pull_request", "synchronize"): on_reconcile,
    ("pull_request", "reopened"): on_reconcile,
    ("pull_request", "closed"): on_reconcile,
    ("check_run", "completed"): on_reconcile,
    ("workflow_run", "completed"): on_reconcile,
    ("workflow_dispatch", None): on_reconcile,
    ("schedule", None): on_reconcile,
}


def handle_event(ctx: Context, name: str, payload: dict[str, Any]) -> Outcome:
    """Handle one webhook delivery (`name` is the `X-GitHub-Event` / `GITHUB_EVENT_NAME`)."""
    key = route_key(name, payload)
    outcome = Outcome(event=".".join(part for part in key if part))
    handler = ROUTES.get(key)
    if handler is None:
        outcome.note("not an event orchestrate handles")
        return outcome
    try:
        event: Event | None = parse_event(name, payload)
    except ValidationError as exc:
        outcome.error = f"the event payload is missing fields: {exc.error_count()} errors"
        return outcome
    assert event is not None
    try:
        if may_be_own(event) and is_own_event(event, ctx.forge.bot_login()):
            outcome.note(f"caused by the bot itself (@{ctx.forge.bot_login()}); ignored")
            return outcome
        handler(ctx, event, outcome)
    except ForgeError as exc:
        outcome.error = ctx.redact(f"GitHub request failed: {exc}")
    except Exception as exc:  # a handler bug: report it, keep the run alive
        log.exception("handler %s failed", handler.__name__)
        outcome.error = ctx.redact(f"{handler.__name__} failed: {type(exc).__name__}: {exc}")
    return outcome
