"""Agents as users run them: a fake Claude Code on PATH, and agents that misbehave."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import time

import pytest

from bot.local.store import LocalStore
from bot.models import TaskStatus
from tests.integration.test_resume import agents_alive
from tests.localrepo import cli, git, make_repo, states, write_tasks

# Message shapes as Claude Code prints them with --output-format stream-json --verbose.
FAKE_CLAUDE = """
import json, os, sys, time
prompt = sys.stdin.read()
assert "# Task 1:" in prompt, "the prompt arrives on stdin"
assert "--max-turns" in sys.argv and "stream-json" in sys.argv
def say(message):
    print(json.dumps(message), flush=True)
    time.sleep(0.15)
say({"type": "system", "subtype": "init", "session_id": "s-1", "model": "claude-x",
     "tools": ["Edit", "Bash"], "cwd": os.getcwd()})
say({"type": "assistant", "session_id": "s-1", "message": {"role": "assistant", "content": [
    {"type": "text", "text": "I will edit a.txt"},
    {"type": "tool_use", "id": "t1", "name": "Edit", "input": {"file_path": "a.txt"}}]}})
open("a.txt", "w").write("edited by claude\\n")
say({"type": "user", "session_id": "s-1", "message": {"role": "user", "content": [
    {"type": "tool_result", "tool_use_id": "t1", "content": "ok"}]}})
print("this line is not json", flush=True)
say({"type": "assistant", "session_id": "s-1", "message": {"role": "assistant", "content": [
    {"type": "text", "text": "Done."}]}})
say({"type": "result", "subtype": os.environ.get("FAKE_SUBTYPE", "success"),
     "is_error": os.environ.get("FAKE_IS_ERROR") == "1", "duration_ms": 1234,
     "duration_api_ms": 1000, "num_turns": 2, "result": "Done.", "session_id": "s-1",
     "total_cost_usd": 0.0421, "usage": {"input_tokens": 10, "output_tokens": 20}})
"""


@pytest.fixture
def fake_claude(tmp_path, monkeypatch):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    exe = bin_dir / "claude"
    exe.write_text(f"#!{sys.executable}\n{FAKE_CLAUDE}")
    exe.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    return exe


def one_task(tmp_path, agent: dict, body: str = "Edit a.txt.", files: str = "[a.txt]"):
    repo = make_repo(tmp_path, {"a.txt": "a\n", "b.txt": "b\n"}, {"agent": agent})
    tasks = write_tasks(tmp_path / "tasks", {"1-task.md": f"---\nfiles: {files}\n---\n{body}\n"})
    return repo, tasks


def run(capsys, repo, tasks):
    """`orchestrate run`, then check that no process started from this test's folder is left."""
    result = cli(capsys, "run", "--repo", str(repo), "--tasks", str(tasks))
    assert not agents_alive(str(repo.parent)), "a process outlived orchestrate run"
    return result


def script_agent(tmp_path, code: str, extra: dict | None = None) -> dict:
    script = tmp_path / "agent.py"
    script.write_text(textwrap.dedent(code))
    return {"command": f"{sys.executable} {script}", "retries": 0, **(extra or {})}


def test_claude_preset_shows_progress_and_records_cost_and_turns(tmp_path, capsys, fake_claude):
    repo, tasks = one_task(tmp_path, {"preset": "claude", "heartbeat": "0.1s"})
    code, out, err = run(capsys, repo, tasks)
    assert code == 0, out + err
    state = states(repo)["1"]
    assert state.status is TaskStatus.MERGED
    assert state.cost_usd == pytest.approx(0.0421)
    assert state.turns == 2
    assert "turn 1, 1 tool uses (last: Edit a.txt)" in out  # live progress while running
    assert "success: 2 turns, $0.04" in out
    assert (repo / "a.txt").read_text() == "edited by claude\n"


def test_claude_success_with_is_error_is_a_failure(tmp_path, capsys, fake_claude, monkeypatch):
    monkeypatch.setenv("FAKE_IS_ERROR", "1")
    repo, tasks = one_task(tmp_path, {"preset": "claude", "retries": 0})
    code, _, _ = run(capsys, repo, tasks)
    state = states(repo)["1"]
    assert code == 1
    assert state.status is TaskStatus.FAILED
    assert state.detail == "agent reported success, is_error"
    assert state.cost_usd == pytest.approx(0.0421)


