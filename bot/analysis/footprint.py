"""Combine the evidence for a task's footprint, strongest source first, each with its reason."""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property

from bot.analysis.mentions import FileLookup, find_mentions, unresolved_paths
from bot.models import Footprint, Task

EXPLICIT = 1.0
MENTIONED = 0.8
NEW_FILE = 0.6


@dataclass(frozen=True)
class RepoSnapshot:
    """What the predictor may know about the repository at the plan's base commit."""

    files: tuple[str, ...]

    @cached_property
    def lookup(self) -> FileLookup:
        return FileLookup.build(self.files)


class _Evidence:
    def __init__(self) -> None:
        self.reasons: dict[str, str] = {}
        self.confidence: dict[str, float] = {}
        self.patterns: list[str] = []

    def add(self, path: str, reason: str, confidence: float) -> None:
        if self.confidence.get(path, 0.0) < confidence:
            self.reasons[path] = reason
            self.confidence[path] = confidence

    def footprint(self) -> Footprint:
        files = tuple(sorted(self.reasons))
        return Footprint(
            files=files,
            patterns=tuple(self.patterns),
            reasons=self.reasons,
            confidence=self.confidence,
            unknown=not files and not self.patterns,
        )


def _explicit(task: Task, files: Sequence[str], evidence: _Evidence) -> None:
    for entry in task.files:
        if any(ch in entry for ch in "*?["):
            matched = [f for f in files if fnmatch.fnmatchcase(f, entry)]
            for path in matched:
                evidence.add(path, f"listed in files: ({entry})", EXPLICIT)
            if not matched:
                evidence.patterns.append(entry)
        else:
            evidence.add(entry.removeprefix("./"), "listed in files:", EXPLICIT)


def predict_footprint(task: Task, snapshot: RepoSnapshot) -> Footprint:
    evidence = _Evidence()
    _explicit(task, snapshot.files, evidence)
    lookup = snapshot.lookup
    for mention in find_mentions(task.text, lookup):
        evidence.add(mention.path, f"mentioned as '{mention.token}' ({mention.how})", MENTIONED)
    for path in unresolved_paths(task.text, lookup):
        evidence.add(path, f"mentioned as '{path}' (new file)", NEW_FILE)
    return evidence.footprint()


def predict_footprints(tasks: Iterable[Task], snapshot: RepoSnapshot) -> dict[str, Footprint]:
    return {task.id: predict_footprint(task, snapshot) for task in tasks}
