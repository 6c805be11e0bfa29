"""Which work in flight a pull request collides with, and the `orchestrate/overlap` check run
that says so, on every pull request into the base, a person's or an agent's. Pure.

Work in flight is each task running, in review or planned, and each other open pull request.
Two of them **overlap** when one changes a file the other changes too or is predicted to touch
(changelog-style files aside: the merge queue merges those as a union). Where both have pushed
commits, git's verdict (`git merge-tree`, no checkout) says whether they **really conflict**,
and on which of the pull request's own lines: those become annotations.

Who lands first: between two tasks, the plan's merge order; tasks in flight land before a
person's pull request (the merge queue lands them as soon as they are ready, a person merges
theirs when they choose); between two people's pull requests, neither. The conclusion is
`success` when nothing overlaps, `neutral` when files are shared but merge cleanly (or the
work is only predicted), and `failure` (`checks.conflict`: or `neutral`) when the pull request
really conflicts with work that lands before it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from bot.forge.base import MAX_ANNOTATIONS, Annotation, CheckRunOutput
from bot.planning.changelogs import is_mergeable
from bot.render.markdown import md
from bot.render.text import listed

OVERLAP_CHECK = "orchestrate/overlap"
Lines = tuple[tuple[int, int], ...]
FILES_SHOWN = 4


@dataclass(frozen=True)
class Work:
    """One piece of work in flight: a task (with its pull request, once it has one) or a
    person's open pull request."""

    label: str  # "task #3" or "pull request #12"
    title: str
    status: str  # "in review", "running", "planned", "open"
    task: str | None = None
    pull: int | None = None
    head: str | None = None  # its pushed commit, when it has one
    changed: frozenset[str] = frozenset()  # the files its commits change
    predicted: frozenset[str] = frozenset()  # the files it is likely to touch, not yet seen
    order: int | None = None  # its place in the plan's merge order (tasks only)
    url: str = ""
    fetched: bool = True  # git has its head to merge (else only its files are known)

    @property
    def files(self) -> frozenset[str]:
        return self.changed | self.predicted


@dataclass(frozen=True)
class Collision:
    other: Work
    shared: tuple[str, ...]
    conflicts: Mapping[str, Lines] | None = None  # in the checked pull request's own lines
    lands_first: bool = False  # the other work lands before the checked pull request

    @property
    def really(self) -> bool:
        return bool(self.conflicts)


Verdict = Callable[[str, str], Mapping[str, Lines] | None]  # (ours, theirs) -> git's answer


def lands_first(other: Work, subject: Work) -> bool:
    """Does `other` land before `subject`? See the module docstring."""
    if other.task is not None and subject.task is not None:
        return (other.order or 0) < (subject.order or 0)
    return other.task is not None and subject.task is None


def collisions(
    subject: Work, others: Sequence[Work], verdict: Verdict, changelog: Sequence[str] = ()
) -> list[Collision]:
    """The work `subject` overlaps with, each with git's verdict where both have commits."""
    found = []
    for other in others:
        if other is subject or (other.pull is not None and other.pull == subject.pull):
            continue
        mine, theirs = subject.changed, other.files
        near = (mine & theirs) | (subject.predicted & other.changed)
        shared = sorted(f for f in near if not is_mergeable(f, changelog))
        if not shared:
            continue
        conflicts = None
        if (
            subject.head
            and other.head
            and subject.fetched
            and other.fetched
            and mine & other.changed
        ):
            answer = verdict(subject.head, other.head)
            if answer is not None:
                conflicts = {p: lines for p, lines in answer.items() if p in mine}
        found.append(
            Collision(other, tuple(sorted(shared)), conflicts, lands_first(other, subject))
        )
    return sorted(found, key=lambda c: (not c.really, not c.lands_first, c.other.label))


def conclusion(found: Sequence[Collision], on_conflict: str = "failure") -> str:
    if not found:
        return "success"
    if any(c.really and c.lands_first for c in found):
        return on_conflict
    return "neutral"


def _link(work: Work) -> str:
    text = md(work.label)
    return f"[{text}]({work.url})" if work.url else text


def _ranges(lines: Lines) -> str:
    return ", ".join(f"{a}" if a == b else f"{a}-{b}" for a, b in lines)


