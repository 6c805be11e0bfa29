"""The one escaping of untrusted text (titles, details, file names) for every Markdown surface:
the dashboard, status comments, check runs, job summaries and the plan table. Pure."""

from __future__ import annotations

DETAIL_WIDTH = 120


def md(text: str, width: int = DETAIL_WIDTH) -> str:
    """Untrusted text as one line of table-safe, HTML-inert markdown: no tags, no table cells
    broken, no code spans closed, and no @mention or #reference that would notify anyone."""
    text = " ".join(text.split())
    if len(text) > width:
        text = text[: width - 1] + "…"
    for raw, safe in (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"), ("|", "\\|"), ("`", "'")):
        text = text.replace(raw, safe)
    for raw in ("@", "#"):
        text = text.replace(raw, raw + "\u200b")
    return text
