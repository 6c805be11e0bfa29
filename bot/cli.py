"""`orchestrate`: plan, run, status, merge and demo. Verbs mirror the `/orchestrate` comments.

Every expected problem (bad task file, bad config, unknown dependency, cycle, missing repo,
dirty tree, agent not found) ends in one line on stderr and exit code 2, before any state
is written.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import IO

from rich.console import Console

from bot import console as out
from bot.agents.presets import AgentError
from bot.budget import spend_line
from bot.config import Config, ConfigError, load_config
from bot.engine import Notifier, budget_of
from bot.gitops import GitError, GitRepo
from bot.local import LocalStore, local_engine
from bot.local.session import (
    Session,
    open_session,
    prepare,
    redactor_for,
    remembered_tasks_dir,
    run_active,
    run_lock,
)
from bot.local.store import StateError
from bot.models import Plan, TaskState, TaskStatus, normalize_task_id
from bot.planning import PlanError
from bot.state.actions import Decision
from bot.state.decide import decide
from bot.state.transitions import cancelled, retry_problem
from bot.taskfile import TaskFileError

EXPECTED = (AgentError, ConfigError, GitError, PlanError, StateError, TaskFileError)
SUCCESS = frozenset({TaskStatus.MERGED, TaskStatus.NOOP})


class UsageError(Exception):
    pass


def _tasks_dir(args: argparse.Namespace, repo: GitRepo) -> Path:
    """--tasks, else the folder the last run here used."""
    if args.tasks is not None:
        return Path(args.tasks)
    remembered = remembered_tasks_dir(repo)
    if remembered is None:
        raise UsageError("--tasks DIR is required (a folder of <id>-<slug>.md task files)")
    return remembered


def _session(args: argparse.Namespace) -> Session:
    repo = GitRepo(Path(args.repo))
    config = Path(args.config) if args.config else None
    return open_session(repo, _tasks_dir(args, repo), config, _stderr_note)


def _stderr_note(text: str) -> None:
    print(f"orchestrate: {text}", file=sys.stderr, flush=True)


def _print_json(data: object, stream: IO[str]) -> None:
    stream.write(json.dumps(data, indent=2) + "\n")


# -- verbs ---------------------------------------------------------------------------------


def cmd_plan(args: argparse.Namespace, console: Console) -> int:
    session = _session(args)
    if args.json:
        data = session.plan.model_dump(mode="json")
        data["base"] = {"branch": session.config.base, "sha": session.base_sha}
        risk = session.risk
        data["conflict_threshold"] = {"value": risk.threshold, "why": risk.reason}
        data["conflict_rate"] = {
            "base": round(risk.rates.base, 4),
            "past_pairs": risk.rates.pairs,
            "past_conflicts": risk.rates.conflicts,
        }
        _print_json(data, sys.stdout)
    else:
        console.print(
            f"[dim]repo {session.repo.root} at {session.config.base} "
            f"{session.base_sha[:10]}; config: {session.config_source}[/]"
        )
        out.print_plan(console, session.plan)
        console.print(f"  {session.risk.reason}", markup=False)
    return 0


def _reporter(args: argparse.Namespace, console: Console, session: Session) -> Notifier:
    """A live table on a terminal; plain lines when piped (on stderr with --json)."""
    if console.is_terminal and not args.json:
        return out.LiveReporter(console, session.plan)
    titles = {t.id: t.title for t in session.tasks.values()}
    return out.LineReporter(console if not args.json else Console(stderr=True), titles)


def _orchestrate(args: argparse.Namespace, console: Console, launching: bool) -> int:
    began = time.monotonic()
    session = _session(args)
    repo = session.repo
    with run_lock(repo):
        store = prepare(session, launching, _stderr_note)
        if not args.json:
            out.print_plan(console, session.plan)
        reporter = _reporter(args, console, session)
        engine = local_engine(
            repo,
            session.config,
            session.tasks,
            session.plan,
            store,
            reporter,
            redactor_for(session),
        )
        hold = None if launching else "ready; `orchestrate run` starts it"
        try:
            with reporter if isinstance(reporter, out.LiveReporter) else contextlib.nullcontext():
                states = engine.run(hold)
        except KeyboardInterrupt:
            engine.stop()
            console.print("stopped; run `orchestrate run` again to resume")
            return 130
        finally:
            store.close()
    final = {task_id: states[task_id] for task_id in session.plan.merge_order}
    _report_run(args, console, session, final, engine.last, time.monotonic() - began)
    return 0 if all(s.status in SUCCESS for s in final.values()) else 1


def _report_run(
    args: argparse.Namespace,
    console: Console,
    session: Session,
    final: dict[str, TaskState],
    last: Decision,
    wall: float,
) -> None:
    """What the run bought, the tasks the budget held, and the base's history after it."""
    summary = out.run_summary(final, wall)
    budget_why = next((w for w in last.waiting.values() if w.startswith("budget:")), "")
    held = [t for t, s in final.items() if budget_why and s.status is TaskStatus.PLANNED]
    summary["held_by_budget"] = held
    if args.json:
        tasks = {tid: s.model_dump(mode="json") for tid, s in final.items()}
        _print_json({"tasks": tasks, "summary": summary}, sys.stdout)
        return
    if not console.is_terminal:  # on a terminal, the live table said it already
        console.print(out.summary_line(final))
    console.print(out.summary_text(summary), markup=False, soft_wrap=True)
    if held:
        console.print(
            f"{len(held)} task(s) held by the budget ({budget_why}): "
            "raise budget: in the config and run again to finish them",
            markup=False,
            soft_wrap=True,
        )
    base = session.config.base
    console.print(f"\n[bold]{base}[/] after the merge queue:")
    console.print(session.repo.log_graph(base, 30), markup=False, highlight=False)


