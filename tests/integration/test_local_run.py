"""`orchestrate run` end to end on real git repositories, with an agent written here."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from bot.models import TaskStatus
from tests.localrepo import (
    cli,
    git,
    landed_tasks,
    make_patch,
    make_repo,
    patch_agent,
    states,
    write_tasks,
)


def script_agent(root, name: str, *lines: str) -> str:
    """An agent written for one test: lines of Python run in the task's worktree, with
    `os`, `pathlib` and `time` imported and `tid` the task's id; its command."""
    script = root / f"{name}.py"
    head = "import os, pathlib, time\ntid = os.environ['ORCHESTRATE_TASK_ID']\n"
    script.write_text(head + "\n".join(lines) + "\n")
    return f"{sys.executable} {script}"


def eight_tasks(tmp_path, method: str = "rebase"):
    """Six independent tasks and two (7, 8) whose footprints look apart but whose patches
    both rewrite shared.txt: a real conflict the predictor cannot see."""
    files = {f"mod{n}.txt": f"module {n}\n" for n in range(1, 9)} | {"shared.txt": "shared\n"}
    repo = make_repo(
        tmp_path,
        files,
        {
            "max_parallel": 4,
            "agent": {"command": patch_agent(tmp_path)},
            "merge": {"method": method, "conflict_redos": 0},
        },
    )
    tasks = {}
    for n in range(1, 9):
        patch = make_patch(tmp_path, f"{n}.diff", f"mod{n}.txt", f"module {n}", f"module {n} done")
        if n >= 7:
            extra = make_patch(tmp_path, f"{n}s.diff", "shared.txt", "shared", f"shared by {n}")
            patch.write_text(patch.read_text() + extra.read_text())
        tasks[f"{n}-task-{n}.md"] = f"""
            ---
            files: [mod{n}.txt]
            ---
            Finish module {n}.

            Patch: {patch}
            """
    return repo, write_tasks(tmp_path / "tasks", tasks)


def test_eight_tasks_land_once_each_in_plan_order_and_the_real_conflict_is_reported(
    tmp_path, capsys
):
    repo, tasks = eight_tasks(tmp_path)
    code, out, err = cli(capsys, "plan", "--repo", str(repo), "--tasks", str(tasks), "--json")
    assert code == 0, err
    merge_order = json.loads(out)["merge_order"]

    code, out, err = cli(capsys, "run", "--repo", str(repo), "--tasks", str(tasks))

    assert code == 1  # one task did not land
    final = states(repo)
    conflicted = [tid for tid, s in final.items() if s.status is TaskStatus.CONFLICT]
    assert len(conflicted) == 1 and conflicted[0] in {"7", "8"}
    assert "shared.txt" in final[conflicted[0]].detail
    assert final[conflicted[0]].files == () or "shared.txt" in final[conflicted[0]].files
    merged = [tid for tid in merge_order if tid not in conflicted]
    assert all(final[tid].status is TaskStatus.MERGED for tid in merged)
    # every merged task is on main exactly once, in the plan's merge order
    assert landed_tasks(repo) == merged
    # nothing lost: the conflicting work is still on its branch, the main tree is clean
    branch = final[conflicted[0]].branch
    assert "done" in git(repo, "show", f"{branch}:mod{conflicted[0]}.txt")
    assert git(repo, "status", "--porcelain") == ""
    for n in merged:
        assert (repo / f"mod{n}.txt").read_text() == f"module {n} done\n"
    assert "conflict" in out and "shared.txt" in out


def test_a_shallow_clone_lands_its_tasks(tmp_path, capsys):
    """The user's repository is a shallow clone (CI checkouts often are): task checkouts carry
    its bounds, so the queue's rebases onto a moved base work there too."""
    (tmp_path / "source").mkdir()
    source, tasks = eight_tasks(tmp_path / "source")
    for n in (1, 2):  # some history below the clone's single commit
        git(source, "commit", "-q", "--allow-empty", "-m", f"older {n}")
    repo = tmp_path / "shallow"
    subprocess.run(
        ["git", "clone", "-q", "--depth", "1", f"file://{source}", str(repo)], check=True
    )
    for key, value in (("user.name", "Test"), ("user.email", "test@example.com")):
        git(repo, "config", key, value)
    assert git(repo, "rev-parse", "--is-shallow-repository") == "true"
    code, out, err = cli(capsys, "run", "--repo", str(repo), "--tasks", str(tasks))
    assert code == 1, out + err  # 7 and 8 really conflict; conflict_redos is 0 here
    assert len(landed_tasks(repo)) == 7


