"""Changelog-style files: every task appends to them and the merge queue merges them as a union
of both sides' lines, so sharing one is never a conflict. A source file is never one, whatever
the patterns say (sphinx's `builders/changes.py`, a `history.py` module). Pure."""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Sequence
from functools import lru_cache

MERGEABLE = ("changes*", "changelog*", "history.*", "news", "news.*", "release-notes*")
SOURCE_SUFFIXES = frozenset(
    {"c", "cc", "cpp", "cs", "go", "h", "hpp", "java", "js", "jsx", "kt", "m", "mjs", "php"}
    | {"pl", "py", "pyi", "pyx", "rb", "rs", "scala", "sh", "swift", "ts", "tsx"}
)


def is_source(path: str) -> bool:
    """A file of program code, by its extension: never merged as a union of lines."""
    name = path.rsplit("/", 1)[-1]
    return "." in name and name.rsplit(".", 1)[-1].lower() in SOURCE_SUFFIXES


@lru_cache(maxsize=64)
def _mergeable_pattern(patterns: tuple[str, ...]) -> re.Pattern[str]:
    return re.compile("|".join(fnmatch.translate(p) for p in patterns) or "(?!)")


def is_mergeable(path: str, patterns: Sequence[str] = MERGEABLE) -> bool:
    """Changelog-style files, matched by name, case-insensitively; never a source file."""
    name = path.rsplit("/", 1)[-1].lower()
    return _mergeable_pattern(tuple(patterns)).match(name) is not None and not is_source(name)
