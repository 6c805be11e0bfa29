"""`/orchestrate` commands in issue comments, parsed strictly. Pure.

    /orchestrate plan            predict footprints and post the plan
    /orchestrate run             start (or continue) the work
    /orchestrate status          refresh the dashboard
    /orchestrate retry #12       run task 12 again
    /orchestrate cancel [#12]    stop one task, or all of them
    /orchestrate merge           run the merge queue now
    /orchestrate help            list the commands

The command must be the first word of a line outside quotes and code blocks; one command per
comment. Anything else after the verb is an error, never guessed at.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict

Verb = Literal["plan", "run", "status", "retry", "cancel", "merge", "help"]
VERBS: dict[str, str] = {
    "plan": "predict which files each task touches and post the plan",
    "run": "start the tasks that are ready, and continue the ones under way",
    "status": "refresh the dashboard",
    "retry": "run one task again: `/orchestrate retry #12`",
    "cancel": "stop one task (`/orchestrate cancel #12`) or all of them",
    "merge": "run the merge queue now",
    "help": "show this list",
}
PREFIX = "/orchestrate"
_TASK = re.compile(r"^#?(\d+)$")
_FENCE = re.compile(r"^\s*(```|~~~)")


class Command(BaseModel):
    model_config = ConfigDict(frozen=True)

    verb: Verb
    task: int | None = None


class CommandError(Exception):
    """A comment that tried to command the bot and got it wrong; the message says how."""


def _command_lines(body: str) -> list[str]:
    lines, fenced = [], False
    for line in body.splitlines():
        if _FENCE.match(line):
            fenced = not fenced
            continue
        stripped = line.strip()
        if fenced or stripped.startswith(">"):
            continue
        if stripped == PREFIX or stripped.startswith(PREFIX + " "):
            lines.append(stripped)
    return lines


def parse_command(body: str) -> Command | None:
    """The command in a comment, None when it has none; CommandError when it is malformed."""
    lines = _command_lines(body)
    if not lines:
        return None
    if len(lines) > 1:
        raise CommandError("one command per comment, please")
    words = lines[0].split()[1:]
    if not words:
        raise CommandError("which command? " + usage())
    verb, args = words[0].lower(), words[1:]
    if verb not in VERBS:
        raise CommandError(f"unknown command `{verb[:40]}`. " + usage())
    task = None
    if args:
        match = _TASK.match(args[0])
        if verb not in ("retry", "cancel") or len(args) > 1 or not match:
            raise CommandError(f"`{PREFIX} {verb}` takes {_takes(verb)}")
        task = int(match.group(1))
    elif verb == "retry":
        raise CommandError("`/orchestrate retry` needs a task, e.g. `/orchestrate retry #12`")
    return Command.model_validate({"verb": verb, "task": task})


def _takes(verb: str) -> str:
    return {"retry": "one task, e.g. `#12`", "cancel": "at most one task, e.g. `#12`"}.get(
        verb, "no arguments"
    )


def usage() -> str:
    return "Commands: " + ", ".join(f"`{PREFIX} {verb}`" for verb in VERBS) + "."


def help_markdown() -> str:
    rows = "\n".join(f"| `{PREFIX} {verb}` | {text} |" for verb, text in VERBS.items())
    return (
        "| command | what it does |\n|---|---|\n" + rows + "\n\n"
        "Only people with write, maintain or admin permission on this repository can run them."
    )
