"""`.github/orchestrate.yml`: load, validate and explain.

The defaults live in the models below; `config/default.yml` and `config/schema.json` are
generated from them (a test keeps both in step). Errors are values: a bad file becomes a
`ConfigError` naming the file, the key and the reason, never a traceback.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from bot.inputs import field_problem, yaml_problem

CONFIG_PATH = Path(".github/orchestrate.yml")

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}


def parse_duration(value: object) -> float:
    """`90`, `"90s"`, `"30m"`, `"1.5h"` -> seconds."""
    if isinstance(value, bool):
        raise ValueError("expected a duration such as 90s, 30m or 1h")
    if isinstance(value, int | float):
        return float(value)
    match = _DURATION.match(str(value))
    if not match:
        raise ValueError(f"invalid duration {value!r} (use e.g. 90s, 30m, 1h)")
    return float(match.group(1)) * _UNIT_SECONDS[match.group(2)]


Duration = Annotated[float, BeforeValidator(parse_duration), Field(gt=0)]


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


PresetName = Literal["command", "claude", "codex", "aider", "gemini", "scripted"]

UNION_FILES = ("CHANGES*", "CHANGELOG*", "HISTORY.*", "NEWS", "NEWS.*", "RELEASE-NOTES*")

DEFAULT_SECRETS = (
    "GITHUB_TOKEN",
    "GH_TOKEN",
    "ANTHROPIC_API_KEY",
    "CLAUDE_CODE_OAUTH_TOKEN",
    "OPENAI_API_KEY",
    "CODEX_API_KEY",
    "GEMINI_API_KEY",
    "GOOGLE_API_KEY",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
)


class AgentConfig(Section):
    """How each task's agent is started and supervised."""

    preset: PresetName = Field(
        "command",
        description="claude, codex, aider or gemini start that agent with the flags in "
        "docs/agents.md; `command` runs `command`; `scripted` is the bundled demo agent.",
    )
    command: str | None = Field(
        None,
        description="Command line for the `command` preset, split like a shell would but never "
        "run through one. `{prompt_file}`, `{task_file}`, `{task_id}` and `{worktree}` are "
        "replaced in each argument.",
    )
    extra_args: list[str] = Field(
        default_factory=list, description="Arguments appended to the preset's command line."
    )
    model: str | None = Field(None, description="Model name passed to presets that take one.")
    max_turns: int = Field(50, ge=1, description="Turn limit for the claude preset.")
    timeout: Duration = Field(1800.0, description="Wall-clock limit per attempt, e.g. 30m.")
    idle_timeout: Duration = Field(
        600.0, description="Stop an agent that printed nothing and changed no file this long."
    )
    memory_limit_mb: int | None = Field(
        None, ge=16, description="Stop an agent whose process tree uses more memory (RSS sum)."
    )
    retries: int = Field(
        2,
        ge=0,
        le=10,
        description="Extra attempts after a transient failure (overload, crash "
        "before any change), with exponential backoff; an attempt that fails as the one "
        "before it did, with nothing landed since that it may need, ends them.",
    )
    retry_backoff: Duration = Field(10.0, description="Wait before the first retry; doubles.")
    failure_waits: int = Field(
        2,
        ge=0,
        le=5,
        description="A transient failure while unfinished tasks may still change the same "
        "files (the work it needs may not be there yet) is tried again once they have ended "
        "(at once, when none is unfinished but one landed after it started), this many "
        "times, before the usual retries.",
    )
    heartbeat: Duration = Field(5.0, description="How often a running agent's state is saved.")
    stale_after: Duration | None = Field(
        None,
        description="A running task whose agent has not reported for this long (its job was "
        "cancelled, its runner died) counts as a transient failure and is retried. Default: "
        "`timeout` plus 15 minutes.",
    )
    env: dict[str, str] = Field(
        default_factory=dict,
        description="Extra environment variables for the agent. `{slot}`, `{port_base}` and "
        "`{task_id}` in a value are replaced, e.g. `DATABASE_URL: postgres:///app_{slot}`.",
    )
    port_base: int = Field(
        20000,
        ge=1024,
        le=65000,
        description="First port of slot 0's block: each running agent gets "
        "ORCHESTRATE_PORT_BASE = port_base + slot * ports_per_slot.",
    )
    ports_per_slot: int = Field(100, ge=1, le=1000, description="Ports in each agent slot's block.")
    secrets: list[str] = Field(
        default_factory=lambda: list(DEFAULT_SECRETS),
        description="Environment variables whose values are masked in everything orchestrate "
        "writes (logs, state, comments, summaries). Common token shapes are always masked.",
    )


