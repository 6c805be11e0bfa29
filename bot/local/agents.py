"""Local mode's `Agents`: one supervised subprocess per task, in the task's own checkout.

Each observation polls the processes this run started: progress and usage on every heartbeat,
limits enforced (the whole process tree is stopped), an exited agent's changes collected onto
its branch. A task recorded as running whose agent belongs to no live run (orchestrate was
killed) is ended and reported as interrupted, so it restarts from a fresh checkout.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bot import process
from bot.agents.claude import ClaudeStream
from bot.agents.presets import preset_of
from bot.agents.prompt import AgentContext, build_prompt, task_document
from bot.agents.runner import agent_for, launch, write_brief
from bot.agents.supervisor import (
    NAMED_FILES,
    MachineLoad,
    Watch,
    failure_digest,
    is_rate_limited,
    is_transient,
    paths_named,
    went_wrong,
)
from bot.config import Config
from bot.engine.ports import Moved, Progress, Report
from bot.gitops import GitError, GitRepo
from bot.models import Task, TaskState, TaskStatus
from bot.planning.changelogs import is_mergeable
from bot.queue import commit_message
from bot.redact import Redactor
from bot.state.actions import Restart
from bot.state.transitions import check_transition

S = TaskStatus


Wip = tuple[str, tuple[str, ...]]  # a snapshot commit of work in progress, and its files


def _machine() -> Callable[[Config], str | None]:
    return MachineLoad().busy


@dataclass
class ProcessAgents:
    repo: GitRepo
    config: Config
    tasks: Mapping[str, Task]
    clock: Callable[[], float] = time.time
    machine: Callable[[Config], str | None] = field(default_factory=_machine)
    running: dict[str, Watch] = field(default_factory=dict)
    start_from: str | None = None  # the revision agents start from (default: the base)
    redact: Redactor = field(default_factory=Redactor)  # applied to the raw log once it ends
    watch_clashes: bool = True  # test-merge work in progress on each heartbeat
    wip: dict[str, Wip] = field(default_factory=dict)  # the agents' here: commit, files
    # Work in progress of agents elsewhere (GitHub mode: other runners), given this process's
    # own on each heartbeat that checks for clashes; their own clashes are theirs to act on.
    peers: Callable[[Mapping[str, Wip]], Mapping[str, Wip]] | None = None
    base_ref: str | None = None  # where the base is read, when not `config.base`
    _merged: dict[tuple[str, str], tuple[str, ...] | None] = field(default_factory=dict)

    def run_dir(self, task_id: str) -> Path:
        return self.repo.state_dir / "runs" / self.tasks[task_id].branch.rsplit("/", 1)[-1]

    # -- the port ------------------------------------------------------------------------

    def room(self) -> str | None:
        return self.machine(self.config)

    def start(
        self, task: Task, context: AgentContext, attempt: int, slot: int = 0
    ) -> Mapping[str, object]:
        if not self.running:
            process.become_subreaper()  # escaped descendants come back to us, to be ended
        agent = agent_for(self.config.agent, task)
        tip = self.repo.resolve(self.start_from or self.config.base)
        checkout = self.repo.fresh_checkout(task.branch, tip)
        run_dir = self.run_dir(task.id)
        brief = write_brief(run_dir, task_document(context), build_prompt(context))
        brief.log.unlink(missing_ok=True)
        proc = launch(agent, task, checkout, brief, slot)
        stream = ClaudeStream() if preset_of(agent).output == "claude-stream-json" else None
        self.running[task.id] = Watch(
            proc, brief, agent, checkout, self.clock(), stream, self.config.budget.task_max_usd
        )
        return {
            "detail": f"agent started (attempt {attempt}, slot {slot}, pid {proc.pid})",
            "start_sha": tip,
            "pid": proc.pid,
            "pid_started": proc.create_time(),
        }

    def observe(self, states: Mapping[str, TaskState], now: float) -> Sequence[Report]:
        reports: list[Report] = [
            self._interrupted(state)
            for state in states.values()
            if state.status is S.RUNNING and state.id not in self.running
        ]
        beats = 0
        for task_id, watch in list(self.running.items()):
            if states[task_id].status is not S.RUNNING:  # cancelled meanwhile (`cancel`)
                self.halt(task_id)
                continue
            progressed, stop = watch.observe(now)
            code = watch.proc.poll()
            if code is None and stop is None:
                if progressed or now - watch.last_beat >= watch.agent.heartbeat:
                    reports.append(self._beat(task_id, watch, states[task_id], now))
                    beats += 1
                continue
            del self.running[task_id]
            self.wip.pop(task_id, None)
            if code is None:
                process.kill_tree(watch.proc.pid)
                why = f"{stop}: agent and its children were stopped"
                reports.append(self._failed(task_id, watch, states[task_id], why))
            else:
                process.reap_group(watch.proc.pid)  # children that outlived the agent
                watch.observe(now)  # the last lines, including a final result message
                reports.append(self._exited(task_id, watch, states[task_id], code))
            process.mask_file(watch.brief.log, self.redact)
            process.end_orphans({w.proc.pid for w in self.running.values()})
        if beats and self.watch_clashes:
            reports.extend(self._clashes(states))
        return reports

    def halt(self, task_id: str) -> None:
        watch = self.running.pop(task_id, None)
        self.wip.pop(task_id, None)
        if watch is not None:
            process.kill_tree(watch.proc.pid)

    def stop(self) -> Sequence[str]:
        stopped = list(self.running)
        for task_id in stopped:
            self.halt(task_id)
        return stopped

    # -- observations ----------------------------------------------------------------------

    def _interrupted(self, state: TaskState) -> Moved:
        """A task a killed run left running: end its agent, discard its checkout."""
        if state.pid is not None and process.same_process(state.pid, state.pid_started):
            process.kill_tree(state.pid)
        self.repo.remove_checkout(state.branch)
        return Moved(state.id, S.PLANNED, "interrupted: orchestrate stopped mid-run; will restart")

    def _beat(self, task_id: str, watch: Watch, state: TaskState, now: float) -> Progress:
        """Progress, usage and what the agent has changed so far."""
        watch.last_beat = now
        fields: dict[str, object] = {**_usage(watch), "heartbeat_at": now}
        with contextlib.suppress(GitError):  # a broken checkout is said when the agent ends
            work = self.repo.take(watch.checkout, state.branch)
            files = self.repo.changed_files(state.start_sha or work, work)
            fields["files"] = files
            if self.watch_clashes and files:
                self.wip[task_id] = (work, files)
        return Progress(task_id, fields)

    def _merge(self, ours: str, theirs: str) -> tuple[str, ...]:
        """Files in conflict merging two commits, changelog-style ones aside (the queue merges
        those as a union); remembered, since work in progress is tried again every beat (either
        way round: the files in conflict are the same)."""
        key = (min(ours, theirs), max(ours, theirs))
        if key not in self._merged:
            self._merged[key] = self.repo.merge_conflicts(ours, theirs)
        found = self._merged[key] or ()
        return tuple(f for f in found if not is_mergeable(f, self.config.merge.mergeable))

    def _clashes(self, states: Mapping[str, TaskState]) -> list[Report]:
        """Work in progress that really conflicts, seen before merge time: each running
        agent's against the others' (here, and the peers') that change a file it changes, and
        against the base as it is now (tasks landed since it started). Reported as `clashes`
        (task ids), `base_clash` and `clash_files` when they change."""
        peers = self.peers(self.wip) if self.peers is not None else {}
        wip = {**peers, **self.wip}
        base = self.repo.resolve(self.base_ref or self.config.base)
        found: dict[str, tuple[set[str], bool, set[str]]] = {}
        for a, (sha_a, files_a) in self.wip.items():  # the peers' clashes are theirs to see
            others: set[str] = set()
            files: set[str] = set()
            for b, (sha_b, files_b) in wip.items():
                if b != a and set(files_a) & set(files_b) and (clash := self._merge(sha_a, sha_b)):
                    others.add(b)
                    files.update(clash)
            start, on_base = states[a].start_sha, False
            if start is not None and start != base and (moved := self._merge(sha_a, base)):
                on_base = True
                files.update(moved)
            found[a] = (others, on_base, files)
        reports: list[Report] = []
        for task_id, (others, on_base, files) in found.items():
            fields = {
                "clashes": tuple(sorted(others)),
                "base_clash": on_base,
                "clash_files": tuple(sorted(files)),
            }
            state = states[task_id]
            if (state.clashes, state.base_clash, state.clash_files) != tuple(fields.values()):
                reports.append(Progress(task_id, fields))
        return reports

    def _exited(self, task_id: str, watch: Watch, state: TaskState, code: int) -> Moved:
        result = watch.stream.result if watch.stream is not None else None
        if code != 0:
            return self._failed(task_id, watch, state, f"agent exited with code {code}", code)
        if watch.stream is not None and result is None:
            why = "agent exited without a result message"
            return self._failed(task_id, watch, state, why, code)
        if result is not None and not result.ok:
            flag = ", is_error" if result.is_error else ""
            why = f"agent reported {result.subtype}{flag}"
            return self._failed(task_id, watch, state, why, code)
        return self._collected(task_id, watch, state)

    def _failed(
        self, task_id: str, watch: Watch, state: TaskState, detail: str, code: int | None = None
    ) -> Moved:
        tail = process.tail(watch.brief.log)
        try:
            _, files = self._changes(task_id, state)
        except GitError:
            files = ()
        fields = {
            "pid": None,
            "finished_at": self.clock(),
            "log_tail": tail,
            **self._named(task_id, tail),
            "retryable": is_transient(tail, bool(files), code),
            "failure_digest": failure_digest(tail),
            "rate_limited": is_rate_limited(tail, code),
            **_usage(watch),
        }
        return Moved(task_id, S.FAILED, detail, fields)

    def _named(self, task_id: str, tail: str) -> dict[str, tuple[str, ...]]:
        """The files of the task's checkout that its agent's last words name (where a failure
        happened: the work it lacked may be there), and those it names as written that are
        not there, in a folder that is (a file another task creates, say): `named_files`.
        Where the lines that say what went wrong name any, theirs alone: a file git applied
        cleanly, or a test file that passed, is not what the failure is about. Of those, the
        ones not there are `missing_files` (`CHANGES.md: No such file`), unless no line said
        what went wrong: a new file the agent only said it would write is not one it lacked."""
        checkout = self.repo.checkout_path(self.tasks[task_id].branch)

        def named(said: str) -> list[str]:
            written = set(paths_named(said, tails=False))
            return [
                path
                for path in paths_named(said)
                if (checkout / path).is_file()
                or (path in written and (checkout / path).parent.is_dir())
            ]

        wrong = named(went_wrong(tail))
        files = tuple((wrong or named(tail))[:NAMED_FILES])
        missing = tuple(path for path in wrong[:NAMED_FILES] if not (checkout / path).is_file())
        return {"named_files": files, "missing_files": missing}

    def _collected(self, task_id: str, watch: Watch, state: TaskState) -> Moved:
        task = self.tasks[task_id]
        try:
            head, files = self._changes(task_id, state)
        except GitError as exc:
            return self._failed(task_id, watch, state, str(exc), code=None)
        done = {
            "pid": None,
            "finished_at": self.clock(),
            "head_sha": head,
            "files": files,
            "log_tail": process.tail(watch.brief.log),
            **_usage(watch),
        }
        if not files:
            self.repo.remove_checkout(task.branch)
            self.repo.delete_branch(task.branch)
            return Moved(task_id, S.NOOP, "agent finished without changing anything", done)
        return Moved(task_id, S.REVIEW, f"changed {len(files)} file(s)", done)

    def _changes(self, task_id: str, state: TaskState) -> tuple[str | None, tuple[str, ...]]:
        """Head and changed files of a task's checkout, committing what was left uncommitted."""
        task = self.tasks[task_id]
        checkout = self.repo.checkout_path(task.branch)
        if not checkout.exists() or state.start_sha is None:
            return None, ()
        message = commit_message(task, "rebase")
        return self.repo.collect(checkout, task.branch, state.start_sha, message)


def _usage(watch: Watch) -> dict[str, object]:
    usage: dict[str, object] = {
        "progress": watch.progress,
        "peak_memory_mb": round(watch.peak_memory_mb, 1),
        "cpu_seconds": round(watch.cpu_seconds, 2),
    }
    result = watch.stream.result if watch.stream is not None else None
    if watch.cost_usd is not None:
        usage["cost_usd"] = watch.cost_usd
    if result is not None:
        usage["turns"] = result.num_turns
    return usage


def supervise(
    agents: ProcessAgents,
    state: TaskState,
    beat: Callable[[TaskState], None],
    sleep: Callable[[float], None] = time.sleep,
    poll_seconds: float = 0.2,
    restart: Callable[[TaskState], Restart | None] | None = None,
) -> TaskState:
    """Watch one started agent until it ends (the GitHub agent job runs one task this way):
    `beat` gets the task's state on every heartbeat; `restart` says when its work in progress
    clashes so that it is stopped early (it ends in `conflict`); returns the final state."""
    while True:
        for report in agents.observe({state.id: state}, agents.clock()):
            if isinstance(report, Progress):
                state = state.model_copy(update=dict(report.fields))
                beat(state)
                if restart is not None and (stopped := restart(state)) is not None:
                    agents.halt(state.id)
                    fields = {**stopped.fields(agents.clock()), "detail": stopped.detail}
                    return state.model_copy(update={**fields, "status": S.CONFLICT})
            else:
                check_transition(state.status, report.status)
                fields = {**report.fields, "status": report.status, "detail": report.detail}
                return state.model_copy(update=fields)
        sleep(poll_seconds)