def test_claude_preset_missing_is_a_clear_error(tmp_path, capsys, monkeypatch):
    git_dir = os.path.dirname(shutil.which("git"))
    monkeypatch.setenv("PATH", git_dir)  # git, and no claude
    repo, tasks = one_task(tmp_path, {"preset": "claude"})
    code, _, err = run(capsys, repo, tasks)
    assert code == 2
    assert "agent command not found: 'claude' (preset claude; install it with: npm" in err


def test_idle_agent_is_stopped(tmp_path, capsys):
    agent = script_agent(tmp_path, "import time\ntime.sleep(60)\n", {"idle_timeout": "1s"})
    repo, tasks = one_task(tmp_path, agent)
    assert run(capsys, repo, tasks)[0] == 1
    state = states(repo)["1"]
    assert state.status is TaskStatus.FAILED
    assert state.detail.startswith("idle for 1s: no output, no file change")


def test_memory_hog_is_stopped_and_peak_recorded(tmp_path, capsys):
    code = """
        import time
        hog = bytearray(300 * 2**20)
        for i in range(0, len(hog), 4096):
            hog[i] = 1
        print("allocated", flush=True)
        time.sleep(60)
    """
    repo, tasks = one_task(tmp_path, script_agent(tmp_path, code, {"memory_limit_mb": 100}))
    assert run(capsys, repo, tasks)[0] == 1
    state = states(repo)["1"]
    assert state.status is TaskStatus.FAILED
    assert state.detail.startswith("memory limit:")
    assert state.peak_memory_mb is not None and state.peak_memory_mb > 100


def test_child_that_outlives_the_agent_is_ended(tmp_path, capsys):
    marker = f"orphan-{os.getpid()}-{time.monotonic_ns()}"
    code = f"""
        import subprocess, sys
        subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", "{marker}"])
        open("a.txt", "w").write("changed\\n")
    """
    repo, tasks = one_task(tmp_path, script_agent(tmp_path, code))
    assert run(capsys, repo, tasks)[0] == 0
    assert states(repo)["1"].status is TaskStatus.MERGED
    assert not agents_alive(marker)


def test_secrets_are_masked_in_log_state_and_output(tmp_path, capsys, monkeypatch):
    token = "ghp_" + "A1b2C3d4" * 5
    monkeypatch.setenv("MY_SERVICE_PASSWORD", "hunter2-very-secret")
    code = f"""
        import os, sys
        print("token {token}", flush=True)
        print("password", os.environ["MY_SERVICE_PASSWORD"], flush=True)
        sys.exit(1)
    """
    agent = script_agent(tmp_path, code, {"secrets": ["MY_SERVICE_PASSWORD"]})
    repo, tasks = one_task(tmp_path, agent)
    _, out, err = run(capsys, repo, tasks)
    state = states(repo)["1"]
    assert "token ***" in state.log_tail and "password ***" in state.log_tail
    for surface in (
        out,
        err,
        state.model_dump_json(),
        (repo / ".orchestrate/state.db").read_bytes().decode("latin-1"),
        *(log.read_text() for log in (repo / ".orchestrate/runs").rglob("*.log")),  # raw logs
    ):
        assert token not in surface
        assert "hunter2-very-secret" not in surface
    assert list((repo / ".orchestrate/runs").rglob("agent.log"))


def test_secrets_the_tests_print_are_masked_in_the_test_log(tmp_path, capsys, monkeypatch):
    """The test command runs code the agent wrote: what it prints is masked in `test.log` on
    disk and in the state, like the agent's own log."""
    token = "ghp_" + "Z9y8X7w6" * 5
    monkeypatch.setenv("MY_SERVICE_PASSWORD", "hunter2-very-secret")
    agent = script_agent(
        tmp_path, "open('a.txt', 'w').write('changed\\n')", {"secrets": ["MY_SERVICE_PASSWORD"]}
    )
    test = f"echo token {token}; echo password $MY_SERVICE_PASSWORD; exit 1"
    repo = make_repo(tmp_path, {"a.txt": "a\n"}, {"agent": agent, "merge": {"test_command": test}})
    tasks = write_tasks(tmp_path / "tasks", {"1-task.md": "---\nfiles: [a.txt]\n---\nEdit.\n"})
    run(capsys, repo, tasks)
    state = states(repo)["1"]
    assert state.status is TaskStatus.FAILED and "token ***" in state.log_tail
    [log] = (repo / ".orchestrate/runs").rglob("test.log")
    assert "token ***" in log.read_text() and "password ***" in log.read_text()
    assert token not in log.read_text() and "hunter2-very-secret" not in log.read_text()


