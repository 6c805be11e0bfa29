"""Claude Code's `--output-format stream-json` output, read line by line. Pure.

Each line is one JSON message: a `system` `init`, then `assistant` messages (text and
`tool_use` blocks) and `user` messages (tool results), and finally one `result` with
`subtype`, `is_error`, `num_turns`, `total_cost_usd`, `duration_ms` and `session_id`.
Malformed lines are counted and skipped, never fatal.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any


@dataclass
class ClaudeResult:
    subtype: str
    is_error: bool
    num_turns: int | None
    total_cost_usd: float | None
    duration_ms: int | None
    session_id: str | None
    text: str

    @property
    def ok(self) -> bool:
        """`subtype: success` with `is_error: true` is still a failure."""
        return self.subtype == "success" and not self.is_error


@dataclass
class ClaudeStream:
    turns: int = 0
    tool_uses: int = 0
    last_tool: str = ""
    malformed: int = 0
    session_id: str | None = None
    result: ClaudeResult | None = None
    _pending: str = field(default="", repr=False)

    def feed(self, chunk: str) -> bool:
        """Take a piece of output (any split); True when the progress line changed."""
        text = self._pending + chunk
        lines = text.split("\n")
        self._pending = lines.pop()
        changed = False
        for line in lines:
            changed |= self.line(line)
        return changed

    def line(self, line: str) -> bool:
        line = line.strip()
        if not line:
            return False
        try:
            message = json.loads(line)
        except ValueError:
            self.malformed += 1
            return False
        if not isinstance(message, dict):
            self.malformed += 1
            return False
        return self._message(message)

    def _message(self, message: dict[str, Any]) -> bool:
        kind = message.get("type")
        if kind == "system" and message.get("subtype") == "init":
            self.session_id = message.get("session_id")
            return True
        if kind == "assistant":
            self.turns += 1
            for block in _content(message):
                if block.get("type") == "tool_use":
                    self.tool_uses += 1
                    self.last_tool = _describe_tool(block)
            return True
        if kind == "result":
            self.result = ClaudeResult(
                subtype=str(message.get("subtype", "")),
                is_error=bool(message.get("is_error", False)),
                num_turns=_int(message.get("num_turns")),
                total_cost_usd=_float(message.get("total_cost_usd")),
                duration_ms=_int(message.get("duration_ms")),
                session_id=message.get("session_id"),
                text=str(message.get("result", "") or ""),
            )
            return True
        return False

    @property
    def progress(self) -> str:
        if self.result is not None:
            cost = self.result.total_cost_usd
            money = f", ${cost:.2f}" if cost is not None else ""
            return f"{self.result.subtype}: {self.result.num_turns} turns{money}"
        text = f"turn {self.turns}, {self.tool_uses} tool uses"
        return f"{text} (last: {self.last_tool})" if self.last_tool else text


def _content(message: dict[str, Any]) -> list[dict[str, Any]]:
    inner = message.get("message")
    blocks = inner.get("content") if isinstance(inner, dict) else None
    return [b for b in blocks if isinstance(b, dict)] if isinstance(blocks, list) else []


def _describe_tool(block: dict[str, Any]) -> str:
    name = str(block.get("name", "tool"))
    args = block.get("input")
    if isinstance(args, dict):
        target = args.get("file_path") or args.get("path") or args.get("command")
        if isinstance(target, str):
            return f"{name} {target[:60]}"
    return name


def _int(value: object) -> int | None:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _float(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None
