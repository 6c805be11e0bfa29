"""The I/O side: a RepoSnapshot read from a small git repository, then from its cache."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from bot.snapshot import SnapshotError, load_snapshot


def _git(repo: Path, *args: str) -> str:
    env = {
        "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@e", "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@e", "HOME": str(repo), "PATH": "/usr/bin:/bin",
    }  # fmt: skip
    done = subprocess.run(["git", *args], cwd=repo, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    _git(tmp_path, "init", "-q", "-b", "main")
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "core.py").write_text(
        '"""Core."""\nclass Engine:\n    def run(self): ...\n'
    )
    (tmp_path / "README.md").write_text("hi\n")
    _git(tmp_path, "add", ".")
    _git(tmp_path, "commit", "-q", "-m", "start the engine")
    (tmp_path / "pkg" / "core.py").write_text("class Engine:\n    def stop(self): ...\n")
    _git(tmp_path, "commit", "-q", "-am", "Engine can stop\n\nlonger body")
    return tmp_path


def test_load_snapshot_reads_files_symbols_and_history(repo: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    snapshot = load_snapshot(repo, "HEAD", cache)
    assert set(snapshot.files) == {"pkg/core.py", "README.md"}
    assert "Engine.stop" in snapshot.symbols["pkg/core.py"].defs
    assert [c.message.split("\n")[0] for c in snapshot.history] == [
        "Engine can stop", "start the engine",
    ]  # fmt: skip
    assert snapshot.history[0].files == ("pkg/core.py",)
    assert snapshot.commit == _git(repo, "rev-parse", "HEAD")
    assert any(cache.glob("snapshot-*.json")) and any(cache.glob("symbols-py*.json"))


def test_snapshot_at_an_older_commit_sees_only_its_past(repo: Path, tmp_path: Path) -> None:
    snapshot = load_snapshot(repo, "HEAD~1", tmp_path / "cache")
    assert "Engine.run" in snapshot.symbols["pkg/core.py"].defs
    assert len(snapshot.history) == 1


def test_cache_gives_the_same_snapshot(repo: Path, tmp_path: Path) -> None:
    first = load_snapshot(repo, "HEAD", tmp_path / "cache")
    second = load_snapshot(repo, "HEAD", tmp_path / "cache")
    assert first.files == second.files and first.history == second.history
    assert first.symbols == second.symbols


def test_default_cache_lives_in_the_repository(repo: Path) -> None:
    load_snapshot(repo, "HEAD")
    assert any((repo / ".orchestrate" / "cache").glob("snapshot-*.json"))


def test_unknown_commit_is_a_snapshot_error(repo: Path) -> None:
    with pytest.raises(SnapshotError):
        load_snapshot(repo, "no-such-ref")


def test_past_pairs_are_replayed_side_by_side_by_git_and_cached(tmp_path: Path) -> None:
    """Three changes to one file: the newest rewrites the line the oldest wrote (they conflict
    when made side by side); the middle one edits another line (it merges cleanly with both)."""
    from bot.config import Config
    from bot.snapshot import load_past_pairs, plan_risk

    repo = tmp_path / "r"
    repo.mkdir()
    _git(repo, "init", "-q", "-b", "main")
    lines = [f"line {n}" for n in range(12)]
    edits = [("base", {}), ("first", {1: "one"}), ("second", {9: "nine"}), ("third", {1: "uno"})]
    for message, change in edits:
        for number, text in change.items():
            lines[number] = text
        (repo / "notes.txt").write_text("\n".join(lines) + "\n")
        _git(repo, "add", ".")
        _git(repo, "commit", "-q", "-m", message)
    cache = tmp_path / "cache"
    snapshot = load_snapshot(repo, "HEAD", cache)
    pairs = {
        (snapshot.history[[c.sha for c in snapshot.history].index(p.older)].message, p.conflicts)
        for p in load_past_pairs(repo, snapshot, cache)
        if p.newer == snapshot.history[0].sha
    }
    assert pairs == {("first", ("notes.txt",)), ("second", ())}
    assert (cache / "past-pairs.json").exists()
    objects = _git(repo, "count-objects")
    assert load_past_pairs(repo, snapshot, cache)  # from the cache: git is not asked again
    assert _git(repo, "count-objects") == objects  # the repository was never written to
    risk = plan_risk(repo, snapshot, Config(), cache_dir=cache)
    assert (risk.rates.pairs, risk.rates.conflicts) == (3, 1)
    assert plan_risk(repo, snapshot, Config(), cache_dir=cache) == risk  # cached per base


def test_snapshot_reads_files_as_they_were_at_its_commit(repo: Path, tmp_path: Path) -> None:
    (repo / "logo.png").write_bytes(b"\x89PNG\0\0binary")
    (repo / "README.md").write_text("changed in the working tree\n")
    older = load_snapshot(repo, "HEAD~1", tmp_path / "cache")
    texts = older.read(["pkg/core.py", "README.md", "logo.png", "missing.txt"])
    assert texts == {
        "pkg/core.py": '"""Core."""\nclass Engine:\n    def run(self): ...\n',
        "README.md": "hi\n",
    }
    _git(repo, "add", "logo.png")
    _git(repo, "commit", "-q", "-m", "a logo")
    assert load_snapshot(repo, "HEAD", tmp_path / "cache").read(["logo.png"]) == {}


def test_a_snapshot_whose_repository_is_gone_reads_nothing(repo: Path, tmp_path: Path) -> None:
    snapshot = load_snapshot(repo, "HEAD", tmp_path / "cache")
    shutil.rmtree(repo / ".git")
    assert snapshot.read(["pkg/core.py"]) == {}
