"""The one loop: observe state, decide (bot.state.decide), act. Level-triggered and idempotent.

Every pass re-reads the store and the processes it started, so a run that was killed at
any point resumes where it stopped: running agents of a dead run are ended and started
again on a fresh worktree, a task whose head already sits on the base is marked merged.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Protocol

from bot import process, queue
from bot.agents.claude import ClaudeStream
from bot.agents.presets import preset_of
from bot.agents.prompt import AgentContext, Redo, build_prompt, task_document
from bot.agents.runner import agent_for, launch, write_brief
from bot.agents.supervisor import MachineLoad, Watch, is_transient
from bot.config import Config
from bot.forge.local import LocalStore
from bot.gitops import GitRepo
from bot.models import Footprint, Plan, Task, TaskState, TaskStatus
from bot.redact import Redactor
from bot.state import Decision, decide, overlaps

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
class Orchestration:
    repo: GitRepo
    config: Config
    tasks: Mapping[str, Task]
    plan: Plan
    store: LocalStore
    reporter: Reporter = field(default_factory=Silent)
    clock: Callable[[], float] = time.time
    redact: Redactor = field(default_factory=Redactor)
    machine: Callable[[Config], str | None] = field(default_factory=lambda: MachineLoad().busy)
    running: dict[str, Watch] = field(default_factory=dict)
    waiting: dict[str, str] = field(default_factory=dict)
    _saved_waiting: dict[str, str] = field(default_factory=dict)

    # -- observe -------------------------------------------------------------------------

    def statuses(self) -> dict[str, TaskStatus]:
        states = self.store.states()
        return {task_id: states[task_id].status for task_id in self.plan.merge_order}

    def _decide(self) -> Decision:
        """Read every task's state once and ask `bot.state.decide` what to do. Tasks redone
        after a merge conflict go last; files tasks really changed count as conflicts."""
        states = self.store.states()
        order = self.plan.merge_order
        statuses = {t: states[t].status for t in order}
        requeued = {t for t in order if states[t].redos and not states[t].status.terminal}
        observed = {t: {*states[t].files, *states[t].conflict_files} for t in order}
        return decide(self.plan, statuses, requeued, observed)

    def _set(self, task_id: str, status: TaskStatus, detail: str, **fields: object) -> None:
        for key in ("log_tail", "progress"):
            if isinstance(fields.get(key), str):
                fields[key] = self.redact(str(fields[key]))
        state = self.store.transition(task_id, status, self.redact(detail), **fields)
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
        context = self._context(task, planned.footprint)
        brief = write_brief(self.run_dir(task_id), task_document(context), build_prompt(context))
        brief.log.unlink(missing_ok=True)
        proc = launch(agent, task, worktree, brief)
        now = self.clock()
        stream = ClaudeStream() if preset_of(agent).output == "claude-stream-json" else None
        self.running[task_id] = Watch(proc, brief, agent, worktree, now, stream)
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
            heartbeat_at=now,
            retry_at=None,
            log_tail="",
            progress="",
            cost_usd=None,
            turns=None,
        )

    def _context(self, task: Task, footprint: Footprint) -> AgentContext:
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
        state = self.store.get(task.id)
        redo = (
            Redo(self.config.base, state.conflict_files, state.attempt + 1) if state.redos else None
        )
        return AgentContext(task, footprint, owned, landed, self.config.merge.test_command, redo)

    def poll(self) -> bool:
        """Watch running agents: progress, heartbeat, limits, exits. True when any ended."""
        ended = False
        now = self.clock()
        for task_id, watch in list(self.running.items()):
            progressed, stop = watch.observe(now)
            code = watch.proc.poll()
            if code is None and stop is None:
                if progressed or now - watch.last_beat >= watch.agent.heartbeat:
                    self._beat(task_id, watch, now)
                continue
            ended = True
            del self.running[task_id]
            if code is None:
                process.kill_tree(watch.proc.pid)
                self._failed(task_id, watch, f"{stop}: agent and its children were stopped")
            else:
                process.reap_group(watch.proc.pid)  # children that outlived the agent
                watch.observe(now)  # the last lines, including a final result message
                self._exited(task_id, watch, code)
        return ended

    def _beat(self, task_id: str, watch: Watch, now: float) -> None:
        """Save progress and usage, and what the agent has changed so far."""
        watch.last_beat = now
        state = self.store.get(task_id)
        touching = self.repo.worktree_changes(watch.worktree, state.start_sha or "HEAD")
        fields: dict[str, object] = {**self._usage(watch), "heartbeat_at": now}
        if touching != state.files:
            fields["files"] = touching
            overlap = self._overlap(task_id, set(touching))
            if overlap and overlap not in state.detail:
                fields["detail"] = f"{state.detail.split(' (touching')[0]} ({overlap})"
                self.store.note(f"task {task_id} {overlap}", task_id)
        self.reporter.changed(task_id, self.store.update(task_id, **fields))

    def _overlap(self, task_id: str, touching: set[str]) -> str | None:
        """Files this running task touches that another task in flight changes or owns."""
        found = overlaps(task_id, touching, self.plan, self.store.states())
        other, shared = next(iter(found.items()), (None, []))
        return f"touching {shared[0]}, which task {other} also changes" if shared else None

    def _usage(self, watch: Watch) -> dict[str, object]:
        usage: dict[str, object] = {
            "progress": self.redact(watch.progress),
            "peak_memory_mb": round(watch.peak_memory_mb, 1),
            "cpu_seconds": round(watch.cpu_seconds, 2),
        }
        result = watch.stream.result if watch.stream is not None else None
        if result is not None:
            usage["cost_usd"] = result.total_cost_usd
            usage["turns"] = result.num_turns
        return usage

    def _exited(self, task_id: str, watch: Watch, code: int) -> None:
        result = watch.stream.result if watch.stream is not None else None
        if code != 0:
            self._failed(task_id, watch, f"agent exited with code {code}", code)
        elif watch.stream is not None and result is None:
            self._failed(task_id, watch, "agent exited without a result message", code)
        elif result is not None and not result.ok:
            flag = ", is_error" if result.is_error else ""
            self._failed(task_id, watch, f"agent reported {result.subtype}{flag}", code)
        else:
            self._collect(task_id, watch)

    def _failed(self, task_id: str, watch: Watch, detail: str, code: int | None = None) -> None:
        tail = process.tail(watch.brief.log)
        _, files = self._changes(task_id)
        now = self.clock()
        self._set(
            task_id,
            S.FAILED,
            detail,
            pid=None,
            finished_at=now,
            log_tail=tail,
            **self._usage(watch),
        )
        state = self.store.get(task_id)
        attempt = state.attempt - state.redos  # attempts since the last fresh start
        if attempt <= watch.agent.retries and is_transient(tail, bool(files), code):
            delay = watch.agent.retry_backoff * 2 ** (attempt - 1)
            self.repo.remove_worktree(self.tasks[task_id].branch)
            self._set(
                task_id,
                S.PLANNED,
                f"transient failure ({detail}); retry {attempt} of {watch.agent.retries} "
                f"in {delay:g}s",
                retry_at=now + delay,
                log_tail=tail,
            )

    def _changes(self, task_id: str) -> tuple[str | None, tuple[str, ...]]:
        """Head and changed files of a task's worktree, committing what was left uncommitted."""
        task = self.tasks[task_id]
        worktree = self.repo.worktree_path(task.branch)
        start = self.store.get(task_id).start_sha
        if not worktree.exists() or start is None:
            return None, ()
        return self.repo.collect(worktree, start, queue.commit_message(task, "rebase"))

    def _collect(self, task_id: str, watch: Watch) -> None:
        task = self.tasks[task_id]
        head, files = self._changes(task_id)
        done = {
            "pid": None,
            "finished_at": self.clock(),
            "head_sha": head,
            "files": files,
            "log_tail": process.tail(watch.brief.log),
            **self._usage(watch),
        }
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
        if landing.status is S.CONFLICT:
            fields["conflict_files"] = landing.files
        self._set(task_id, landing.status, landing.detail, **fields)
        if landing.status is S.CONFLICT and state.redos < self.config.merge.conflict_redos:
            self.repo.remove_worktree(task.branch)
            self._set(
                task_id,
                S.PLANNED,
                f"{landing.detail}; redo {state.redos + 1} of {self.config.merge.conflict_redos} "
                f"on the new {self.config.base}, after the others",
                redos=state.redos + 1,
            )

    # -- the loop ------------------------------------------------------------------------

    def step(self, launching: bool = True) -> Decision:
        """One pass: observe, decide, act. Returns the decision taken."""
        self.poll()
        decision = self._decide()
        for task_id, reason in decision.block:
            self._set(task_id, S.BLOCKED, reason)
        if decision.merge is not None:
            self.merge(decision.merge)
        launched: list[str] = []
        self.waiting = dict(decision.waiting)
        if launching:
            for task_id in decision.launch:
                hold = self._hold(task_id)
                if hold is None:
                    self.start(task_id)
                    launched.append(task_id)
                else:
                    self.waiting[task_id] = hold
        decision = replace(decision, launch=tuple(launched), waiting=self.waiting)
        if self.waiting != self._saved_waiting:  # for `orchestrate status` while we run
            self.store.set_meta("waiting", self.waiting)
            self._saved_waiting = dict(self.waiting)
        self.reporter.tick(self.store.states(), decision)
        return decision

    def _hold(self, task_id: str) -> str | None:
        """A reason not to start a ready task yet: a retry backoff, or a busy machine."""
        retry_at = self.store.get(task_id).retry_at
        now = self.clock()
        if retry_at is not None and retry_at > now:
            return f"retrying in {retry_at - now:.0f}s"
        if self.running:  # one agent may always run, or nothing would ever finish
            return self.machine(self.config)
        return None

    def run(self, launching: bool = True, poll_seconds: float = 0.1) -> dict[str, TaskState]:
        self.recover()
        while True:
            decision = self.step(launching)
            idle = not (decision.block or decision.merge or decision.launch)
            if decision.done or (not launching and idle and not self.running):
                break
            if idle:
                time.sleep(poll_seconds)
        return self.store.states()

    def stop(self) -> None:
        """End running agents (Ctrl-C): their tasks go back to `planned`."""
        for task_id, watch in list(self.running.items()):
            process.kill_tree(watch.proc.pid)
            del self.running[task_id]
            self._set(task_id, S.PLANNED, "stopped by the user; will restart on the next run")
