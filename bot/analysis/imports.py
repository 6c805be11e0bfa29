"""Import neighbours: when a task changes an interface, the modules importing it may follow.

Built from the import lists of the ast symbol index (no extra parsing). Used only when the
task text says the interface changes (rename, signature, remove, ...), and only with a low
confidence: most importers survive most interface changes. Pure.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field

from bot.analysis.sources import Evidence
from bot.analysis.symbols import FileSymbols

INTERFACE_CHANGE = re.compile(
    r"\b(renam\w*|signature|remov\w*|delet\w*|deprecat\w*|breaking|interface|"
    r"(?:new|extra|optional|required|keyword) (?:argument|parameter)s?|"
    r"(?:argument|parameter)s? (?:order|name)|return type|moved? (?:to|from)|replac\w*)\b",
    re.I,
)
NEIGHBOUR = 0.2  # times the changed file's own confidence
MAX_IMPORTERS = 12  # a module imported from everywhere says little about any one importer


@dataclass(frozen=True)
class ImportGraph:
    importers: Mapping[str, frozenset[str]] = field(default_factory=dict)

    @classmethod
    def build(cls, symbols: Mapping[str, FileSymbols]) -> ImportGraph:
        by_module = {info.module: path for path, info in symbols.items() if info.module}
        importers: dict[str, set[str]] = defaultdict(set)
        for path, info in symbols.items():
            for name in info.imports:
                target = _resolve(name, by_module)
                if target is not None and target != path:
                    importers[target].add(path)
        return cls({path: frozenset(users) for path, users in importers.items()})


def _resolve(name: str, by_module: Mapping[str, str]) -> str | None:
    """The file of the longest known module prefix of `name` (`a.b.func` -> a/b.py)."""
    parts = name.split(".")
    for end in range(len(parts), 0, -1):
        path = by_module.get(".".join(parts[:end]))
        if path is not None:
            return path
    return None


def neighbours(text: str, graph: ImportGraph, evidence: Evidence) -> None:
    """Add the importers of likely files when the text announces an interface change."""
    if not INTERFACE_CHANGE.search(text):
        return
    for path, score in evidence.seeds():
        users = graph.importers.get(path, frozenset())
        if len(users) > MAX_IMPORTERS:
            continue
        for user in sorted(users):
            evidence.add(user, f"imports {path}, whose interface changes", score * NEIGHBOUR)
