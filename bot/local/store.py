"""Local mode's `TaskStore`: tasks from a folder of Markdown files, state in SQLite.

State lives in `<repo>/.orchestrate/state.db` (WAL). Every status change is one transaction
that rewrites the task's row and appends to the event log, so a crash at any point leaves
either the old state or the new one, never half of each.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from bot import crashpoints
from bot.models import Task, TaskState, TaskStatus
from bot.state.transitions import check_transition
from bot.taskfile import TaskFileError, parse_task_file

_SCHEMA = """
CREATE TABLE IF NOT EXISTS tasks (id TEXT PRIMARY KEY, state TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    at REAL NOT NULL,
    task_id TEXT,
    old TEXT,
    new TEXT,
    detail TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""

IGNORED_TASK_FILES = frozenset({"README.md"})


def load_tasks(directory: Path) -> list[Task]:
    """Parse every `<id>-<slug>.md` in `directory` (README.md is skipped)."""
    if not directory.is_dir():
        raise TaskFileError(f"{directory}: no such tasks directory")
    tasks = []
    for path in sorted(directory.glob("*.md")):
        if path.name in IGNORED_TASK_FILES:
            continue
        if not path.is_file():  # a named pipe or a device would hang the read
            raise TaskFileError(f"{path}: not a regular file; task files must be plain files")
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise TaskFileError(f"{path}: cannot read: {exc}") from None
        tasks.append(parse_task_file(str(path), text))
    if not tasks:
        raise TaskFileError(f"{directory}: no task files (<id>-<slug>.md) found")
    return tasks


BUSY_SECONDS = 30.0  # how long a write waits for another process's lock on the state file


class StateError(Exception):
    """The state file cannot be used; the message says how to recover."""


def _unusable(path: Path, exc: Exception) -> StateError:
    first = (str(exc).splitlines() or [type(exc).__name__])[0]
    if isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc):
        return StateError(
            f"{path}: locked by another process for over {BUSY_SECONDS:g}s ({first}); wait for "
            "it, or end it"
        )
    return StateError(
        f"{path}: not a state orchestrate can read ({first}); move it aside to start over "
        f"(mv {path} {path}.bad); a fresh state runs every task again"
    )


