"""The one loop: observe state, decide (bot.state.decide), act. Level-triggered and idempotent.

Every pass re-reads the store and the processes it started, so a run that was killed at
any point resumes where it stopped: running agents of a dead run are ended and started
again on a fresh worktree, a task whose head already sits on the base is marked merged.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import psutil

from bot import process, queue
from bot.agents.prompt import build_prompt, task_document
from bot.agents.runner import Brief, agent_for, launch, write_brief
from bot.config import Config
from bot.forge.local import LocalStore
from bot.gitops import GitRepo
from bot.models import Plan, Task, TaskState, TaskStatus
from bot.state import Decision, decide

S = TaskStatus


class Reporter(Protocol):
    """Where progress goes: a live terminal table, plain lines, or nowhere."""

    def changed(self, task_id: str, state: TaskState) -> None: ...

    def tick(self, states: Mapping[str, TaskState], decision: Decision) -> None: ...


class Silent:
    def changed(self, task_id: str, state: TaskState) -> None:
        pass

    def tick(self, states: Mapping[str, TaskState], decision: Decision) -> None:
        pass


@dataclass
class Running:
    task_id: str
    proc: psutil.Popen
    brief: Brief
    deadline: float


@dataclass
class Orchestration:
    repo: GitRepo
    config: Config
    tasks: Mapping[str, Task]
    plan: Plan
    store: LocalStore
    reporter: Reporter = field(default_factory=Silent)
    clock: Callable[[], float] = time.time
    running: dict[str, Running] = field(default_factory=dict)

    # -- observe -------------------------------------------------------------------------

    def statuses(self) -> dict[str, TaskStatus]:
        states = self.store.states()
        return {task_id: states[task_id].status for task_id in self.plan.merge_order}

    def _set(self, task_id: str, status: TaskStatus, detail: str, **fields: object) -> None:
        state = self.store.transition(task_id, status, detail, **fields)
        self.reporter.changed(task_id, state)

    def run_dir(self, task_id: str) -> Path:
        return self.repo.state_dir / "runs" / self.tasks[task_id].branch.rsplit("/", 1)[-1]

    def recover(self) -> None:
        """End what a killed run left behind: its agents go back to `planned`."""
        for task_id, state in self.store.states().items():
            if state.status is not S.RUNNING or task_id in self.running:
                continue
            if process.same_process(state.pid, state.pid_started) and state.pid is not None:
                process.kill_tree(state.pid)
            self.repo.remove_worktree(state.branch)
            self._set(task_id, S.PLANNED, "interrupted: orchestrate stopped mid-run; will restart")

    # -- act -----------------------------------------------------------------------------

    def start(self, task_id: str) -> None:
        task = self.tasks[task_id]
        agent = agent_for(self.config.agent, task)
        tip = self.repo.resolve(self.config.base)
        worktree = self.repo.fresh_worktree(task.branch, tip)
        planned = self.plan.task(task_id)
        brief = write_brief(
            self.run_dir(task_id),
            task_document(task, planned.footprint, *self._context(task)),
            build_prompt(task, planned.footprint, *self._context(task)),
        )
        brief.log.unlink(missing_ok=True)
        proc = launch(agent, task, worktree, brief)
        now = self.clock()
        self.running[task_id] = Running(task_id, proc, brief, now + agent.timeout)
        attempt = self.store.get(task_id).attempt + 1
        self._set(
            task_id,
            S.RUNNING,
            f"agent started (attempt {attempt}, pid {proc.pid})",
            attempt=attempt,
            start_sha=tip,
            head_sha=None,
            pid=proc.pid,
            pid_started=proc.create_time(),
            started_at=now,
            finished_at=None,
            log_tail="",
        )

    def _context(self, task: Task) -> tuple[dict[str, str], dict[str, str], str | None]:
        statuses = self.statuses()
        owned = {
            path: other.id
            for other in self.plan.tasks
            if other.id != task.id and statuses[other.id] in (S.RUNNING, S.REVIEW)
            for path in other.footprint.files
        }
        landed = {
            dep: self.tasks[dep].title
            for dep in task.depends_on
            if dep in self.tasks and statuses[dep] is S.MERGED
        }
        return owned, landed, self.config.merge.test_command

    def poll(self) -> bool:
        """Collect agents that ended or ran out of time; True when any did."""
        changed = False
        for task_id, run in list(self.running.items()):
            code = run.proc.poll()
            if code is None and self.clock() < run.deadline:
                continue
            changed = True
            del self.running[task_id]
            if code is None:
                process.kill_tree(run.proc.pid)
                self._finish_failed(task_id, run, "timed out: agent and its children were killed")
            elif code != 0:
                self._finish_failed(task_id, run, f"agent exited with code {code}")
            else:
                self._collect(task_id)
        return changed

    def _finish_failed(self, task_id: str, run: Running, detail: str) -> None:
        self._set(
            task_id,
            S.FAILED,
            detail,
            pid=None,
            finished_at=self.clock(),
            log_tail=process.tail(run.brief.log),
        )

    def _collect(self, task_id: str) -> None:
        task = self.tasks[task_id]
        state = self.store.get(task_id)
        worktree = self.repo.worktree_path(task.branch)
        message = queue.commit_message(task, "rebase")
        head, files = self.repo.collect(worktree, state.start_sha or self.config.base, message)
        done = {"pid": None, "finished_at": self.clock(), "head_sha": head, "files": files}
        if not files:
            self.repo.remove_worktree(task.branch)
            self.repo.delete_branch(task.branch)
            self._set(task_id, S.NOOP, "agent finished without changing anything", **done)
            return
        predicted = set(self.plan.task(task_id).footprint.files)
        outside = [f for f in files if f not in predicted]
        note = f" ({len(outside)} not predicted: {', '.join(outside[:3])})" if outside else ""
        self._set(task_id, S.REVIEW, f"changed {len(files)} file(s){note}", **done)

    def merge(self, task_id: str) -> None:
        task = self.tasks[task_id]
        state = self.store.get(task_id)
        landing = queue.land(
            self.repo,
            self.config,
            task,
            state,
            self.run_dir(task_id),
            lambda head: self.store.update(task_id, head_sha=head),
        )
        fields: dict[str, object] = {"log_tail": landing.log_tail}
        if landing.files:
            fields["files"] = landing.files
        if landing.status is S.MERGED:
            fields["merged_sha"] = landing.head
            self.repo.remove_worktree(task.branch)
            self.repo.delete_branch(task.branch)
        self._set(task_id, landing.status, landing.detail, **fields)

    # -- the loop ------------------------------------------------------------------------

    def step(self, launching: bool = True) -> Decision:
        """One pass: observe, decide, act. Returns the decision taken."""
        self.poll()
        decision = decide(self.plan, self.statuses())
        for task_id, reason in decision.block:
            self._set(task_id, S.BLOCKED, reason)
        if decision.merge is not None:
            self.merge(decision.merge)
        if launching:
            for task_id in decision.launch:
                self.start(task_id)
        self.reporter.tick(self.store.states(), decision)
        return decision

    def run(self, launching: bool = True, poll_seconds: float = 0.1) -> dict[str, TaskState]:
        self.recover()
        while True:
            decision = self.step(launching)
            idle = not (decision.block or decision.merge or (launching and decision.launch))
            if decision.done or (not launching and idle and not self.running):
                break
            if idle:
                time.sleep(poll_seconds)
        return self.store.states()

    def stop(self) -> None:
        """End running agents (Ctrl-C): their tasks go back to `planned`."""
        for task_id, run in list(self.running.items()):
            process.kill_tree(run.proc.pid)
            del self.running[task_id]
            self._set(task_id, S.PLANNED, "stopped by the user; will restart on the next run")
