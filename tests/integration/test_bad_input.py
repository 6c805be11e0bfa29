"""Bad input ends in one line naming the problem, exit code 2, and no state lost."""

from __future__ import annotations

import pytest

from bot.models import TaskStatus
from tests.localrepo import cli, git, make_patch, make_repo, patch_agent, states, write_tasks


@pytest.fixture
def finished(tmp_path, capsys):
    """A repository where one task has already run, so there is state to lose."""
    repo = make_repo(tmp_path, {"a.txt": "a\n"}, {"agent": {"command": patch_agent(tmp_path)}})
    patch = make_patch(tmp_path, "1.diff", "a.txt", "a", "b")
    tasks = write_tasks(
        tmp_path / "tasks", {"1-one.md": f"---\nfiles: [a.txt]\n---\nPatch: {patch}\n"}
    )
    assert cli(capsys, "run", "--repo", str(repo), "--tasks", str(tasks))[0] == 0
    return repo, tasks


def _break_front_matter(repo, tasks):
    (tasks / "2-bad.md").write_text("---\ntitle: [unclosed\n---\nbody\n")
    return "front matter"


def _unknown_dependency(repo, tasks):
    (tasks / "2-needs.md").write_text("---\ndepends_on: [42]\n---\nbody\n")
    return "task 2 depends on unknown task 42"


def _cycle(repo, tasks):
    (tasks / "2-x.md").write_text("---\ndepends_on: [3]\n---\nx\n")
    (tasks / "3-y.md").write_text("---\ndepends_on: [2]\n---\ny\n")
    return "dependency cycle: 2 -> 3 -> 2"


def _dirty(repo, tasks):
    (repo / "a.txt").write_text("edited by hand\n")
    return "uncommitted changes on main (a.txt)"


def _agent_missing(repo, tasks):
    (tasks / "2-other.md").write_text("---\nagent: {command: no-such-agent-xyz}\n---\nx\n")
    return "agent command not found: 'no-such-agent-xyz'"


def _bad_config(repo, tasks):
    (repo / ".github" / "orchestrate.yml").write_text("max_parallel: 0\n")
    git(repo, "commit", "-qam", "bad config")
    return "orchestrate.yml: max_parallel: Input should be greater than or equal to 1"


def _bad_file_name(repo, tasks):
    (tasks / "notes.md").write_text("hello\n")
    return "file name must look like <id>-<slug>.md"


@pytest.mark.parametrize(
    "breaks",
    [
        _break_front_matter,
        _unknown_dependency,
        _cycle,
        _dirty,
        _agent_missing,
        _bad_config,
        _bad_file_name,
    ],
)
def test_bad_input_is_one_line_and_loses_nothing(finished, capsys, breaks):
    repo, tasks = finished
    before = states(repo)
    head = git(repo, "rev-parse", "main")
    expected = breaks(repo, tasks)
    head = git(repo, "rev-parse", "main")

    code, out, err = cli(capsys, "run", "--repo", str(repo), "--tasks", str(tasks))

    assert code == 2
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("orchestrate: error: ")
    assert expected in lines[0]
    assert states(repo) == before
    assert git(repo, "rev-parse", "main") == head


def test_missing_repo(tmp_path, capsys):
    code, _, err = cli(
        capsys, "plan", "--repo", str(tmp_path / "nowhere"), "--tasks", str(tmp_path)
    )
    assert code == 2
    assert err.strip() == f"orchestrate: error: {tmp_path / 'nowhere'}: no such directory"


def test_not_a_repository(tmp_path, capsys):
    code, _, err = cli(capsys, "plan", "--repo", str(tmp_path), "--tasks", str(tmp_path))
    assert code == 2
    assert "not a git repository" in err


def test_missing_tasks_folder(tmp_path, capsys):
    repo = make_repo(tmp_path, {"a.txt": "a\n"})
    code, _, err = cli(capsys, "plan", "--repo", str(repo), "--tasks", str(tmp_path / "none"))
    assert code == 2
    assert "no such tasks directory" in err


def test_status_before_any_run(tmp_path, capsys):
    repo = make_repo(tmp_path, {"a.txt": "a\n"})
    code, _, err = cli(capsys, "status", "--repo", str(repo))
    assert code == 2
    assert "nothing has run here yet" in err


@pytest.mark.parametrize("name", ["2-fix.lock.md", "1-a..b.md"])
def test_a_task_name_git_refuses_as_a_branch_is_a_one_line_error(tmp_path, capsys, name):
    repo = make_repo(tmp_path, {"a.txt": "a\n"})
    tasks = write_tasks(tmp_path / "tasks", {name: "---\nfiles: [a.txt]\n---\nChange a.txt\n"})
    for verb in ("plan", "run"):
        code, out, err = cli(capsys, verb, "--repo", str(repo), "--tasks", str(tasks))
        assert code == 2, out + err
        assert "which git refuses; rename the file" in err and err.count("\n") == 1
        assert "Traceback" not in err
    assert not (repo / ".orchestrate" / "state.db").exists()  # nothing was started


@pytest.mark.parametrize("damage", ["garbage", "hand-edited"])
def test_a_damaged_state_file_is_a_one_line_error_with_the_way_out(tmp_path, capsys, damage):
    import sqlite3

    repo = make_repo(tmp_path, {"a.txt": "a\n"}, {"agent": {"command": patch_agent(tmp_path)}})
    patch = make_patch(tmp_path, "1.diff", "a.txt", "a", "b")
    tasks = write_tasks(
        tmp_path / "tasks", {"1-a.md": f"---\nfiles: [a.txt]\n---\nPatch: {patch}\n"}
    )
    assert cli(capsys, "run", "--repo", str(repo), "--tasks", str(tasks))[0] == 0
    db = repo / ".orchestrate" / "state.db"
    if damage == "garbage":
        for extra in db.parent.glob("state.db-*"):
            extra.unlink()
        db.write_bytes(b"not a database at all" * 100)
    else:
        with sqlite3.connect(db) as connection:
            connection.execute('UPDATE tasks SET state = \'{"id": 1, "status": "??"\'')
    for verb in ("status", "run"):
        code, out, err = cli(capsys, verb, "--repo", str(repo), "--tasks", str(tasks))
        assert code == 2, out + err
        assert err.count("\n") == 1 and "Traceback" not in err
        assert "not a state orchestrate can read" in err and "move it aside" in err