def cmd_run(args: argparse.Namespace, console: Console) -> int:
    return _orchestrate(args, console, launching=True)


def cmd_merge(args: argparse.Namespace, console: Console) -> int:
    if args.github:
        from bot.github_bot.action import ActionError, ActionsEnv, run_merge

        try:
            outcome, _ = run_merge(
                ActionsEnv.from_env(os.environ, needs_event=False), Path(args.repo)
            )
        except ActionError as exc:
            raise UsageError(str(exc)) from None
        return _report(console, outcome.messages, outcome.error)
    return _orchestrate(args, console, launching=False)


def cmd_agent(args: argparse.Namespace, console: Console) -> int:
    """GitHub mode's agent job: run one launched task's agent, push, open its pull request."""
    from bot.github_bot.action import ActionError, ActionsEnv
    from bot.github_bot.agent_job import AgentJobError, run_agent_job

    if args.task is None:
        raise UsageError("--task N is required (the issue number of a launched task)")
    try:
        env = ActionsEnv.from_env(os.environ, needs_event=False)
        result = run_agent_job(env, Path(args.repo), str(args.task))
    except (ActionError, AgentJobError) as exc:
        raise UsageError(str(exc)) from None
    failed = result.state is not None and result.state.status is TaskStatus.FAILED
    return _report(console, [*result.messages, result.outcome], None) or (1 if failed else 0)


def cmd_init(args: argparse.Namespace, console: Console) -> int:
    """Write the caller workflow and a commented config; say what to do next."""
    from bot.scaffold import InitError, default_source, init

    repo = GitRepo(Path(args.repo))
    base = args.base or repo.checked_out_branch() or "main"
    try:
        written = init(
            repo.root,
            base=base,
            preset=args.agent,
            test_command=args.test_command,
            source=args.source or default_source(),
            force=args.force,
        )
    except InitError as exc:
        raise UsageError(str(exc)) from None
    for path in written.files:
        console.print(f"wrote {path.relative_to(repo.root)}", markup=False, highlight=False)
    console.print("\nNext:")
    for number, step in enumerate(written.next_steps, 1):
        console.print(f"  {number}. {step}", markup=False, highlight=False, soft_wrap=True)
    return 0


def _report(console: Console, messages: Sequence[str], error: str | None) -> int:
    for message in messages:
        console.print(message, markup=False, highlight=False)
    if error:
        text = error.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
        print(f"::error::orchestrate: {text}")  # escaped: no workflow command can be injected
        return 1
    return 0


