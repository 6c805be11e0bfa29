"""Work in progress shared between agent jobs through a remote (`bot.github_bot.wip`), on real
git: a bare remote and two clones, as two runners have."""

from __future__ import annotations

import itertools
import subprocess
from pathlib import Path

from bot.github_bot.wip import EVERY, WipExchange
from bot.gitops import GitRepo, create_repo


def _git(cwd: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True)
    return done.stdout.strip()


def _commit(clone: Path, path: str, text: str) -> str:
    (clone / path).write_text(text)
    _git(clone, "add", path)
    _git(clone, "-c", "user.name=t", "-c", "user.email=t@e", "commit", "-qm", f"edit {path}")
    return _git(clone, "rev-parse", "HEAD")


def _runner(tmp_path: Path, remote: Path, name: str) -> Path:
    _git(tmp_path, "clone", "-q", str(remote), name)
    return tmp_path / name


def test_each_job_sees_the_running_attempts_work_and_nothing_stale(tmp_path: Path) -> None:
    create_repo(tmp_path / "seed", {"a.py": "A = 0\n", "b.py": "B = 0\n"}, "initial")
    remote = tmp_path / "remote.git"
    _git(tmp_path, "clone", "-q", "--bare", str(tmp_path / "seed"), str(remote))
    one, two = _runner(tmp_path, remote, "one"), _runner(tmp_path, remote, "two")
    base = "refs/orchestrate/base"
    # #1 runs attempt 2; its attempt 1 left a ref behind when its job crashed
    ticks = itertools.count(step=EVERY)  # each exchange a beat that may exchange
    first = WipExchange(
        GitRepo(one), "origin", "1", 2, {"2": 1}, "main", base, {}, clock=ticks.__next__
    )
    stale = _commit(one, "b.py", "B = 'stale'\n")
    _git(one, "push", "-q", "origin", f"{stale}:refs/orchestrate/wip/1-1")
    _git(one, "reset", "-q", "--hard", "HEAD~1")
    work = _commit(one, "a.py", "A = 1\n")
    second = WipExchange(
        GitRepo(two), "origin", "2", 1, {"1": 2}, "main", base, {}, clock=ticks.__next__
    )
    mine = _commit(two, "b.py", "B = 'mine'\n")
    _git(two, "reset", "-q", "--hard", "HEAD~1")
    assert (
        second({"2": (mine, ("b.py",))}) == {}
    )  # #1 has pushed nothing of attempt 2 yet: the stale ref is not read
    assert first({"1": (work, ("a.py",))}) == {"2": (mine, ("b.py",))}
    assert second({}) == {"1": (work, ("a.py",))}
    # the base as fetched with it: a person lands a change meanwhile
    landed = _commit(two, "b.py", "B = 2\n")
    _git(two, "push", "-q", "origin", "HEAD:main")
    second({})
    assert _git(two, "rev-parse", base) == landed
    # #1 ends: its ref goes, with what its attempt 1 left, and #2 stops seeing it
    first({"1": (work, ("a.py",))})
    assert first.leftovers == ("refs/orchestrate/wip/1-1",)
    first.withdraw()
    assert second({}) == {}
    refs = _git(remote, "for-each-ref", "--format=%(refname)", "refs/orchestrate/wip")
    assert refs.split() == ["refs/orchestrate/wip/2-1"]  # #2's own, pushed on its beats


def test_a_job_exchanges_at_most_once_per_interval(tmp_path: Path) -> None:
    create_repo(tmp_path / "seed", {"a.py": "A = 0\n"}, "initial")
    remote = tmp_path / "remote.git"
    _git(tmp_path, "clone", "-q", "--bare", str(tmp_path / "seed"), str(remote))
    one = _runner(tmp_path, remote, "one")
    now = [0.0]
    exchange = WipExchange(
        GitRepo(one), "origin", "1", 1, {"2": 1}, "main", "refs/orchestrate/base", {},
        clock=lambda: now[0],
    )  # fmt: skip
    assert exchange({}) == {}
    peer = _commit(one, "a.py", "A = 2\n")
    _git(one, "push", "-q", "origin", f"{peer}:refs/orchestrate/wip/2-1")
    now[0] = EVERY - 1
    assert exchange({}) == {}  # a beat too soon: what it saw last time
    now[0] = EVERY
    assert exchange({}) == {"2": (peer, ("a.py",))}
