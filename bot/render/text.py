"""How a long list is said in one line, the same on every surface (the terminal, errors,
comments, check runs): the first few, then how many more. Pure."""

from __future__ import annotations

from collections.abc import Sequence


def listed(items: Sequence[str], shown: int = 5) -> str:
    """`1, 4, 5, 3, 6 (+2 more)`: the first `shown` of a list that may be long (a changelog
    may be in every task's footprint; a pull request may meet many others)."""
    more = f" (+{len(items) - shown} more)" if len(items) > shown else ""
    return ", ".join(items[:shown]) + more
