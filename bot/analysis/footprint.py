"""Combine the evidence for a task's footprint, each file with its reasons and a confidence.

Sources, strongest first: an explicit `files:` list (authoritative when present); paths and
globs mentioned; code identifiers resolved through the symbol index; retrieval over the code
(BM25 over paths, definitions and docstrings, weaker as similar past changes agree on a
file); similar past changes (BM25 over commit messages, votes shrunk towards each file's base
rate); companions (test files of touched modules, files that history shows change together,
as likely as the task's own words make the file they go with). Confidences from different
sources combine as a noisy-OR. A task with no evidence at all has an unknown footprint. Pure.
"""

from __future__ import annotations

import fnmatch
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property

from bot.analysis.history import Commit, HistoryIndex
from bot.analysis.imports import ImportGraph, neighbours
from bot.analysis.mentions import FileLookup, candidate_tokens, resolve, unresolved_paths
from bot.analysis.regions import (
    LineIndex,
    pointers,
    sets_version,
    task_regions,
    without_template,
)
from bot.analysis.retrieval import BM25
from bot.analysis.sources import Evidence, companions, retrieval, similar_changes, symbols
from bot.analysis.symbols import FileSymbols, SymbolIndex
from bot.analysis.text import TASK_VERBS, path_words, words
from bot.models import Footprint, Task

EXPLICIT = 1.0
MENTIONED = {"exact": 0.9, "suffix": 0.85, "directory": 0.7, "glob": 0.8, "basename": 0.8}
AMBIGUOUS = 0.8
NEW_FILE = 0.6
AGENT_HINT = 0.7  # the agent, asked read-only, named the file
SETS_VERSION = 0.8  # a release, and a file of its footprint with a `version = "..."` line
IMPORT_NEIGHBOURS = True


def _unread(paths: Collection[str]) -> Mapping[str, str]:
    return {}


@dataclass(frozen=True)
class RepoSnapshot:
    """What the predictor may know about the repository at the plan's base commit. `read`
    returns the text of some of its files (the I/O side passes one; without it, none)."""

    files: tuple[str, ...]
    symbols: Mapping[str, FileSymbols] = field(default_factory=dict)
    history: tuple[Commit, ...] = ()
    commit: str = ""
    read: Callable[[Collection[str]], Mapping[str, str]] = field(default=_unread, compare=False)

    @cached_property
    def lookup(self) -> FileLookup:
        return FileLookup.build(self.files)

    @cached_property
    def symbol_index(self) -> SymbolIndex:
        return SymbolIndex.build(self.symbols)

    @cached_property
    def code_index(self) -> BM25:
        """One document per file: its path words (twice), definitions and docstring lines."""
        docs: list[list[str]] = []
        for path in self.files:
            doc = path_words(path) * 2
            info = self.symbols.get(path)
            if info is not None:
                doc.extend(words(" ".join(info.defs)))
                doc.extend(words(info.doc))
            docs.append(doc)
        return BM25.build(docs)

    @cached_property
    def import_graph(self) -> ImportGraph:
        return ImportGraph.build(self.symbols)

    @cached_property
    def history_index(self) -> HistoryIndex:
        return HistoryIndex.build(self.history, self.files)

    @cached_property
    def _line_indexes(self) -> dict[str, LineIndex | None]:
        return {}

    def line_indexes(self, paths: Collection[str]) -> dict[str, LineIndex]:
        """Token -> lines of each of `paths` that can be read (each read once)."""
        known = self._line_indexes
        missing = [path for path in paths if path not in known]
        if missing:
            texts = self.read(missing)
            for path in missing:
                text = texts.get(path)
                known[path] = LineIndex.build(text, path) if text is not None else None
        return {path: index for path in paths if (index := known[path]) is not None}

    def older_than(self, position: int) -> RepoSnapshot:
        """The same tree, with only the history from `position` on (newest first): what a
        plan made before the newer commits could have known. Reuses every index."""
        other = RepoSnapshot(
            self.files, self.symbols, self.history[position:], self.commit, self.read
        )
        for name in ("lookup", "symbol_index", "code_index", "import_graph", "_line_indexes"):
            other.__dict__[name] = getattr(self, name)
        other.__dict__["history_index"] = self.history_index.older_than(position)
        return other

    def warm(self) -> RepoSnapshot:
        """Build every index now (a planner of many tasks pays this once)."""
        for name in ("lookup", "symbol_index", "code_index", "import_graph", "history_index"):
            getattr(self, name)
        return self


def _explicit(task: Task, files: Sequence[str], evidence: Evidence) -> None:
    for entry in task.files:
        if any(ch in entry for ch in "*?["):
            matched = [f for f in files if fnmatch.fnmatchcase(f, entry)]
            for path in matched:
                evidence.add(path, f"listed in files: ({entry})", EXPLICIT)
            if not matched:
                evidence.patterns.append(entry)
        else:
            evidence.add(entry.removeprefix("./"), "listed in files:", EXPLICIT)


def _mentions(text: str, lookup: FileLookup, evidence: Evidence) -> list[tuple[str, list[str]]]:
    """Resolve mentioned paths; return ambiguous basenames for the other evidence to settle."""
    ambiguous: list[tuple[str, list[str]]] = []
    for token in candidate_tokens(text):
        hits = resolve(token, lookup)
        for hit in hits:
            evidence.add(hit.path, f"mentioned as '{token}' ({hit.how})", MENTIONED[hit.how])
        if not hits and "/" not in token:
            same = lookup.by_basename.get(token, [])
            if len(same) > 1:
                ambiguous.append((token, same))
    for path in unresolved_paths(text, lookup):
        evidence.add(path, f"mentioned as '{path}' (new file)", NEW_FILE)
    return ambiguous


