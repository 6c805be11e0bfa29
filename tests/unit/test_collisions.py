"""Which work in flight a pull request meets, and the check run that says so (pure), and git's
verdict on the lines (real git)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from bot.collisions import CheckSettings, Work, collisions, conclusion, overlap_check
from bot.gitops import GitRepo

PERSON = Work(label="pull request #9", title="A fix", status="open", pull=9, head="p9",
              changed=frozenset({"app.py", "CHANGES.rst"}))  # fmt: skip


def task(n: int, **kw: object) -> Work:
    fields: dict[str, object] = {"label": f"task #{n}", "title": f"task {n}", "status": "in review"}
    return Work(**{**fields, "task": str(n), "order": n, **kw})  # type: ignore[arg-type]


def test_who_lands_first_and_what_that_makes_the_conclusion():
    reviewed = task(1, pull=3, head="t1", changed=frozenset({"app.py"}))
    clash = {"app.py": ((4, 6),)}
    found = collisions(PERSON, [PERSON, reviewed], lambda ours, theirs: clash)
    [meets] = found
    assert meets.lands_first and meets.really  # a task in flight lands before a person's
    assert conclusion(found) == "failure" and conclusion(found, "neutral") == "neutral"
    check = overlap_check(PERSON, found)
    [note] = check.annotations
    assert (note.path, note.start_line, note.end_line, note.level) == ("app.py", 4, 6, "failure")
    # the same seen from the task's side: the person's pull request does not land before it
    [back] = collisions(reviewed, [PERSON, reviewed], lambda ours, theirs: clash)
    assert not back.lands_first and conclusion([back]) == "neutral"
    assert overlap_check(reviewed, [back]).annotations[0].level == "warning"
    # between tasks, the plan's merge order
    assert collisions(task(2, head="t2", changed=frozenset({"app.py"})), [reviewed],
                      lambda o, t: clash)[0].lands_first  # fmt: skip


def test_shared_files_that_merge_or_are_only_predicted_are_neutral_and_changelogs_nothing():
    clean = task(1, head="t1", changed=frozenset({"app.py"}))
    planned = task(2, status="planned", predicted=frozenset({"app.py"}))
    changelog = task(3, head="t3", changed=frozenset({"CHANGES.rst"}))
    found = collisions(PERSON, [clean, planned, changelog], lambda o, t: {}, ["changes*"])
    assert [c.other.label for c in found] == ["task #1", "task #2"]
    assert [c.conflicts for c in found] == [{}, None]  # merged cleanly; nothing to merge yet
    check = overlap_check(PERSON, found, CheckSettings(dashboard="https://x/issues/2"))
    assert check.conclusion == "neutral" and check.annotations == ()
    assert "merges cleanly" in check.summary
    assert "predicted only" in check.summary and "[the dashboard](https://x/issues/2)" in (
        check.summary
    )
    alone = overlap_check(PERSON, collisions(PERSON, [changelog], lambda o, t: {}, ["changes*"]))
    assert alone.conclusion == "success" and alone.title == "No overlap with work in flight"


def test_annotations_are_capped_at_githubs_fifty_and_titles_are_escaped():
    many = {"app.py": tuple((n, n) for n in range(1, 80, 2))}
    hostile = task(1, head="t1", changed=frozenset({"app.py"}), title="@admin <b>x</b> | y")
    check = overlap_check(PERSON, collisions(PERSON, [hostile], lambda o, t: many))
    assert len(check.annotations) == 40 and "lines 1, 3, 5" in check.summary
    lots = {"app.py": tuple((n, n) for n in range(1, 200, 2))}
    assert (
        len(overlap_check(PERSON, collisions(PERSON, [hostile], lambda o, t: lots)).annotations)
        == 50
    )
    assert "@admin" not in check.summary and "<b>" not in check.summary


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True)


def test_git_names_the_conflicting_lines_of_our_side(tmp_path: Path):
    _git(tmp_path, "init", "-q", "-b", "main")
    _git(tmp_path, "config", "user.name", "t")
    _git(tmp_path, "config", "user.email", "t@e")
    lines = [f"line {n}" for n in range(1, 21)]

    def commit(branch: str, changes: dict[int, str]) -> None:
        _git(tmp_path, "checkout", "-q", "-B", branch, "main")
        text = [changes.get(n, line) for n, line in enumerate(lines, start=1)]
        (tmp_path / "a.txt").write_text("\n".join(text) + "\n")
        _git(tmp_path, "commit", "-qam", branch)

    (tmp_path / "a.txt").write_text("\n".join(lines) + "\n")
    _git(tmp_path, "add", ".")
    _git(tmp_path, "commit", "-qm", "base")
    commit("ours", {5: "five", 6: "six"})
    commit("theirs", {6: "SIX", 7: "SEVEN"})
    commit("far", {18: "eighteen"})
    repo = GitRepo(tmp_path)
    assert repo.conflict_lines("ours", "theirs") == {"a.txt": ((5, 6),)}
    assert repo.conflict_lines("theirs", "ours") == {"a.txt": ((6, 7),)}
    assert repo.conflict_lines("ours", "far") == {}
    assert repo.conflict_lines("ours", "no-such-branch") is None
    assert repo.changed_since_fork("main", "far") == ("a.txt",)


def test_pull_request_heads_are_fetched_in_one_go_and_checked_against_the_api(tmp_path: Path):
    from bot.forge.base import PullInfo
    from bot.github_bot.pull_checks import PullGit

    remote = tmp_path / "remote"
    _git(tmp_path, "init", "-q", "-b", "main", str(remote))
    for key, value in (("user.name", "t"), ("user.email", "t@e")):
        _git(remote, "config", key, value)
    (remote / "a.txt").write_text("a\n")
    _git(remote, "add", ".")
    _git(remote, "commit", "-qm", "base")
    _git(remote, "checkout", "-qb", "feature")
    (remote / "a.txt").write_text("b\n")
    _git(remote, "commit", "-qam", "feature")
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=remote, capture_output=True,
                          text=True, check=True).stdout.strip()  # fmt: skip
    _git(tmp_path, "clone", "-q", "--branch", "main", str(remote), str(tmp_path / "checkout"))
    git = PullGit(GitRepo(tmp_path / "checkout"), {})
    current = PullInfo(number=3, head="feature", head_sha=head)
    moved = PullInfo(number=4, head="feature", head_sha="0" * 40)  # pushed again since
    base, fetched = git.fetch("main", [current, moved])
    assert base is not None and fetched == {3}
    assert git.changed(base, head) == frozenset({"a.txt"})
    fork = PullInfo(number=5, head="feature", head_sha=head, fork=True)
    assert git.fetch("main", [fork]) == (None, set())  # no refs/pull/5/head here: no verdicts
