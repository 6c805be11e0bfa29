"""Deliberate crashes, for the crash-point harnesses (tests/crash_points.py for local mode,
tests/crash_points_github.py for GitHub mode) and nothing else.

With `ORCHESTRATE_CRASH_AT=N:MODE` in its environment, an orchestrate process dies at its
Nth crash point: just after a state transition is written (local mode's state store, GitHub
mode's dashboard comment), just before each git command orchestrate itself runs, and just
before each request it sends to GitHub. MODE `kill` is SIGKILL of the process alone, `group`
SIGKILL of its whole process group, `int` SIGINT to the group (a Ctrl-C, which a run
handles: it stops its agents and exits). Agents run in sessions of their own, so neither
signal reaches them. `N` 0 crashes nowhere and writes each point to the file
`ORCHESTRATE_CRASH_LOG` (the harnesses count a run's points so). Unset, `reached` does
nothing. Agents and test commands never inherit the variable.
"""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path

VARIABLE = "ORCHESTRATE_CRASH_AT"
LOG = "ORCHESTRATE_CRASH_LOG"
_seen = 0
_counting = threading.Lock()  # the planner runs git from several threads at once


def reached(what: str) -> None:
    """One crash point passed (`what`: `transition`, `git` or `forge`)."""
    global _seen
    if not os.environ.get(VARIABLE):
        return
    with _counting:  # one number per point, each compared once, whichever thread passes it
        spec = os.environ.get(VARIABLE)
        if not spec:
            return
        point, _, mode = spec.partition(":")
        _seen += 1
        if int(point) == 0 and os.environ.get(LOG):
            with Path(os.environ[LOG]).open("a", encoding="utf-8") as log:
                log.write(f"{_seen} {what}\n")
        if _seen != int(point):
            return
        del os.environ[VARIABLE]  # after a Ctrl-C, the rest of the run goes on uncrashed
    if mode == "int":
        os.killpg(os.getpgrp(), signal.SIGINT)
    elif mode == "group":
        os.killpg(os.getpgrp(), signal.SIGKILL)
    else:
        os.kill(os.getpid(), signal.SIGKILL)
