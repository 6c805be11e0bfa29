"""`plan.predictor: agent`: ask a task's agent which files it expects to touch, read-only.

The agent runs in a throwaway detached checkout at the base commit, so anything it writes
is discarded; it is asked to answer with paths only, and its answer is one more source of
evidence for the predictor (bot.analysis), never the whole footprint.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path

from bot import process
from bot.agents.claude import ClaudeStream
from bot.agents.presets import preset_of
from bot.agents.runner import Brief, agent_environment, argv_for
from bot.config import AgentConfig
from bot.gitops import GitRepo
from bot.models import Task
from bot.redact import Redactor

ASK_TIMEOUT = 300.0
MAX_HINTS = 30
_PATH = re.compile(
    r"^[\s*`'\"-]*(?:\d+[.)]\s*)?[`'\"]*([\w./-]+\.[\w]+|[\w.-]+/[\w./-]+)[`'\",:]*\s*$"
)

QUESTION = """# Which files will this task touch?

Do not change anything: this is a planning question. Read the task below, look around the
repository if you need to, and answer with only the repository-relative paths of the files you
expect to create or change, one per line, with no other text.

## The task

{title}

{body}
"""


def parse_paths(answer: str) -> list[str]:
    """Paths from an answer: one per line, with bullets, numbering and backticks tolerated."""
    found: dict[str, None] = {}
    for line in answer.splitlines():
        match = _PATH.match(line)
        if match and not match.group(1).startswith(("http:", "https:")):
            found.setdefault(match.group(1).removeprefix("./"), None)
    return list(found)[:MAX_HINTS]


def _answer(agent: AgentConfig, log: Path) -> str:
    text = log.read_text(errors="replace") if log.exists() else ""
    if preset_of(agent).output != "claude-stream-json":
        return text
    stream = ClaudeStream()
    stream.feed(text + "\n")
    return stream.result.text if stream.result is not None else ""


def expected_files(agent: AgentConfig, task: Task, repo: GitRepo, base: str) -> list[str]:
    """The files `task`'s agent says it will touch, cached per task text, agent and base."""
    key = hashlib.sha256(
        json.dumps([task.text, agent.model_dump(mode="json"), base]).encode()
    ).hexdigest()[:16]
    cached = repo.state_dir / "cache" / f"ask-{key}.json"
    if cached.exists():
        return list(json.loads(cached.read_text()))
    run_dir = repo.state_dir / "ask" / key
    run_dir.mkdir(parents=True, exist_ok=True)
    brief = Brief(run_dir / "task.json", run_dir / "prompt.md", run_dir / "answer.log")
    brief.task_file.write_text(json.dumps({"task": task.model_dump(mode="json")}))
    brief.prompt_file.write_text(QUESTION.format(title=task.title, body=task.body))
    brief.log.unlink(missing_ok=True)
    with repo.scratch_checkout(base) as checkout:
        env = {
            **agent_environment(os.environ, checkout),
            **agent.env,
            "ORCHESTRATE_TASK_ID": task.id,
        }
        env["ORCHESTRATE_PROMPT_FILE"] = str(brief.prompt_file)
        stdin = brief.prompt_file if preset_of(agent).prompt_on_stdin else None
        argv = argv_for(agent, brief, task, checkout)
        ran = process.run(argv, checkout, env, brief.log, min(agent.timeout, ASK_TIMEOUT), stdin)
    process.mask_file(brief.log, Redactor.from_env(agent.secrets, {**os.environ, **agent.env}))
    paths = parse_paths(_answer(agent, brief.log)) if ran.returncode == 0 else []
    cached.parent.mkdir(parents=True, exist_ok=True)
    cached.write_text(json.dumps(paths))
    return paths
