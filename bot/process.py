"""Child processes with their whole tree under control (psutil): start, watch, kill, log tail.

Each child starts in its own session, so the tree can be found again and ended even by a
later `orchestrate run` after this one was killed.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import psutil

GRACE_SECONDS = 3.0


def start(
    argv: Sequence[str],
    cwd: Path,
    env: Mapping[str, str],
    log: Path,
    stdin: Path | None = None,
) -> psutil.Popen:
    """Start `argv` with stdout and stderr appended to `log` (a file, never a pipe) and
    `stdin` (a file) as its input."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as sink, (stdin or Path(os.devnull)).open("rb") as source:
        return psutil.Popen(
            list(argv),
            cwd=cwd,
            env=dict(env),
            stdin=source,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


PR_SET_CHILD_SUBREAPER = 36
AGENT_MARK = "ORCHESTRATE_TASK_ID"  # in every agent's environment, so in its descendants'


def become_subreaper() -> bool:
    """Make processes that leave their parent (`setsid`, double fork) inside an agent's tree
    become children of this process rather than of init, where they could be found no more.
    Linux only; False elsewhere."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return int(libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)) == 0
    except (OSError, AttributeError):
        return False


def end_orphans(keep: set[int]) -> int:
    """End every process an agent left behind that came back to us: a child of this process
    carrying an agent's mark, whose tree is not one of the agents still running (`keep`).
    Returns how many were ended."""
    ended = 0
    for child in psutil.Process().children():
        try:
            if child.pid in keep or AGENT_MARK not in child.environ():
                continue
        except psutil.Error:
            continue
        kill_tree(child.pid, grace=0.5)
        ended += 1
    return ended


def tree(pid: int) -> list[psutil.Process]:
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def kill_tree(pid: int, grace: float = GRACE_SECONDS) -> None:
    """TERM the process and all its descendants, wait `grace` seconds, then KILL what is left."""
    procs = tree(pid)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, 15)  # the session leader's group: catches orphans re-parented to init
    for proc in procs:
        with contextlib.suppress(psutil.NoSuchProcess):
            proc.terminate()
    _, alive = psutil.wait_procs(procs, timeout=grace)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, 9)
    for proc in alive:
        with contextlib.suppress(psutil.NoSuchProcess):
            proc.kill()
    psutil.wait_procs(alive, timeout=grace)


def reap_group(pid: int, grace: float = GRACE_SECONDS) -> None:
    """End whatever an exited session leader left running in its process group."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, 15)
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            os.killpg(pid, 0)  # raises ProcessLookupError once the group is empty
            time.sleep(0.05)
        os.killpg(pid, 9)


def same_process(pid: int | None, started: float | None) -> bool:
    """True when `pid` still names the process that was started at `started`."""
    if pid is None or started is None:
        return False
    try:
        return abs(psutil.Process(pid).create_time() - started) < 1.0
    except psutil.NoSuchProcess:
        return False


def mask_file(log: Path, redact: Callable[[str], str]) -> None:
    """Mask secrets in a log once its writer has ended (an agent's, the tests', an installer's),
    as everywhere else orchestrate writes; the file is replaced whole, so a kill leaves either
    version."""
    try:
        text = log.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return
    masked = redact(text)
    if masked != text:
        partial = log.with_name(log.name + ".part")
        partial.write_text(masked, encoding="utf-8")
        partial.replace(log)


def tail(log: Path, lines: int = 30, max_bytes: int = 16_384) -> str:
    if not log.exists():
        return ""
    with log.open("rb") as handle:
        handle.seek(max(0, log.stat().st_size - max_bytes))
        text = handle.read().decode("utf-8", "replace")
    kept = [line.rstrip() for line in text.splitlines() if line.strip()]
    return "\n".join(kept[-lines:])


@dataclass(frozen=True)
class Finished:
    returncode: int | None
    timed_out: bool
    seconds: float


def run(
    argv: Sequence[str],
    cwd: Path,
    env: Mapping[str, str],
    log: Path,
    timeout: float,
    stdin: Path | None = None,
) -> Finished:
    """Run to completion (or timeout, which kills the whole tree)."""
    began = time.monotonic()
    proc = start(argv, cwd, env, log, stdin)
    try:
        code = proc.wait(timeout=timeout)
    except psutil.TimeoutExpired:
        kill_tree(proc.pid)
        return Finished(None, True, time.monotonic() - began)
    return Finished(code, False, time.monotonic() - began)