def test_special_files_and_undecodable_config_are_one_line_errors(tmp_path, capsys):
    import os

    repo = make_repo(tmp_path, {"a.txt": "a\n"})
    tasks = write_tasks(tmp_path / "tasks", {"1-a.md": "---\nfiles: [a.txt]\n---\nChange a\n"})
    os.mkfifo(tasks / "2-pipe.md")  # reading it would wait for a writer forever
    code, _, err = cli(capsys, "plan", "--repo", str(repo), "--tasks", str(tasks))
    assert code == 2 and "2-pipe.md: not a regular file" in err and err.count("\n") == 1
    (tasks / "2-pipe.md").unlink()
    (repo / ".github").mkdir(exist_ok=True)
    (repo / ".github/orchestrate.yml").write_bytes(b"base: m\xe4in\n")
    code, _, err = cli(capsys, "plan", "--repo", str(repo), "--tasks", str(tasks))
    assert code == 2 and "not UTF-8 text (byte 7); save it as UTF-8" in err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_an_agent_that_cannot_start_mid_run_fails_its_task_and_the_run_goes_on(tmp_path, capsys):
    repo = make_repo(
        tmp_path, {"a.txt": "a\n", "b.txt": "b\n"}, {"agent": {"command": patch_agent(tmp_path)}}
    )
    tool = repo / "tool.sh"
    tool.write_text("#!/bin/sh\nexit 0\n")  # present, so the preflight passes, but not executable
    git(repo, "add", "tool.sh")
    git(repo, "commit", "-qm", "tool")
    patch = make_patch(tmp_path, "1.diff", "a.txt", "a", "z")
    tasks = write_tasks(
        tmp_path / "tasks",
        {
            "1-a.md": f"---\nfiles: [a.txt]\n---\nPatch: {patch}\n",
            "2-b.md": f"---\nfiles: [b.txt]\nagent: {{command: {tool}}}\n---\nChange b\n",
        },
    )
    code, out, err = cli(capsys, "run", "--repo", str(repo), "--tasks", str(tasks))
    assert code == 1, out + err
    final = states(repo)
    assert final["1"].status is TaskStatus.MERGED
    assert final["2"].status is TaskStatus.FAILED
    assert "the agent could not start: agent command is not executable" in final["2"].detail


def test_a_reused_id_with_new_words_is_new_work(tmp_path, capsys):
    repo = make_repo(tmp_path, {"a.txt": "a\n"}, {"agent": {"command": patch_agent(tmp_path)}})
    first = make_patch(tmp_path, "1.diff", "a.txt", "a", "b")
    tasks = write_tasks(
        tmp_path / "tasks", {"1-a.md": f"---\nfiles: [a.txt]\n---\nPatch: {first}\n"}
    )
    assert cli(capsys, "run", "--repo", str(repo), "--tasks", str(tasks))[0] == 0
    assert cli(capsys, "run", "--repo", str(repo), "--tasks", str(tasks))[0] == 0  # no change
    assert (repo / "a.txt").read_text() == "b\n"
    second = make_patch(tmp_path, "2.diff", "a.txt", "b", "c")
    write_tasks(tmp_path / "tasks", {"1-a.md": f"---\nfiles: [a.txt]\n---\nPatch: {second}\n"})
    code, out, err = cli(capsys, "run", "--repo", str(repo), "--tasks", str(tasks))
    assert code == 0, out + err
    assert (repo / "a.txt").read_text() == "c\n"
    assert states(repo)["1"].status is TaskStatus.MERGED


def test_a_second_run_while_one_is_active_is_refused(finished, capsys):
    """Another `orchestrate run` holds the run lock: refused at once, nothing changed."""
    import fcntl

    repo, tasks = finished
    before = (git(repo, "rev-parse", "main"), states(repo))
    with (repo / ".orchestrate" / "lock").open("w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        code, out, err = cli(capsys, "run", "--repo", str(repo), "--tasks", str(tasks))
    assert code == 2, out + err
    active = f"another orchestrate run is active in {repo}; wait for it to finish"
    assert err == f"orchestrate: error: {active}\n"
    assert (git(repo, "rev-parse", "main"), states(repo)) == before


def test_a_state_file_another_process_keeps_locked_is_a_one_line_error(
    finished, capsys, monkeypatch
):
    """Something (a `sqlite3` shell, say) holds the state file's write lock: after the wait,
    one line that says so and what to do; the state is unchanged once the lock goes."""
    import sqlite3

    from bot.local import store

    repo, tasks = finished
    before = states(repo)
    monkeypatch.setattr(store, "BUSY_SECONDS", 0.2)
    other = sqlite3.connect(repo / ".orchestrate" / "state.db", isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    try:
        code, out, err = cli(capsys, "run", "--repo", str(repo), "--tasks", str(tasks))
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert code == 2, out + err
    [line] = err.splitlines()
    assert line.startswith(f"orchestrate: error: {repo}/.orchestrate/state.db: locked by another")
    assert line.endswith("wait for it, or end it") and "over 0.2s" in line
    assert states(repo) == before