def test_agent_that_exits_1_at_once_the_same_way_is_retried_once_then_fails(tmp_path, capsys):
    code = (
        "import os, sys\n"
        "print('cannot start: ' + os.path.abspath('b.txt') + ', gone.txt, a.txt:3', flush=True)\n"
        "print('not found: /usr/lib/python3/elsewhere.py, nowhere/x.py', flush=True)\n"
        "sys.exit(1)\n"
    )
    agent = script_agent(tmp_path, code, {"retries": 2, "retry_backoff": "0.1s"})
    repo, tasks = one_task(tmp_path, agent)
    _, out, _ = run(capsys, repo, tasks)
    state = states(repo)["1"]
    assert state.status is TaskStatus.FAILED
    # the same words twice, nothing landed meanwhile: a third attempt would say them again
    assert state.attempt == 2 and "retry 2 of 2" not in out
    assert state.detail == (
        "agent exited with code 1; it failed as the attempt before it did, and nothing has "
        "landed since it started that changes a.txt, b.txt, gone.txt: not tried again"
    )
    assert "not tried again" in out
    assert "cannot start" in state.log_tail
    # the files of its checkout its last words name, by absolute or relative path, and a
    # file not there yet (named as written, in a folder of the checkout): not the tail of a
    # path elsewhere, nor a file in a folder the checkout does not have
    assert state.named_files == ("b.txt", "gone.txt", "a.txt")
    assert state.missing_files == ("gone.txt",)
    assert "retry 1 of 2 in 0.1s" in out


def test_a_new_file_an_agent_only_said_it_would_write_is_not_one_it_lacked(tmp_path, capsys):
    """No line of its output says what went wrong: every file it names counts, but a file it
    only announced is not one it lacked (that would make it wait for every other task)."""
    code = "import sys\nprint('writing new.txt after a.txt', flush=True)\nsys.exit(1)\n"
    agent = script_agent(tmp_path, code, {"retries": 0})
    repo, tasks = one_task(tmp_path, agent)
    run(capsys, repo, tasks)
    state = states(repo)["1"]
    assert state.status is TaskStatus.FAILED
    assert state.named_files == ("new.txt", "a.txt") and state.missing_files == ()


def test_agent_that_fails_differently_each_time_spends_its_retries(tmp_path, capsys):
    counter = tmp_path / "attempts"
    code = f"""
        import pathlib, sys
        counter = pathlib.Path({str(counter)!r})
        seen = counter.read_text() if counter.exists() else ""
        counter.write_text(seen + "x")
        print("failed after " + "step " * len(seen + "x"), flush=True)
        sys.exit(1)
    """
    agent = script_agent(tmp_path, code, {"retries": 2, "retry_backoff": "0.1s"})
    repo, tasks = one_task(tmp_path, agent)
    _, out, _ = run(capsys, repo, tasks)
    state = states(repo)["1"]
    assert state.status is TaskStatus.FAILED and state.attempt == 3
    assert "retry 1 of 2 in 0.1s" in out and "retry 2 of 2 in 0.2s" in out
    assert "not tried again" not in out


def test_transient_overload_is_retried_and_then_lands(tmp_path, capsys):
    counter = tmp_path / "attempts"
    code = f"""
        import pathlib, sys
        counter = pathlib.Path({str(counter)!r})
        n = int(counter.read_text()) + 1 if counter.exists() else 1
        counter.write_text(str(n))
        if n == 1:
            print("API Error: 529 overloaded_error", flush=True)
            sys.exit(2)
        open("a.txt", "w").write("second attempt\\n")
    """
    agent = script_agent(tmp_path, code, {"retries": 1, "retry_backoff": "0.1s"})
    repo, tasks = one_task(tmp_path, agent)
    assert run(capsys, repo, tasks)[0] == 0
    state = states(repo)["1"]
    assert state.status is TaskStatus.MERGED and state.attempt == 2


