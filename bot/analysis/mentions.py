"""Paths, file names and globs mentioned in task text, resolved against the files at base."""

from __future__ import annotations

import fnmatch
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

# A path-like token: has a slash or a file extension; may hold glob characters.
_TOKEN = re.compile(r"(?<![\w/.*-])([\w.*?\[\]-]+(?:/[\w.*?\[\]-]+)*/?)")
_EXTENSION = re.compile(r"\.[A-Za-z][A-Za-z0-9]{0,7}$")
_GLOB_CHARS = frozenset("*?[")
FILE_EXTENSIONS = frozenset(
    [
        "py",
        "pyi",
        "rst",
        "md",
        "txt",
        "toml",
        "yml",
        "yaml",
        "cfg",
        "ini",
        "json",
        "html",
        "js",
        "ts",
        "css",
        "sh",
        "in",
        "lock",
        "c",
        "h",
        "cpp",
        "go",
        "rs",
    ]
)  # what a file name ends in, unlike a dotted name (`flask.app`)


@dataclass(frozen=True)
class Mention:
    token: str
    path: str
    how: str  # exact | suffix | basename | glob


@dataclass
class FileLookup:
    """Indexes of a file list for resolving mentions quickly (built once per snapshot)."""

    files: frozenset[str]
    by_basename: dict[str, list[str]] = field(default_factory=dict)

    @classmethod
    def build(cls, files: Iterable[str]) -> FileLookup:
        files = frozenset(files)
        by_basename: dict[str, list[str]] = defaultdict(list)
        for path in files:
            by_basename[path.rsplit("/", 1)[-1]].append(path)
        return cls(files, {name: sorted(paths) for name, paths in by_basename.items()})


def candidate_tokens(text: str) -> list[str]:
    """Tokens that look like paths: contain a slash or end in a file extension. A dot that
    starts a file's name stays (`.pre-commit-config.yaml`); one that ends a sentence goes."""
    seen: dict[str, None] = {}
    for match in _TOKEN.finditer(text):
        token = match.group(1).removeprefix("./").rstrip(".-").lstrip("-")
        if not re.match(r"\.\w", token):
            token = token.lstrip(".")
        if not token or token.startswith("http") or len(token) < 3:
            continue
        looks_like_path = "/" in token or _EXTENSION.search(token) or _GLOB_CHARS & set(token)
        if looks_like_path and not token.replace(".", "").isdigit():
            seen.setdefault(token, None)
    return list(seen)


def resolve(token: str, lookup: FileLookup) -> list[Mention]:
    """Resolve one token: exact path, path suffix, unique basename, or glob."""
    if _GLOB_CHARS & set(token):
        hits = sorted(f for f in lookup.files if fnmatch.fnmatchcase(f, token))
        return [Mention(token, path, "glob") for path in hits]
    if token in lookup.files:
        return [Mention(token, token, "exact")]
    if token.endswith("/"):
        return [Mention(token, f, "directory") for f in sorted(lookup.files) if f.startswith(token)]
    if "/" in token:
        suffix = "/" + token
        return [Mention(token, f, "suffix") for f in sorted(lookup.files) if f.endswith(suffix)]
    same_name = lookup.by_basename.get(token, [])
    if len(same_name) == 1:
        return [Mention(token, same_name[0], "basename")]
    return []


def find_mentions(text: str, lookup: FileLookup) -> list[Mention]:
    found: list[Mention] = []
    for token in candidate_tokens(text):
        found.extend(resolve(token, lookup))
    return found


def unresolved_paths(text: str, lookup: FileLookup) -> Sequence[str]:
    """Paths that name no existing file: files the task may create. A name without a directory
    counts when it ends in a file extension (`pyproject.toml`, not `flask.app`) and no file of
    that name exists anywhere."""
    return [
        token
        for token in candidate_tokens(text)
        if _EXTENSION.search(token)
        and ("/" in token or token.rsplit(".", 1)[-1].lower() in FILE_EXTENSIONS)
        and not (_GLOB_CHARS & set(token))
        and not resolve(token, lookup)
        and not lookup.by_basename.get(token)
    ]