def _settle(ambiguous: Iterable[tuple[str, list[str]]], evidence: Evidence) -> None:
    """An ambiguous basename goes to the candidate the other evidence favours, else to all."""
    for token, candidates in ambiguous:
        scored = sorted(candidates, key=lambda p: -evidence.score(p))
        best = evidence.score(scored[0])
        if best > 0 and best >= 1.5 * evidence.score(scored[1]):
            evidence.add(scored[0], f"mentioned as '{token}' (basename; best supported)", AMBIGUOUS)
            continue
        share = AMBIGUOUS / len(candidates)
        for path in candidates:
            evidence.add(path, f"mentioned as '{token}' (one of {len(candidates)} files)", share)


def _agent_hints(hints: Sequence[str], lookup: FileLookup, evidence: Evidence) -> None:
    """Files the agent itself said it expects to touch (`plan.predictor: agent`)."""
    for hint in hints:
        found = resolve(hint, lookup)
        for mention in found:
            evidence.add(mention.path, "the agent expects to touch it", AGENT_HINT)
        if not found and "/" in hint:
            evidence.add(hint, "the agent expects to create it", AGENT_HINT * 0.7)


def predict_footprint(task: Task, snapshot: RepoSnapshot, hints: Sequence[str] = ()) -> Footprint:
    evidence = Evidence()
    _explicit(task, snapshot.files, evidence)
    if task.files:
        return evidence.footprint()
    _agent_hints(hints, snapshot.lookup, evidence)
    text = task.text
    ambiguous = _mentions(text, snapshot.lookup, evidence)
    symbols(text, snapshot.symbol_index, evidence)
    query = words(text)
    subject = [w for w in query if w not in TASK_VERBS]
    index = snapshot.code_index
    kinds = [f"ext:{w}" for w in subject if index.df(f"ext:{w}")]  # "cleanup svg": the *.svg
    # past changes like this one that agree on a file leave less to the code its words match
    agreed = similar_changes(query, snapshot.history_index, evidence)
    retrieval(subject + kinds, snapshot.files, index, evidence, 1.0 - agreed)
    _settle(ambiguous, evidence)
    if IMPORT_NEIGHBOURS:
        neighbours(text, snapshot.import_graph, evidence)
    companions(snapshot.lookup, snapshot.history_index, evidence)
    return evidence.footprint()


def predict_footprints(
    tasks: Iterable[Task],
    snapshot: RepoSnapshot,
    hints: Mapping[str, Sequence[str]] | None = None,
) -> dict[str, Footprint]:
    """Footprints by task id; `hints` are the files each task's agent expects to touch. Where
    two or more footprints hold a file, each also names the lines its task's text points at
    there (`bot.analysis.regions`)."""
    hints = hints or {}
    tasks = list(tasks)
    footprints = {
        task.id: predict_footprint(task, snapshot, hints.get(task.id, ())) for task in tasks
    }
    return _with_regions(tasks, footprints, snapshot)


def _with_regions(
    tasks: Sequence[Task], footprints: dict[str, Footprint], snapshot: RepoSnapshot
) -> dict[str, Footprint]:
    """Only files held by two tasks that do point somewhere are read, and a release's own:
    the file that sets the version is one a release surely touches."""
    tokens = without_template({task.id: pointers(f"{task.title}\n{task.body}") for task in tasks})
    release = {task.id: sets_version(task.title) for task in tasks}
    holders = Counter(
        path
        for task in tasks
        if tokens[task.id] or release[task.id]
        for path in footprints[task.id].files
    )
    shared = {path for path, count in holders.items() if count > 1}
    released = {path for task in tasks if release[task.id] for path in footprints[task.id].files}
    if not shared and not released:
        return footprints
    indexes = snapshot.line_indexes(sorted(shared | released))
    for task in tasks:
        footprint = footprints[task.id]
        if release[task.id]:
            footprint = _sets_version(footprint, indexes, release[task.id])
        held = [path for path in footprint.files if path in shared or release[task.id]]
        lines = task_regions(tokens[task.id], held, indexes, release[task.id])
        if lines or footprint is not footprints[task.id]:
            footprints[task.id] = footprint.model_copy(update={"lines": lines})
    return footprints


def _sets_version(
    footprint: Footprint, indexes: Mapping[str, LineIndex], majors: Collection[int]
) -> Footprint:
    """A release's footprint, sure of the files in it that set such a version."""
    confidence = dict(footprint.confidence)
    reasons = dict(footprint.reasons)
    for path in footprint.files:
        index = indexes.get(path)
        lines = index.version_lines(majors) if index is not None else ()
        if not lines:
            continue
        confidence[path] = round(1 - (1 - confidence.get(path, 1.0)) * (1 - SETS_VERSION), 3)
        said = [f"sets the version (line {lines[0]})", reasons.get(path, "")]
        reasons[path] = "; ".join(reason for reason in said if reason)
    if confidence == footprint.confidence:
        return footprint
    return footprint.model_copy(update={"confidence": confidence, "reasons": reasons})