def _existing_store(repo: GitRepo) -> LocalStore:
    db = repo.state_dir / "state.db"
    if not db.exists():
        raise UsageError(f"{repo.root}: nothing has run here yet (no {db})")
    return LocalStore(db)


def cmd_retry(args: argparse.Namespace, console: Console) -> int:
    """Run an ended task again (as `/orchestrate retry` does on GitHub)."""
    repo = GitRepo(Path(args.repo))
    store = _existing_store(repo)
    try:
        task_id = normalize_task_id(args.task)
        problem = retry_problem(task_id, store.states().get(task_id))
        if problem is not None:
            raise UsageError(problem.replace("#", "task ", 1))
        store.transition(task_id, TaskStatus.PLANNED, "retry requested", retry_at=None)
    finally:
        store.close()
    then = "the active run starts it" if run_active(repo) else "`orchestrate run` starts it"
    console.print(f"task {task_id} is planned again; {then}", markup=False)
    return 0


def cmd_cancel(args: argparse.Namespace, console: Console) -> int:
    """Stop one task, or every task that has not ended (as `/orchestrate cancel` does)."""
    repo = GitRepo(Path(args.repo))
    store = _existing_store(repo)
    try:
        states = store.states()
        chosen = [normalize_task_id(args.task)] if args.task is not None else sorted(states)
        if args.task is not None and chosen[0] not in states:
            raise UsageError(f"task {chosen[0]} is not a task of this plan")
        done = []
        for task_id in chosen:
            status = cancelled(states[task_id].status)
            if status is not None:
                store.transition(task_id, status, "cancelled", finished_at=time.time())
                done.append(task_id)
    finally:
        store.close()
    if not done:
        console.print("nothing to cancel: the task(s) had ended already", markup=False)
    else:
        console.print(f"cancelled: {', '.join(done)}", markup=False)
    return 0


def cmd_status(args: argparse.Namespace, console: Console) -> int:
    repo = GitRepo(Path(args.repo))
    store = _existing_store(repo)
    try:
        plan = Plan.model_validate(store.get_meta("plan"))
        states = store.states()
        events = store.events(last=50)
        held = store.get_meta("waiting") or {}
    finally:
        store.close()
    active = run_active(repo)
    waiting = decide(plan, states, time.time()).waiting
    if active:  # the live run knows more: retry backoffs, a busy machine
        waiting = {**waiting, **held}
    if args.json:
        tasks = [
            {**states[tid].model_dump(mode="json"), "waiting": waiting.get(tid)}
            for tid in plan.merge_order
        ]
        _print_json({"active": active, "tasks": tasks, "events": events}, sys.stdout)
        return 0
    console.print(out.status_table(plan, states, waiting, time.time()))
    summary = out.summary_line({tid: states[tid] for tid in plan.merge_order})
    console.print(summary + ("; a run is active" if active else ""))
    try:
        budget = budget_of(load_config(repo.root, Path(args.config) if args.config else None)[0])
    except ConfigError:
        budget = budget_of(Config())
    money = spend_line(states, budget)
    if money:
        console.print(money, markup=False)
    return 0


def cmd_demo(args: argparse.Namespace, console: Console) -> int:
    from bot import demo

    root = Path(tempfile.mkdtemp(prefix="orchestrate-demo-"))
    try:
        repo_dir, tasks_dir = demo.create(root, args.delay)
        console.print(
            f"[bold]orchestrate demo[/]: a small Python project in {repo_dir}\n"
            f"and {len(list(tasks_dir.glob('*.md')))} task files in {tasks_dir}, "
            "run by a scripted agent (no LLM, no network).\n"
        )
        args.repo, args.tasks, args.config = str(repo_dir), str(tasks_dir), None
        began = time.monotonic()
        code = _orchestrate(args, console, launching=True)
        store = LocalStore(repo_dir / ".orchestrate" / "state.db")
        states = store.states()
        store.close()
        as_designed = all(states[tid].status is status for tid, status in demo.EXPECTED.items())
        console.print(
            f"\ndemo finished in {time.monotonic() - began:.1f}s: "
            + (
                "as designed (task 9 breaks a test, so the merge queue refused it)."
                if as_designed
                else f"[red]not as designed[/] (exit code {code})."
            )
        )
        if args.keep:
            console.print(f"kept: {root}  (try: orchestrate status --repo {repo_dir})")
        return 0 if as_designed else 1
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)


