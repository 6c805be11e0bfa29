"""Changelog-style files: every task appends to them and the merge queue merges them as a union
of both sides' lines, so sharing one is never a conflict. Pure."""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Sequence
from functools import lru_cache

MERGEABLE = ("changes*", "changelog*", "history.*", "news", "news.*", "release-notes*")


@lru_cache(maxsize=64)
def _mergeable_pattern(patterns: tuple[str, ...]) -> re.Pattern[str]:
    return re.compile("|".join(fnmatch.translate(p) for p in patterns) or "(?!)")


def is_mergeable(path: str, patterns: Sequence[str] = MERGEABLE) -> bool:
    """Changelog-style files, matched by name, case-insensitively."""
    name = path.rsplit("/", 1)[-1].lower()
    return _mergeable_pattern(tuple(patterns)).match(name) is not None
