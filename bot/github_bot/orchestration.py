"""The steps every GitHub job shares: observe, replan when the task set changed, run the engine
step, and write the result back (task labels, task status comments, the dashboard).

The coordinator (`orchestrate event`) and the merge-queue job (`orchestrate merge`) both call
`reconcile`; they differ in the lander they pass (the coordinator has none) and in whether
ready tasks are launched (only the coordinator's output starts agent jobs). Each step reads what
GitHub shows and writes only what differs, so a repeated event changes nothing and costs only
the reads.
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.budget import spend_line
from bot.engine import Engine, Lander, budget_of
from bot.forge.base import ForgeError
from bot.forge.issues import TASK_LABEL, status_label_change, tasks_from_issues
from bot.github_bot.agents import MatrixAgents, matrix_entry, reported
from bot.github_bot.board import Board, digest, find_home, fingerprint, load_board, save_board
from bot.github_bot.context import Context, Outcome
from bot.github_bot.decisions import task_states
from bot.github_bot.pull_checks import post_overlap_checks
from bot.github_bot.store import BoardStore
from bot.models import Task, TaskStatus
from bot.planning import PlanError, plan_tasks
from bot.render.dashboard import TASK_MARKER, task_status_body
from bot.state.actions import Decision
from bot.state.transitions import IN_FLIGHT

S = TaskStatus
NOT_RUNNING = "ready; `/orchestrate run` starts it"
NEXT_RUN = "ready; the next coordinator run starts it"


def current_tasks(ctx: Context, board: Board) -> tuple[list[Task], list[str]]:
    issues = [i for i in ctx.forge.list_issues(TASK_LABEL) if i.number != board.home]
    found = tasks_from_issues(issues)
    return list(found.tasks), list(found.problems)


def with_blocked_by(
    ctx: Context, board: Board, tasks: Sequence[Task], fresh: bool
) -> tuple[list[Task], list[str]]:
    """Add GitHub's own "blocked by" relations to each task's declared dependencies: read when
    a task joins the plan and on `/orchestrate plan` (GitHub sends no event when they change),
    and not at all when the issue's own summary counts no open blocker. A blocker that is not a
    task of this plan is reported, not waited on."""
    known = {task.id for task in tasks}
    cache = board.state.blocked_by
    counts = {str(i.number): i.open_blockers for i in ctx.forge.list_issues(TASK_LABEL)}
    result, problems = [], []
    for task in tasks:
        if counts.get(task.id) == 0:  # GitHub's summary says nothing blocks it: no request
            cache[task.id] = []
        elif fresh or task.id not in cache:
            cache[task.id] = [str(n) for n in ctx.forge.blocked_by(int(task.id))]
        blockers = cache[task.id]
        ours = [b for b in blockers if b in known and b != task.id]
        others = [b for b in blockers if b not in known]
        if others:
            names = ", ".join(f"#{b}" for b in others)
            problems.append(f"#{task.id}: blocked by {names}, which is not a `parallel` task")
        result.append(task.model_copy(update={"blocked_by": tuple(ours)}))
    return result, problems


def replan(ctx: Context, board: Board, force: bool = False) -> bool:
    """Rebuild the plan when the task set changed (or when forced); True when it was rebuilt."""
    tasks, problems = current_tasks(ctx, board)
    state = board.state
    state.problems = problems
    new_print = fingerprint(tasks)
    if not force and state.plan is not None and new_print == state.fingerprint:
        return False
    tasks, blocked = with_blocked_by(ctx, board, tasks, fresh=force)
    state.problems.extend(blocked)
    _merged_meanwhile(ctx, board, {task.id for task in tasks})
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
            risk = ctx.risk(snapshot) if ctx.risk is not None else None
            state.plan = plan_tasks(tasks, snapshot, ctx.config, risk)
            state.threshold = risk.reason if risk is not None else ""
        except PlanError as exc:
            state.problems.append(f"cannot plan: {exc}")
    for task_id in [t for t in state.blocked_by if t not in state.tasks]:
        del state.blocked_by[task_id]
    for task_id in dropped:
        _clear_labels(ctx, int(task_id))
        state.pulls.pop(task_id, None)
        state.status_comments.pop(task_id, None)
        state.status_digests.pop(task_id, None)
    return True


def _merged_meanwhile(ctx: Context, board: Board, current: set[str]) -> None:
    """A task in flight whose issue left the set because its pull request merged, unseen by
    the board (a merge job stopped after the merge, before it wrote the dashboard; or someone
    merged it and its branch, where the report was, is gone): recorded as merged, so it is
    kept as history rather than dropped. One request per such task, none in a usual run."""
    store = BoardStore(board)
    for task_id, state in list(board.state.tasks.items()):
        if task_id in current or state.status not in IN_FLIGHT:
            continue
        pull = ctx.forge.find_pull(state.branch)
        if pull is None or not pull.merged:
            continue
        board.state.pulls[task_id] = pull.number
        if state.status is S.RUNNING:
            store.transition(task_id, S.REVIEW, f"pull request #{pull.number} opened", pid=None)
        detail = f"pull request #{pull.number} merged"
        store.transition(
            task_id, S.MERGED, detail, merged_sha=pull.merge_sha or None, finished_at=ctx.now
        )


def _engine(
    ctx: Context, board: Board, agents: MatrixAgents, lander: Lander | None
) -> Engine | None:
    plan = board.state.plan
    if plan is None:
        return None
    tasks = {task.id: task for task in current_tasks(ctx, board)[0]}
    return Engine(
        plan,
        tasks,
        ctx.config,
        BoardStore(board),
        agents,
        lander,
        clock=lambda: ctx.now,
        redact=ctx.redact,
    )


def _in_flight(board: Board) -> dict[str, tuple[object, ...]]:
    return {
        task_id: (state.status, state.head_sha, state.files)
        for task_id, state in board.state.tasks.items()
        if state.status in IN_FLIGHT
    }


def _landed(board: Board, decision: Decision) -> bool:
    """The step merged a task or ended it (a "not now" leaves it in review: tried next run,
    never again at once)."""
    merged = decision.merge
    return merged is not None and board.state.tasks[merged].status is not S.REVIEW


def reconcile(
    ctx: Context,
    board: Board,
    outcome: Outcome,
    *,
    lander: Lander | None = None,
    launching: bool = True,
    force: bool = False,
    pull_event: bool = False,
) -> Decision | None:
    """Observe what agent jobs and pull requests show (before a replan can drop a task whose
    issue a merge just closed), replan, then one engine step; with a lander, what was observed
    is saved first, then it steps until nothing more lands. Ready tasks launch only when
    `launching` and `/orchestrate run` was given; the launches become this job's matrix
    output. The overlap checks of the open pull requests are brought up to date when work in
    flight moved, or on a pull request's event."""
    before = _in_flight(board)
    agents = MatrixAgents(ctx.forge, board, ctx.run)
    observer = _engine(ctx, board, agents, None)
    if observer is not None:
        observer.observe()
    if replan(ctx, board, force):
        outcome.note("the task set changed: replanned")
    if lander is not None and _in_flight(board) != before:
        # Landing moves a branch off the commit that holds its agent's report (a rebased
        # head is pushed): what was seen of the agent jobs is saved first, or a job stopped
        # before its merge would leave the task waiting on a report no branch shows.
        save_board(ctx.forge, board, ctx.redact)
    engine = _engine(ctx, board, agents, lander)
    decision = None
    if engine is not None:
        hold = None if board.state.running else NOT_RUNNING
        decision = engine.step(hold if launching else hold or NEXT_RUN)
        while lander is not None and _landed(board, decision):  # the next one may be ready
            decision = engine.step(hold or NEXT_RUN)
        outcome.launch = list(agents.matrix)
        outcome.merge = decision.merge
    if pull_event or _in_flight(board) != before:
        post_overlap_checks(ctx, board)
    return decision


