"""The demo, and the plan / status / merge verbs as a user sees them."""

from __future__ import annotations

import json

from bot.models import TaskStatus
from tests.localrepo import cli, git, make_patch, make_repo, patch_agent, states, write_tasks


def test_demo_runs_the_whole_pipeline_as_designed(capsys):
    code, out, err = cli(capsys, "demo", "--delay", "0.2")
    assert code == 0, out + err
    assert "Plan" in out and "merge order" in out
    assert "tests exited 1 on the result rebased onto main: not merged" in out
    assert "8 merged" in out and "1 failed" in out
    assert "as designed" in out
    assert "done in" in out and "one by one" in out and "redos after conflicts" in out
    assert "*   " in out  # the merge graph of main


def test_plan_json_contract(tmp_path, capsys):
    repo = make_repo(tmp_path, {"src/a.py": "", "src/b.py": ""})
    tasks = write_tasks(
        tmp_path / "tasks",
        {
            "1-a.md": "Change src/a.py",
            "2-b.md": "---\ndepends_on: [1]\n---\nChange src/b.py and src/a.py",
            "3-c.md": "No files named at all",
        },
    )
    code, out, _ = cli(capsys, "plan", "--repo", str(repo), "--tasks", str(tasks), "--json")
    assert code == 0
    plan = json.loads(out)
    by_id = {t["id"]: t for t in plan["tasks"]}
    assert "src/a.py" in by_id["1"]["footprint"]["files"]
    assert by_id["3"]["footprint"]["unknown"] is True
    assert {"before": "1", "after": "2"}.items() <= plan["dependencies"][0].items()
    # both name src/a.py (0.9 each): a conflict risk of 0.81 x 30%, below 25%: side by side
    [pair] = plan["side_by_side"]
    assert ({pair["a"], pair["b"]}, pair["share"], pair["weight"]) == ({"1", "2"}, 0.81, 0.243)
    assert all("3" in (c["a"], c["b"]) for c in plan["conflicts"])  # 3 runs alone
    assert plan["merge_order"].index("1") < plan["merge_order"].index("2")
    assert set(plan["estimate"]) >= {"makespan", "lower_bound", "sequential"}
    assert plan["waves"] and plan["critical_path"]
    assert plan["base"]["branch"] == "main"
    assert plan["conflict_threshold"]["value"] == 0.25  # auto: 1 / plan.redo_cost
    assert "kept apart from a conflict risk of 25%" in plan["conflict_threshold"]["why"]
    # a new repository: no past changes shared a file, so the default rate stands
    assert plan["conflict_rate"] == {"base": 0.3, "past_pairs": 0, "past_conflicts": 0}
    # nothing was written by planning
    assert not (repo / ".orchestrate" / "state.db").exists()


def test_a_piped_plan_is_wide_enough_to_read(tmp_path, capsys, monkeypatch):
    """In a log or a pipe rich would fold the plan's table into 80 columns: a title of 50
    characters broke over two lines of its cell. Piped, it is 120 wide unless COLUMNS says."""
    repo = make_repo(tmp_path, {"src/a.py": ""})
    title = "Make the frobnicator cope with empty configuration"
    tasks = write_tasks(tmp_path / "tasks", {"1-a.md": f"---\ntitle: {title}\n---\nsrc/a.py"})
    monkeypatch.delenv("COLUMNS", raising=False)
    code, out, _ = cli(capsys, "plan", "--repo", str(repo), "--tasks", str(tasks))
    assert code == 0 and title in out
    assert max(len(line) for line in out.splitlines()) <= 120
    monkeypatch.setenv("COLUMNS", "60")
    code, out, _ = cli(capsys, "plan", "--repo", str(repo), "--tasks", str(tasks))
    assert code == 0 and title not in out  # folded: the user asked for 60 columns
    assert max(len(line) for line in out.splitlines()) <= 60


def test_status_and_merge_verbs(tmp_path, capsys):
    repo = make_repo(tmp_path, {"a.txt": "a\n"}, {"agent": {"command": patch_agent(tmp_path)}})
    patch = make_patch(tmp_path, "1.diff", "a.txt", "a", "b")
    tasks = write_tasks(
        tmp_path / "tasks", {"1-one.md": f"---\nfiles: [a.txt]\n---\nPatch: {patch}\n"}
    )
    assert cli(capsys, "run", "--repo", str(repo), "--tasks", str(tasks))[0] == 0

    code, out, _ = cli(capsys, "status", "--repo", str(repo))
    assert code == 0 and "merged" in out and "1 merged" in out
    code, out, _ = cli(capsys, "status", "--repo", str(repo), "--json")
    document = json.loads(out)
    assert document["tasks"][0]["status"] == "merged"
    assert [e["new"] for e in document["events"] if e["task_id"] == "1"] == [
        "planned",
        "running",
        "review",
        "merged",
    ]
    # merge with nothing to merge is a no-op, and remembers the tasks folder
    head = git(repo, "rev-parse", "main")
    assert cli(capsys, "merge", "--repo", str(repo))[0] == 0
    assert git(repo, "rev-parse", "main") == head
    assert states(repo)["1"].status is TaskStatus.MERGED


