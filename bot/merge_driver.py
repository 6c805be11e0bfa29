"""git's merge driver for changelog-style files (`merge.union_files`), run by git during
orchestrate's own rebases: `python -m bot.merge_driver BASE OURS THEIRS [PATH]` (git's %O %A %B
%P). A source file (`bot.planning.changelogs.is_source`) only ever gets the plain merge.

Two changes to a changelog usually each add an entry at the same place, which a plain
three-way merge reports as a conflict; keeping both sides' lines (a union) is then right. But
when a side rewrites or removes a line that was there (a release renames the "Unreleased"
heading), a union keeps both versions of that line, and the result is wrong. So: a plain
three-way merge first; if it conflicts and both sides only added lines, the union; otherwise
the conflict stands, and the task is redone on the new base like any other.
"""

from __future__ import annotations

import difflib
import sys
from collections.abc import Sequence
from pathlib import Path

from bot.gitops import merge_file
from bot.planning.changelogs import is_source


def only_adds(base: Sequence[bytes], side: Sequence[bytes]) -> bool:
    """Every line of `base` is still in `side`, in order, unchanged: `side` only added lines."""
    opcodes = difflib.SequenceMatcher(None, base, side, autojunk=False).get_opcodes()
    return all(tag in ("equal", "insert") for tag, *_ in opcodes)


def main(argv: Sequence[str]) -> int:
    """Merge THEIRS into OURS over BASE, in place (git's contract): 0 when clean. PATH, when
    given, is the file's path in the repository."""
    base, ours, theirs = (Path(arg) for arg in argv[:3])
    original = ours.read_bytes()
    if merge_file(ours, base, theirs) == 0:
        return 0
    if len(argv) > 3 and is_source(argv[3]):
        return 1  # code is never a changelog: the conflict stands
    lines = {path: path.read_bytes().splitlines() for path in (base, theirs)}
    if only_adds(lines[base], original.splitlines()) and only_adds(lines[base], lines[theirs]):
        ours.write_bytes(original)
        return merge_file(ours, base, theirs, union=True)
    return 1  # the conflict markers stay in OURS, as git's own driver leaves them


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
