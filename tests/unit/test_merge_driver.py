"""The changelog merge driver: a union only where both sides just added lines."""

from __future__ import annotations

from pathlib import Path

from bot.merge_driver import main, only_adds


def test_only_adds_means_every_base_line_is_still_there_in_order():
    base = [b"# Changes", b"- a"]
    assert only_adds(base, [b"# Changes", b"- new", b"- a"])
    assert only_adds(base, base)
    assert not only_adds(base, [b"# Changes 1.0", b"- a"])  # a line rewritten
    assert not only_adds(base, [b"# Changes"])  # a line removed


def _files(tmp_path: Path, base: str, ours: str, theirs: str) -> list[str]:
    paths = []
    for name, text in (("base", base), ("ours", ours), ("theirs", theirs)):
        (tmp_path / name).write_text(text)
        paths.append(str(tmp_path / name))
    return paths


def test_entries_both_sides_add_at_one_place_are_all_kept(tmp_path: Path):
    args = _files(tmp_path, "# C\n- a\n", "# C\n- mine\n- a\n", "# C\n- theirs\n- a\n")
    assert main(args) == 0
    assert (tmp_path / "ours").read_text() == "# C\n- mine\n- theirs\n- a\n"


def test_changes_apart_merge_plainly_and_a_rewritten_line_stays_a_conflict(tmp_path: Path):
    apart = _files(
        tmp_path, "# C\n\n- a\n\n- b\n", "# C 1.0\n\n- a\n\n- b\n", "# C\n\n- a\n\n- b\n- c\n"
    )
    assert main(apart) == 0
    assert (tmp_path / "ours").read_text() == "# C 1.0\n\n- a\n\n- b\n- c\n"
    both = _files(tmp_path, "# C\n- a\n", "# C 1.0\n- a\n", "# C 2.0\n- a\n")
    assert main(both) == 1
    merged = (tmp_path / "ours").read_text()
    assert "<<<<<<<" in merged and "# C 1.0" in merged and "# C 2.0" in merged


def test_orchestrates_rebase_runs_its_own_driver_never_one_from_the_checkout(tmp_path: Path):
    """A task's checkout may hold a `bot/merge_driver.py` of its own: the driver runs
    isolated (`python -I`), so the rebase runs orchestrate's, and the entries are all kept."""
    import subprocess

    from bot.gitops import create_repo

    repo = create_repo(tmp_path / "repo", {"CHANGES.md": "# C\n- a\n"}, "initial")
    for key, value in (("user.name", "t"), ("user.email", "t@e")):
        subprocess.run(["git", "config", key, value], cwd=repo.root, check=True)
    repo.union_merge(["changes*"])
    base = repo.resolve("main")
    checkout = repo.fresh_checkout("orchestrate/1-t", base)
    (checkout / "CHANGES.md").write_text("# C\n- from the task\n- a\n")
    repo.collect(checkout, "orchestrate/1-t", base, "task")
    checkout = repo.fresh_checkout("orchestrate/1-t", "orchestrate/1-t")  # the queue's own
    marker = tmp_path / "hijacked"  # left untracked (say, ignored), so a rebase keeps it
    (checkout / "bot").mkdir()
    (checkout / "bot" / "__init__.py").write_text("")
    (checkout / "bot" / "merge_driver.py").write_text(
        f"import pathlib\npathlib.Path({str(marker)!r}).write_text('ran')\n"
    )
    (repo.root / "CHANGES.md").write_text("# C\n- on main\n- a\n")
    subprocess.run(["git", "commit", "-qam", "main moved"], cwd=repo.root, check=True)
    result = repo.rebase(checkout, repo.resolve("main"))
    assert result.ok, result.message
    assert not marker.exists()
    assert (checkout / "CHANGES.md").read_text() == "# C\n- on main\n- from the task\n- a\n"


def test_a_source_file_matching_a_changelog_pattern_keeps_its_conflict(tmp_path: Path):
    """sphinx has `sphinx/builders/changes.py`, orchestrate `bot/analysis/history.py`: names
    the changelog patterns match. Two functions added at one place stay a conflict there."""
    args = _files(tmp_path, "a = 1\n", "def mine(): ...\na = 1\n", "def theirs(): ...\na = 1\n")
    assert main([*args, "sphinx/builders/changes.py"]) == 1
    assert "<<<<<<<" in (tmp_path / "ours").read_text()
    args = _files(tmp_path, "# C\n- a\n", "# C\n- mine\n- a\n", "# C\n- theirs\n- a\n")
    assert main([*args, "docs/CHANGES.md"]) == 0
