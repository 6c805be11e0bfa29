"""Work in progress shared between agent jobs, through the repository on GitHub.

Each agent job runs one agent on a runner of its own, so no process sees two agents' work as
local mode's does. On a heartbeat, at most every EVERY seconds, an agent job pushes its
agent's work in progress (the snapshot commit `ProcessAgents` takes, never a branch) to
`refs/orchestrate/wip/<task>-<attempt>`, and fetches the others' and the base in one fetch;
`ProcessAgents` then test-merges them as it does locally, and the job stops its agent early
when the plan's rule says so (`bot.state.decide.restarts`). Refs outside `refs/heads/` start
no workflow and open no pull request. A job deletes its own when it ends; one a crash left
behind names an attempt the dashboard no longer runs, and is not read.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from bot.gitops import GitError, GitRepo
from bot.local.agents import Wip

WIP_REFS = "refs/orchestrate/wip"  # on the remote: each agent job's work in progress
PEER_REFS = "refs/orchestrate/peers"  # here: the others', as fetched
EVERY = 30.0  # seconds between two exchanges of one job


def wip_ref(task_id: str, attempt: int) -> str:
    return f"{WIP_REFS}/{task_id}-{attempt}"


@dataclass
class WipExchange:
    """`ProcessAgents.peers` of an agent job: push ours, fetch theirs and the base."""

    repo: GitRepo
    remote: str
    task_id: str
    attempt: int
    running: Mapping[str, int]  # the other tasks the dashboard runs, with their attempt
    base: str  # the base branch on the remote
    base_ref: str  # where it is fetched to here
    git_env: dict[str, str]
    pushed: str | None = None
    leftovers: tuple[str, ...] = ()  # refs of this task's earlier attempts, seen on the remote
    clock: Callable[[], float] = time.monotonic
    _last: tuple[float, dict[str, Wip]] | None = None  # when we last exchanged, what we saw
    _files: dict[str, tuple[str, ...]] = field(default_factory=dict)  # per commit

    @property
    def ref(self) -> str:
        return wip_ref(self.task_id, self.attempt)

    def __call__(self, own: Mapping[str, Wip]) -> dict[str, Wip]:
        """The peers' work in progress, exchanged at most once per EVERY seconds (the agent
        beats more often; the others' work moves at an agent's pace)."""
        now = self.clock()
        if self._last is not None and now - self._last[0] < EVERY:
            return self._last[1]
        peers = self._exchange(own)
        self._last = (now, peers)
        return peers

    def _exchange(self, own: Mapping[str, Wip]) -> dict[str, Wip]:
        mine = own.get(self.task_id)
        refspecs = [f"+refs/heads/{self.base}:{self.base_ref}", f"+{WIP_REFS}/*:{PEER_REFS}/*"]
        try:
            if mine is not None and mine[0] != self.pushed:
                self.repo.publish(self.remote, {self.ref: mine[0]}, self.git_env)
                self.pushed = mine[0]
            self.repo.fetch(self.remote, refspecs, self.git_env, prune=True)
        except GitError:
            return {}  # the network failed this beat: the next one tries again
        earlier = set(self.repo.refs(f"{PEER_REFS}/{self.task_id}-*"))
        earlier.discard(f"{PEER_REFS}/{self.task_id}-{self.attempt}")
        self.leftovers = tuple(sorted(ref.replace(PEER_REFS, WIP_REFS, 1) for ref in earlier))
        peers: dict[str, Wip] = {}
        for task_id, attempt in self.running.items():
            if task_id == self.task_id:
                continue
            try:
                sha = self.repo.resolve(f"{PEER_REFS}/{task_id}-{attempt}")
            except GitError:
                continue  # it has pushed nothing yet, or has ended
            if sha not in self._files:
                self._files[sha] = self.repo.changed_since_fork(self.base_ref, sha)
            peers[task_id] = (sha, self._files[sha])
        return peers

    def withdraw(self) -> None:
        """Delete ours from the remote (the job ends), and what earlier attempts of this task
        left there."""
        gone = [*self.leftovers, *([self.ref] if self.pushed is not None else [])]
        if gone:
            with contextlib.suppress(GitError):  # left behind, it names an attempt nobody reads
                self.repo.publish(self.remote, dict.fromkeys(gone), self.git_env)
        self.pushed, self.leftovers = None, ()
