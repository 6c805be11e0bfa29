"""Dependencies a task states in prose, and ones implied by files a task creates. Pure."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from bot.models import Footprint, Task

_STATED = re.compile(
    r"\b(?:depends\s+on|dependent\s+on|after|blocked\s+by|requires|needs|builds\s+on)"
    r"((?:\s*(?:,|and|&)?\s*(?:task\s+|issue\s+)?#\d+)+)",
    re.IGNORECASE,
)
_NUMBER = re.compile(r"#(\d+)")


def stated_dependencies(task: Task, known: set[str]) -> list[tuple[str, str]]:
    """(needed id, phrase) for "depends on #12", "after #3 and #4", "blocked by #7" in the text.

    Issue numbers that are not tasks of this plan are ignored: prose may cite any issue.
    """
    found: dict[str, str] = {}
    for match in _STATED.finditer(task.text):
        phrase = " ".join(match.group(0).split())
        for number in _NUMBER.findall(match.group(1)):
            needed = str(int(number))
            if needed in known and needed != task.id:
                found.setdefault(needed, phrase)
    return list(found.items())


def _names(path: str) -> list[str]:
    """How a task might refer to a file: its path, its module name, its file name."""
    names = [path]
    if path.endswith(".py"):
        stem = path.removesuffix(".py").removesuffix("/__init__")
        for root in ("src/", "lib/"):
            stem = stem.removeprefix(root)
        names.append(stem.replace("/", "."))
    base = path.rsplit("/", 1)[-1]
    if base != path and base not in {"__init__.py", "index.md", "README.md"}:
        names.append(base)
    return names


def implied_dependencies(
    tasks: Sequence[Task], footprints: Mapping[str, Footprint]
) -> list[tuple[str, str, str]]:
    """(creator, user, file): `user` mentions a file that only `creator` is predicted to create."""
    created: dict[str, str] = {}
    for task in tasks:
        footprint = footprints.get(task.id)
        if footprint is None:
            continue
        for path, reason in footprint.reasons.items():
            if "(new file)" in reason:
                created.setdefault(path, task.id)
    found: list[tuple[str, str, str]] = []
    for path, creator in created.items():
        patterns = [re.compile(rf"(?<![\w/.]){re.escape(n)}(?![\w/])") for n in _names(path)]
        for task in tasks:
            if task.id != creator and any(p.search(task.text) for p in patterns):
                found.append((creator, task.id, path))
    return found