def _row(collision: Collision) -> str:
    other = collision.other
    files = listed([f"`{md(f, 120)}`" for f in collision.shared], FILES_SHOWN)
    if collision.really:
        verdict = "**conflicts**: " + "; ".join(
            f"`{md(path, 120)}` lines {_ranges(lines)}"
            for path, lines in sorted((collision.conflicts or {}).items())
        )
    elif collision.conflicts is not None:
        verdict = "merges cleanly"
    else:
        verdict = "predicted only" if not (other.changed & set(collision.shared)) else "not tried"
    lands = "before this one" if collision.lands_first else "not before this one"
    title = md(" ".join(other.title.split())[:60])
    return f"| {_link(other)} {title} | {md(other.status)} | {files} | {verdict} | {lands} |"


def line_notes(found: Sequence[Collision], level: str) -> list[Annotation]:
    """One note per conflicting range of the pull request's own files, at most GitHub's 50."""
    notes: list[Annotation] = []
    for collision in found:
        first = collision.lands_first
        for path, lines in sorted((collision.conflicts or {}).items()):
            for start, end in lines:
                other = collision.other
                when = "lands before this one" if first else "is in flight beside this one"
                notes.append(
                    Annotation(
                        path=path,
                        start_line=start,
                        end_line=end,
                        level="failure" if first and level == "failure" else "warning",
                        title=f"Conflicts with {other.label}"[:255],
                        message=(
                            f"These lines conflict with {other.label} "
                            f"({' '.join(other.title.split())[:120]}), which {when}: git "
                            "cannot merge the two changes here. Rebase once it has landed, "
                            "or agree who changes these lines."
                        ),
                    )
                )
    return notes[:MAX_ANNOTATIONS]


@dataclass(frozen=True)
class CheckSettings:
    on_conflict: str = "failure"  # or "neutral" (`checks.conflict`)
    dashboard: str = ""  # the dashboard's URL


def overlap_check(
    subject: Work, found: Sequence[Collision], settings: CheckSettings = CheckSettings()
) -> CheckRunOutput:
    """The `orchestrate/overlap` check run on `subject`'s head."""
    assert subject.head is not None
    result = conclusion(found, settings.on_conflict)
    notes = line_notes(found, settings.on_conflict)
    real = [c for c in found if c.really]
    if not found:
        title = "No overlap with work in flight"
    elif real:
        title = f"Conflicts with {listed([c.other.label for c in real], 3)}"
    else:
        title = f"Shares files with {len(found)} piece(s) of work in flight; merges cleanly"
    summary = _summary(subject, found, notes, result, settings)
    return CheckRunOutput(
        name=OVERLAP_CHECK,
        head_sha=subject.head,
        title=title[:1000],
        summary=summary,
        conclusion=result,
        annotations=tuple(notes),
    )


def _summary(
    subject: Work,
    found: Sequence[Collision],
    notes: Sequence[Annotation],
    result: str,
    settings: CheckSettings,
) -> str:
    board = f"[the dashboard]({settings.dashboard})" if settings.dashboard else "the dashboard"
    if not found:
        return (
            f"This pull request changes {len(subject.changed)} file(s); no task in flight and "
            f"no other open pull request changes them or is predicted to. Tasks: {board}."
        )
    lines = [
        "| work | status | shared files | git says | lands |",
        "|---|---|---|---|---|",
        *(_row(c) for c in found),
        "",
    ]
    if result == "failure":
        lines.append(
            "This pull request really conflicts with work that lands before it: the annotated "
            "lines cannot be merged as they are. Rebase it once that work has landed, or "
            "agree who changes those lines."
        )
    elif any(c.really for c in found):
        lines.append("The annotated lines really conflict; the work they conflict with is shown.")
    else:
        lines.append(
            "Sharing a file is not a conflict: git merges these changes cleanly as they are now. "
            "This check is updated when any of this work moves."
        )
    lines.append(f"\nThe plan and every task's state: {board}.")
    # a hidden fingerprint of the annotations: a check whose notes change is made anew
    stamp = hashlib.sha256(
        json.dumps([(n.path, n.start_line, n.end_line, n.level, n.title) for n in notes]).encode()
    ).hexdigest()[:12]
    lines.append(f"<!-- orchestrate:annotations {stamp} -->")
    return "\n".join(lines)


def check_digest(check: CheckRunOutput) -> str:
    """What a check says, in short: an unchanged one is not written again, so a busy
    repository costs a request only for each pull request whose check changed."""
    data = [check.head_sha, check.title, check.summary, check.conclusion]
    return hashlib.sha256(json.dumps(data).encode()).hexdigest()[:16]
