"""Watch one running agent: its output, its files, its process tree's memory and CPU.

`Watch.observe` is called on every pass of the reconcile loop and says whether the agent's
progress changed and whether it must be stopped (wall timeout, idle timeout, memory limit).
"""

from __future__ import annotations

import hashlib
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from bot import process
from bot.agents.claude import ClaudeStream
from bot.agents.runner import Brief
from bot.config import AgentConfig, Config

FILE_CHECK_SECONDS = 5.0
# A plain agent may report what it has spent so far on a line of its own output.
_COST = re.compile(r"^orchestrate-cost-usd:\s*(\d+(?:\.\d+)?)\s*$", re.M)
_TRANSIENT = re.compile(
    r"overloaded|rate[ _-]?limit|too many requests|\b429\b|\b529\b|\b503\b|"
    r"ECONNRESET|ETIMEDOUT|connection (?:reset|refused)|temporarily unavailable",
    re.I,
)


def latest_mtime(root: Path) -> float:
    """Newest modification time of any file under `root`, ignoring `.git`."""
    newest = 0.0
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d != ".git"]
        for name in files:
            try:
                newest = max(newest, Path(folder, name).stat().st_mtime)
            except OSError:
                continue
    return newest


_RATE_LIMITED = re.compile(r"overloaded|rate[ _-]?limit|too many requests|\b429\b|\b529\b", re.I)


def is_rate_limited(log_tail: str, exit_code: int | None) -> bool:
    """The model provider said "slow down" (429, 529, overloaded): every agent on it should."""
    return exit_code is not None and exit_code != 0 and bool(_RATE_LIMITED.search(log_tail))


# A path as tools print it: `src/app.py`, `'tests/a.py'`, `src/app.py:12`, `/tmp/x/src/app.py`.
_PATH = re.compile(r"[\w.+-]+(?:/[\w.+-]+)*\.\w+")
NAMED_FILES = 20  # at most this many files taken from a failure's output


def paths_named(log_tail: str, tails: bool = True) -> list[str]:
    """The path-like words of an agent's output, first mention first; with `tails`, each
    absolute path also as its every tail (`/tmp/x/src/app.py` gives `tmp/x/src/app.py`, ...,
    `src/app.py`, `app.py`), so that the caller can keep those that are files of the checkout."""
    found: dict[str, None] = {}
    for match in _PATH.finditer(log_tail):
        parts = match.group().split("/")
        absolute = tails and log_tail[match.start() - 1 : match.start()] == "/"
        for first in range(len(parts)) if absolute else (0,):
            found.setdefault("/".join(parts[first:]), None)
    return [path for path in found if ".." not in path.split("/")]


# A line that says something went wrong, as git, test runners, compilers and agents say it.
_WENT_WRONG = re.compile(
    r"error|fail|conflict|cannot|can't|could ?n[o']t|unable|not found|no such|does ?n[o']t|"
    r"missing|fatal|abort|denied|refus|invalid",
    re.I,
)


def went_wrong(log_tail: str) -> str:
    """The lines of an agent's output that say something went wrong (`error: patch failed:
    app.py:12`, `FAILED tests/test_app.py::test_x`), not those that say what went well
    (`Applied patch to 'models.py' cleanly.`, `tests/test_cli.py ....  [ 40%]`)."""
    lines = log_tail.splitlines()
    return "\n".join(line for line in lines if _WENT_WRONG.search(_PATH.sub(" ", line)))


_NUMBER = re.compile(r"\d+")
_SPACE = re.compile(r"\s+")


def failure_digest(log_tail: str) -> str:
    """What a failed agent last said, as a short digest that is the same when it says the same
    again (numbers aside: times, ids, durations), so that a failure said again, with nothing
    new to work with, is seen as one another attempt would repeat (`bot.state.failures`).
    Empty for a failure the service caused (overloaded, rate-limited, a connection reset):
    that one may pass by itself."""
    if _TRANSIENT.search(log_tail):
        return ""
    said = _SPACE.sub(" ", _NUMBER.sub("#", log_tail)).strip()
    return hashlib.sha256(said.encode()).hexdigest()[:16]


def is_transient(log_tail: str, changed_anything: bool, exit_code: int | None) -> bool:
    """Worth another attempt: the API was overloaded or limited, or the agent crashed
    before it changed anything. A timeout or a memory kill is not transient."""
    if exit_code is None:
        return False
    return bool(_TRANSIENT.search(log_tail)) or (exit_code != 0 and not changed_anything)