def test_edits_outside_the_lane_are_reported(tmp_path, capsys):
    code = "open('a.txt', 'w').write('x\\n')\nopen('b.txt', 'w').write('y\\n')\n"
    repo, tasks = one_task(tmp_path, script_agent(tmp_path, code))
    _, out, _ = run(capsys, repo, tasks)
    state = states(repo)["1"]
    assert state.status is TaskStatus.MERGED
    assert state.files == ("a.txt", "b.txt")
    assert "changed 2 file(s) (1 not predicted: b.txt)" in out


def test_busy_machine_holds_new_agents_but_never_all(tmp_path, capsys):
    """With the machine reported busy, tasks still run, one at a time."""
    from bot.gitops import GitRepo
    from bot.local import local_engine
    from bot.local.session import open_session
    from bot.local.store import LocalStore

    log = tmp_path / "overlap.log"
    code = f"""
        import os, time
        with open({str(log)!r}, "a") as f: f.write("start\\n")
        time.sleep(0.3)
        with open({str(log)!r}, "a") as f: f.write("end\\n")
        open("f" + os.environ["ORCHESTRATE_TASK_ID"] + ".txt", "w").write("x\\n")
    """
    repo = make_repo(tmp_path, {"a.txt": "a\n"}, {"agent": script_agent(tmp_path, code)})
    tasks = write_tasks(
        tmp_path / "tasks", {f"{n}-t.md": f"---\nfiles: [f{n}.txt]\n---\n" for n in (1, 2, 3)}
    )
    session = open_session(GitRepo(repo), tasks)
    store = LocalStore(repo / ".orchestrate" / "state.db")
    store.ensure([session.tasks[task_id] for task_id in session.plan.merge_order])
    engine = local_engine(
        session.repo,
        session.config,
        session.tasks,
        session.plan,
        store,
        machine=lambda config: "system CPU at 99% (limit 90%)",
    )
    reasons, saved = [], []
    while not (decision := engine.step()).done:
        reasons.extend(decision.waiting.values())
        saved.extend((store.get_meta("waiting") or {}).values())  # what `status` shows
        time.sleep(0.05)
    assert all(s.status is TaskStatus.MERGED for s in store.states().values())
    assert log.read_text() == "start\nend\n" * 3  # never two at once
    assert "system CPU at 99% (limit 90%)" in reasons
    assert "system CPU at 99% (limit 90%)" in saved


def test_running_tasks_seen_touching_the_same_file_are_flagged_before_merge(tmp_path, capsys):
    code = """
        import os, pathlib, time
        tid = os.environ["ORCHESTRATE_TASK_ID"]
        pathlib.Path("shared.txt").write_text(f"from {tid}\\n")
        time.sleep(1.0)
        pathlib.Path(f"own{tid}.txt").write_text("x\\n")
    """
    agent = script_agent(tmp_path, code, {"heartbeat": "0.2s"})
    repo = make_repo(tmp_path, {"shared.txt": "base\n"}, {"agent": agent})
    tasks = write_tasks(
        tmp_path / "tasks", {f"{n}-t.md": f"---\nfiles: [own{n}.txt]\n---\n" for n in (1, 2)}
    )
    _, out, _ = run(capsys, repo, tasks)
    store = LocalStore(repo / ".orchestrate" / "state.db")
    notes = [e["detail"] for e in store.events() if e["new"] is None]
    store.close()
    assert any("touching shared.txt, which task" in note for note in notes)
    assert "touching shared.txt, which task" in out
    assert all(s.status is TaskStatus.MERGED for s in states(repo).values())  # one redone


def test_a_file_edited_again_after_a_heartbeat_is_collected_as_last_written(tmp_path, capsys):
    """Each heartbeat snapshots the work in progress; an agent then writing the same file
    again (as every agent that edits a file twice does) must not make it unreadable: the
    change collected is the file as it was left."""
    code = """
        import pathlib, time
        pathlib.Path("a.txt").write_text("first draft\\n")
        time.sleep(0.6)  # a few heartbeats see the first draft
        pathlib.Path("a.txt").write_text("final text, longer than the draft\\n")
    """
    agent = script_agent(tmp_path, code, {"heartbeat": "0.1s"})
    repo, tasks = one_task(tmp_path, agent)
    code, _, _ = run(capsys, repo, tasks)
    state = states(repo)["1"]
    assert state.status is TaskStatus.MERGED and code == 0, state.detail
    shown = subprocess.run(
        ["git", "show", "main:a.txt"], cwd=repo, capture_output=True, text=True, check=True
    )
    assert shown.stdout == "final text, longer than the draft\n"