@pytest.mark.parametrize("method", ["squash", "merge"])
def test_merge_methods(tmp_path, capsys, method):
    repo, tasks = eight_tasks(tmp_path, method)
    code, _, err = cli(capsys, "run", "--repo", str(repo), "--tasks", str(tasks))
    assert code == 1, err
    landed = landed_tasks(repo)
    assert len(landed) == len(set(landed)) == 7
    if method == "merge":
        assert len(git(repo, "log", "--merges", "--format=%H").splitlines()) == 7
    else:
        assert git(repo, "log", "--merges", "--format=%H") == ""


def test_second_run_changes_nothing(tmp_path, capsys):
    repo, tasks = eight_tasks(tmp_path)
    cli(capsys, "run", "--repo", str(repo), "--tasks", str(tasks))
    head = git(repo, "rev-parse", "main")
    before = {tid: s.status for tid, s in states(repo).items()}

    code, _, _ = cli(capsys, "run", "--repo", str(repo), "--tasks", str(tasks))

    assert code == 1
    assert git(repo, "rev-parse", "main") == head
    assert {tid: s.status for tid, s in states(repo).items()} == before


def test_base_not_checked_out_is_moved_by_compare_and_swap(tmp_path, capsys):
    repo, tasks = eight_tasks(tmp_path)
    git(repo, "checkout", "-q", "-b", "elsewhere")
    code, _, err = cli(capsys, "run", "--repo", str(repo), "--tasks", str(tasks))
    assert code == 1, err
    assert len(landed_tasks(repo, "main")) == 7
    assert git(repo, "rev-parse", "--abbrev-ref", "HEAD") == "elsewhere"
    assert (repo / "mod1.txt").read_text() == "module 1\n"  # the checkout was not touched


def test_dependent_task_starts_from_the_base_with_its_dependency_merged(tmp_path, capsys):
    repo = make_repo(
        tmp_path,
        {"a.txt": "a\n", "b.txt": "b\n"},
        {"agent": {"command": patch_agent(tmp_path)}},
    )
    first = make_patch(tmp_path, "1.diff", "a.txt", "a", "a changed")
    # the second patch only applies on top of the first: it needs task 1 merged
    second = make_patch(tmp_path, "2.diff", "a.txt", "a changed", "a changed twice")
    tasks = write_tasks(
        tmp_path / "tasks",
        {
            "1-first.md": f"---\nfiles: [a.txt]\n---\nPatch: {first}\n",
            "2-second.md": f"---\ndepends_on: [1]\nfiles: [b.txt]\n---\nPatch: {second}\n",
        },
    )
    code, _, err = cli(capsys, "run", "--repo", str(repo), "--tasks", str(tasks))
    assert code == 0, err
    assert (repo / "a.txt").read_text() == "a changed twice\n"
    assert landed_tasks(repo) == ["1", "2"]


def test_failed_dependency_blocks_its_dependents_and_keeps_the_log(tmp_path, capsys):
    repo = make_repo(
        tmp_path, {"a.txt": "a\n"}, {"agent": {"command": patch_agent(tmp_path), "retries": 0}}
    )
    tasks = write_tasks(
        tmp_path / "tasks",
        {
            "1-broken.md": "---\nfiles: [a.txt]\n---\nFail\n",
            "2-after.md": "---\ndepends_on: [1]\nfiles: [b.txt]\n---\nNothing.\n",
        },
    )
    code, out, _ = cli(capsys, "run", "--repo", str(repo), "--tasks", str(tasks))
    final = states(repo)
    assert code == 1
    assert final["1"].status is TaskStatus.FAILED
    assert "exited with code 3" in final["1"].detail
    assert "giving up" in final["1"].log_tail
    assert final["2"].status is TaskStatus.BLOCKED
    assert "dependency 1" in final["2"].detail
    assert "1 blocked, 1 failed" in out


