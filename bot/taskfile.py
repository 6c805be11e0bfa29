"""Task files: `<id>-<slug>.md`, optional YAML front matter, Markdown body. Pure.

A task file is to local mode what an issue is on GitHub:

    ---
    title: Add a --json flag to the report command
    depends_on: [3]
    files: [src/report.py, tests/test_report.py]
    ---
    The report command should ...
"""

from __future__ import annotations

import re
from typing import Any

import yaml
from pydantic import Field, ValidationError, field_validator

from bot.inputs import field_problem, yaml_problem
from bot.models import Task, TaskSettings

FILE_NAME = re.compile(r"^(?P<id>[A-Za-z0-9_]+)-(?P<slug>[A-Za-z0-9][A-Za-z0-9._-]*)\.md$")
_FRONT_MATTER = re.compile(r"\A---[ \t]*\r?\n(?P<yaml>.*?)^---[ \t]*\r?$\n?", re.S | re.M)
_HEADING = re.compile(r"^#\s+(?P<title>.+?)\s*#*\s*$", re.M)


class TaskFileError(Exception):
    """A task file that cannot be read; the message names the file and the problem."""


class FrontMatter(TaskSettings):
    title: str | None = None
    labels: list[str] = Field(default_factory=list)

    @field_validator("labels", mode="before")
    @classmethod
    def _one_label_or_many(cls, value: object) -> object:
        return [value] if isinstance(value, str) else value


def split_front_matter(text: str, name: str) -> tuple[dict[str, Any], str]:
    match = _FRONT_MATTER.match(text)
    if not match:
        if text.startswith("---"):
            raise TaskFileError(f"{name}: front matter opened with '---' but never closed")
        return {}, text
    try:
        data = yaml.safe_load(match.group("yaml"))
    except yaml.YAMLError as exc:
        line, problem = yaml_problem(exc, first_line=2)  # line 1 is the opening ---
        where = f" line {line}:" if line is not None else ""
        raise TaskFileError(f"{name}:{where} front matter: {problem}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise TaskFileError(f"{name}: front matter must be a mapping of keys")
    return data, text[match.end() :]


def parse_task_file(name: str, text: str) -> Task:
    """Parse one task file; `name` is its file name (which carries the id and slug)."""
    base = name.rsplit("/", 1)[-1]
    named = FILE_NAME.match(base)
    if not named:
        raise TaskFileError(f"{name}: file name must look like <id>-<slug>.md, e.g. 3-add-login.md")
    data, body = split_front_matter(text, name)
    try:
        front = FrontMatter.model_validate(data)
    except ValidationError as exc:
        raise TaskFileError(f"{name}: front matter: {field_problem(exc)}") from None
    body = body.strip()
    title = front.title
    if title is None:
        heading = _HEADING.search(body)
        title = heading.group("title") if heading else named.group("slug").replace("-", " ")
    return Task(
        id=named.group("id"),
        slug=named.group("slug"),
        title=title,
        body=body,
        labels=tuple(front.labels),
        depends_on=tuple(front.depends_on),
        files=tuple(front.files),
        priority=front.priority,
        agent=front.agent_override,
        source=name,
    )