def relaunch(ctx: Context, outcome: Outcome) -> None:
    """A re-run of a coordinator (the same Actions run, a later attempt): when its first
    attempt wrote its launches and then failed, no agent job of that run started (they need
    it to succeed). The tasks this run launched that no agent job has reported on are output
    again. One request per such task, on re-runs only."""
    board = outcome.board
    if board is None:  # the handler stopped early (a command already handled)
        home = find_home(ctx.forge, None, create=False)
        if home is None:
            return
        board = outcome.board = load_board(ctx.forge, home)
    queued = {str(entry["task"]) for entry in outcome.launch}
    for task_id, state in board.state.tasks.items():
        if state.status is not S.RUNNING or state.launched_by != ctx.run or task_id in queued:
            continue
        if not reported(ctx.forge, state):
            outcome.launch.append(matrix_entry(task_id, state.branch, state.attempt))
            outcome.note(f"#{task_id}: launched again (this run's first attempt failed)")


def _clear_labels(ctx: Context, number: int) -> None:
    try:
        issue = ctx.forge.get_issue(number)
    except ForgeError:
        return
    for label in status_label_change(issue.labels, None).remove:
        ctx.forge.remove_label(number, label)


def publish(ctx: Context, board: Board, outcome: Outcome) -> None:
    """Write labels, status comments and the dashboard, each only where it changed."""
    state = board.state
    planned = set(state.plan.merge_order) if state.plan is not None else set(state.tasks)
    for task_id, task_state in state.tasks.items():
        if task_id not in planned and not _said_otherwise(ctx, board, task_id):
            continue  # finished and closed: its labels and comment were written when it ended
        number = int(task_id)
        issue = ctx.forge.get_issue(number)
        change = status_label_change(issue.labels, task_state.status)
        if change.add:
            ctx.forge.add_labels(number, change.add)
        for label in change.remove:
            ctx.forge.remove_label(number, label)
        _status_comment(ctx, board, task_id)
    outcome.messages.extend(board.notes)
    board.notes.clear()
    board.spend = spend_line(state.tasks, budget_of(ctx.config))
    if save_board(ctx.forge, board, ctx.redact):
        outcome.note(f"dashboard updated on #{board.home}")
    outcome.board = board


def _status_text(ctx: Context, board: Board, task_id: str) -> str:
    state = board.state
    body = task_status_body(
        state.tasks[task_id],
        ctx.issue_url(board.home),
        state.pulls.get(task_id),
        board.waiting.get(task_id, ""),
    )
    return ctx.redact(body)


def _said_otherwise(ctx: Context, board: Board, task_id: str) -> bool:
    """The task's status comment says what its state no longer does: it ended unseen, as its
    issue left the plan (`_merged_meanwhile`)."""
    written = board.state.status_digests.get(task_id)
    return written is not None and written != digest(_status_text(ctx, board, task_id))


def _status_comment(ctx: Context, board: Board, task_id: str) -> None:
    """The task's one status comment, from its first start on (the dashboard shows planned
    tasks), edited in place when what it says changes."""
    state = board.state
    status = state.tasks[task_id].status
    if status is S.PLANNED and task_id not in state.status_comments:
        return
    if status is S.REVIEW and task_id in state.status_comments:
        return  # the pull request shows on the issue by itself; the comment waits for the end
    body = _status_text(ctx, board, task_id)
    wanted = digest(body)
    if state.status_digests.get(task_id) == wanted:
        return
    number = int(task_id)
    comment_id = state.status_comments.get(task_id)
    if comment_id is None and not board.trusted:  # the board may have lost track of one
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
