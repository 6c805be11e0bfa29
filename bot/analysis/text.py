"""Words from task text, code identifiers and paths, for matching one against the other. Pure."""

from __future__ import annotations

import re
from functools import lru_cache

_WORD = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
_ADDRESSES = re.compile(r"\w+://\S+|\S+@\S+")  # links, e-mail addresses
_TRAILERS = re.compile(r"^[A-Za-z-]+-by:.*$", re.MULTILINE)  # `Co-authored-by: ...`
_CAMEL = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+")


def without_addresses(text: str) -> str:
    """`text` without links, e-mail addresses and trailers: who signed or co-wrote a change
    says nothing of what it is about."""
    return _ADDRESSES.sub(" ", without_trailers(text))


def without_trailers(text: str) -> str:
    """`text` without its trailers (`Co-authored-by: ...`): who co-wrote a change says nothing
    of what it is about."""
    return _TRAILERS.sub(" ", text)


STOPWORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "been",
        "but",
        "by",
        "can",
        "could",
        "do",
        "does",
        "for",
        "from",
        "has",
        "have",
        "if",
        "in",
        "into",
        "is",
        "it",
        "its",
        "not",
        "of",
        "on",
        "or",
        "so",
        "such",
        "that",
        "the",
        "their",
        "them",
        "then",
        "there",
        "these",
        "this",
        "to",
        "was",
        "we",
        "were",
        "when",
        "which",
        "will",
        "with",
        "would",
        "you",
        "your",
        "i",
        "me",
        "my",
        "our",
        "us",
        "they",
        "he",
        "she",
        "all",
        "any",
        "also",
        "more",
        "most",
        "no",
        "only",
        "other",
        "some",
        "than",
        "too",
        "very",
        "just",
        "should",
        "may",
        "might",
        "must",
        "one",
        "two",
        "new",
        "use",
        "used",
        "using",
        "via",
        "per",
        "now",
        "get",
        "got",
        "make",
        "made",
        "pull",
        "request",
        "merge",
        "merged",
        "branch",
        "master",
        "main",
        "co",
        "authored",
        "signed",
        "off",
        "by",
        "github",
        "com",
        "https",
        "http",
        "www",
        "pr",
        "issue",
        "issues",
        "fixes",
        "fixed",
        "closes",
        "closed",
        "see",
        "ref",
        "refs",
        "re",
        "wip",
    ]
)

# Verbs that say what is done, not where: left out when searching the code by the task's words.
_TASK_VERBS = frozenset(
    [
        "add",
        "allow",
        "avoid",
        "bump",
        "change",
        "clean",
        "cleanup",
        "correct",
        "deprecate",
        "document",
        "drop",
        "enable",
        "ensure",
        "fix",
        "handle",
        "improve",
        "make",
        "move",
        "refactor",
        "release",
        "remove",
        "rename",
        "replace",
        "reduce",
        "show",
        "simplify",
        "support",
        "test",
        "tests",
        "typo",
        "typos",
        "update",
        "upgrade",
        "version",
        "docs",
        "doc",
        "documentation",
        "minor",
        "small",
        "style",
    ]
)


@lru_cache(maxsize=65536)
def _stem(word: str) -> str:
    """A light stemmer: `errors` -> `error`, `handling`, `handled`, `handle` -> `handl`."""
    for suffix, keep in (
        ("ies", "y"),
        ("sses", "ss"),
        ("ing", ""),
        ("ed", ""),
        ("es", ""),
        ("s", ""),
    ):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            if suffix == "s" and word.endswith(("ss", "us", "is")):
                break
            word = word[: len(word) - len(suffix)] + keep
            break
    return word[:-1] if word.endswith("e") and len(word) > 4 else word


def split_identifier(name: str) -> list[str]:
    """`send_file` -> send, file; `HTTPServerError` -> http, server, error."""
    parts: list[str] = []
    for chunk in name.split("_"):
        parts.extend(p.lower() for p in _CAMEL.findall(chunk))
    return [p for p in parts if p]


@lru_cache(maxsize=131072)
def _token_words(token: str) -> tuple[str, ...]:
    parts = split_identifier(token)
    out = [token.lower()] if len(parts) > 1 else []
    out.extend(
        _stem(part)
        for part in parts
        if len(part) >= 2 and part not in STOPWORDS and not part.isdigit()
    )
    return tuple(out)


def words(text: str) -> list[str]:
    """Stemmed words of free text or code; identifiers count whole and by their parts."""
    out: list[str] = []
    for token in _WORD.findall(text):
        out.extend(_token_words(token))
    return out


def path_words(path: str) -> list[str]:
    """Words of a path: directory names, the file's stem and its extension."""
    stem_and_dirs = re.sub(r"\.[A-Za-z0-9]+$", "", path)
    found = words(stem_and_dirs.replace("/", " ").replace("-", "_"))
    ext = path.rsplit(".", 1)[-1].lower() if "." in path.rsplit("/", 1)[-1] else ""
    if ext:
        found.append(f"ext:{ext}")
    return found


TASK_VERBS = frozenset(_stem(verb) for verb in _TASK_VERBS)
