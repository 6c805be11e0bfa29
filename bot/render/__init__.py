"""Rendering: plans and state as markdown, mermaid and plain text. Pure."""

from bot.render.plan import plan_markdown, plan_mermaid

__all__ = ["plan_markdown", "plan_mermaid"]