def test_predictor_agent_asks_each_agent_read_only_and_uses_its_answer(tmp_path, capsys):
    """`plan.predictor: agent`: the agent's answer adds to the footprint; what it writes
    while answering is thrown away; the answer is cached."""
    calls = tmp_path / "calls"
    code = f"""
        import os, pathlib
        prompt = pathlib.Path(os.environ["ORCHESTRATE_PROMPT_FILE"]).read_text()
        assert "Do not change anything" in prompt
        with open({str(calls)!r}, "a") as log:
            log.write("asked\\n")
        pathlib.Path("src/b.py").write_text("scribbled while answering\\n")
        print("- `src/b.py`")
        print("2. docs/new_page.md")
        print("Some chatter that is not a path.")
        print("token ghp_" + "Q1w2E3r4" * 5)
    """
    agent = script_agent(tmp_path, code)
    repo = make_repo(
        tmp_path,
        {"src/a.py": "a = 1\n", "src/b.py": "b = 2\n"},
        {"agent": agent, "plan": {"predictor": "agent"}},
    )
    tasks = write_tasks(tmp_path / "tasks", {"1-vague.md": "Make the thing faster.\n"})
    argv = ("plan", "--repo", str(repo), "--tasks", str(tasks), "--json")

    code_, out, err = cli(capsys, *argv)

    assert code_ == 0, err
    footprint = json.loads(out)["tasks"][0]["footprint"]
    assert footprint["reasons"]["src/b.py"].startswith("the agent expects to touch it")
    assert "docs/new_page.md" in footprint["files"]
    assert "asking the agent which files task 1 will touch" in err
    assert (repo / "src/b.py").read_text() == "b = 2\n"  # nothing it wrote survived
    assert git(repo, "status", "--porcelain") == ""
    assert not list((repo / ".orchestrate" / "checkouts").iterdir())  # the scratch one is gone
    [answer] = (repo / ".orchestrate" / "ask").rglob("answer.log")
    assert "token ***" in answer.read_text() and "Q1w2E3r4" not in answer.read_text()
    cli(capsys, *argv)
    assert calls.read_text() == "asked\n"  # the second plan used the cached answer


def test_agents_side_by_side_get_their_own_slot_ports_and_env(tmp_path, capsys):
    """Two agents run at once; each serves on its ORCHESTRATE_PORT_BASE while the other does
    (a shared port would fail the second bind), and `agent.env` templates name their slot."""
    code = """
        import os, socket, time
        tid, port = os.environ["ORCHESTRATE_TASK_ID"], int(os.environ["ORCHESTRATE_PORT_BASE"])
        server = socket.socket()
        server.bind(("127.0.0.1", port))
        server.listen()
        time.sleep(0.8)  # both serve at the same time
        server.close()
        note = f"{os.environ['ORCHESTRATE_SLOT']} {port} {os.environ['APP_DB']}\\n"
        open(f"f{tid}.txt", "w").write(note)
    """
    base = 20000 + (os.getpid() % 400) * 100  # apart from other test runs on this machine
    agent = script_agent(
        tmp_path, code, {"env": {"APP_DB": "app_{slot}"}, "port_base": base, "ports_per_slot": 7}
    )
    repo = make_repo(tmp_path, {"a.txt": "a\n"}, {"agent": agent})
    tasks = write_tasks(
        tmp_path / "tasks", {f"{n}-t.md": f"---\nfiles: [f{n}.txt]\n---\n" for n in (1, 2)}
    )
    result, out, err = run(capsys, repo, tasks)
    assert result == 0, out + err
    notes = sorted((repo / f"f{n}.txt").read_text() for n in (1, 2))
    assert notes == [f"0 {base} app_0\n", f"1 {base + 7} app_1\n"]


COSTLY = """
    import os, sys, time
    tid = os.environ["ORCHESTRATE_TASK_ID"]
    print("orchestrate-cost-usd: " + os.environ.get("COST", "0.40"), flush=True)
    time.sleep(float(os.environ.get("LINGER", "0")))
    open(f"f{tid}.txt", "w").write("done\\n")
"""


