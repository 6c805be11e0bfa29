"""The one engine: observe -> decide -> act over the four ports (`bot.engine.ports`).

Local `orchestrate run`, the GitHub coordinator and the GitHub merge-queue job all run
`Engine.step`; they differ only in the adapters they pass in and in two choices: whether ready
tasks start in this step (`hold`), and whether this process lands (`lander`). Everything the
engine does is driven by what it observes now, so a repeated or interrupted step converges.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace

from bot.agents.presets import AgentError
from bot.agents.prompt import context_for
from bot.agents.runner import agent_for
from bot.budget import Budget
from bot.config import Config
from bot.engine.ports import (
    Agents,
    Lander,
    Landing,
    Moved,
    Notifier,
    Progress,
    Report,
    Silent,
    TaskStore,
)
from bot.models import Plan, Task, TaskState, TaskStatus
from bot.redact import Redactor
from bot.state.actions import CLEARED_CLASH, Decision
from bot.state.decide import decide
from bot.state.overlap import overlaps
from bot.state.policy import Policy, Retry

S = TaskStatus
REDACTED_FIELDS = ("log_tail", "progress", "conflict_hunks")
STALE_MARGIN = 900.0  # beyond the agent's timeout: time for a runner to pick up the job
# Agents start after the landings that are ready, from the base they bring (as on GitHub, where
# the merge job lands before the coordinator starts agents), unless landings in a row (slow
# tests) have already kept free slots waiting this long.
LANDING_HOLD = 60.0


def budget_of(config: Config) -> Budget:
    budget = config.budget
    return Budget(budget.max_usd, budget.task_max_usd, budget.max_agent_minutes)


def policy_of(config: Config, tasks: Iterable[Task]) -> Policy:
    """The decision's numbers from the config, with each task's agent overrides."""
    task_retry, provider = {}, {}
    for task in tasks:
        provider[task.id] = config.agent.preset
        if not task.agent:
            continue
        try:
            agent = agent_for(config.agent, task)
        except AgentError:
            continue  # reported where the agent is started
        task_retry[task.id] = Retry(agent.retries, agent.retry_backoff)
        provider[task.id] = agent.preset
    agent = config.agent
    return Policy(
        retry=Retry(agent.retries, agent.retry_backoff),
        task_retry=task_retry,
        conflict_redos=config.merge.conflict_redos,
        failure_waits=config.agent.failure_waits,
        mergeable=tuple(config.merge.mergeable),
        stale_after=agent.stale_after or agent.timeout + STALE_MARGIN,
        base=config.base,
        budget=budget_of(config),
        provider=provider,
    )


def new_attempt(previous: TaskState, attempt: int, slot: int, now: float) -> dict[str, object]:
    """A task's fields when a new attempt starts: the last attempt's outcome cleared, its cost
    and running time folded into the totals of earlier attempts."""
    ran = 0.0
    if previous.started_at is not None and previous.finished_at is not None:
        ran = max(0.0, previous.finished_at - previous.started_at)
    return {
        "attempt": attempt,
        "slot": slot,
        "spent_usd": previous.spent_usd + (previous.cost_usd or 0.0),
        "agent_seconds": previous.agent_seconds + ran,
        "head_sha": None,
        "started_at": now,
        "finished_at": None,
        "heartbeat_at": now,
        "retry_at": None,
        "after": (),
        **CLEARED_CLASH,
        "retryable": False,
        "rate_limited": False,
        "log_tail": "",
        "named_files": (),
        "missing_files": (),
        "failure_digest": "",
        "progress": "",
        "cost_usd": None,
        "turns": None,
    }


@dataclass
class Engine:
    plan: Plan
    tasks: Mapping[str, Task]
    config: Config
    store: TaskStore
    agents: Agents
    lander: Lander | None = None  # None: this process does not land (the GitHub coordinator)
    notifier: Notifier = field(default_factory=Silent)
    clock: Callable[[], float] = time.time
    redact: Redactor = field(default_factory=Redactor)

    def __post_init__(self) -> None:
        self.policy = policy_of(self.config, self.tasks.values())
        self.last = Decision()  # the last step's decision, as carried out
        self._landing_since: float | None = None  # when the landings in a row began

    # -- the step ------------------------------------------------------------------------

    def states(self) -> dict[str, TaskState]:
        states = self.store.states()
        return {task_id: states[task_id] for task_id in self.plan.merge_order}

    def step(self, hold: str | None = None) -> Decision:
        """One pass: observe, decide, act. `hold`: why ready tasks do not start in this pass
        (None: start them). Returns the decision as carried out."""
        self.observe()
        now = self.clock()
        decision = decide(self.plan, self.states(), now, self.policy)
        for task_id, detail in decision.fail:
            self._set(task_id, S.FAILED, detail, retryable=True, finished_at=now, pid=None)
        for task_id, detail in decision.give_up:
            self._amend(task_id, detail, retryable=False)
        for requeue in decision.requeue:
            self._set(requeue.task_id, S.PLANNED, requeue.detail, **requeue.fields)
        for task_id, why in decision.block:
            self._set(task_id, S.BLOCKED, why)
        for stopped in decision.restart:
            self.agents.halt(stopped.task_id)
            self._set(stopped.task_id, S.CONFLICT, stopped.detail, **stopped.fields(now))
        landing = decision.merge is not None and self.lander is not None
        if decision.merge is not None and self.lander is not None:
            self._land(decision.merge)
        hold = hold or self._after_landing(landing, now)
        waiting = dict(decision.waiting)
        launched: list[str] = []
        for task_id in decision.launch:
            reason = hold or self._no_room(launched)
            if reason is None:
                self._start(task_id)
                launched.append(task_id)
            else:
                waiting[task_id] = reason
        self.store.set_waiting(waiting)
        decision = replace(decision, launch=tuple(launched), waiting=waiting)
        self.notifier.tick(self.states(), decision)
        return decision

    def observe(self) -> None:
        """Apply what the agents' adapter saw since the last pass."""
        for report in self.agents.observe(self.states(), self.clock()):
            self._apply(report)

    def run(self, hold: str | None = None, poll_seconds: float = 0.1) -> dict[str, TaskState]:
        """Step until every task has ended (with `hold`: until nothing more can be done
        without starting an agent)."""
        while True:
            decision = self.step(hold)
            self.last = decision
            if decision.done or (hold is not None and not decision.acts):
                return self.states()
            if not decision.acts and self._held_by_budget(decision):
                return self.states()  # nothing runs, and only more budget would start more
            if not decision.acts:
                time.sleep(poll_seconds)

    def _held_by_budget(self, decision: Decision) -> bool:
        """Nothing in flight, and the budget holds what would start: only more budget helps
        (the other tasks wait behind the held ones)."""
        in_flight = any(s.status in (S.RUNNING, S.REVIEW) for s in self.states().values())
        return not in_flight and any(r.startswith("budget:") for r in decision.waiting.values())

    def stop(self) -> None:
        """End the agents this process runs (Ctrl-C): their tasks go back to `planned`."""
        for task_id in self.agents.stop():
            self._set(task_id, S.PLANNED, "stopped by the user; will restart on the next run")

    # -- acting --------------------------------------------------------------------------

    def _set(self, task_id: str, status: TaskStatus, detail: str, **fields: object) -> None:
        state = self.store.transition(task_id, status, self.redact(detail), **self._clean(fields))
        self.notifier.changed(task_id, state)

    def _update(self, task_id: str, **fields: object) -> None:
        state = self.store.update(task_id, **self._clean(fields))
        self.notifier.changed(task_id, state)

    def _amend(self, task_id: str, detail: str, **fields: object) -> None:
        """A new detail (and fields) for a task whose status stays, logged as an event."""
        self._update(task_id, detail=detail, **fields)
        self.store.note(self.redact(detail), task_id)

    def _clean(self, fields: Mapping[str, object]) -> dict[str, object]:
        cleaned = dict(fields)
        for key in (*REDACTED_FIELDS, "detail"):
            if isinstance(cleaned.get(key), str):
                cleaned[key] = self.redact(str(cleaned[key]))
        return cleaned

    def _after_landing(self, landed: bool, now: float) -> str | None:
        """Why ready tasks wait for the next pass: this one landed, and the next may land more
        first, so agents start from the newest base (bounded by `LANDING_HOLD`)."""
        if not landed:
            self._landing_since = None
            return None
        if self._landing_since is None:
            self._landing_since = now
        if now - self._landing_since >= LANDING_HOLD:
            return None
        return f"starts after the landing under way, from the new {self.config.base}"

    def _no_room(self, launched: list[str]) -> str | None:
        """One agent may always run, or nothing would ever finish; beyond it, the agents'
        adapter says whether there is room (a busy machine holds new agents)."""
        running = launched or any(s.status is S.RUNNING for s in self.states().values())
        return self.agents.room() if running else None

    def _start(self, task_id: str) -> None:
        task = self.tasks[task_id]
        states = self.states()
        titles = {t.id: t.title for t in self.tasks.values()}
        context = context_for(
            task, self.plan, states, titles, self.config.base, self.config.merge.test_command
        )
        attempt, now = states[task_id].attempt + 1, self.clock()
        taken = {s.slot for s in states.values() if s.status is S.RUNNING}
        slot = next(n for n in range(len(states) + 1) if n not in taken)
        try:
            fields = dict(self.agents.start(task, context, attempt, slot))
        except AgentError as exc:  # this task cannot start; the others go on
            self._set(task_id, S.RUNNING, "starting the agent", attempt=attempt, started_at=now)
            self._set(task_id, S.FAILED, f"the agent could not start: {exc}", finished_at=now)
            return
        detail = str(fields.pop("detail", f"agent started (attempt {attempt})"))
        fresh = new_attempt(states[task_id], attempt, slot, now)
        self._set(task_id, S.RUNNING, detail, **{**fresh, **fields})

    def _apply(self, report: Report) -> None:
        if isinstance(report, Progress):
            self._progress(report)
            return
        assert isinstance(report, Moved)
        detail = report.detail
        if report.status is S.REVIEW:
            detail += self._unpredicted(report.task_id, report.fields.get("files"))
        self._set(report.task_id, report.status, detail, **report.fields)

    def _progress(self, report: Progress) -> None:
        """Save a running agent's news; files it touches that another task in flight changes
        or likely owns are flagged in its detail and the event log, before merge time."""
        fields = dict(report.fields)
        states = self.states()
        state = states[report.task_id]
        touching = fields.get("files")
        if isinstance(touching, tuple) and touching != state.files:
            mergeable = self.policy.mergeable
            found = overlaps(report.task_id, set(touching), self.plan, states, mergeable)
            other, shared = next(iter(found.items()), (None, []))
            if shared:
                seen = other is not None and shared[0] in states[other].files
                how = "also changes" if seen else "is likely to touch too"
                overlap = f"touching {shared[0]}, which task {other} {how}"
                if overlap not in state.detail:
                    fields["detail"] = f"{state.detail.split(' (touching')[0]} ({overlap})"
                    self.store.note(f"task {report.task_id} {overlap}", report.task_id)
        self._update(report.task_id, **fields)

    def _unpredicted(self, task_id: str, files: object) -> str:
        if not isinstance(files, tuple) or task_id not in self.plan.merge_order:
            return ""
        predicted = set(self.plan.task(task_id).footprint.files)
        outside = [f for f in files if f not in predicted]
        return f" ({len(outside)} not predicted: {', '.join(outside[:3])})" if outside else ""

    def _land(self, task_id: str) -> None:
        assert self.lander is not None
        landing: Landing = self.lander.land(self.tasks[task_id], self.states()[task_id])
        fields: dict[str, object] = {"log_tail": landing.log_tail}
        if landing.files:
            fields["files"] = landing.files
        if landing.status is S.REVIEW:  # not now: a head or base moved; tried again later
            self._amend(task_id, landing.detail, **fields)
            return
        if landing.status is S.MERGED:
            fields.update(merged_sha=landing.head, finished_at=self.clock())
        if landing.status is S.CONFLICT:
            fields.update(conflict_files=landing.files, conflict_hunks=landing.hunks)
        self._set(task_id, landing.status, landing.detail, **fields)
