"""What every handler receives (`Context`) and returns (`Outcome`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from bot.analysis import RepoSnapshot
from bot.config import Config
from bot.forge.base import Forge
from bot.github_bot.board import Board
from bot.gitops import GitRepo
from bot.planning.calibrate import Calibration
from bot.redact import Redactor


def _no_files() -> RepoSnapshot:
    return RepoSnapshot(files=())


@dataclass
class Context:
    """The forge, the config in force, the repository snapshot (read lazily: only a replan
    needs it) and the conflict rates and threshold for it (None: the config's threshold and
    the default rate), the redactor, the time of the event, the job's checkout with what
    git needs to fetch into it (None: no checkout), and the Actions run it is part of."""

    forge: Forge
    config: Config = field(default_factory=Config)
    snapshot: Callable[[], RepoSnapshot] = _no_files
    risk: Callable[[RepoSnapshot], Calibration] | None = None
    redact: Redactor = field(default_factory=Redactor)
    now: float = 0.0
    web_url: str = "https://github.com"
    repository: str = ""
    checkout: GitRepo | None = None
    git_env: dict[str, str] = field(default_factory=dict)
    run: str = ""  # GITHUB_RUN_ID
    _snapshot: RepoSnapshot | None = None

    def repo_snapshot(self) -> RepoSnapshot:
        if self._snapshot is None:
            self._snapshot = self.snapshot()
        return self._snapshot

    def issue_url(self, number: int) -> str:
        return f"{self.web_url}/{self.repository}/issues/{number}"


@dataclass
class Outcome:
    """What handling one event did, for `$GITHUB_OUTPUT` and the job summary."""

    event: str
    messages: list[str] = field(default_factory=list)
    launch: list[dict[str, str | int]] = field(default_factory=list)
    merge: str | None = None
    board: Board | None = None
    error: str | None = None

    def note(self, message: str) -> None:
        self.messages.append(message)
