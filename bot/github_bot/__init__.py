"""GitHub mode: webhook events in, state on GitHub out (dashboard, labels, comments, checks).

`handle_event(ctx, name, payload)` is the entry point; `bot.cli` `orchestrate event` builds the
context from the Actions environment (`bot.github_bot.action`).
"""

from bot.github_bot.context import Context, Outcome
from bot.github_bot.routes import ROUTES, handle_event

__all__ = ["ROUTES", "Context", "Outcome", "handle_event"]
