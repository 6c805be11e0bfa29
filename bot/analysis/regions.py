"""Where in a file a task will edit: the lines its text points at. Pure.

Sharing a file is not a conflict: git merges edits to different lines of one file, and refuses
only edits to the same or adjacent lines. A task's text often names the very line it will
change: `Bump black from 22.8.0 to 22.10.0` points at `black==22.8.0` in requirements.txt,
`Bump actions/checkout from 3 to 4` at each `uses: actions/checkout@v3`, `Expose FunctionAuth
in __all__` at the `__all__` list. Only distinctive tokens point: version strings, `code`
between backticks, and names shaped like code (dotted, slashed, snake_case, camelCase). A token
found on many lines of a file points nowhere in it; a task pointing at many lines of a file
may edit anywhere in it, and has no region there. A release (`Release 2.1.0`, `start version
2.2.0.dev0`) points at the lines that set a version of the same major (or the one before):
`__version__ = "2.1.0rc1"`, `version = "2.0.3"`, not an example's `version = "1.0.0"`.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections import Counter
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property, lru_cache

from bot.analysis.text import without_addresses

MOST_LINES_PER_TOKEN = 3  # a token on more lines of a file than this is not an anchor in it
MOST_LINES = 6  # a task pointing at more lines of a file than this may edit anywhere in it
GAP = 1  # edits this many lines apart or closer are adjacent: git will not merge them
TEMPLATE_SHARE, MIN_TEMPLATE = 0.75, 3  # a token in this share of the tasks is a template's

_VERSION = re.compile(r"(?<![\w.])v?(\d+(?:\.\d+)+(?:[a-z]+\d*)?)(?![\w]|\.\d)")
_TICKED = re.compile(r"`+([^`\n]{2,80})`+")
_NAME = re.compile(r"[A-Za-z_][\w]*(?:[./-][A-Za-z_][\w]*)*")
_PART = re.compile(r"[./-]")
_RELEASE = re.compile(r"\b(?:release|version)[\s-]+(?:to[\s-]+)?v?(\d+)\.\d", re.IGNORECASE)
_VERSIONED = (".py", ".toml", ".cfg", ".json")  # where a project sets its version: not docs
_VERSION_LINE = re.compile(
    r"""^[ \t]*["']?(?:__version__|version)["']?[ \t]*[:=][ \t]*["']v?(\d+)[.\w]*["']""",
    re.MULTILINE,
)


def _code_shaped(token: str) -> bool:
    """snake_case, dotted, slashed, hyphenated or camelCase: a name, not an English word."""
    if token.startswith(("http", "www.")) or max(map(len, _PART.split(token))) < 3:
        return False
    return (
        any(mark in token for mark in "_./-")
        or token.startswith("__")
        or (token[0].islower() and any(ch.isupper() for ch in token))
        or (token[0].isupper() and any(ch.isupper() for ch in token[1:]) and not token.isupper())
    )


def pointers(text: str) -> frozenset[str]:
    """The tokens of a task's text that may name a line: versions, `code`, code-shaped names."""
    text = without_addresses(text)
    found: set[str] = set(_VERSION.findall(text))
    for ticked in _TICKED.findall(text):
        found.update(name for name in _NAME.findall(ticked) if len(name) >= 2)
    found.update(name for name in _NAME.findall(text) if _code_shaped(name))
    return frozenset(token.strip("./-") for token in found)


def sets_version(text: str) -> frozenset[int]:
    """The major versions a release names in its first line (`Release 2.1.0`, `start version
    2.2.0.dev0`, `Bump version to 8.3.dev` -> {2}, {2}, {8}); none for any other task (`Update
    CHANGELOG for 0.27.1 release date`)."""
    subject = without_addresses(text.strip().split("\n", 1)[0])
    return frozenset(int(major) for major in _RELEASE.findall(subject))


