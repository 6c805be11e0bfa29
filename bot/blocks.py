"""Hidden blocks: machine-readable JSON inside an HTML comment of a Markdown body (the
dashboard's state, an agent job's report in its check run). Pure."""

from __future__ import annotations

import base64
import json
import re
import zlib
from collections.abc import Mapping

STATE_BLOCK = "state"  # the dashboard comment's machine state
AGENT_BLOCK = "agent"  # an agent job's report, in its check run's summary
COMPRESS_ABOVE = 40_000


class StateBlockError(Exception):
    """A hidden block that is present but unreadable (edited by hand, or truncated)."""


def _pattern(kind: str) -> re.Pattern[str]:
    return re.compile(rf"<!-- orchestrate:{kind} v1(?P<z>z?)\n(?P<data>.*?)\n-->", re.S)


def encode_block(kind: str, data: Mapping[str, object]) -> str:
    """A hidden block: JSON that cannot close the HTML comment early (`<`, `>`, `&` escaped),
    compressed when large so a comment stays under GitHub's size limit."""
    text = json.dumps(data, sort_keys=True, separators=(",", ":"))
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    opening = f"<!-- orchestrate:{kind} v1"
    if len(text) > COMPRESS_ABOVE:
        packed = base64.b64encode(zlib.compress(text.encode(), 9)).decode()
        return f"{opening}z\n{packed}\n-->"
    return f"{opening}\n{text}\n-->"


def decode_block(kind: str, body: str) -> dict[str, object] | None:
    """The data of the `kind` block in a body, None when it has none."""
    match = _pattern(kind).search(body)
    if match is None:
        return None
    data = match.group("data")
    try:
        if match.group("z"):
            data = zlib.decompress(base64.b64decode(data)).decode()
        decoded = json.loads(data)
    except (ValueError, zlib.error) as exc:
        raise StateBlockError(f"the {kind} block cannot be read: {exc}") from None
    if not isinstance(decoded, dict):
        raise StateBlockError(f"the {kind} block is not a JSON object")
    return decoded


def encode_state(data: Mapping[str, object]) -> str:
    return encode_block(STATE_BLOCK, data)


def decode_state(body: str) -> dict[str, object] | None:
    """The dashboard's state in a comment body, None when it has no block."""
    return decode_block(STATE_BLOCK, body)