class LocalStore:
    """Task states, an event log and a few named values, in one SQLite file."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        try:
            self._db = sqlite3.connect(path, isolation_level=None, timeout=BUSY_SECONDS)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
        except sqlite3.Error as exc:
            raise _unusable(path, exc) from None
        self._waiting: dict[str, str] | None = None

    def close(self) -> None:
        self._db.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        try:
            self._db.execute("BEGIN IMMEDIATE")  # waits up to BUSY_SECONDS for another writer
        except sqlite3.Error as exc:
            raise _unusable(self.path, exc) from None
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        try:
            self._db.execute("COMMIT")
        except sqlite3.Error as exc:
            raise _unusable(self.path, exc) from None

    # -- task states ---------------------------------------------------------------------

    def states(self) -> dict[str, TaskState]:
        try:
            rows = self._db.execute("SELECT state FROM tasks").fetchall()
            states = [TaskState.model_validate_json(row[0]) for row in rows]
        except (sqlite3.Error, ValidationError) as exc:
            raise _unusable(self.path, exc) from None
        return {state.id: state for state in states}

    def get(self, task_id: str) -> TaskState:
        row = self._db.execute("SELECT state FROM tasks WHERE id = ?", (task_id,)).fetchone()
        if row is None:
            raise KeyError(task_id)
        return TaskState.model_validate_json(row[0])

    def ensure(self, tasks: Sequence[Task]) -> None:
        """Add a `planned` row for each task not seen before; existing rows are kept, unless
        the task's text changed after it ended: the same id asking for something else is new
        work, planned afresh (a task changed while in flight keeps going as it started)."""
        with self._transaction() as db:
            for task in tasks:
                state = TaskState(id=task.id, branch=task.branch, digest=task.digest)
                inserted = db.execute(
                    "INSERT OR IGNORE INTO tasks (id, state) VALUES (?, ?)",
                    (task.id, state.model_dump_json()),
                ).rowcount
                if inserted:
                    self._log(db, task.id, None, TaskStatus.PLANNED, "added to the plan")
                    continue
                old = self._read(db, task.id)
                if old.digest and old.digest != task.digest and old.status.terminal:
                    self._write(db, state)
                    why = f"the task's text changed after it ended {old.status}: planned anew"
                    self._log(db, task.id, old.status, TaskStatus.PLANNED, why)
                elif not old.digest:
                    self._write(db, old.model_copy(update={"digest": task.digest}))

    def transition(
        self, task_id: str, new: TaskStatus, detail: str = "", **fields: object
    ) -> TaskState:
        """Move a task to `new` (checked against the state machine) and log it, atomically."""
        with self._transaction() as db:
            state = self._read(db, task_id)
            check_transition(state.status, new)
            updated = state.model_copy(update={**fields, "status": new, "detail": detail})
            self._write(db, updated)
            self._log(db, task_id, state.status, new, detail)
        crashpoints.reached("transition")
        return updated

    def update(self, task_id: str, **fields: object) -> TaskState:
        """Change fields other than the status (pid, heartbeat, head)."""
        with self._transaction() as db:
            updated = self._read(db, task_id).model_copy(update=fields)
            self._write(db, updated)
        return updated

    def events(self, task_id: str | None = None, last: int = 1000) -> list[dict[str, Any]]:
        """The newest `last` events (of one task, or of all), oldest first."""
        query = "SELECT seq, at, task_id, old, new, detail FROM events"
        args: tuple[Any, ...] = ()
        if task_id is not None:
            query += " WHERE task_id = ?"
            args = (task_id,)
        rows = self._db.execute(query + " ORDER BY seq DESC LIMIT ?", (*args, last)).fetchall()
        keys = ("seq", "at", "task_id", "old", "new", "detail")
        return [dict(zip(keys, row, strict=True)) for row in reversed(rows)]

    def note(self, detail: str, task_id: str | None = None) -> None:
        """Log an event that is not a status change (a plan, a resume, a retry)."""
        with self._transaction() as db:
            self._log(db, task_id, None, None, detail)

    # -- named values ----------------------------------------------------------------------

    def get_meta(self, key: str) -> Any:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else json.loads(row[0])

    def set_waiting(self, waiting: Mapping[str, str]) -> None:
        """Why tasks wait, for `orchestrate status` while a run is active (written on change)."""
        if dict(waiting) != self._waiting:
            self._waiting = dict(waiting)
            self.set_meta("waiting", self._waiting)

    def set_meta(self, key: str, value: Any) -> None:
        with self._transaction() as db:
            db.execute(
                "INSERT INTO meta (key, value) VALUES (?, ?) "
                "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (key, json.dumps(value)),
            )

    # -- helpers -------------------------------------------------------------------------

    def _read(self, db: sqlite3.Connection, task_id: str) -> TaskState:
        row = db.execute("SELECT state FROM tasks WHERE id = ?", (task_id,)).fetchone()
        if row is None:
            raise KeyError(task_id)
        try:
            return TaskState.model_validate_json(row[0])
        except ValidationError as exc:
            raise _unusable(self.path, exc) from None

    @staticmethod
    def _write(db: sqlite3.Connection, state: TaskState) -> None:
        db.execute("UPDATE tasks SET state = ? WHERE id = ?", (state.model_dump_json(), state.id))

    @staticmethod
    def _log(
        db: sqlite3.Connection,
        task_id: str | None,
        old: TaskStatus | None,
        new: TaskStatus | None,
        detail: str,
    ) -> None:
        db.execute(
            "INSERT INTO events (at, task_id, old, new, detail) VALUES (?, ?, ?, ?, ?)",
            (time.time(), task_id, old, new, detail),
        )
