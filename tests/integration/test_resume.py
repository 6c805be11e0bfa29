"""Kill `orchestrate run` with SIGKILL mid-way, run it again: it finishes, nothing duplicated."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import psutil

from bot.models import TaskStatus
from tests.localrepo import (
    cli,
    landed_tasks,
    make_patch,
    make_repo,
    patch_agent,
    states,
    write_tasks,
)


def agents_alive(marker: str) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        if any(marker in part for part in proc.info["cmdline"] or ()):
            found.append(proc)
    return found


def test_sigkill_mid_run_then_resume(tmp_path, capsys):
    agent = patch_agent(tmp_path)
    repo = make_repo(
        tmp_path,
        {f"f{n}.txt": f"{n}\n" for n in range(1, 7)},
        {"max_parallel": 2, "agent": {"command": agent}},
    )
    tasks = {}
    for n in range(1, 7):
        patch = make_patch(tmp_path, f"{n}.diff", f"f{n}.txt", str(n), f"{n} done")
        tasks[f"{n}-t.md"] = f"---\nfiles: [f{n}.txt]\n---\nSleep: 0.8\nPatch: {patch}\n"
    tasks_dir = write_tasks(tmp_path / "tasks", tasks)
    log = (tmp_path / "first-run.log").open("w")
    first = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "run", "--repo", str(repo), "--tasks", str(tasks_dir)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    db = repo / ".orchestrate" / "state.db"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if db.exists():
            seen = {s.status for s in states(repo).values()}
            if TaskStatus.MERGED in seen and TaskStatus.RUNNING in seen:
                break
        time.sleep(0.05)
    else:
        raise AssertionError("the first run never had a task merged and another running")
    os.kill(first.pid, signal.SIGKILL)
    first.wait()
    merged_before = landed_tasks(repo)
    assert 1 <= len(merged_before) < 6

    code, out, err = cli(capsys, "run", "--repo", str(repo), "--tasks", str(tasks_dir))

    assert code == 0, out + err
    final = states(repo)
    assert all(s.status is TaskStatus.MERGED for s in final.values())
    landed = landed_tasks(repo)
    assert sorted(landed) == [str(n) for n in range(1, 7)]  # each exactly once
    assert landed[: len(merged_before)] == merged_before
    assert "interrupted" in out
    assert not agents_alive(str(tmp_path / "patch_agent.py"))


def test_timeout_kills_the_whole_process_tree(tmp_path, capsys):
    marker = f"orchestrate-test-{os.getpid()}-{time.monotonic_ns()}"
    script = tmp_path / "hang.py"
    script.write_text(
        "import subprocess, sys, time\n"
        f"subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)', '{marker}'])\n"
        "print('working', flush=True)\n"
        "time.sleep(60)\n"
    )
    repo = make_repo(
        tmp_path,
        {"a.txt": "a\n"},
        {"agent": {"command": f"{sys.executable} {script} {marker}", "timeout": "1s"}},
    )
    tasks = write_tasks(tmp_path / "tasks", {"1-hang.md": "---\nfiles: [a.txt]\n---\nHang.\n"})

    code, _, _ = cli(capsys, "run", "--repo", str(repo), "--tasks", str(tasks))

    assert code == 1
    final = states(repo)["1"]
    assert final.status is TaskStatus.FAILED
    assert "timed out" in final.detail
    assert "working" in final.log_tail
    assert not agents_alive(marker)


def test_the_base_is_the_truth_when_the_state_is_lost(tmp_path, capsys):
    """`git clean -xfd` took .orchestrate/ away: the next run finds each landed change on main
    by its trailers and does not apply it twice."""
    import shutil

    from bot.models import TaskStatus
    from tests.localrepo import cli, git, make_patch, make_repo, patch_agent, states, write_tasks

    repo = make_repo(tmp_path, {"a.txt": "a\n"}, {"agent": {"command": patch_agent(tmp_path)}})
    patch = make_patch(tmp_path, "1.diff", "a.txt", "a", "b")
    tasks = write_tasks(
        tmp_path / "tasks", {"1-a.md": f"---\nfiles: [a.txt]\n---\nPatch: {patch}\n"}
    )
    assert cli(capsys, "run", "--repo", str(repo), "--tasks", str(tasks))[0] == 0
    head = git(repo, "rev-parse", "main")
    assert "Orchestrate-Task: 1" in git(repo, "log", "-1", "--format=%B", "main")
    shutil.rmtree(repo / ".orchestrate")
    code, out, err = cli(capsys, "run", "--repo", str(repo), "--tasks", str(tasks))
    assert code == 0, out + err
    assert git(repo, "rev-parse", "main") == head  # nothing landed twice
    state = states(repo)["1"]
    assert state.status is TaskStatus.MERGED and "already on main" in state.detail


def test_a_run_killed_while_the_checked_out_base_moves_is_finished_by_the_next(tmp_path, capsys):
    """The ref moved (compare-and-swap) but the kill came before the files followed, leaving
    git's index lock behind: the next run does not blame the user for 'uncommitted changes'; it
    brings the files to the new commit itself, and main's content is exactly the landing's."""
    import json

    from tests.localrepo import cli, git, make_patch, make_repo, patch_agent, write_tasks

    repo = make_repo(
        tmp_path, {"a.txt": "a\n", "gone.txt": "x\n"}, {"agent": {"command": patch_agent(tmp_path)}}
    )
    old = git(repo, "rev-parse", "main")
    git(repo, "checkout", "-q", "-b", "landing")
    (repo / "a.txt").write_text("landed\n")
    git(repo, "rm", "-q", "gone.txt")
    git(repo, "commit", "-qam", "the landing")
    new = git(repo, "rev-parse", "HEAD")
    git(repo, "checkout", "-q", "main")
    # what a kill right after the compare-and-swap leaves: the note, the moved ref, old files
    (repo / ".orchestrate").mkdir(exist_ok=True)
    note = {"base": "main", "old": old, "new": new}
    (repo / ".orchestrate" / "checkout-pending.json").write_text(json.dumps(note))
    git(repo, "update-ref", "refs/heads/main", new, old)
    (repo / ".git" / "index.lock").write_text("")
    patch = make_patch(tmp_path, "1.diff", "b.txt", "", "b")
    tasks = write_tasks(
        tmp_path / "tasks", {"1-b.md": f"---\nfiles: [b.txt]\n---\nPatch: {patch}\n"}
    )
    code, out, err = cli(capsys, "run", "--repo", str(repo), "--tasks", str(tasks))
    assert code == 0, out + err
    assert "finished updating the files of main" in err
    assert git(repo, "status", "--porcelain") == ""
    assert (repo / "a.txt").read_text() == "landed\n" and not (repo / "gone.txt").exists()
    assert (repo / "b.txt").read_text() == "b\n"
    assert not (repo / ".orchestrate" / "checkout-pending.json").exists()
