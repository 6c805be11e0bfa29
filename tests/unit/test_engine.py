"""The engine over recording fakes of its four ports: what it asks of each adapter, and what it
records, step by step. No git, no processes, no GitHub."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from bot.agents.prompt import AgentContext
from bot.analysis import RepoSnapshot
from bot.config import Config
from bot.engine import Engine, Landing, Moved, Progress
from bot.engine.ports import Report
from bot.models import Task, TaskState, TaskStatus
from bot.planning import plan_tasks
from bot.redact import Redactor
from bot.state.actions import Decision
from bot.state.transitions import check_transition
from bot.taskfile import parse_task_file

S = TaskStatus


class MemoryStore:
    def __init__(self, tasks: Sequence[Task]) -> None:
        self.rows = {t.id: TaskState(id=t.id, branch=t.branch) for t in tasks}
        self.log: list[tuple[str, str, str]] = []
        self.waiting: dict[str, str] = {}

    def states(self) -> dict[str, TaskState]:
        return dict(self.rows)

    def transition(self, task_id: str, new: TaskStatus, detail: str = "", **fields: object):
        check_transition(self.rows[task_id].status, new)
        self.rows[task_id] = self.rows[task_id].model_copy(
            update={**fields, "status": new, "detail": detail}
        )
        self.log.append((task_id, new.value, detail))
        return self.rows[task_id]

    def update(self, task_id: str, **fields: object) -> TaskState:
        self.rows[task_id] = self.rows[task_id].model_copy(update=fields)
        return self.rows[task_id]

    def note(self, detail: str, task_id: str | None = None) -> None:
        self.log.append((task_id or "", "note", detail))

    def set_waiting(self, waiting: Mapping[str, str]) -> None:
        self.waiting = dict(waiting)


@dataclass
class ScriptedAgents:
    """Reports queued per task come out on the next observation after the task started."""

    script: dict[str, list[list[Report]]] = field(default_factory=dict)
    started: list[tuple[str, int]] = field(default_factory=list)
    contexts: dict[str, AgentContext] = field(default_factory=dict)
    slots: list[tuple[str, int]] = field(default_factory=list)
    busy: str | None = None
    halted: list[str] = field(default_factory=list)

    def observe(self, states: Mapping[str, TaskState], now: float) -> Sequence[Report]:
        out: list[Report] = []
        for task_id, state in states.items():
            queue = self.script.get(task_id)
            if state.status is S.RUNNING and queue:
                out.extend(queue.pop(0))
        return out

    def room(self) -> str | None:
        return self.busy

    def start(
        self, task: Task, context: AgentContext, attempt: int, slot: int
    ) -> Mapping[str, object]:
        self.started.append((task.id, attempt))
        self.slots.append((task.id, slot))
        self.contexts[task.id] = context
        return {"detail": f"started {task.id}", "start_sha": "base"}

    def halt(self, task_id: str) -> None:
        self.halted.append(task_id)

    def stop(self) -> Sequence[str]:
        return []


@dataclass
class ScriptedLander:
    outcomes: dict[str, list[Landing]] = field(default_factory=dict)
    landed: list[str] = field(default_factory=list)

    def land(self, task: Task, state: TaskState) -> Landing:
        self.landed.append(task.id)
        return self.outcomes[task.id].pop(0)


@dataclass
class Notes:
    changes: list[tuple[str, str]] = field(default_factory=list)
    decisions: list[Decision] = field(default_factory=list)

    def changed(self, task_id: str, state: TaskState) -> None:
        self.changes.append((task_id, state.status.value))

    def tick(self, states: Mapping[str, TaskState], decision: Decision) -> None:
        self.decisions.append(decision)


def _engine(texts: dict[str, str], config: Config | None = None, clock: float = 100.0):
    tasks = [parse_task_file(f"{tid}-t.md", text) for tid, text in texts.items()]
    config = config or Config()
    snapshot = RepoSnapshot(files=("a.py", "b.py", "c.py"))
    plan = plan_tasks(tasks, snapshot, config)
    store, agents, lander, notes = MemoryStore(tasks), ScriptedAgents(), ScriptedLander(), Notes()
    now = [clock]
    engine = Engine(
        plan,
        {t.id: t for t in tasks},
        config,
        store,
        agents,
        lander,
        notes,
        clock=lambda: now[0],
        redact=Redactor.from_env(["TOKEN"], {"TOKEN": "s3cret-value-123"}),
    )
    return engine, store, agents, lander, notes, now


def _done(task_id: str, files: tuple[str, ...] = ("a.py",)) -> list[Report]:
    return [Moved(task_id, S.REVIEW, "changed", {"files": files, "head_sha": "h" + task_id})]


def test_a_task_goes_from_launch_to_merged_through_the_ports():
    engine, store, agents, lander, notes, _ = _engine({"1": "---\nfiles: [a.py]\n---\n"})
    agents.script["1"] = [[Progress("1", {"progress": "s3cret-value-123 ok"})], _done("1")]
    lander.outcomes["1"] = [Landing(S.MERGED, "landed", "m1", ("a.py",))]
    engine.step()
    assert agents.started == [("1", 1)] and store.rows["1"].status is S.RUNNING
    engine.step()
    assert store.rows["1"].progress == "*** ok"  # redacted before it is stored
    engine.step()  # the agent reports review; the lander lands it in the same pass
    assert lander.landed == ["1"]
    assert store.rows["1"].status is S.MERGED and store.rows["1"].merged_sha == "m1"
    assert [c for c in notes.changes if c[1] != "running"] == [("1", "review"), ("1", "merged")]
    assert engine.step().done


def test_not_now_keeps_the_task_in_review_and_says_why():
    engine, store, agents, lander, _, _ = _engine({"1": "---\nfiles: [a.py]\n---\n"})
    agents.script["1"] = [_done("1")]
    lander.outcomes["1"] = [
        Landing(S.REVIEW, "main moved while #1 was tested"),
        Landing(S.MERGED, "landed", "m1"),
    ]
    engine.step()
    engine.step()
    assert store.rows["1"].status is S.REVIEW
    assert store.rows["1"].detail == "main moved while #1 was tested"
    engine.step()
    assert store.rows["1"].status is S.MERGED


def test_a_transient_failure_is_retried_after_its_backoff_with_the_attempt_counted():
    config = Config.model_validate({"agent": {"retries": 1, "retry_backoff": 30}})
    engine, store, agents, lander, _, now = _engine({"1": "---\nfiles: [a.py]\n---\n"}, config)
    failed = Moved("1", S.FAILED, "exit 1", {"retryable": True, "finished_at": 100.0})
    agents.script["1"] = [[failed], _done("1")]
    lander.outcomes["1"] = [Landing(S.MERGED, "landed", "m1")]
    engine.step()
    decision = engine.step()
    assert store.rows["1"].status is S.PLANNED and store.rows["1"].retry_at == 130.0
    assert decision.waiting["1"] == "retrying in 30s" and agents.started == [("1", 1)]
    now[0] = 131.0
    engine.step()
    assert agents.started == [("1", 1), ("1", 2)]


def test_a_conflict_is_redone_with_its_files_and_hunks_told_to_the_agent():
    engine, store, agents, lander, _, _ = _engine({"1": "---\nfiles: [a.py]\n---\n"})
    agents.script["1"] = [_done("1"), _done("1")]
    hunks = "<<<<<<< HEAD\nx\n=======\ny\n>>>>>>> mine\n"
    lander.outcomes["1"] = [
        Landing(S.CONFLICT, "conflicts with main in a.py", files=("a.py",), hunks=hunks),
        Landing(S.MERGED, "landed", "m1"),
    ]
    for _ in range(4):
        engine.step()
    assert agents.started == [("1", 1), ("1", 2)]
    redo = agents.contexts["1"].redo
    assert redo is not None and redo.files == ("a.py",) and "=======" in redo.hunks
    engine.step()
    engine.step()
    assert store.rows["1"].status is S.MERGED and store.rows["1"].redos == 1


def test_an_agent_whose_work_already_conflicts_is_halted_and_redone_after_the_other():
    engine, store, agents, lander, notes, _ = _engine(
        {"1": "---\nfiles: [a.py]\n---\n", "2": "---\nfiles: [b.py]\n---\n"}
    )
    clash = {"clashes": ("1",), "clash_files": ("c.py",), "files": ("b.py", "c.py")}
    agents.script["1"] = [[Progress("1", {"files": ("a.py", "c.py")})], [], _done("1")]
    agents.script["2"] = [[Progress("2", clash)], _done("2", ("b.py", "c.py"))]
    lander.outcomes = {"1": [Landing(S.MERGED, "landed", "m1")], "2": [Landing(S.MERGED, "ok")]}
    engine.step()  # both start
    engine.step()  # 2 reports a clash with 1: it is halted on the next decision
    engine.step()
    assert agents.halted == ["2"]
    assert ("2", "conflict") in notes.changes and store.rows["2"].conflict_files == ("c.py",)
    assert store.rows["2"].status is S.PLANNED and store.rows["2"].redos == 1
    assert store.rows["2"].clashes == () and agents.started == [("1", 1), ("2", 1)]
    for _ in range(4):
        engine.step()
    assert agents.started == [("1", 1), ("2", 1), ("2", 2)]
    redo = agents.contexts["2"].redo
    assert redo is not None and redo.files == ("c.py",)
    assert [store.rows[t].status for t in ("1", "2")] == [S.MERGED, S.MERGED]
    restarted = [i for i, change in enumerate(notes.changes) if change == ("2", "running")][-1]
    assert notes.changes.index(("1", "merged")) < restarted  # redone once 1 had landed


def test_hold_and_room_keep_ready_tasks_waiting_but_one_agent_always_runs():
    engine, store, agents, _, _, _ = _engine(
        {"1": "---\nfiles: [a.py]\n---\n", "2": "---\nfiles: [b.py]\n---\n"}
    )
    decision = engine.step(hold="ready; `/orchestrate run` starts it")
    assert agents.started == [] and set(decision.waiting.values()) == {
        "ready; `/orchestrate run` starts it"
    }
    assert store.waiting == dict(decision.waiting)
    agents.busy = "system CPU at 99% (limit 90%)"
    decision = engine.step()
    assert agents.started == [("1", 1)]  # nothing ran: one may start whatever the machine says
    assert decision.waiting["2"] == "system CPU at 99% (limit 90%)"


def test_an_agent_seen_touching_another_tasks_files_is_flagged():
    engine, store, agents, _, _, _ = _engine(
        {"1": "---\nfiles: [a.py]\n---\n", "2": "---\nfiles: [b.py]\n---\n"}
    )
    agents.script["2"] = [[Progress("2", {"files": ("a.py", "b.py"), "heartbeat_at": 101.0})]]
    engine.step()
    engine.step()
    # task 1 lists a.py but has changed nothing yet
    assert "touching a.py, which task 1 is likely to touch too" in store.rows["2"].detail
    assert ("2", "note", "task 2 touching a.py, which task 1 is likely to touch too") in store.log
    # once task 1 is seen changing it, the flag says so
    store.rows["1"] = store.rows["1"].model_copy(update={"files": ("a.py",)})
    agents.script["2"] = [
        [Progress("2", {"files": ("a.py", "b.py", "c.py"), "heartbeat_at": 102.0})]
    ]
    engine.step()
    assert ("2", "note", "task 2 touching a.py, which task 1 also changes") in store.log
    assert store.rows["2"].detail.count("(touching") == 1


def test_each_running_agent_has_a_slot_of_its_own_and_a_freed_slot_is_reused():
    engine, store, agents, lander, _, _ = _engine(
        {n: f"---\nfiles: [f{n}.py]\n---\n" for n in ("1", "2", "3", "4", "5")},
        Config.model_validate({"max_parallel": 2}),
    )
    agents.script["1"] = [_done("1")]
    lander.outcomes["1"] = [Landing(S.MERGED, "landed", "m1")]
    engine.step()
    assert agents.slots == [("1", 0), ("2", 1)]
    assert store.rows["1"].slot == 0 and store.rows["2"].slot == 1
    engine.step()  # 1 lands: its slot is free for the next task, started in the next pass
    engine.step()
    assert agents.slots[-1] == ("3", 0)


def test_agents_start_after_the_landings_that_are_ready_unless_they_keep_slots_waiting_long():
    """1 and 2 finish together, 3 waits for a slot: the pass that lands 1 starts nothing, the
    next lands 2, and 3 starts in the pass after, from the base with both. When landings in a
    row have kept slots free for `LANDING_HOLD`, agents start beside them."""
    from bot.engine.loop import LANDING_HOLD

    texts = {
        n: f"---\nfiles: [{f}]\n---\n" for n, f in (("1", "a.py"), ("2", "b.py"), ("3", "c.py"))
    }
    engine, store, agents, lander, _, now = _engine(texts, Config(max_parallel=2))
    agents.script = {"1": [_done("1", ("a.py",))], "2": [_done("2", ("b.py",))]}
    lander.outcomes = {t: [Landing(S.MERGED, "landed", "m" + t, ())] for t in "12"}
    engine.step()
    assert agents.started == [("1", 1), ("2", 1)]
    engine.step()  # both end; 1 lands; 3 could start but waits for the next landing
    assert lander.landed == ["1"] and len(agents.started) == 2
    assert store.waiting["3"] == "starts after the landing under way, from the new main"
    engine.step()
    assert lander.landed == ["1", "2"] and len(agents.started) == 2
    engine.step()
    assert agents.started[-1] == ("3", 1)

    engine, store, agents, lander, _, now = _engine(texts, Config(max_parallel=2))
    agents.script = {"1": [_done("1", ("a.py",))], "2": [_done("2", ("b.py",))]}
    lander.outcomes = {t: [Landing(S.MERGED, "landed", "m" + t, ())] for t in "12"}
    engine.step()
    engine.step()  # 1 lands ...
    now[0] += LANDING_HOLD  # ... and its tests took a minute: 3 no longer waits for 2's
    engine.step()
    assert lander.landed == ["1", "2"] and agents.started[-1] == ("3", 1)
