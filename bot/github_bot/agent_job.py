"""The agent job: `orchestrate agent --task N`, one Actions matrix job per launched task.

It reads the task's place in the plan from the dashboard (read-only: the coordinator is the
board's single writer), starts the task's agent from the current base in a worktree of the
runner's checkout under the same supervision as local mode (limits, heartbeat, redaction),
and writes back only what belongs to the task: its branch (pushed with a lease), its pull
request (`Closes #N`) and its `orchestrate/agent` check run, whose hidden report is how the
coordinator and the merge job learn the outcome.

While the agent runs, its work in progress is shared with the other agent jobs and
test-merged against theirs and the moving base on each heartbeat (`bot.github_bot.wip`): a
clash the plan's rule says to stop for ends the attempt early, in `conflict`.

Until the agent has committed anything, the branch points at a marker commit (the base's
tree, one more commit), so the in-progress check run never sits on a commit of the base
branch. A re-run of the same job converges: a finished attempt is not run again, and the pull
request and check runs are found and updated, never opened twice.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bot.agents.presets import AgentError
from bot.agents.prompt import AgentContext, context_for
from bot.agents.runner import agent_for, install_agent
from bot.engine.loop import policy_of
from bot.forge.base import CheckRunOutput, Forge, PullInfo
from bot.forge.issues import task_from_issue
from bot.github_bot.action import ActionsEnv, job_context
from bot.github_bot.board import Board, board_of, find_home, load_board
from bot.github_bot.checks import AGENT_CHECK, agent_check, agent_report
from bot.github_bot.context import Context
from bot.github_bot.wip import WipExchange
from bot.gitops import GitRepo, auth_env
from bot.local.agents import ProcessAgents, supervise
from bot.models import Plan, Task, TaskState, TaskStatus
from bot.redact import Redactor
from bot.render.markdown import md
from bot.state.actions import Restart
from bot.state.decide import restarts

S = TaskStatus
REMOTE = "origin"
BASE_REF = "refs/orchestrate/base"
BEAT_SECONDS = 60.0  # at most one check-run update a minute while the agent runs


class AgentJobError(Exception):
    """The job cannot run this task (one line, said in the job's log and summary)."""


@dataclass
class AgentJobResult:
    task_id: str
    state: TaskState | None = None
    pull: PullInfo | None = None
    messages: list[str] = field(default_factory=list)  # what the outcome does not say

    @property
    def outcome(self) -> str:
        """One line for the job's log."""
        if self.state is None:
            return f"task #{self.task_id}: nothing run"
        pull = f"; pull request #{self.pull.number}" if self.pull is not None else ""
        return f"task #{self.task_id}: {self.state.status.value}: {self.state.detail}{pull}"


@dataclass
class _Run:
    """One attempt being run: what the job writes to, and when it last did."""

    ctx: Context
    task: Task
    marker: str
    repo: GitRepo
    git_env: dict[str, str]
    exchange: WipExchange  # work in progress shared with the other agent jobs
    restart: Callable[[TaskState], Restart | None]  # when to stop the agent early
    last_beat: float = 0.0

    def check(self, state: TaskState, head: str, pull: int | None = None) -> CheckRunOutput:
        return agent_check(state, self.task.title, head, self.ctx.redact, pull)


def run_agent_job(
    env: ActionsEnv,
    repo_dir: Path,
    task_id: str,
    *,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.time,
    environ: dict[str, str] | None = None,
    poll_seconds: float = 0.5,
) -> AgentJobResult:
    """Run task `task_id`'s launched attempt; the job summary says how it went."""
    ctx, forge, problem = job_context(env, repo_dir, sleep=sleep, clock=clock, environ=environ)
    result = AgentJobResult(task_id, messages=[problem] if problem else [])
    try:
        _run(ctx, forge, env, repo_dir, result, clock, sleep, poll_seconds)
    finally:
        write_summary(env, result, ctx.redact)
    return result


def _run(
    ctx: Context,
    forge: Forge,
    env: ActionsEnv,
    repo_dir: Path,
    result: AgentJobResult,
    clock: Callable[[], float],
    sleep: Callable[[float], None],
    poll_seconds: float,
) -> None:
    task_id = result.task_id
    board = _board(forge, env.dashboard_comment)
    home = board.home
    plan, state = board.state.plan, board.state.tasks.get(task_id)
    if plan is None or state is None or task_id not in plan.merge_order:
        raise AgentJobError(f"task #{task_id} is not in the plan on the dashboard (#{home})")
    if state.status is not S.RUNNING:
        result.messages.append(f"task #{task_id} is {state.status.value}: nothing to run")
        return
    task, _ = task_from_issue(forge.get_issue(int(task_id)))
    repo = GitRepo(repo_dir)
    repo.ignore_state_dir()
    git_env = auth_env(env.token, env.server_url)
    base = ctx.config.base
    repo.fetch(REMOTE, [f"+refs/heads/{base}:{BASE_REF}"], git_env)
    tip = repo.resolve(BASE_REF)

    remote = repo.remote_sha(REMOTE, task.branch, git_env)
    found = forge.check_run(task.branch, AGENT_CHECK) if remote else None
    reported = agent_report(found)
    report = reported[0] if reported is not None else None
    if report is not None and report.attempt == state.attempt and report.status is not S.RUNNING:
        result.state = report
        result.messages.append(f"attempt {state.attempt} already ran: {report.status.value}")
        if report.status is S.REVIEW and report.head_sha:
            result.pull = _pull_request(forge, task, base, report)
        return

    marker = repo.marker_commit(
        tip, f"orchestrate: task #{task_id}, attempt {state.attempt}: agent running"
    )
    if not repo.push(REMOTE, marker, task.branch, remote, git_env):
        raise AgentJobError(f"{task.branch} moved while this job started; another job runs it")
    if found is not None and found.status != "completed" and found.head_sha != marker:
        forge.put_check_run(_superseded(found.head_sha))
    running = {t: s.attempt for t, s in board.state.tasks.items() if s.status is S.RUNNING}
    exchange = WipExchange(repo, REMOTE, task_id, state.attempt, running, base, BASE_REF, git_env)
    run = _Run(ctx, task, marker, repo, git_env, exchange, _restart_rule(ctx, plan, board, task))
    context = context_for(
        task, plan, board.state.tasks, board.state.titles, base, ctx.config.merge.test_command
    )
    now = clock()
    launched = state.model_copy(
        update={"start_sha": tip, "started_at": now, "heartbeat_at": now, "finished_at": None}
    )
    try:
        final = _agent(run, launched, context, tip, result, clock, sleep, poll_seconds)
    finally:
        exchange.withdraw()
    if final is not None:
        _publish(run, board, launched, final, result)
    repo.remove_checkout(task.branch)


def _agent(
    run: _Run,
    launched: TaskState,
    context: AgentContext,
    tip: str,
    result: AgentJobResult,
    clock: Callable[[], float],
    sleep: Callable[[float], None],
    poll_seconds: float,
) -> TaskState | None:
    """Start the task's agent under local supervision and watch it to its end; None when it
    could not start (reported in the check run: not worth a retry, the same runner image
    fails the same way)."""
    ctx, task = run.ctx, run.task
    agents = ProcessAgents(
        run.repo, ctx.config, {task.id: task}, clock=clock, start_from=tip, redact=ctx.redact,
        peers=run.exchange, base_ref=BASE_REF,
    )  # fmt: skip
    try:
        agent = agent_for(ctx.config.agent, task)
        install_log = run.repo.state_dir / "agent-install.log"
        problem = install_agent(agent, run.repo.root, install_log, ctx.redact)
        if problem is not None:
            raise AgentError(problem)
        started = agents.start(task, context, launched.attempt, launched.slot or 0)
    except AgentError as exc:
        failed = launched.model_copy(
            update={"status": S.FAILED, "detail": str(exc), "finished_at": clock()}
        )
        ctx.forge.put_check_run(run.check(failed, run.marker), new_head=True)
        result.state = failed
        result.messages.append("the agent could not start on this runner")
        return None
    running = launched.model_copy(
        update={
            "detail": f"agent running on a runner (attempt {launched.attempt})",
            "pid": started.get("pid"),
        }
    )
    try:
        _beat(run, running, force=True)
        beat = lambda s: _beat(run, s)  # noqa: E731
        final = supervise(agents, running, beat, sleep, poll_seconds, run.restart)
    except KeyboardInterrupt:  # a Ctrl-C, or the run was cancelled: the agent goes with it
        agents.stop()
        raise
    return final.model_copy(update={"detail": ctx.redact(final.detail), "pid": None})


def _restart_rule(
    ctx: Context, plan: Plan, board: Board, task: Task
) -> Callable[[TaskState], Restart | None]:
    """The engine's rule for stopping an agent whose work in progress clashes
    (`bot.state.decide.restarts`), applied by the job to its own task over the dashboard as it
    was when the job began: the coordinator cannot stop an agent job, the job can."""
    policy = policy_of(ctx.config, [task])

    def restart(state: TaskState) -> Restart | None:
        if not (state.clashes or state.base_clash):
            return None
        states = {**board.state.tasks, state.id: state}
        found = restarts(plan, states, policy)
        return next((stop for stop in found if stop.task_id == state.id), None)

    return restart


def _publish(
    run: _Run, board: Board, launched: TaskState, final: TaskState, result: AgentJobResult
) -> None:
    """The attempt's outcome on GitHub: its head pushed and its pull request opened when it
    changed something (unless the task was cancelled meanwhile), its check run concluded."""
    forge, task, marker = run.ctx.forge, run.task, run.marker
    result.state, head = final, final.head_sha
    if final.status is not S.REVIEW or not head:
        forge.put_check_run(run.check(final, marker))
        return
    if _cancelled(forge, board, launched):
        final = final.model_copy(update={"status": S.FAILED, "detail": "cancelled while running"})
        forge.put_check_run(run.check(final, marker))
        result.state = final
        result.messages.append(f"#{task.id}: cancelled while its agent ran; no pull request")
        return
    # The marker's check run ends before the branch leaves it: a job stopped after the push
    # would leave it in progress where no branch shows it, and its re-run could not find it.
    forge.put_check_run(_superseded(marker, head))
    if not run.repo.push(REMOTE, head, task.branch, marker, run.git_env):
        raise AgentJobError(f"{task.branch} moved while the agent ran; its work was kept here")
    result.pull = _pull_request(forge, task, run.ctx.config.base, final)
    forge.put_check_run(run.check(final, head, result.pull.number), new_head=True)


def _beat(run: _Run, state: TaskState, force: bool = False) -> None:
    """Keep the check run current while the agent runs, at most once per BEAT_SECONDS."""
    now = state.heartbeat_at or 0.0
    if not force and now - run.last_beat < BEAT_SECONDS:
        return
    run.last_beat = now
    run.ctx.forge.put_check_run(run.check(state, run.marker), new_head=force)


def _board(forge: Forge, comment_id: int | None) -> Board:
    """The dashboard, read-only: by the comment id the coordinator passed (one request), else
    found the way the coordinator finds it."""
    if comment_id is not None:
        comment = forge.get_comment(comment_id)
        if comment is not None and comment.author == forge.bot_login():
            board = board_of(comment)
            if board is not None:
                return board
    home = find_home(forge, None, create=False)
    if home is None:
        raise AgentJobError("no dashboard yet: the coordinator launches agent jobs")
    return load_board(forge, home)


def _cancelled(forge: Forge, board: Board, launched: TaskState) -> bool:
    """The task is no longer this attempt's to finish: `/orchestrate cancel`, or a newer
    attempt, since the job started (the dashboard read again, as it is now)."""
    if board.comment is None:
        return False
    comment = forge.get_comment(board.comment.id, fresh=True)
    now = board_of(comment) if comment is not None else None
    if now is None:
        return False
    state = now.state.tasks.get(launched.id)
    return state is None or state.status is not S.RUNNING or state.attempt != launched.attempt


def _superseded(sha: str, head: str | None = None) -> CheckRunOutput:
    """Concludes an in-progress check run that a later push left behind."""
    moved = f"the agent's result is on {head[:10]}" if head else "a new run of this job took over"
    return CheckRunOutput(
        name=AGENT_CHECK,
        head_sha=sha,
        title=f"Superseded: {moved}",
        summary=f"This commit only marked the task's branch while its agent ran; {moved}.",
        conclusion="neutral" if head else "cancelled",
    )


def _pull_request(forge: Forge, task: Task, base: str, state: TaskState) -> PullInfo:
    """A new pull request for the task, or the open one the push just updated (GitHub
    refuses a second one for the same branch, and `create_pull` then returns the first)."""
    files = ", ".join(f"`{md(path, 120)}`" for path in state.files[:10])
    more = f" and {len(state.files) - 10} more" if len(state.files) > 10 else ""
    body = (
        f"Closes #{task.id}\n\nOpened by orchestrate for task #{task.id} "
        f"(attempt {state.attempt}). Changes {files}{more}.\n\n"
        "The merge queue rebases, tests and merges it in the plan's order."
    )
    return forge.create_pull(task.branch, base, task.title, body)


def write_summary(env: ActionsEnv, result: AgentJobResult, redact: Redactor) -> None:
    """The job summary: the task's outcome, its pull request, usage."""
    if env.summary_path is None:
        return
    lines = [f"## orchestrate: agent for task #{result.task_id}", ""]
    state = result.state
    if state is not None:
        cost = f"${state.cost_usd:.2f}" if state.cost_usd is not None else "-"
        lines += [
            f"- outcome: `{state.status.value}`: {md(state.detail, 300)}",
            f"- attempt {state.attempt}; cost {cost}; turns {state.turns or '-'}",
        ]
    if result.pull is not None:
        lines.append(f"- pull request #{result.pull.number}")
    elif state is not None and state.status is not S.FAILED:
        lines.append("- no pull request: nothing to merge")
    lines += [f"- {md(message, 300)}" for message in result.messages]
    with env.summary_path.open("a", encoding="utf-8") as handle:
        handle.write(redact("\n".join(lines) + "\n"))
