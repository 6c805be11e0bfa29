"""Mask secrets in anything orchestrate writes: logs, state, comments, check runs, summaries.

Two nets: the values of configured secret environment variables, and the shapes of common
tokens (GitHub, Anthropic, OpenAI, AWS) wherever they appear. Pure.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

MASK = "***"
MIN_SECRET_LENGTH = 6  # shorter values would mask ordinary words

TOKEN_SHAPES = re.compile(
    "|".join(
        (
            r"\bgh[pousr]_[A-Za-z0-9]{30,}\b",  # GitHub tokens: ghp_, gho_, ghu_, ghs_, ghr_
            r"\bgithub_pat_[A-Za-z0-9_]{40,}\b",  # GitHub fine-grained tokens
            r"\bsk-ant-[A-Za-z0-9_-]{20,}",  # Anthropic
            r"\bsk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}",  # OpenAI
            r"\b(?:AKIA|ASIA)[A-Z0-9]{16}\b",  # AWS access key ids
            r"(?i:(?<=aws_secret_access_key))(\s*[=:]\s*)[A-Za-z0-9/+=]{40}",  # AWS secret keys
            r"\bAIza[0-9A-Za-z_-]{35}\b",  # Google API keys
        )
    )
)


class Redactor:
    def __init__(self, secrets: Iterable[str] = ()) -> None:
        values = sorted({s for s in secrets if len(s) >= MIN_SECRET_LENGTH}, key=len, reverse=True)
        self._values = re.compile("|".join(map(re.escape, values))) if values else None

    @classmethod
    def from_env(cls, names: Iterable[str], env: Mapping[str, str]) -> Redactor:
        return cls(env[name] for name in names if env.get(name))

    def __call__(self, text: str) -> str:
        if not text:
            return text
        if self._values is not None:
            text = self._values.sub(MASK, text)
        return TOKEN_SHAPES.sub(_mask_match, text)


def _mask_match(match: re.Match[str]) -> str:
    separator = match.group(1)  # only the AWS secret pattern keeps its `=` or `:`
    return (separator or "") + MASK
