"""Webhook example payloads from the ``@octokit/webhooks-examples`` npm package.

The package ships one JSON file, ``api.github.com/index.json``: a list of
``{"name": event, "actions": [...], "examples": [payload, ...], ...}``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

NODE_MODULES = Path(__file__).resolve().parent.parent / "node_modules"
EXAMPLES_FILE = NODE_MODULES / "@octokit" / "webhooks-examples" / "api.github.com" / "index.json"
INSTALL_HINT = "run: npm ci --prefix tests --no-audit --no-fund"


def require(path: Path) -> Path:
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing; {INSTALL_HINT}")
    return path


@cache
def _load() -> tuple[dict[str, Any], ...]:
    with require(EXAMPLES_FILE).open(encoding="utf-8") as f:
        return tuple(json.load(f))


def iter_examples(*events: str) -> Iterator[tuple[str, str | None, dict[str, Any]]]:
    """Yield (event name, action or None, payload) for every example.

    With ``events``, only the examples of those events. Payloads are fresh
    copies, so callers may mutate them.
    """
    for entry in _load():
        if events and entry["name"] not in events:
            continue
        for payload in entry["examples"]:
            copy: dict[str, Any] = json.loads(json.dumps(payload))
            action = copy.get("action")
            yield entry["name"], action if isinstance(action, str) else None, copy
