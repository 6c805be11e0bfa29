import json
from pathlib import Path

import pytest

from bot.config import Config, ConfigError, default_yaml, json_schema, load_config, parse_config

ROOT = Path(__file__).resolve().parents[2]


def test_defaults():
    config = parse_config("", "x.yml")
    assert config == Config()
    assert config.base == "main" and config.max_parallel == 4
    assert config.agent.timeout == 1800


def test_the_example_from_the_docs():
    config = parse_config(
        "base: main\nmax_parallel: 4\n"
        'agent: {preset: command, command: "python my_agent.py", timeout: 30m}\n'
        'merge: {method: rebase, test_command: "pytest -q"}\n',
        "x.yml",
    )
    assert config.agent.command == "python my_agent.py"
    assert config.agent.timeout == 1800
    assert config.merge.test_command == "pytest -q"


@pytest.mark.parametrize(
    ("value", "seconds"), [("90", 90), ("90s", 90), ("30m", 1800), ("1.5h", 5400), ("500ms", 0.5)]
)
def test_durations(value, seconds):
    assert parse_config(f"agent: {{timeout: '{value}'}}", "x").agent.timeout == seconds


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("max_parallel: 0", "x.yml: max_parallel: Input should be greater than or equal to 1"),
        ("agent: {timeout: soon}", "x.yml: agent.timeout: invalid duration 'soon'"),
        ("merge: {method: octopus}", "x.yml: merge.method: Input should be 'rebase'"),
        ("agnet: {}", "x.yml: agnet: Extra inputs are not permitted"),
        ("- a list", "x.yml: expected a mapping of keys, got list"),
        ("base: [", "x.yml: line 1: expected the node content"),
    ],
)
def test_errors_name_file_key_and_reason(text, message):
    with pytest.raises(ConfigError) as caught:
        parse_config(text, "x.yml")
    assert str(caught.value).startswith(message)


def test_missing_explicit_file(tmp_path):
    with pytest.raises(ConfigError, match="no such file"):
        load_config(tmp_path, tmp_path / "nope.yml")
    assert load_config(tmp_path) == (Config(), "defaults")


def test_shipped_defaults_and_schema_are_current():
    """config/ is generated from bot/config.py: regenerate with `make config`."""
    assert (ROOT / "config" / "default.yml").read_text() == default_yaml()
    assert json.loads((ROOT / "config" / "schema.json").read_text()) == json.loads(json_schema())
    assert parse_config(default_yaml(), "default.yml") == Config()


def test_conflict_threshold_is_auto_or_a_probability():
    assert parse_config("", "x").plan.conflict_threshold == "auto"
    assert parse_config("plan: {conflict_threshold: 0.2}", "x").plan.conflict_threshold == 0.2
    with pytest.raises(ConfigError, match=r"plan\.conflict_threshold"):
        parse_config("plan: {conflict_threshold: 2}", "x.yml")


def test_the_threshold_follows_the_redo_cost_unless_set():
    assert parse_config("", "x").plan.threshold == 0.25
    assert parse_config("plan: {redo_cost: 10}", "x").plan.threshold == 0.1
    assert parse_config("plan: {redo_cost: 10, conflict_threshold: 0.3}", "x").plan.threshold == 0.3
    with pytest.raises(ConfigError, match=r"plan\.redo_cost"):
        parse_config("plan: {redo_cost: 0.5}", "x.yml")
    with pytest.raises(ConfigError) as error:
        parse_config("plan: {target_recall: 0.9}", "x.yml")
    assert str(error.value) == (
        "x.yml: plan: target_recall is no longer used: plans weigh each pair's risk of a real "
        "conflict against plan.redo_cost; remove it (or set conflict_threshold)"
    )


def test_the_base_defaults_to_the_repositorys_branch_only_when_no_file_names_one():
    from bot.config import with_default_base

    config, note = with_default_base(Config(), "master", default_exists=False)
    assert config.base == "master" and "base branch: master" in (note or "")
    assert with_default_base(Config(), "feature", default_exists=True) == (Config(), None)
    named = parse_config("base: trunk\n", "cfg")
    assert with_default_base(named, "master", default_exists=False) == (named, None)
    assert with_default_base(Config(), None, default_exists=False) == (Config(), None)
