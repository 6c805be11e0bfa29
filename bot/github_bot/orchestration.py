"""The steps handlers share: replan when the task set changed, observe pull requests, advance the
plan, and write the result back (task labels, task status comments, the dashboard).

Each step reads what GitHub shows and writes only what differs, so a repeated event changes
nothing and costs only the reads.
"""

from __future__ import annotations

from bot.analysis import predict_footprints
from bot.forge.base import ForgeError
from bot.forge.issues import TASK_LABEL, status_label_change, tasks_from_issues
from bot.github_bot.board import Board, digest, fingerprint, save_board
from bot.github_bot.checks import overlap_check
from bot.github_bot.context import Context, Outcome
from bot.github_bot.decisions import (
    matrix_entry,
    next_step,
    pull_transitions,
    task_states,
    transition,
)
from bot.models import Task, TaskStatus
from bot.planning import PlanError, build_plan
from bot.render.dashboard import TASK_MARKER, task_status_body
from bot.state import IN_FLIGHT, overlaps

S = TaskStatus


def current_tasks(ctx: Context, board: Board) -> tuple[list[Task], list[str]]:
    issues = [i for i in ctx.forge.list_issues(TASK_LABEL) if i.number != board.home]
    found = tasks_from_issues(issues)
    return list(found.tasks), list(found.problems)


def replan(ctx: Context, board: Board, force: bool = False) -> bool:
    """Rebuild the plan when the task set changed (or when forced); True when it was rebuilt."""
    tasks, problems = current_tasks(ctx, board)
    state = board.state
    state.problems = problems
    new_print = fingerprint(tasks)
    if not force and state.plan is not None and new_print == state.fingerprint:
        return False
    state.tasks, dropped = task_states(state.tasks, tasks)
    state.titles = {
        **{k: v for k, v in state.titles.items() if k in state.tasks},
        **{task.id: task.title for task in tasks},
    }
    state.fingerprint = new_print
    state.plan = None
    if tasks:
        try:
            snapshot = ctx.repo_snapshot()
            footprints = predict_footprints(tasks, snapshot)
            threshold, why = ctx.threshold(snapshot)
            state.plan = build_plan(
                tasks,
                footprints,
                ctx.config.max_parallel,
                mergeable=ctx.config.merge.mergeable,
                conflict_threshold=threshold,
            )
            state.threshold = f"{threshold:g}: {why}"
        except PlanError as exc:
            state.problems.append(f"cannot plan: {exc}")
    for task_id in dropped:
        _clear_labels(ctx, int(task_id))
        state.pulls.pop(task_id, None)
        state.status_comments.pop(task_id, None)
        state.status_digests.pop(task_id, None)
    return True


def _clear_labels(ctx: Context, number: int) -> None:
    try:
        issue = ctx.forge.get_issue(number)
    except ForgeError:
        return
    for label in status_label_change(issue.labels, None).remove:
        ctx.forge.remove_label(number, label)


def observe_pulls(ctx: Context, board: Board) -> None:
    """Move running and in-review tasks along what their pull requests show, read the files
    each pull request changes (its observed footprint) when its head moved, and refresh the
    overlap check runs when any of that changed."""
    state = board.state
    changed = False
    for task_id, task_state in list(state.tasks.items()):
        if task_state.status not in IN_FLIGHT or not task_state.branch:
            continue
        before = task_state
        pull = ctx.forge.find_pull(task_state.branch)
        if pull is not None:
            state.pulls[task_id] = pull.number
            if pull.state == "open" and pull.head_sha and pull.head_sha != task_state.head_sha:
                files = ctx.forge.pull_files(pull.number)
                task_state = task_state.model_copy(
                    update={"files": files, "head_sha": pull.head_sha}
                )
        for status, detail in pull_transitions(task_state, pull):
            fields: dict[str, object] = {"head_sha": pull.head_sha if pull else None}
            if status.terminal:
                fields["finished_at"] = ctx.now
            task_state = transition(task_state, status, detail, **fields)
        state.tasks[task_id] = task_state
        changed |= task_state != before
    if changed:
        post_overlap_checks(ctx, board)


def post_overlap_checks(ctx: Context, board: Board) -> None:
    """The `orchestrate/overlap` check run on every open task pull request: the files it
    changes that another task in flight changes too, or is predicted to touch."""
    state = board.state
    if state.plan is None:
        return
    for task_id, task_state in state.tasks.items():
        if task_state.status not in IN_FLIGHT or not task_state.head_sha:
            continue
        if task_id not in state.pulls or task_id not in state.plan.merge_order:
            continue
        shared = overlaps(task_id, task_state.files, state.plan, state.tasks)
        check = overlap_check(
            task_id,
            task_state.head_sha,
            shared,
            state.plan,
            state.pulls,
            len(task_state.files),
        )
        ctx.forge.put_check_run(check)


def advance(ctx: Context, board: Board, outcome: Outcome) -> None:
    """Block what cannot run, launch what is ready (when running), note what merges next."""
    state = board.state
    if state.plan is None:
        return
    step = next_step(state.plan, state.tasks, state.running)
    for task_id, reason in step.block:
        state.tasks[task_id] = transition(state.tasks[task_id], S.BLOCKED, reason)
    tasks = {task.id: task for task in current_tasks(ctx, board)[0]}
    for task_id in step.launch:
        old = state.tasks[task_id]
        new = transition(
            old,
            S.RUNNING,
            "launched: an agent job is starting",
            attempt=old.attempt + 1,
            started_at=ctx.now,
            finished_at=None,
            heartbeat_at=ctx.now,
        )
        state.tasks[task_id] = new
        outcome.launch.append(matrix_entry(tasks[task_id], new))
    board.waiting = dict(step.waiting)
    outcome.merge = step.merge


def publish(ctx: Context, board: Board, outcome: Outcome) -> None:
    """Write labels, status comments and the dashboard, each only where it changed."""
    state = board.state
    planned = set(state.plan.merge_order) if state.plan is not None else set(state.tasks)
    for task_id, task_state in state.tasks.items():
        if task_id not in planned:
            continue  # finished and closed: its labels and comment were written when it ended
        number = int(task_id)
        issue = ctx.forge.get_issue(number)
        change = status_label_change(issue.labels, task_state.status)
        if change.add:
            ctx.forge.add_labels(number, change.add)
        for label in change.remove:
            ctx.forge.remove_label(number, label)
        _status_comment(ctx, board, task_id)
    if save_board(ctx.forge, board, ctx.redact):
        outcome.note(f"dashboard updated on #{board.home}")
    outcome.board = board


def _status_comment(ctx: Context, board: Board, task_id: str) -> None:
    state = board.state
    body = task_status_body(
        state.tasks[task_id],
        ctx.issue_url(board.home),
        state.pulls.get(task_id),
        board.waiting.get(task_id, ""),
    )
    body = ctx.redact(body)
    wanted = digest(body)
    if state.status_digests.get(task_id) == wanted:
        return
    number = int(task_id)
    comment_id = state.status_comments.get(task_id)
    if comment_id is None:
        found = ctx.forge.bot_comment(number, TASK_MARKER)
        comment_id = found.id if found is not None else None
        if found is not None and found.body == body:
            state.status_comments[task_id], state.status_digests[task_id] = found.id, wanted
            return
    if comment_id is not None:
        try:
            ctx.forge.edit_comment(comment_id, body)
        except ForgeError as error:
            if error.status != 404:
                raise
            comment_id = None  # deleted by someone: post it again
    if comment_id is None:
        comment_id = ctx.forge.create_comment(number, body).id
    state.status_comments[task_id] = comment_id
    state.status_digests[task_id] = wanted
