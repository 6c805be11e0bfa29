"""One small function per event the bot handles. Routing is in `bot.github_bot.routes`."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.commands import Command, CommandError, help_markdown, parse_command
from bot.events import IssueCommentEvent, IssuesEvent, PullRequestEvent
from bot.forge.base import IssueInfo, Reaction
from bot.github_bot.board import Board, find_home, load_board
from bot.github_bot.context import Context, Outcome
from bot.github_bot.decisions import authorize, issue_event_matters
from bot.github_bot.orchestration import publish, reconcile
from bot.github_bot.store import BoardStore
from bot.models import TaskStatus
from bot.render.markdown import md
from bot.state.transitions import cancelled, retry_problem

S = TaskStatus
REPLY_MARKER = "<!-- orchestrate:reply {comment_id} -->"


def on_issue(ctx: Context, event: IssuesEvent, outcome: Outcome) -> None:
    """A `parallel` issue was labeled, unlabeled, edited, opened or closed: replan, refresh."""
    if not issue_event_matters(event):
        outcome.note("not a `parallel` change; nothing to do")
        return
    home = find_home(ctx.forge, None, create=True)
    assert home is not None
    board = load_board(ctx.forge, home)
    catch_up(ctx, board, outcome)
    reconcile(ctx, board, outcome)
    publish(ctx, board, outcome)


def on_reconcile(ctx: Context, event: object, outcome: Outcome) -> None:
    """A pull request, check run, workflow run, dispatch or schedule: observe, advance,
    refresh; and handle commands whose own run never came."""
    home = find_home(ctx.forge, None, create=False)
    if home is None:
        outcome.note("no dashboard yet; nothing to reconcile")
        return
    board = load_board(ctx.forge, home)
    catch_up(ctx, board, outcome)
    if isinstance(event, PullRequestEvent):
        _person_landed(ctx, board, event, outcome)
    reconcile(ctx, board, outcome, pull_event=isinstance(event, PullRequestEvent))
    publish(ctx, board, outcome)


def _person_landed(ctx: Context, board: Board, event: PullRequestEvent, outcome: Outcome) -> None:
    """A person's pull request merged into the base moves it under the tasks in flight: say
    which ones it met (the merge queue rebases every task onto the base it finds)."""
    pull = event.pull_request
    if event.action != "closed" or not pull.merged or pull.base.ref != ctx.config.base:
        return
    if event.number in board.state.pulls.values():
        return  # a task's own pull request: the engine records it
    met = board.state.collisions.get(str(event.number))
    if met:
        outcome.note(
            f"pull request #{event.number} landed on {ctx.config.base}; it "
            + "; ".join(met)
            + ": those tasks are rebased onto it before they land"
        )


# -- commands ---------------------------------------------------------------------------------

CATCH_UP_MARGIN = 600.0  # seconds before the last sweep looked at again: runs start late


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def catch_up(ctx: Context, board: Board, outcome: Outcome) -> None:
    """Handle `/orchestrate` commands whose own run never came: GitHub keeps one pending run
    per concurrency group and cancels the others, so a command said while two runs waited is
    otherwise lost. One request; commands already handled are skipped."""
    since, board.state.swept_at = board.state.swept_at, _iso(ctx.now)
    if not since:
        return  # a new dashboard: nothing was said to it yet
    start = datetime.fromisoformat(since.replace("Z", "+00:00")).timestamp() - CATCH_UP_MARGIN
    bot = ctx.forge.bot_login().lower()
    for comment in ctx.forge.comments_since(_iso(start)):
        if comment.author.lower() == bot or str(comment.id) in board.state.handled:
            continue
        try:
            command = parse_command(comment.body)
        except CommandError:
            continue  # a typo's reply belongs to its own run
        if command is None or command.verb == "help":
            continue
        authorization = authorize(comment.author, ctx.forge.role(comment.author))
        if not authorization.allowed:
            _reply(ctx, comment.issue, comment.id, authorization.reason)  # once, by marker
            board.state.remember_command(comment.id, "refused")
            continue
        outcome.note(f"`/orchestrate {command.verb}` from @{comment.author} (its run was lost)")
        reply = VERBS[command.verb](ctx, board, command, outcome)
        if reply:
            _reply(ctx, comment.issue, comment.id, reply)
        reaction: Reaction = "confused" if reply else "rocket"
        board.state.remember_command(comment.id, reaction)
        ctx.forge.react(comment.id, reaction)


def _reply(ctx: Context, number: int, comment_id: int, text: str) -> None:
    """One reply per command comment (found by its marker on a second delivery)."""
    marker = REPLY_MARKER.format(comment_id=comment_id)
    if ctx.forge.bot_comment(number, marker) is None:
        ctx.forge.create_comment(number, f"{marker}\n{ctx.redact(text)}")


def on_comment(ctx: Context, event: IssueCommentEvent, outcome: Outcome) -> None:
    """`/orchestrate ...` from someone with write permission; anyone else is refused politely."""
    try:
        command: Command | None = parse_command(event.comment.body)
        problem = None
    except CommandError as exc:
        command, problem = None, str(exc)
    if command is None and problem is None:
        outcome.note("comment without a command; nothing to do")
        return
    login, number, comment_id = event.comment.user.login, event.issue.number, event.comment.id
    authorization = authorize(login, ctx.forge.role(login))
    if not authorization.allowed:
        outcome.note(f"refused a command from @{login} (no write permission)")
        _reply(ctx, number, comment_id, authorization.reason)
        return
    ctx.forge.react(comment_id, "eyes")
    if command is None:
        _reply(ctx, number, comment_id, f"I could not read that command: {md(str(problem), 300)}")
        ctx.forge.react(comment_id, "confused")
        return
    outcome.note(f"`/orchestrate {command.verb}` from @{login}")
    said_on = IssueInfo(
        number, event.issue.title, "", labels=tuple(sorted(event.issue.label_names))
    )
    _run_command(ctx, command, said_on, comment_id, outcome)


def _run_command(
    ctx: Context, command: Command, said_on: IssueInfo, comment_id: int, outcome: Outcome
) -> None:
    if command.verb == "help":
        _reply(ctx, said_on.number, comment_id, help_markdown())
        ctx.forge.react(comment_id, "rocket")
        return
    home = find_home(ctx.forge, said_on, create=False)
    assert home is not None
    board = load_board(ctx.forge, home)
    done = board.state.handled.get(str(comment_id))
    if done is not None:
        outcome.note("this command was already handled; nothing changed")
        ctx.forge.react(comment_id, "rocket" if done == "rocket" else "confused")
        return
    board.state.remember_command(comment_id, "eyes")  # not caught up as a lost one below
    catch_up(ctx, board, outcome)
    reaction: Reaction = "rocket"
    try:
        reply = VERBS[command.verb](ctx, board, command, outcome)
    except Exception:
        ctx.forge.react(comment_id, "confused")  # then reported by the router
        raise
    reconcile(ctx, board, outcome, force=command.verb == "plan")
    reply = reply or _after(command, board, outcome)
    if reply:
        reaction = "confused"
        _reply(ctx, said_on.number, comment_id, reply)
    board.state.remember_command(comment_id, reaction)
    publish(ctx, board, outcome)
    if home != said_on.number:
        _reply(ctx, said_on.number, comment_id, f"Done: the dashboard is on #{home}.")
    ctx.forge.react(comment_id, reaction)


# Each verb changes the board before the reconcile step and returns a problem to tell the user
# (None when all went well); `_after` adds what only the step can tell.


def _after(command: Command, board: Board, outcome: Outcome) -> str | None:
    if command.verb == "plan":
        outcome.note(f"planned {len(board.state.tasks)} tasks")
        if board.state.plan is None and board.state.tasks:
            return _why_no_plan(board)
    if command.verb == "run" and board.state.plan is None:
        return _why_no_plan(board)
    return None


def _plan(ctx: Context, board: Board, command: Command, outcome: Outcome) -> str | None:
    return None  # the step replans (forced)


def _run(ctx: Context, board: Board, command: Command, outcome: Outcome) -> str | None:
    board.state.running = True
    return None


def _status(ctx: Context, board: Board, command: Command, outcome: Outcome) -> str | None:
    return None


def _retry(ctx: Context, board: Board, command: Command, outcome: Outcome) -> str | None:
    task_id = str(command.task)
    problem = retry_problem(task_id, board.state.tasks.get(task_id))
    if problem is None:
        BoardStore(board).transition(task_id, S.PLANNED, "retry requested", retry_at=None)
        board.state.running = True
    return problem


def _cancel(ctx: Context, board: Board, command: Command, outcome: Outcome) -> str | None:
    tasks = board.state.tasks
    if command.task is not None and str(command.task) not in tasks:
        return f"#{command.task} is not a task of this plan."
    store = BoardStore(board)
    for task_id in [str(command.task)] if command.task is not None else list(tasks):
        status = cancelled(tasks[task_id].status)
        if status is not None:
            store.transition(task_id, status, "cancelled", finished_at=ctx.now)
    if command.task is None:
        board.state.running = False
    return None


def _merge(ctx: Context, board: Board, command: Command, outcome: Outcome) -> str | None:
    outcome.note("merge queue requested")
    return None


def _why_no_plan(board: Board) -> str:
    if not board.state.tasks:
        return "There are no open issues labeled `parallel` to plan."
    return "The tasks cannot be planned: " + "; ".join(board.state.problems)


VERBS = {
    "plan": _plan,
    "run": _run,
    "status": _status,
    "retry": _retry,
    "cancel": _cancel,
    "merge": _merge,
}
