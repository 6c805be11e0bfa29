"""Hygiene of the shipped workflow and action: what actionlint/zizmor-style reviews ask for."""

import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
PINNED = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}$")


def steps(document):
    if "runs" in document:
        yield from document["runs"].get("steps", [])
    for job in document.get("jobs", {}).values():
        yield from job.get("steps", [])


@pytest.mark.parametrize("path", [*WORKFLOWS, ROOT / "action.yml"], ids=lambda p: p.name)
def test_steps_are_pinned_and_never_expand_expressions_in_shell(path):
    document = yaml.safe_load(path.read_text())
    for step in steps(document):
        if "uses" in step and not step["uses"].startswith("./"):
            assert PINNED.match(step["uses"]), f"{step['uses']} is not pinned to a commit"
        if "run" in step:
            assert "${{" not in step["run"], f"expression in run: {step['run']!r}; use env:"


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_workflows_grant_permissions_per_job_only(path):
    document = yaml.safe_load(path.read_text())
    assert document["permissions"] == {}
    for name, job in document["jobs"].items():
        assert "permissions" in job, f"job {name} does not declare its permissions"
        assert "write-all" not in str(job["permissions"])
    triggers = document.get("on", document.get(True))  # YAML 1.1 reads `on` as true
    assert "pull_request_target" not in triggers


def test_action_inputs_are_described_and_reach_code_through_env():
    action = yaml.safe_load((ROOT / "action.yml").read_text())
    for name, spec in action["inputs"].items():
        assert spec.get("description"), f"input {name} has no description"
    for step in action["runs"]["steps"]:
        if "run" in step:
            assert step.get("shell") == "bash"
