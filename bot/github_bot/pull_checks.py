"""The `orchestrate/overlap` check run on every open pull request into the base, kept current by
the coordinator: on a pull request's events, and whenever work in flight moves (an agent
pushes, a task lands). What it says is worked out in `bot.collisions` (pure); this module
gathers the work from the dashboard and GitHub, asks git, and writes only what changed.

Cost on a busy repository: one request lists the open pull requests; their heads come with one
`git fetch` (no API request) and their files and conflicts from git in the coordinator's
checkout; a check run is written only where what it says changed (one request on a head
seen for the first time, two on a head checked before).
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from bot.collisions import (
    CheckSettings,
    Collision,
    Lines,
    Work,
    check_digest,
    collisions,
    overlap_check,
)
from bot.forge.base import ForgeError, PullInfo
from bot.github_bot.board import Board
from bot.github_bot.context import Context
from bot.gitops import GitError, GitRepo
from bot.models import TaskStatus
from bot.state.overlap import likely_files

S = TaskStatus
REMOTE = "origin"
FETCHED = "refs/orchestrate/pulls"  # where the heads are fetched to, one ref per pull request
STATUS = {S.RUNNING: "running", S.REVIEW: "in review", S.PLANNED: "planned"}


@dataclass
class PullGit:
    """git in the coordinator's checkout: pull request heads fetched in one go, their files,
    and git's verdict on merging two of them (no checkout, no ref of the user's moved)."""

    repo: GitRepo
    env: dict[str, str]

    def fetch(self, base: str, pulls: Sequence[PullInfo]) -> tuple[str | None, set[int]]:
        """Fetch the base and every pull request's head (a fork's through GitHub's
        `refs/pull/N/head`): the base's commit (None when the fetch failed), and the pull
        requests whose head was fetched as the API showed it."""
        refspecs = [f"+refs/heads/{base}:{FETCHED}/base"]
        for pull in pulls:
            source = f"refs/pull/{pull.number}/head" if pull.fork else f"refs/heads/{pull.head}"
            refspecs.append(f"+{source}:{FETCHED}/{pull.number}")
        try:
            self.repo.fetch(REMOTE, refspecs, self.env)
            tip = self.repo.resolve(f"{FETCHED}/base")
        except GitError:
            return None, set()
        fetched = set()
        for pull in pulls:
            with contextlib.suppress(GitError):
                if self.repo.resolve(f"{FETCHED}/{pull.number}") == pull.head_sha:
                    fetched.add(pull.number)
        return tip, fetched

    def changed(self, base: str, head: str) -> frozenset[str]:
        return frozenset(self.repo.changed_since_fork(base, head))

    def verdict(self, ours: str, theirs: str) -> Mapping[str, Lines] | None:
        try:
            return self.repo.conflict_lines(ours, theirs)
        except GitError:
            return None


def _task_work(ctx: Context, board: Board, task_id: str, pull: PullInfo | None) -> Work | None:
    state, plan = board.state, board.state.plan
    task = state.tasks.get(task_id)
    if task is None or plan is None or task_id not in plan.merge_order or task.status.terminal:
        return None
    predicted = frozenset(likely_files(plan.task(task_id).footprint))
    return Work(
        label=f"task #{task_id}",
        title=state.titles.get(task_id, plan.task(task_id).title),
        status=STATUS.get(task.status, task.status.value),
        task=task_id,
        pull=pull.number if pull else None,
        head=pull.head_sha if pull else None,
        changed=frozenset(task.files),
        predicted=frozenset() if task.files else predicted,
        order=plan.merge_order.index(task_id),
        url=ctx.issue_url(int(task_id)) if task_id.isdigit() else "",
    )


def gather(
    ctx: Context, board: Board, pulls: Sequence[PullInfo], git: PullGit | None
) -> list[Work]:
    """Every piece of work in flight: tasks (with their pull requests) and people's open pull
    requests, each with the files it changes (from git where the heads were fetched)."""
    task_of = {number: task_id for task_id, number in board.state.pulls.items()}
    base, fetched = git.fetch(ctx.config.base, pulls) if git and pulls else (None, set())
    works: list[Work] = []
    with_pull: set[str] = set()
    for pull in pulls:
        changed, merged = _files(ctx, git, base, pull, pull.number in fetched)
        task_id = task_of.get(pull.number)
        if task_id is not None:
            work = _task_work(ctx, board, task_id, pull)
            if work is not None:
                with_pull.add(task_id)
                works.append(replace(_with_changes(work, changed), fetched=merged))
            continue
        works.append(
            Work(
                label=f"pull request #{pull.number}",
                title=pull.title,
                status="open",
                pull=pull.number,
                head=pull.head_sha,
                changed=changed,
                url=pull.url,
                fetched=merged,
            )
        )
    for task_id in board.state.tasks:
        if task_id not in with_pull and (work := _task_work(ctx, board, task_id, None)):
            works.append(work)
    return works


def _files(
    ctx: Context, git: PullGit | None, base: str | None, pull: PullInfo, fetched: bool
) -> tuple[frozenset[str], bool]:
    """The files a pull request changes, and whether git has its head to merge (when its
    head was not fetched as the API shows it, the files come from the API, and no verdict)."""
    if git is not None and base is not None and fetched:
        with contextlib.suppress(GitError):
            return git.changed(base, pull.head_sha), True
    return frozenset(ctx.forge.pull_files(pull.number)), False


def _with_changes(work: Work, changed: frozenset[str]) -> Work:
    if not changed:
        return work
    return replace(work, changed=changed | work.changed, predicted=frozenset())


def post_overlap_checks(ctx: Context, board: Board) -> None:
    """The `orchestrate/overlap` check run on every open pull request into the base, written
    where what it says changed; and, for the dashboard, people's pull requests that collide
    with tasks."""
    git = PullGit(ctx.checkout, ctx.git_env) if ctx.checkout is not None else None
    pulls = [p for p in ctx.forge.list_pulls(ctx.config.base) if p.state == "open"]
    works = gather(ctx, board, pulls, git)
    verdicts: dict[tuple[str, str], Mapping[str, Lines] | None] = {}

    def verdict(ours: str, theirs: str) -> Mapping[str, Lines] | None:
        if git is None:
            return None
        if (ours, theirs) not in verdicts:
            verdicts[(ours, theirs)] = git.verdict(ours, theirs)
        return verdicts[(ours, theirs)]

    settings = CheckSettings(
        on_conflict=ctx.config.checks.conflict, dashboard=ctx.issue_url(board.home)
    )
    state = board.state
    seen: dict[str, tuple[str, str]] = {}
    colliding: dict[str, list[str]] = {}
    changelog = ctx.config.merge.mergeable
    for subject in works:
        if subject.pull is None or subject.head is None:
            continue
        found = collisions(subject, works, verdict, changelog)
        if subject.task is None:
            colliding[str(subject.pull)] = [_collides(c) for c in found if c.other.task]
        check = overlap_check(subject, found, settings)
        wanted = (subject.head, check_digest(check))
        last = state.pull_checks.get(str(subject.pull))
        seen[str(subject.pull)] = wanted
        if last == wanted:
            continue
        try:  # a head never checked before has no check run to look for
            ctx.forge.put_check_run(check, new_head=last is None or last[0] != subject.head)
        except ForgeError as error:  # e.g. a fork's pull request with a read-only token
            board.notes.append(f"the overlap check on #{subject.pull} was not written: {error}")
            seen.pop(str(subject.pull))
    state.pull_checks = seen  # closed pull requests drop out
    state.collisions = {pull: found for pull, found in colliding.items() if found}


def _collides(collision: Collision) -> str:
    files = ", ".join(collision.shared[:3])
    how = "conflicts with" if collision.really else "shares files with"
    return f"{how} {collision.other.label} ({files})"