def _costly_tasks(tmp_path, budget: dict, env: dict | None = None):
    agent = script_agent(tmp_path, COSTLY, {"env": env or {}, "heartbeat": "0.05s"})
    repo = make_repo(
        tmp_path, {"a.txt": "a\n"}, {"agent": agent, "budget": budget, "max_parallel": 1}
    )
    tasks = write_tasks(
        tmp_path / "tasks", {f"{n}-t.md": f"---\nfiles: [f{n}.txt]\n---\n" for n in (1, 2, 3, 4)}
    )
    return repo, tasks


def test_the_budget_holds_launches_and_a_raised_budget_finishes_the_rest(tmp_path, capsys):
    repo, tasks = _costly_tasks(tmp_path, {"max_usd": 1.0})
    code, out, err = run(capsys, repo, tasks)
    assert code == 1, out + err
    done = {t: s for t, s in states(repo).items() if s.status is TaskStatus.MERGED}
    assert sorted(done) == ["1", "2"]  # $0.80 spent; a third at $0.40 would pass $1.00
    held = {t: s for t, s in states(repo).items() if s.status is TaskStatus.PLANNED}
    assert sorted(held) == ["3", "4"]
    assert "2 task(s) held by the budget (budget: $0.80 spent of $1.00)" in out
    code, out, _ = cli(capsys, "status", "--repo", str(repo))
    assert "Spent $0.80 of $1.00" in out
    config = json.loads((repo / ".github/orchestrate.yml").read_text())
    (repo / ".github/orchestrate.yml").write_text(json.dumps({**config, "budget": {"max_usd": 5}}))
    git(repo, "commit", "-qam", "raise the budget")
    code, out, err = run(capsys, repo, tasks)
    assert code == 0, out + err
    assert all(s.status is TaskStatus.MERGED for s in states(repo).values())
    assert "spend $1.60" in out


def test_an_agent_past_task_max_usd_is_stopped(tmp_path, capsys):
    repo, _ = _costly_tasks(tmp_path, {"task_max_usd": 0.5}, {"COST": "0.90", "LINGER": "30"})
    tasks_dir = write_tasks(tmp_path / "one", {"1-t.md": "---\nfiles: [f1.txt]\n---\n"})
    code, out, err = run(capsys, repo, tasks_dir)
    assert code == 1, out + err
    state = states(repo)["1"]
    assert state.status is TaskStatus.FAILED and not state.retryable
    assert state.detail.startswith("budget: this attempt cost $0.90, over $0.50")


def test_a_rate_limit_from_one_agent_pauses_the_others_launches(tmp_path, capsys):
    """Task 1's agent is told 429 once; tasks 2 and 3 (same provider) do not start until the
    backoff has passed, and task 1's retry runs on the same clock."""
    marker = tmp_path / "limited-once"
    code = f"""
        import os, pathlib, sys, time
        tid = os.environ["ORCHESTRATE_TASK_ID"]
        seen = pathlib.Path({str(marker)!r})
        if tid == "1" and not seen.exists():
            seen.write_text("x")
            print("API error 429: rate limit exceeded", flush=True)
            sys.exit(1)
        open(f"f{{tid}}.txt", "w").write(str(time.time()) + "\\n")
    """
    agent = script_agent(tmp_path, code, {"retries": 1, "retry_backoff": "1.5s"})
    repo = make_repo(tmp_path, {"a.txt": "a\n"}, {"agent": agent, "max_parallel": 1})
    tasks = write_tasks(
        tmp_path / "tasks", {f"{n}-t.md": f"---\nfiles: [f{n}.txt]\n---\n" for n in (1, 2, 3)}
    )
    result, out, err = run(capsys, repo, tasks)
    assert result == 0, out + err
    final = states(repo)
    assert final["1"].attempt == 2
    limited_at = marker.stat().st_mtime
    started = sorted(float((repo / f"f{n}.txt").read_text()) for n in (1, 2, 3))
    assert started[0] >= limited_at + 1.4  # nothing started during the pause
    assert "retry 1 of 1 in 1.5s" in out


