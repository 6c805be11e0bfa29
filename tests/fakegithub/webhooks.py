"""Webhook payloads for the events the fake causes, shaped like GitHub's.

``build`` turns a model event (name, action, objects) into the JSON payload.
The facade validates each payload against the description's ``x-webhooks``
schema and, for events the bot handles, through ``bot.events.parse_event``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fakegithub import render, render_git
from fakegithub.model import Dispatch, Repo, User, WorkflowRun
from fakegithub.routes_repo import INSTALLATION_ID

API = "https://api.github.com"

# (event, action) pairs the model emits -> name of the x-webhooks entry
WEBHOOK_NAMES: dict[tuple[str, str | None], str] = {
    ("issues", "opened"): "issues-opened",
    ("issues", "edited"): "issues-edited",
    ("issues", "closed"): "issues-closed",
    ("issues", "reopened"): "issues-reopened",
    ("issues", "labeled"): "issues-labeled",
    ("issues", "unlabeled"): "issues-unlabeled",
    ("issue_comment", "created"): "issue-comment-created",
    ("issue_comment", "edited"): "issue-comment-edited",
    ("issue_comment", "deleted"): "issue-comment-deleted",
    ("pull_request", "opened"): "pull-request-opened",
    ("pull_request", "closed"): "pull-request-closed",
    ("pull_request", "reopened"): "pull-request-reopened",
    ("pull_request", "synchronize"): "pull-request-synchronize",
    ("pull_request", "edited"): "pull-request-edited",
    ("pull_request", "labeled"): "pull-request-labeled",
    ("pull_request", "unlabeled"): "pull-request-unlabeled",
    ("check_run", "created"): "check-run-created",
    ("check_run", "completed"): "check-run-completed",
    ("workflow_dispatch", None): "workflow-dispatch",
    ("workflow_run", "completed"): "workflow-run-completed",
}


@dataclass(frozen=True)
class Delivery:
    """One webhook delivery: the ``X-GitHub-Event`` name, action and payload."""

    event: str
    action: str | None
    payload: dict[str, Any]
    delivery_id: str

    @property
    def headers(self) -> dict[str, str]:
        return {
            "X-GitHub-Event": self.event,
            "X-GitHub-Delivery": self.delivery_id,
            "Content-Type": "application/json",
        }


def _workflow_run(r: Repo, run: WorkflowRun) -> dict[str, Any]:
    base = f"{API}/repos/{r.full_name}/actions/runs/{run.id}"
    info = r.git.commit_info(run.head_sha)
    repo_json = render.repo(r, API)
    return {
        "id": run.id,
        "node_id": render.node_id("WFR", run.id),
        "name": run.workflow.name,
        "path": run.workflow.path,
        "event": run.event,
        "status": "completed",
        "conclusion": run.conclusion,
        "head_branch": run.head_branch,
        "head_sha": run.head_sha,
        "head_commit": {
            "id": info.sha,
            "tree_id": info.tree,
            "message": info.message,
            "timestamp": info.committer_date,
            "author": {"name": info.author_name, "email": info.author_email},
            "committer": {"name": info.committer_name, "email": info.committer_email},
        },
        "actor": render.user(run.actor, API),
        "triggering_actor": render.user(run.actor, API),
        "run_number": run.run_number,
        "run_attempt": 1,
        "run_started_at": run.created_at,
        "created_at": run.created_at,
        "updated_at": run.created_at,
        "check_suite_id": run.id + 500000,
        "check_suite_node_id": render.node_id("CS", run.id + 500000),
        "check_suite_url": f"{API}/repos/{r.full_name}/check-suites/{run.id + 500000}",
        "url": base,
        "html_url": f"{render.HTML}/{r.full_name}/actions/runs/{run.id}",
        "artifacts_url": f"{base}/artifacts",
        "cancel_url": f"{base}/cancel",
        "jobs_url": f"{base}/jobs",
        "logs_url": f"{base}/logs",
        "rerun_url": f"{base}/rerun",
        "previous_attempt_url": None,
        "workflow_id": run.workflow.id,
        "workflow_url": f"{API}/repos/{r.full_name}/actions/workflows/{run.workflow.id}",
        "pull_requests": [render_git.pull_minimal(r, r.pulls[n], API) for n in run.pull_numbers],
        "repository": repo_json,
        "head_repository": repo_json,
    }


def build(event: str, action: str | None, objects: dict[str, Any]) -> dict[str, Any]:
    """The payload GitHub would deliver for a model event."""
    r: Repo = objects["repo"]
    sender: User = objects["sender"]
    payload: dict[str, Any] = {} if action is None else {"action": action}
    if event in ("issues", "issue_comment"):
        payload["issue"] = render.issue(r, objects["issue"], API)
    if "label" in objects:
        payload["label"] = render.label(r, objects["label"], API)
    if event == "issue_comment":
        payload["comment"] = render.comment(r, objects["comment"], API)
    if "changes" in objects:
        payload["changes"] = {key: {"from": old} for key, old in objects["changes"].items()}
    if event == "pull_request":
        payload["number"] = objects["pull"].number
        payload["pull_request"] = render_git.pull(r, objects["pull"], API)
        if action == "synchronize":
            payload["before"], payload["after"] = objects["before"], objects["after"]
    if event == "check_run":
        run = render_git.check_run(r, objects["check_run"], API)
        run["check_suite"] = {
            "id": run["check_suite"]["id"],
            "head_sha": run["head_sha"],
            "head_branch": None,
            "status": "completed" if run["status"] == "completed" else "queued",
            "conclusion": run["conclusion"],
            "url": f"{API}/repos/{r.full_name}/check-suites/{run['check_suite']['id']}",
            "before": None,
            "after": run["head_sha"],
            "pull_requests": run["pull_requests"],
            "app": run["app"],
            "created_at": run["started_at"],
            "updated_at": run["completed_at"] or run["started_at"],
        }
        payload["check_run"] = run
    if event == "workflow_dispatch":
        dispatch: Dispatch = objects["dispatch"]
        ref = dispatch.ref if dispatch.ref.startswith("refs/") else f"refs/heads/{dispatch.ref}"
        payload.update(inputs=dispatch.inputs, ref=ref, workflow=dispatch.workflow.path)
    if event == "workflow_run":
        run_obj: WorkflowRun = objects["run"]
        payload["workflow_run"] = _workflow_run(r, run_obj)
        payload["workflow"] = render_git.workflow(r, run_obj.workflow, API)
    payload["repository"] = render.repo(r, API)
    payload["sender"] = render.user(sender, API)
    payload["installation"] = {
        "id": INSTALLATION_ID,
        "node_id": render.node_id("MDIz", INSTALLATION_ID),
    }
    return payload