class PlanConfig(Section):
    """How predicted conflicts between tasks turn into tasks kept apart."""

    conflict_threshold: float | Literal["auto"] = Field(
        "auto",
        description="Two tasks are kept apart when their risk of a real conflict (the chance "
        "that both touch a file, times how often that led to a conflict in this repository's "
        "history) reaches this. `auto`: 1 / redo_cost.",
    )
    redo_cost: float = Field(
        4.0,
        ge=1,
        le=100,
        description="What redoing a task after a conflict costs (its agent's run again, in "
        "time and money), in waits for another task: with `auto`, a pair is kept apart when "
        "its conflict risk times this reaches 1.",
    )
    predictor: Literal["default", "agent"] = Field(
        "default",
        description="`agent` also asks each task's agent, read-only, which files it expects to "
        "touch (one short agent run per task, cached), as one more source of evidence.",
    )

    @model_validator(mode="before")
    @classmethod
    def _no_target_recall(cls, data: object) -> object:
        if isinstance(data, dict) and "target_recall" in data:
            raise ValueError(
                "target_recall is no longer used: plans weigh each pair's risk of a real "
                "conflict against plan.redo_cost; remove it (or set conflict_threshold)"
            )
        return data

    @property
    def threshold(self) -> float:
        """The conflict risk from which two tasks are kept apart."""
        if self.conflict_threshold == "auto":
            return 1.0 / self.redo_cost
        return self.conflict_threshold

    @field_validator("conflict_threshold")
    @classmethod
    def _in_range(cls, value: float | str) -> float | str:
        if isinstance(value, float) and not 0 < value <= 1:
            raise ValueError("conflict_threshold must be auto or a number in (0, 1]")
        return value


class ChecksConfig(Section):
    """The `orchestrate/overlap` check run on every pull request into the base."""

    conflict: Literal["failure", "neutral"] = Field(
        "failure",
        description="The check's conclusion when a pull request really conflicts with work "
        "that lands before it (a task in flight, for a person's pull request): `neutral` "
        "for teams that want no red check on people's pull requests.",
    )


class ResourcesConfig(Section):
    """Local adaptive parallelism: start another agent only while the machine has room."""

    max_cpu_percent: float = Field(90.0, gt=0, le=100, description="System CPU use ceiling.")
    max_memory_percent: float = Field(85.0, gt=0, le=100, description="System memory ceiling.")


class MergeConfig(Section):
    """How finished branches land on the base branch."""

    method: Literal["rebase", "squash", "merge"] = Field(
        "rebase", description="rebase: replay commits; squash: one commit; merge: a merge commit."
    )
    test_command: str | None = Field(
        None, description="Run on the rebased result before it lands; red never merges."
    )
    test_timeout: Duration = Field(1800.0, description="Wall-clock limit for test_command.")
    union_files: list[str] = Field(
        default_factory=lambda: list(UNION_FILES),
        description="Changelog-style files (name patterns, any letter case) that every task "
        "appends to: merged as a union of both sides' lines instead of conflicting, and not "
        "counted as conflicts when planning. A source file (.py, .js, ...) never is one.",
    )
    protected_paths: list[str] = Field(
        default_factory=lambda: [".github/workflows/*", ".github/orchestrate.yml"],
        description="Paths a task may not change, as name patterns (`*` also crosses `/`): a "
        "change touching one is refused at merge time. Set [] to allow everything.",
    )
    max_deleted_share: float = Field(
        0.5,
        gt=0,
        le=1,
        description="Refuse at merge time a change that deletes more than this share of the "
        "base branch's files (1 allows any deletion).",
    )
    conflict_redos: int = Field(
        1,
        ge=0,
        le=5,
        description="After a rebase conflict, run the task's agent again on the new base this "
        "many times (it is tried after the others) before reporting the conflict.",
    )

    @property
    def mergeable(self) -> list[str]:
        """`union_files` as the planner matches them (lower case: names match in any case)."""
        return [pattern.lower() for pattern in self.union_files]