def cmd_event(args: argparse.Namespace, console: Console) -> int:
    """Handle the GitHub Actions event in the environment (GITHUB_EVENT_NAME, ...)."""
    from bot.github_bot.action import ActionError, ActionsEnv, run_event

    try:
        outcome, _ = run_event(ActionsEnv.from_env(os.environ), Path(args.repo))
    except ActionError as exc:
        raise UsageError(str(exc)) from None
    return _report(console, outcome.messages, outcome.error)


# -- parsing -------------------------------------------------------------------------------


def parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--repo", default=".", help="git repository to work on (default: .)")
    common.add_argument("--tasks", help="folder of task files, <id>-<slug>.md")
    common.add_argument("--config", help="config file (default: .github/orchestrate.yml)")
    common.add_argument("--json", action="store_true", help="machine-readable output")
    top = argparse.ArgumentParser(
        prog="orchestrate",
        description="Run several coding agents on one repository in parallel, safely.",
    )
    verbs = top.add_subparsers(dest="verb", required=True, metavar="VERB")
    for name, func, text in (
        ("plan", cmd_plan, "predict footprints and print the plan"),
        ("run", cmd_run, "run agents in worktrees and merge results in order (resumable)"),
        ("status", cmd_status, "show every task's state"),
        ("merge", cmd_merge, "run the merge queue over finished tasks only"),
        ("retry", cmd_retry, "run an ended (failed, conflicting, blocked, no-op) task again"),
        ("cancel", cmd_cancel, "stop one task, or every task that has not ended"),
        ("demo", cmd_demo, "the whole pipeline on a throwaway repo, no GitHub, no LLM"),
        ("event", cmd_event, "handle the current GitHub Actions event (GitHub mode)"),
        ("agent", cmd_agent, "run one launched task's agent in an Actions job (GitHub mode)"),
        ("init", cmd_init, "set a repository up for GitHub mode: workflow and config"),
    ):
        verb = verbs.add_parser(name, parents=[common], help=text, description=text)
        verb.set_defaults(func=func)
        if name == "merge":
            verb.add_argument(
                "--github", action="store_true", help="the merge-queue job of GitHub mode"
            )
        if name == "agent":
            verb.add_argument("--task", type=int, help="the task's issue number")
        if name in ("retry", "cancel"):
            verb.add_argument("task", nargs="?" if name == "cancel" else None, help="the task's id")
        if name == "init":
            verb.add_argument("--agent", default="claude", help="agent preset (default claude)")
            verb.add_argument("--base", help="base branch (default: the checked-out branch)")
            verb.add_argument("--test-command", help="run on each rebased result before merging")
            verb.add_argument("--source", help="orchestrate to run: OWNER/REPO@COMMIT")
            verb.add_argument("--force", action="store_true", help="replace existing files")
        if name == "demo":
            verb.add_argument("--keep", action="store_true", help="keep the demo repository")
            verb.add_argument("--delay", type=float, default=1.0, help="seconds per agent")
    return top


PIPED_WIDTH = 120  # columns of the plan's table in a log or a pipe (rich's own default is 80)


def _console(stderr: bool) -> Console:
    """Rich on a terminal at its width; piped or logged, as wide as COLUMNS says, else
    PIPED_WIDTH, so a plan's table in a CI log is not folded into a narrow column."""
    console = Console(stderr=stderr, highlight=False)
    if not console.is_terminal and "COLUMNS" not in os.environ:
        console.width = PIPED_WIDTH
    return console


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    console = _console(stderr=args.json)
    try:
        code: int = args.func(args, console)
    except (*EXPECTED, UsageError) as exc:
        print(f"orchestrate: error: {exc}", file=sys.stderr)
        return 2
    return code


if __name__ == "__main__":
    sys.exit(main())