@pytest.mark.parametrize(
    ("edit", "refused"),
    [
        (
            "import os; os.makedirs('.github/workflows', exist_ok=True); "
            "open('.github/workflows/evil.yml', 'w').write('on: push\\n')",
            "changes .github/workflows/evil.yml, a protected path (.github/workflows/*)",
        ),
        (
            "import os; [os.remove(p) for p in ('a.txt', 'b.txt', '.github/orchestrate.yml')]",
            "changes .github/orchestrate.yml, a protected path",
        ),
        (
            "import os; [os.remove(p) for p in ('a.txt', 'b.txt')]",
            "deletes 2 of the base's 3 files: not merged (merge.max_deleted_share",
        ),
        (
            "import os; os.rename('.github/orchestrate.yml', 'settings.yml')",
            "changes .github/orchestrate.yml, a protected path",
        ),
    ],
    ids=["new workflow", "config deleted", "mass deletion", "config renamed away"],
)
def test_protected_paths_and_mass_deletions_never_land(tmp_path, capsys, edit, refused):
    """Without any test command, a change to the workflows or orchestrate's own config, or one
    deleting most of the repository, is refused at merge time."""
    repo, tasks = one_task(tmp_path, script_agent(tmp_path, edit), files="[a.txt]")
    before = git(repo, "rev-parse", "main")
    code, out, err = run(capsys, repo, tasks)
    assert code == 1, out + err
    state = states(repo)["1"]
    assert state.status is TaskStatus.FAILED and refused in state.detail
    assert git(repo, "rev-parse", "main") == before


def test_hooks_an_agent_leaves_behind_never_run_in_orchestrates_own_git_calls(tmp_path, capsys):
    """The hooks go into the agent's own checkout, which orchestrate never runs git in after
    the agent: none runs while the task lands, and none is left in the repository."""
    marker = tmp_path / "hook-ran"
    hooks = ("post-merge", "reference-transaction", "post-rewrite", "post-checkout", "pre-commit")
    code = f"""
        import os, stat, subprocess
        common = subprocess.run(["git", "rev-parse", "--git-common-dir"], capture_output=True,
                                text=True, check=True).stdout.strip()
        for hook in {hooks!r}:
            path = os.path.join(common, "hooks", hook)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w") as handle:
                handle.write("#!/bin/sh\\necho " + hook + " >> {marker}\\n")
            os.chmod(path, 0o755)
        open("a.txt", "w").write("changed\\n")
    """
    repo, tasks = one_task(tmp_path, script_agent(tmp_path, code))
    result, out, err = run(capsys, repo, tasks)
    assert result == 0, out + err
    assert states(repo)["1"].status is TaskStatus.MERGED
    assert (repo / "a.txt").read_text() == "changed\n"  # main was fast-forwarded
    assert not marker.exists(), marker.read_text()
    assert not [hook for hook in hooks if (repo / ".git" / "hooks" / hook).exists()]


def test_an_agent_cannot_move_the_base_or_any_other_branch(tmp_path, capsys):
    """The agent commits, then points `main` and another task's branch at its commit and makes
    a branch of its own: all in its own checkout. `main` moves only when the task lands, to a
    commit the queue made (with the task's trailer), and no other ref appears."""
    code = """
        import subprocess
        def git(*args):
            subprocess.run(["git", *args], check=True)
        open("a.txt", "w").write("changed\\n")
        git("commit", "-qam", "straight onto main")
        git("update-ref", "refs/heads/main", "HEAD")
        git("branch", "-f", "orchestrate/2-other", "HEAD")
        git("branch", "sneaky", "HEAD")
        git("tag", "v-sneaky")
    """
    repo, tasks = one_task(tmp_path, script_agent(tmp_path, code))
    before = git(repo, "rev-parse", "main")
    result, out, err = run(capsys, repo, tasks)
    assert result == 0, out + err
    assert states(repo)["1"].status is TaskStatus.MERGED
    assert git(repo, "rev-parse", "main^") == before
    assert "Orchestrate-Task: 1" in git(repo, "log", "-1", "--format=%B", "main")
    assert git(repo, "for-each-ref", "--format=%(refname)") == "refs/heads/main"


def test_git_config_an_agent_writes_never_runs_in_orchestrates_git_calls(tmp_path, capsys):
    """Filter drivers, a diff program and an fsmonitor set in the agent's own `.git/config`
    (with a committed `.gitattributes` naming the filter, and the work left uncommitted, so
    orchestrate has to add it): orchestrate reads the checkout with the repository's config,
    so none of them runs, and the content lands as the agent wrote it."""
    marker = tmp_path / "config-ran"
    code = f"""
        import subprocess
        def git(*args):
            subprocess.run(["git", *args], check=True)
        run = "sh -c 'echo ran >> {marker}; cat'"
        git("config", "filter.evil.clean", run)
        git("config", "filter.evil.smudge", run)
        git("config", "filter.evil.process", "sh -c 'echo ran >> {marker}'")
        git("config", "diff.external", "sh -c 'echo ran >> {marker}'")
        git("config", "core.fsmonitor", "sh -c 'echo ran >> {marker}'")
        open(".gitattributes", "w").write("* filter=evil\\n")
        open("a.txt", "w").write("changed\\n")
    """
    repo, tasks = one_task(tmp_path, script_agent(tmp_path, code), files="[a.txt, .gitattributes]")
    result, out, err = run(capsys, repo, tasks)
    assert result == 0, out + err
    assert states(repo)["1"].status is TaskStatus.MERGED
    assert git(repo, "show", "main:a.txt") == "changed"
    assert not marker.exists(), marker.read_text()


