"""One-line descriptions of problems in what users write: YAML and validated fields. Pure."""

from __future__ import annotations

import yaml
from pydantic import ValidationError


def yaml_problem(exc: yaml.YAMLError, first_line: int = 1) -> tuple[int | None, str]:
    """(line number or None, what is wrong) for a YAML parse error; `first_line` is the line
    of the file on which the parsed text starts."""
    mark = getattr(exc, "problem_mark", None)
    line = mark.line + first_line if mark is not None else None
    return line, getattr(exc, "problem", None) or "invalid YAML"


def field_problem(exc: ValidationError, count_others: bool = False) -> str:
    """`key.path: what is wrong` for the first error of a pydantic validation."""
    first = exc.errors()[0]
    key = ".".join(str(part) for part in first["loc"]) or "(top level)"
    message = first["msg"].removeprefix("Value error, ")
    more = f" (and {exc.error_count() - 1} more)" if count_others and exc.error_count() > 1 else ""
    return f"{key}: {message}{more}"
