"""Every webhook example payload of a handled event parses through bot.events."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from fakegithub.examples import iter_examples

from bot import events as ev

HANDLED = sorted(name for name in ev.HANDLED_EVENTS if name != "schedule")  # not a webhook
EXAMPLES = list(iter_examples(*HANDLED))


def _ids() -> list[str]:
    seen: Counter[str] = Counter()
    out = []
    for name, action, _ in EXAMPLES:
        key = f"{name}.{action or '-'}"
        seen[key] += 1
        out.append(f"{key}#{seen[key]}")
    return out


def _check_common(model: Any, payload: dict[str, Any]) -> None:
    repo = payload["repository"]
    assert model.repository.full_name == repo["full_name"]
    assert model.repository.name == repo["name"]
    assert model.repository.owner.login == repo["owner"]["login"]
    assert model.sender.login == payload["sender"]["login"]
    assert model.sender.type == payload["sender"]["type"]
    if "installation" in payload:
        assert model.installation is not None
        assert model.installation.id == payload["installation"]["id"]


def _check_issue(issue: ev.Issue, raw: dict[str, Any]) -> None:
    assert issue.number == raw["number"]
    assert issue.title == raw["title"]
    assert issue.body == raw.get("body")
    assert issue.state == raw["state"]
    assert issue.user.login == raw["user"]["login"]
    assert issue.label_names == {label["name"] for label in raw.get("labels", [])}
    assert issue.is_pull_request == ("pull_request" in raw)


@pytest.mark.parametrize(("name", "action", "payload"), EXAMPLES, ids=_ids())
def test_example_parses(name: str, action: str | None, payload: dict[str, Any]) -> None:
    assert ev.route_key(name, payload) == (name, action)
    model = ev.parse_event(name, payload)
    if action not in ev.HANDLED_EVENTS[name]:
        assert model is None
        return
    assert model is not None
    assert model.event_name == name
    _check_common(model, payload)
    if isinstance(model, ev.IssuesEvent):
        assert model.action == action
        _check_issue(model.issue, payload["issue"])
        if action in ("labeled", "unlabeled"):
            assert model.label is not None
            assert model.label.name == payload["label"]["name"]
        if action == "edited":
            assert model.changes is not None
            for field in ("title", "body"):
                raw = payload["changes"].get(field)
                parsed = getattr(model.changes, field)
                assert (parsed.from_ if parsed else None) == (raw["from"] if raw else None)
    elif isinstance(model, ev.IssueCommentEvent):
        _check_issue(model.issue, payload["issue"])
        comment = payload["comment"]
        assert model.comment.id == comment["id"]
        assert model.comment.body == comment["body"]
        assert model.comment.user.login == comment["user"]["login"]
        assert model.comment.user.type == comment["user"]["type"]
    elif isinstance(model, ev.PullRequestEvent):
        pr, raw = model.pull_request, payload["pull_request"]
        assert model.number == payload["number"] == pr.number == raw["number"]
        assert (pr.head.ref, pr.head.sha) == (raw["head"]["ref"], raw["head"]["sha"])
        assert (pr.base.ref, pr.base.sha) == (raw["base"]["ref"], raw["base"]["sha"])
        assert pr.merged == raw.get("merged")
        assert pr.user.login == raw["user"]["login"]
        assert pr.title == raw["title"]
        if action == "synchronize":
            assert (model.before, model.after) == (payload["before"], payload["after"])
    elif isinstance(model, ev.CheckRunEvent):
        run, raw = model.check_run, payload["check_run"]
        assert (run.id, run.name, run.head_sha) == (raw["id"], raw["name"], raw["head_sha"])
        assert (run.status, run.conclusion) == (raw["status"], raw["conclusion"])
        assert [p.number for p in run.pull_requests] == [p["number"] for p in raw["pull_requests"]]
    elif isinstance(model, ev.WorkflowRunEvent):
        run, raw = model.workflow_run, payload["workflow_run"]
        assert (run.id, run.head_sha, run.head_branch) == (
            raw["id"],
            raw["head_sha"],
            raw["head_branch"],
        )
        assert (run.event, run.conclusion) == (raw["event"], raw["conclusion"])
        assert model.workflow is not None
        assert model.workflow.path == payload["workflow"]["path"]
    elif isinstance(model, ev.WorkflowDispatchEvent):
        assert model.ref == payload["ref"]
        assert model.workflow == payload["workflow"]
        assert model.inputs == payload["inputs"]
    else:  # pragma: no cover - a new model without assertions here
        pytest.fail(f"no assertions for {type(model).__name__}")


def test_every_handled_event_has_examples() -> None:
    parsed: Counter[str] = Counter()
    for name, _action, payload in EXAMPLES:
        if ev.parse_event(name, payload) is not None:
            parsed[name] += 1
    for name in HANDLED:
        assert parsed[name] > 0, f"no example of {name} was parsed"


def test_unhandled_events_and_actions_are_ignored() -> None:
    payload = next(p for n, _a, p in EXAMPLES if n == "issue_comment")
    assert ev.parse_event("issue_comment", {**payload, "action": "deleted"}) is None
    assert ev.parse_event("star", {**payload, "action": "created"}) is None


def test_the_schedule_trigger_parses_without_repository_or_sender() -> None:
    # what Actions writes to GITHUB_EVENT_PATH for a `schedule:` run
    model = ev.parse_event("schedule", {"schedule": "23 * * * *"})
    assert isinstance(model, ev.ScheduleEvent) and model.schedule == "23 * * * *"