class BudgetConfig(Section):
    """Spend limits. Launches are held (tasks stay planned, with the reason `budget`) once the
    next task could go past one; raise it and run again to finish the rest."""

    max_usd: float | None = Field(
        None, gt=0, description="Spend limit for the whole run, in US dollars, all attempts."
    )
    task_max_usd: float | None = Field(
        None, gt=0, description="Spend limit per task attempt: an agent past it is stopped."
    )
    max_agent_minutes: float | None = Field(
        None, gt=0, description="Limit on the agents' summed running time for the run."
    )


class Config(Section):
    """Top level of `.github/orchestrate.yml`."""

    version: Literal[1] = 1
    base: str = Field("main", description="Branch that tasks start from and merge into.")
    max_parallel: int = Field(4, ge=1, le=64, description="Agents running at once.")
    agent: AgentConfig = Field(default_factory=AgentConfig)
    merge: MergeConfig = Field(default_factory=MergeConfig)
    plan: PlanConfig = Field(default_factory=PlanConfig)
    checks: ChecksConfig = Field(default_factory=ChecksConfig)
    resources: ResourcesConfig = Field(default_factory=ResourcesConfig)
    budget: BudgetConfig = Field(default_factory=BudgetConfig)


def with_default_base(
    config: Config, detected: str | None, default_exists: bool
) -> tuple[Config, str | None]:
    """The config with its base branch filled in when no file names one and `main` does not
    exist: the repository's checked-out branch or origin's HEAD (`detected`). The note says
    which was chosen."""
    if "base" in config.model_fields_set or default_exists or not detected:
        return config, None
    note = f"base branch: {detected} (the repository's default; set base: in the config)"
    return config.model_copy(update={"base": detected}), note


class ConfigError(Exception):
    """A config file that cannot be used; the message names file, key and reason."""


def parse_config(text: str, source: str) -> Config:
    """Validate YAML text; `source` names the file in error messages."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        line, problem = yaml_problem(exc)
        where = f" line {line}" if line is not None else ""
        raise ConfigError(f"{source}:{where}: {problem}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a mapping of keys, got {type(data).__name__}")
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"{source}: {field_problem(exc, count_others=True)}") from None


def load_config(repo: Path, explicit: Path | None = None) -> tuple[Config, str]:
    """The config in force and where it came from (`defaults` when no file exists)."""
    path = explicit if explicit is not None else repo / CONFIG_PATH
    if not path.exists():
        if explicit is not None:
            raise ConfigError(f"{explicit}: no such file")
        return Config(), "defaults"
    if path.exists() and not path.is_file():
        raise ConfigError(f"{path}: not a regular file")
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (byte {exc.start}); save it as UTF-8") from None
    return parse_config(text, str(path)), str(path)


def default_yaml() -> str:
    """The shipped defaults, as they appear in config/default.yml."""
    data: dict[str, Any] = Config().model_dump(mode="json")
    header = (
        "# orchestrate defaults (generated from bot/config.py; do not edit by hand).\n"
        "# Copy the keys you want to change into .github/orchestrate.yml.\n"
    )
    return header + yaml.safe_dump(data, sort_keys=False)


def json_schema() -> str:
    return json.dumps(Config.model_json_schema(), indent=2, sort_keys=True) + "\n"