def test_agent_without_changes_is_a_noop(tmp_path, capsys):
    repo = make_repo(tmp_path, {"a.txt": "a\n"}, {"agent": {"command": patch_agent(tmp_path)}})
    tasks = write_tasks(tmp_path / "tasks", {"1-nothing.md": "---\nfiles: [a.txt]\n---\nHi\n"})
    code, _, _ = cli(capsys, "run", "--repo", str(repo), "--tasks", str(tasks))
    assert code == 0
    assert states(repo)["1"].status is TaskStatus.NOOP
    assert git(repo, "branch", "--list", "orchestrate/*") == ""


def test_red_tests_never_merge(tmp_path, capsys):
    repo = make_repo(
        tmp_path,
        {"a.txt": "a\n"},
        {
            "agent": {"command": patch_agent(tmp_path)},
            "merge": {"test_command": "grep -q ok a.txt"},
        },
    )
    good = make_patch(tmp_path, "good.diff", "a.txt", "a", "ok")
    tasks = write_tasks(
        tmp_path / "tasks",
        {"1-good.md": f"---\nfiles: [a.txt]\n---\nPatch: {good}\n"},
    )
    assert cli(capsys, "run", "--repo", str(repo), "--tasks", str(tasks))[0] == 0
    bad = make_patch(tmp_path, "bad.diff", "a.txt", "ok", "bad")
    write_tasks(tasks, {"2-bad.md": f"---\nfiles: [a.txt]\n---\nPatch: {bad}\n"})
    head = git(repo, "rev-parse", "main")

    code, _, _ = cli(capsys, "run", "--repo", str(repo), "--tasks", str(tasks))

    assert code == 1
    assert states(repo)["2"].status is TaskStatus.FAILED
    assert "tests exited 1" in states(repo)["2"].detail
    assert git(repo, "rev-parse", "main") == head


def test_a_conflicting_task_is_redone_on_the_new_base_after_the_others(tmp_path, capsys):
    """Two tasks append to the same file without predicting it: the second conflicts at
    merge time, goes to the back of the queue, is redone on the new base, and lands."""
    agent = script_agent(
        tmp_path,
        "append_agent",
        "note = pathlib.Path('notes.txt')",
        "note.write_text(note.read_text() + f'line from {tid}\\n')",
        "pathlib.Path(f'own{tid}.txt').write_text('x\\n')",
    )
    repo = make_repo(
        tmp_path,
        {"notes.txt": "notes\n"},
        {"agent": {"command": agent}, "merge": {"conflict_redos": 1}},
    )
    tasks = write_tasks(
        tmp_path / "tasks",
        {
            "1-one.md": "---\nfiles: [own1.txt]\n---\n",
            "2-two.md": "---\nfiles: [own2.txt]\n---\n",
            "3-three.md": "---\nfiles: [own3.txt]\n---\n",
        },
    )
    code, out, err = cli(capsys, "run", "--repo", str(repo), "--tasks", str(tasks))
    assert code == 0, out + err
    final = states(repo)
    assert all(s.status is TaskStatus.MERGED for s in final.values())
    redone = [tid for tid, s in final.items() if s.redos]
    assert redone and all(final[t].conflict_files == ("notes.txt",) for t in redone)
    assert landed_tasks(repo)[-len(redone) :] == sorted(redone)  # redone ones land last
    lines = (repo / "notes.txt").read_text().splitlines()
    assert sorted(lines[1:]) == ["line from 1", "line from 2", "line from 3"]
    assert "redo 1 of 1 on the new main, after the others" in out
    prompt = (
        repo
        / ".orchestrate"
        / "runs"
        / f"{redone[0]}-{final[redone[0]].branch.split('-', 1)[1]}"
        / "prompt.md"
    )
    assert "the last one conflicted" in prompt.read_text()