@pytest.mark.parametrize(
    "breakage",
    ['shutil.rmtree(".git")', 'shutil.rmtree(".git"); open(".git", "w").write("gitdir: /nope\\n")'],
    ids=["deleted", "replaced by a bad gitfile"],
)
def test_an_agent_that_deletes_its_checkouts_git_never_reaches_the_users_repository(
    tmp_path, capsys, breakage
):
    """The agent deletes its checkout's `.git` (or puts a gitfile there that leads nowhere),
    then runs `git add -A` and `git commit`: git would walk up to the user's repository and
    commit the untracked notes there. It finds no repository (orchestrate bounds the search at
    the checkout); orchestrate collects nothing; the task fails, and nothing is left running;
    main and the notes are untouched."""
    code = f"""
        import shutil, subprocess
        {breakage}
        open("a.txt", "w").write("changed\\n")
        subprocess.run(["git", "add", "-A"])
        subprocess.run(["git", "commit", "-qm", "in the user's repository?"])
    """
    repo, tasks = one_task(tmp_path, script_agent(tmp_path, code))
    (repo / "private-notes.txt").write_text("do not commit me\n")
    before = git(repo, "rev-parse", "main")
    result, out, err = run(capsys, repo, tasks)
    assert result == 1, out + err
    state = states(repo)["1"]
    assert state.status is TaskStatus.FAILED
    assert "no longer a checkout orchestrate can read" in state.detail
    assert git(repo, "rev-parse", "main") == before
    assert git(repo, "status", "--porcelain", "--untracked-files=all") == "?? private-notes.txt"


def test_a_process_an_agent_detaches_with_setsid_does_not_outlive_the_run(tmp_path, capsys):
    marker = f"detached-{os.getpid()}-{time.monotonic_ns()}"
    code = f"""
        import subprocess, sys
        subprocess.Popen(
            [sys.executable, "-c", "import time; time.sleep(60)", "{marker}"],
            start_new_session=True,  # its own session and group: out of the agent's reach
        )
        open("a.txt", "w").write("changed\\n")
    """
    repo, tasks = one_task(tmp_path, script_agent(tmp_path, code))
    assert run(capsys, repo, tasks)[0] == 0
    assert states(repo)["1"].status is TaskStatus.MERGED
    assert not agents_alive(marker)


def test_a_preset_missing_on_a_runner_is_installed_and_its_log_masked(tmp_path, monkeypatch):
    """`install_agent` (the agent job on a fresh runner): the preset's own installer (`npm`,
    a stand-in here) puts the program on `PATH`; what the installer printed is masked on disk."""
    from bot.agents.runner import install_agent
    from bot.config import AgentConfig
    from bot.redact import Redactor

    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    npm = bin_dir / "npm"
    npm.write_text(
        "#!/bin/sh\n"
        f"printf '#!/bin/sh\\necho claude\\n' > {bin_dir}/claude && chmod +x {bin_dir}/claude\n"
        "echo npm notice token ghp_" + "P0o9I8u7" * 5 + "\n"
    )
    npm.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    log = tmp_path / "agent-install.log"
    assert install_agent(AgentConfig(preset="claude"), tmp_path, log, Redactor()) is None
    assert (bin_dir / "claude").exists()
    assert "token ***" in log.read_text() and "P0o9I8u7" not in log.read_text()
    npm.write_text("#!/bin/sh\necho 'npm error 404' >&2\nexit 1\n")
    (bin_dir / "claude").unlink()
    problem = install_agent(AgentConfig(preset="claude"), tmp_path, log, Redactor())
    assert problem is not None and "agent command not found: 'claude'" in problem
    assert "failed: npm error 404" in problem
