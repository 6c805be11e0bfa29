"""What a local command works on: the repository, its config, the tasks and their plan (a
`Session`, `open_session`); the checks before agents start (`preflight`); the run lock (one
`orchestrate run` or `merge` per repository); and the store made ready for a run (`prepare`).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from bot.agents.ask import expected_files
from bot.agents.runner import agent_for, check_agent
from bot.config import Config, load_config, with_default_base
from bot.gitops import GitError, GitRepo
from bot.local.store import LocalStore, StateError, load_tasks
from bot.models import Plan, Task, TaskStatus
from bot.planning import plan_tasks
from bot.planning.calibrate import Calibration
from bot.redact import Redactor
from bot.render.text import listed
from bot.snapshot import load_snapshot, plan_risk
from bot.taskfile import TaskFileError

Say = Callable[[str], None]


@dataclass
class Session:
    repo: GitRepo
    config: Config
    config_source: str
    tasks: dict[str, Task]
    plan: Plan
    base_sha: str
    tasks_dir: Path
    risk: Calibration  # the conflict rates and threshold in force, and why


def ask_agents(
    repo: GitRepo, config: Config, tasks: Sequence[Task], base: str, say: Say
) -> dict[str, list[str]]:
    """`plan.predictor: agent`: each task's agent, asked read-only, names its files."""
    hints: dict[str, list[str]] = {}
    for task in tasks:
        if task.files:
            continue  # an explicit list is authoritative
        agent = agent_for(config.agent, task)
        check_agent(agent, repo.root)
        say(f"asking the agent which files task {task.id} will touch")
        hints[task.id] = expected_files(agent, task, repo, base)
    return hints


def open_session(
    repo: GitRepo, tasks_dir: Path, config_file: Path | None = None, say: Say = lambda _: None
) -> Session:
    """Read the repository's config (`config_file`, else its own) and the task files in
    `tasks_dir`, and plan them on the base's snapshot."""
    config, source = load_config(repo.root, config_file)
    config, chosen = with_default_base(config, repo.default_branch(), repo.has_branch(config.base))
    if chosen:
        say(chosen)
    tasks_dir = tasks_dir.resolve()
    tasks = load_tasks(tasks_dir)
    for task in tasks:
        if not repo.branch_name_ok(task.branch):
            raise TaskFileError(
                f"{task.source}: its branch would be '{task.branch}', which git refuses; "
                "rename the file (letters, digits, '-' and '_' are safe)"
            )
    try:
        base_sha = repo.resolve(config.base)
    except GitError:
        raise GitError(
            f"{repo.root}: base branch '{config.base}' not found (set base: in {source})"
        ) from None
    repo.ignore_state_dir()  # the snapshot cache lives in .orchestrate/
    snapshot = load_snapshot(repo.root, base_sha)
    hints = (
        ask_agents(repo, config, tasks, base_sha, say) if config.plan.predictor == "agent" else {}
    )
    risk = plan_risk(repo.root, snapshot, config, source)
    plan = plan_tasks(tasks, snapshot, config, risk, hints)
    return Session(repo, config, source, {t.id: t for t in tasks}, plan, base_sha, tasks_dir, risk)


def remembered_tasks_dir(repo: GitRepo) -> Path | None:
    """The folder of task files the last run here used, if one ran."""
    db = repo.state_dir / "state.db"
    if not db.exists():
        return None
    store = LocalStore(db)
    try:
        remembered = store.get_meta("tasks_dir")
    finally:
        store.close()
    return Path(remembered) if remembered else None


def preflight(session: Session) -> None:
    """Before any agent starts: every task's agent can be found, and the base is not checked
    out with uncommitted changes (the merge queue would move it under them)."""
    repo, config = session.repo, session.config
    for task in session.tasks.values():
        check_agent(agent_for(config.agent, task), repo.root)
    if repo.checked_out_branch() == config.base:
        dirty = repo.dirty_files()
        if dirty:
            raise GitError(
                f"{repo.root}: uncommitted changes on {config.base} ({listed(dirty, 3)}); "
                "commit or stash them first"
            )


def redactor_for(session: Session) -> Redactor:
    """Mask the values of every secret variable any task's agent is configured with."""
    names = set(session.config.agent.secrets)
    env = dict(os.environ)
    for task in session.tasks.values():
        agent = agent_for(session.config.agent, task)
        names.update(agent.secrets)
        env.update(agent.env)
    return Redactor.from_env(sorted(names), env)


# -- one run at a time ---------------------------------------------------------------------


def _lock_file(repo: GitRepo) -> Path:
    repo.state_dir.mkdir(parents=True, exist_ok=True)
    return repo.state_dir / "lock"


@contextlib.contextmanager
def run_lock(repo: GitRepo) -> Iterator[None]:
    """One `orchestrate run` or `merge` per repository at a time."""
    with _lock_file(repo).open("w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise StateError(
                f"another orchestrate run is active in {repo.root}; wait for it to finish"
            ) from None
        yield


def run_active(repo: GitRepo) -> bool:
    with _lock_file(repo).open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(handle, fcntl.LOCK_UN)
        return False


def prepare(session: Session, launching: bool, say: Say) -> LocalStore:
    """Under the run lock: finish what a killed run left, check the checkout, and open the
    store with every task of the plan in it (those the base already carries are merged)."""
    repo = session.repo
    finished = repo.finish_checkout()  # a move of the base a killed run left half done
    if finished:
        say(finished)
    if launching:
        preflight(session)
    repo.ignore_state_dir()
    repo.union_merge(session.config.merge.union_files)
    store = LocalStore(repo.state_dir / "state.db")
    store.set_meta("tasks_dir", str(session.tasks_dir))
    store.set_meta("plan", session.plan.model_dump(mode="json"))
    store.ensure([session.tasks[task_id] for task_id in session.plan.merge_order])
    _found_on_base(session, store)
    return store


def _found_on_base(session: Session, store: LocalStore) -> None:
    """The base's history is the truth: a planned task whose change (same id, same text) is
    already there is merged, not run again, even when the state was lost."""
    landed = session.repo.landed_tasks(session.config.base)
    for task_id, state in store.states().items():
        task = session.tasks.get(task_id)
        sha = landed.get((task_id, task.digest)) if task is not None else None
        if sha is not None and state.status is TaskStatus.PLANNED:
            store.transition(
                task_id,
                TaskStatus.MERGED,
                f"already on {session.config.base} ({sha[:10]}): not run again",
                merged_sha=sha,
            )