def without_template(tokens: Mapping[str, frozenset[str]]) -> dict[str, frozenset[str]]:
    """Each task's pointers without those (nearly) every task holds: an issue form's, which
    point at the same lines for every task and say nothing of where each will edit."""
    held = Counter(token for found in tokens.values() for token in found)
    common = max(MIN_TEMPLATE, TEMPLATE_SHARE * len(tokens))
    return {task: frozenset(t for t in found if held[t] < common) for task, found in tokens.items()}


@lru_cache(maxsize=4096)
def _finder(token: str) -> re.Pattern[str]:
    """`token` standing alone: not inside a longer name or version (a name may follow a dot
    or slash: `flask.send_file` holds `send_file`)."""
    if token[0].isdigit():
        return re.compile(rf"(?<![\w.]){re.escape(token)}(?!\w|\.\d)")
    return re.compile(rf"(?<!\w){re.escape(token)}(?!\w)")


@dataclass
class LineIndex:
    """One file's text (`path`: where it is), searched for tokens on demand (each once)."""

    text: str
    found: dict[str, tuple[int, ...]] = field(default_factory=dict)
    versions: list[tuple[int, int]] | None = None  # (line, major) of each line setting a version
    path: str = ""

    @classmethod
    def build(cls, content: str, path: str = "") -> LineIndex:
        return cls(content, path=path)

    @cached_property
    def starts(self) -> list[int]:
        """Where each line starts: found once a token is (most files read never hold one)."""
        return [0, *(m.end() for m in re.finditer("\n", self.text))]

    def lines_of(self, token: str) -> tuple[int, ...]:
        """The lines (1-based) `token` is on."""
        if token not in self.found:
            # a plain search finds where it may be (the pattern, searched, is 40 times slower
            # on a long file); the pattern then says whether it stands alone there
            finder, hits = _finder(token), set()
            at = self.text.find(token)
            while at != -1:
                if finder.match(self.text, at):
                    hits.add(bisect_right(self.starts, at))
                at = self.text.find(token, at + 1)
            self.found[token] = tuple(sorted(hits))
        return self.found[token]

    def version_lines(self, majors: Collection[int]) -> tuple[int, ...]:
        """The lines that set a version (`__version__ = "2.1"`, `version = "2.1"`) of one of
        `majors`, or of the major before one."""
        if not self.path.endswith(_VERSIONED):
            return ()
        if self.versions is None:
            self.versions = [
                (bisect_right(self.starts, m.start()), int(m.group(1)))
                for m in _VERSION_LINE.finditer(self.text)
            ]
        return tuple(line for line, major in self.versions if {major, major + 1} & set(majors))

    def anchors(self, tokens: Iterable[str], release: Collection[int] = ()) -> tuple[int, ...]:
        """The lines `tokens` point at in this file, and for a `release` (the majors it names)
        the lines that set such a version; () when they point nowhere, or everywhere."""
        found: set[int] = set(self.version_lines(release)) if release else set()
        for token in tokens:
            numbers = self.lines_of(token)
            if len(numbers) <= MOST_LINES_PER_TOKEN:
                found.update(numbers)
        return tuple(sorted(found)) if len(found) <= MOST_LINES else ()


def task_regions(
    tokens: Collection[str],
    files: Sequence[str],
    indexes: Mapping[str, LineIndex],
    release: Collection[int] = (),
) -> dict[str, tuple[int, ...]]:
    """For each of `files` with an index: the lines `tokens` (a task's `pointers`) point at,
    and those that set a version for a `release` (`sets_version`), where there are any."""
    regions = {path: indexes[path].anchors(tokens, release) for path in files if path in indexes}
    return {path: lines for path, lines in regions.items() if lines}


def distance(a: Sequence[int], b: Sequence[int]) -> int:
    """How many lines apart the closest lines of two regions are."""
    return min(abs(x - y) for x in a for y in b)


def adjacent(a: Sequence[int], b: Sequence[int]) -> bool:
    """Do two regions touch (same or neighbouring lines), so that git would not merge them?"""
    return distance(a, b) <= GAP
