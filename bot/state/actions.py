"""What a decision asks the engine to do: the `Decision` itself, and the typed actions in it
that carry more than an id and a reason (`Requeue`, `Restart`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Requeue:
    """Put an ended (or lost) task back to `planned`, with these fields changed."""

    task_id: str
    detail: str
    fields: Mapping[str, object] = field(default_factory=dict)


# A task's clash fields when nothing clashes (a new attempt, a stopped agent).
CLEARED_CLASH: dict[str, object] = {"clashes": (), "base_clash": False, "clash_files": ()}


@dataclass(frozen=True)
class Restart:
    """Stop a running agent whose work in progress already conflicts: it ends in `conflict`
    with these files, and is redone like a conflict found at merge time."""

    task_id: str
    detail: str
    files: tuple[str, ...]

    def fields(self, now: float) -> dict[str, object]:
        """The stopped task's fields besides its status and detail."""
        return {**CLEARED_CLASH, "conflict_files": self.files, "finished_at": now, "pid": None}


@dataclass(frozen=True)
class Decision:
    """What the engine should do next, in this order: fail lost agents, give up failures a
    retry would repeat, requeue, block, stop agents whose work already conflicts, merge,
    launch. `waiting` says why each task that is
    not acted on waits."""

    fail: tuple[tuple[str, str], ...] = ()
    give_up: tuple[tuple[str, str], ...] = ()  # failures not tried again, and why
    requeue: tuple[Requeue, ...] = ()
    block: tuple[tuple[str, str], ...] = ()
    restart: tuple[Restart, ...] = ()
    merge: str | None = None
    launch: tuple[str, ...] = ()
    waiting: Mapping[str, str] = field(default_factory=dict)

    @property
    def acts(self) -> bool:
        """Something changes when this decision is carried out."""
        return bool(
            self.fail
            or self.give_up
            or self.requeue
            or self.block
            or self.restart
            or self.merge
            or self.launch
        )

    @property
    def done(self) -> bool:
        return not (self.acts or self.waiting)