def test_changelog_edits_merge_as_a_union(tmp_path, capsys):
    """Every task appends to CHANGES.md; the plan does not serialize them for it, and the
    merge queue keeps every entry instead of reporting a conflict."""
    agent = script_agent(
        tmp_path,
        "changelog_agent",
        "log = pathlib.Path('CHANGES.md')",
        "log.write_text(log.read_text() + f'- change {tid}\\n')",
        "pathlib.Path(f'mod{tid}.py').write_text('x = 1\\n')",
    )
    repo = make_repo(
        tmp_path,
        {"CHANGES.md": "# Changes\n"},
        {"agent": {"command": agent}, "merge": {"conflict_redos": 0}},
    )
    tasks = write_tasks(
        tmp_path / "tasks",
        {f"{n}-t.md": f"---\nfiles: [mod{n}.py, CHANGES.md]\n---\n" for n in (1, 2, 3)},
    )
    code, out, err = cli(capsys, "plan", "--repo", str(repo), "--tasks", str(tasks), "--json")
    assert json.loads(out)["conflicts"] == []

    code, out, err = cli(capsys, "run", "--repo", str(repo), "--tasks", str(tasks))

    assert code == 0, out + err
    entries = (repo / "CHANGES.md").read_text().splitlines()[1:]
    assert sorted(entries) == ["- change 1", "- change 2", "- change 3"]
    assert git(repo, "status", "--porcelain") == ""


def test_a_changelog_line_two_tasks_rewrite_is_a_conflict_not_a_union(tmp_path, capsys):
    """A union of both sides is right for entries both add, wrong for a line both rewrite
    (it would keep both versions). Two tasks rename the same heading: the second one's rebase
    conflicts and, with no redo left, it does not land; CHANGES.md keeps one heading."""
    agent = script_agent(
        tmp_path,
        "release_agent",
        "log = pathlib.Path('CHANGES.md')",
        "log.write_text(log.read_text().replace('## Unreleased', f'## Release {tid}'))",
        "pathlib.Path(f'mod{tid}.py').write_text('x = 1\\n')",
    )
    repo = make_repo(
        tmp_path,
        {"CHANGES.md": "# Changes\n\n## Unreleased\n\n- an entry\n"},
        {"agent": {"command": agent}, "merge": {"conflict_redos": 0}},
    )
    tasks = write_tasks(
        tmp_path / "tasks",
        {f"{n}-t.md": f"---\nfiles: [mod{n}.py, CHANGES.md]\n---\n" for n in (1, 2)},
    )
    _, out, err = cli(capsys, "run", "--repo", str(repo), "--tasks", str(tasks))
    final = states(repo)
    assert sorted(s.status.value for s in final.values()) == ["conflict", "merged"], out + err
    headings = [line for line in (repo / "CHANGES.md").read_text().splitlines() if "##" in line]
    assert len(headings) == 1 and headings[0].startswith("## Release ")
    conflicted = next(s for s in final.values() if s.status is TaskStatus.CONFLICT)
    assert conflicted.conflict_files == ("CHANGES.md",)


def test_agents_whose_work_in_progress_conflicts_are_stopped_early(tmp_path, capsys):
    """Two agents rewrite the same line without predicting it. Their work in progress is
    test-merged on each heartbeat: the later one is stopped as soon as both have written,
    not after its whole run, then redone once the earlier one has landed."""
    agent = script_agent(
        tmp_path,
        "rewrite_agent",
        "pathlib.Path('notes.txt').write_text(f'line from {tid}\\n')",
        "pathlib.Path(f'own{tid}.txt').write_text('x\\n')",
        "time.sleep(2.5)",
    )
    repo = make_repo(
        tmp_path,
        {"notes.txt": "notes\n"},
        {
            "agent": {"command": agent, "heartbeat": "0.2s"},
            "merge": {"conflict_redos": 1},
        },
    )
    tasks = write_tasks(
        tmp_path / "tasks",
        {"1-one.md": "---\nfiles: [own1.txt]\n---\n", "2-two.md": "---\nfiles: [own2.txt]\n---\n"},
    )
    code, out, err = cli(capsys, "run", "--repo", str(repo), "--tasks", str(tasks))
    assert code == 0, out + err
    final = states(repo)
    assert [final[t].status for t in ("1", "2")] == [TaskStatus.MERGED, TaskStatus.MERGED]
    assert (final["1"].redos, final["2"].redos) == (0, 1)
    assert "its work in progress conflicts with 1's, which lands first in notes.txt" in out
    assert final["2"].agent_seconds < 2.0  # its first run was cut short, not run to the end
    assert landed_tasks(repo) == ["1", "2"]
    assert (repo / "notes.txt").read_text() == "line from 2\n"