def test_without_a_config_the_base_is_the_repositorys_own_branch(tmp_path, capsys):
    from bot.gitops import create_repo

    repo = tmp_path / "repo"
    create_repo(repo, {"a.py": "x = 1\n"}, "initial", branch="master")
    tasks = write_tasks(tmp_path / "tasks", {"1-a.md": "---\nfiles: [a.py]\n---\nChange a.py"})
    code, out, err = cli(capsys, "plan", "--repo", str(repo), "--tasks", str(tasks), "--json")
    assert code == 0, err
    assert json.loads(out)["base"]["branch"] == "master"
    assert "base branch: master (the repository's default; set base: in the config)" in err
    # a config that names the base is obeyed, and a wrong one is a one-line error
    (repo / ".github").mkdir()
    (repo / ".github/orchestrate.yml").write_text("base: main\n")
    code, _, err = cli(capsys, "plan", "--repo", str(repo), "--tasks", str(tasks))
    assert code == 2 and "base branch 'main' not found (set base: in" in err


def test_cancel_stops_a_running_agent_and_retry_runs_it_again(tmp_path, capsys):
    """`cancel` while a run is active ends the task's agent; `retry` puts it back; the next
    run lands it. The same decisions as `/orchestrate cancel` and `retry` on GitHub."""
    import subprocess
    import sys
    import time

    from bot.local import LocalStore

    repo = make_repo(tmp_path, {"a.txt": "a\n"}, {"agent": {"command": patch_agent(tmp_path)}})
    patch = make_patch(tmp_path, "1.diff", "a.txt", "a", "b")
    tasks = write_tasks(
        tmp_path / "tasks", {"1-one.md": f"---\nfiles: [a.txt]\n---\nSleep: 30\nPatch: {patch}\n"}
    )
    run = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "run", "--repo", str(repo), "--tasks", str(tasks)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        db = repo / ".orchestrate" / "state.db"
        if db.exists():
            store = LocalStore(db)
            running = store.states().get("1")
            store.close()
            if running is not None and running.status is TaskStatus.RUNNING:
                break
        time.sleep(0.1)
    code, out, err = cli(capsys, "retry", "1", "--repo", str(repo))
    assert code == 2 and "task 1 is running; only an ended task can be retried" in err
    code, out, _ = cli(capsys, "cancel", "1", "--repo", str(repo))
    assert code == 0 and "cancelled: 1" in out
    output, _ = run.communicate(timeout=20)  # the agent was stopped: no 30 s wait
    assert run.returncode == 1, output
    assert states(repo)["1"].status is TaskStatus.FAILED
    assert states(repo)["1"].detail == "cancelled"

    code, out, _ = cli(capsys, "retry", "1", "--repo", str(repo))
    assert code == 0 and "task 1 is planned again; `orchestrate run` starts it" in out
    (tasks / "1-one.md").write_text(f"---\nfiles: [a.txt]\n---\nPatch: {patch}\n")
    assert cli(capsys, "run", "--repo", str(repo), "--tasks", str(tasks))[0] == 0
    assert states(repo)["1"].status is TaskStatus.MERGED
    assert cli(capsys, "cancel", "--repo", str(repo))[1].startswith("nothing to cancel")


def test_run_json_holds_every_task_and_what_the_run_bought(tmp_path, capsys):
    repo = make_repo(tmp_path, {"a.txt": "a\n"}, {"agent": {"command": patch_agent(tmp_path)}})
    patch = make_patch(tmp_path, "1.diff", "a.txt", "a", "b")
    tasks = write_tasks(
        tmp_path / "tasks", {"1-one.md": f"---\nfiles: [a.txt]\n---\nPatch: {patch}\n"}
    )
    code, out, _ = cli(capsys, "run", "--repo", str(repo), "--tasks", str(tasks), "--json")
    assert code == 0
    document = json.loads(out)
    assert document["tasks"]["1"]["status"] == "merged"
    summary = document["summary"]
    assert summary["redos"] == 0 and summary["spend_usd"] is None
    assert summary["wall_seconds"] > 0 and summary["one_by_one_seconds"] > 0
