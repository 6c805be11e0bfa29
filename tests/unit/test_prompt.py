"""The prompt an agent receives, as a snapshot: regenerate with UPDATE_SNAPSHOTS=1."""

import json
import os
from pathlib import Path

from bot.agents.prompt import AgentContext, build_prompt, task_document
from bot.models import Footprint
from bot.taskfile import parse_task_file

SNAPSHOT = Path(__file__).parent / "snapshots" / "prompt.md"


def example():
    task = parse_task_file(
        "7-rate-limit.md",
        "---\ntitle: Rate-limit the login endpoint\ndepends_on: [3]\n---\n"
        "Limit `/login` to 5 attempts a minute per IP; see app/auth.py.\n",
    )
    footprint = Footprint(
        files=("app/auth.py", "tests/test_auth.py"),
        reasons={"app/auth.py": "mentioned as 'app/auth.py' (exact)"},
    )
    owned = {"app/models.py": "4", "app/views.py": "5"}
    landed = {"3": "Add a login endpoint"}
    return AgentContext(task, footprint, owned, landed, "pytest -q")


def test_prompt_snapshot():
    prompt = build_prompt(example())
    if os.environ.get("UPDATE_SNAPSHOTS"):
        SNAPSHOT.write_text(prompt)
    assert prompt == SNAPSHOT.read_text()


def test_task_document_has_what_the_agent_needs():
    document = task_document(example())
    assert json.loads(json.dumps(document)) == document
    assert document["branch"] == "orchestrate/7-rate-limit"
    assert document["owned_by_others"] == {"app/models.py": "4", "app/views.py": "5"}
    assert document["footprint"]["files"] == ["app/auth.py", "tests/test_auth.py"]
    assert document["landed_before"] == {"3": "Add a login endpoint"}