@dataclass
class Watch:
    proc: psutil.Popen
    brief: Brief
    agent: AgentConfig
    checkout: Path
    started: float
    stream: ClaudeStream | None = None
    cost_limit: float | None = None  # budget.task_max_usd: stopped past it
    reported_cost: float | None = None  # from `orchestrate-cost-usd: N` lines of plain agents
    peak_memory_mb: float = 0.0
    cpu_seconds: float = 0.0
    last_activity: float = 0.0
    last_beat: float = 0.0
    _offset: int = 0
    _last_file_check: float = 0.0
    _newest_file: float = 0.0
    _cpu_by_pid: dict[int, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.last_activity = self.last_beat = self.started
        self._newest_file = latest_mtime(self.checkout)

    @property
    def cost_usd(self) -> float | None:
        """What this attempt has cost so far, where the agent says."""
        result = self.stream.result if self.stream is not None else None
        if result is not None and result.total_cost_usd is not None:
            return result.total_cost_usd
        return self.reported_cost

    @property
    def progress(self) -> str:
        return self.stream.progress if self.stream is not None else ""

    def observe(self, now: float) -> tuple[bool, str | None]:
        """(progress changed, reason to stop the agent or None)."""
        changed = self._read_output(now)
        self._sample_tree()
        if now - self.last_activity > min(self.agent.idle_timeout / 4, 30.0):
            self._check_files(now)
        limit = self.agent.memory_limit_mb
        if limit is not None and self.peak_memory_mb > limit:
            return changed, f"memory limit: {self.peak_memory_mb:.0f} MB > {limit} MB"
        cost = self.cost_usd
        finished = self.stream is not None and self.stream.result is not None  # done: let it end
        if (
            self.cost_limit is not None
            and cost is not None
            and cost > self.cost_limit
            and not finished
        ):
            return changed, f"budget: this attempt cost ${cost:.2f}, over ${self.cost_limit:.2f}"
        if now - self.started > self.agent.timeout:
            return changed, f"timed out after {_span(self.agent.timeout)}"
        if now - self.last_activity > self.agent.idle_timeout:
            return changed, f"idle for {_span(self.agent.idle_timeout)}: no output, no file change"
        return changed, None

    def _read_output(self, now: float) -> bool:
        try:
            with self.brief.log.open("rb") as handle:
                handle.seek(self._offset)
                data = handle.read()
        except OSError:
            return False
        if not data:
            return False
        self._offset += len(data)
        self.last_activity = now
        for found in _COST.finditer(data.decode("utf-8", "replace")):
            self.reported_cost = float(found.group(1))
        if self.stream is None:
            return False
        return self.stream.feed(data.decode("utf-8", "replace"))

    def _check_files(self, now: float) -> None:
        if now - self._last_file_check < FILE_CHECK_SECONDS:
            return
        self._last_file_check = now
        newest = latest_mtime(self.checkout)
        if newest > self._newest_file:
            self._newest_file = newest
            self.last_activity = now

    def _sample_tree(self) -> None:
        rss = 0
        for proc in process.tree(self.proc.pid):
            try:
                rss += proc.memory_info().rss
                times = proc.cpu_times()
                self._cpu_by_pid[proc.pid] = times.user + times.system
            except psutil.Error:
                continue
        self.peak_memory_mb = max(self.peak_memory_mb, rss / 2**20)
        self.cpu_seconds = sum(self._cpu_by_pid.values())


def _span(seconds: float) -> str:
    if seconds >= 3600:
        return f"{seconds / 3600:g}h"
    if seconds >= 60:
        return f"{seconds / 60:g}m"
    return f"{seconds:g}s"


class MachineLoad:
    """System CPU and memory, with CPU measured over windows of at least a second (two
    readings milliseconds apart say nothing)."""

    WINDOW = 1.0

    def __init__(self) -> None:
        psutil.cpu_percent(interval=None)  # starts the first window
        self._since = time.monotonic()
        self._cpu = 0.0

    def busy(self, config: Config) -> str | None:
        """Why the machine has no room for another agent right now, or None."""
        now = time.monotonic()
        if now - self._since >= self.WINDOW:
            self._cpu, self._since = psutil.cpu_percent(interval=None), now
        memory = psutil.virtual_memory().percent
        limits = config.resources
        if self._cpu > limits.max_cpu_percent:
            return f"system CPU at {self._cpu:.0f}% (limit {limits.max_cpu_percent:g}%)"
        if memory > limits.max_memory_percent:
            return f"system memory at {memory:.0f}% (limit {limits.max_memory_percent:g}%)"
        return None
