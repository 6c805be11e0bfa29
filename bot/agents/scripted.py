"""A deterministic scripted agent for the demo and tests: no LLM, edits the task asks for.

It reads the task from ORCHESTRATE_TASK_FILE and performs each fenced block whose info
string is an edit, from the file beside the task file named `<id>-<slug>.edits` (its stand-in
for an LLM's knowledge, kept out of the task text the planner reads), or else from the body:

    ```write path/to/file.py      (replace the whole file with the block)
    ```append path/to/file.py     (append the block to the file)

`ORCHESTRATE_SCRIPTED_DELAY` (seconds) makes it take a while, as real agents do.
Run as `python -m bot.agents.scripted`.
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
from pathlib import Path

_EDIT = re.compile(r"^```(write|append)[ \t]+(\S+)[ \t]*\n(.*?)^```[ \t]*$", re.M | re.S)


def edits(body: str) -> list[tuple[str, str, str]]:
    return [(m.group(1), m.group(2), m.group(3)) for m in _EDIT.finditer(body)]


def apply(checkout: Path, body: str) -> list[str]:
    root = checkout.resolve()
    touched = []
    for mode, name, content in edits(body):
        target = (root / name).resolve()
        if not target.is_relative_to(root):
            raise SystemExit(f"scripted agent: refusing to write outside the checkout: {name}")
        target.parent.mkdir(parents=True, exist_ok=True)
        if mode == "append" and target.exists():
            content = target.read_text() + content
        target.write_text(content)
        touched.append(name)
    return touched


def main() -> int:
    document = json.loads(Path(os.environ["ORCHESTRATE_TASK_FILE"]).read_text())
    task = document["task"]
    print(f"scripted agent: task {task['id']}: {task['title']}", flush=True)
    delay = float(os.environ.get("ORCHESTRATE_SCRIPTED_DELAY", "0"))
    steps = max(1, int(delay / 0.25))
    for step in range(steps):
        time.sleep(delay / steps)
        print(f"scripted agent: thinking ({step + 1}/{steps})", flush=True)
    sidecar = Path(task["source"]).with_suffix(".edits") if task.get("source") else None
    script = sidecar.read_text() if sidecar is not None and sidecar.exists() else task["body"]
    touched = apply(Path.cwd(), script)
    for name in touched:
        print(f"scripted agent: edited {name}", flush=True)
    if not touched:
        print("scripted agent: the task asks for no edit", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
