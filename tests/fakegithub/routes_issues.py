"""Routes: issues, labels, issue dependencies, issue comments and reactions."""

from __future__ import annotations

from typing import Any

from fakegithub import render
from fakegithub.app import Ctx, Reply, route
from fakegithub.model import Issue, Reaction, Repo

ISSUE = "/repos/{owner}/{repo}/issues/{issue_number}"
COMMENT = "/repos/{owner}/{repo}/issues/comments/{comment_id}"


def _label_names(body: Any) -> list[str]:
    """Label names from ``["a"]``, ``{"labels": ["a"]}`` or ``[{"name": "a"}]``."""
    items = body.get("labels", []) if isinstance(body, dict) else body or []
    return [item["name"] if isinstance(item, dict) else str(item) for item in items]


def _issue_labels(ctx: Ctx, issue: Issue) -> Reply:
    return Reply(body=[render.label(ctx.repo(), lb, ctx.api) for lb in issue.labels])


# ---------------------------------------------------------------------------- issues


@route("GET", "/repos/{owner}/{repo}/issues")
def list_issues(ctx: Ctx) -> Reply:
    repo = ctx.repo()
    state = ctx.query.get("state", "open")
    wanted = {n.strip().lower() for n in ctx.query.get("labels", "").split(",") if n.strip()}
    creator = ctx.query.get("creator", "").lower()
    issues = [
        i
        for i in repo.issues.values()
        if state in ("all", i.state)
        and wanted <= {lb.name.lower() for lb in i.labels}
        and (not creator or i.user.login.lower() == creator)
    ]
    reverse = ctx.query.get("direction", "desc") == "desc"
    issues.sort(
        key=lambda i: (
            i.updated_at if ctx.query.get("sort") == "updated" else i.created_at,
            i.number,
        ),
        reverse=reverse,
    )
    return Reply(body=[render.issue(repo, i, ctx.api) for i in issues], paginate=True)


@route("POST", "/repos/{owner}/{repo}/issues")
def create_issue(ctx: Ctx) -> Reply:
    body = ctx.require("title")
    repo = ctx.repo()
    issue = ctx.state.create_issue(
        repo, ctx.actor, str(body["title"]), body.get("body"), _label_names(body)
    )
    return Reply(201, render.issue(repo, issue, ctx.api))


@route("GET", ISSUE)
def get_issue(ctx: Ctx) -> Reply:
    repo = ctx.repo()
    return Reply(body=render.issue(repo, repo.issue(ctx.int_param("issue_number")), ctx.api))


@route("PATCH", ISSUE)
def edit_issue(ctx: Ctx) -> Reply:
    repo, body = ctx.repo(), ctx.require()
    labels = _label_names(body) if "labels" in body else None
    issue = ctx.state.edit_issue(
        repo,
        ctx.actor,
        ctx.int_param("issue_number"),
        title=body.get("title"),
        body=body.get("body"),
        state=body.get("state"),
        state_reason=body.get("state_reason"),
        labels=labels,
    )
    return Reply(body=render.issue(repo, issue, ctx.api))


# ---------------------------------------------------------------------------- dependencies

BLOCKED_BY = ISSUE + "/dependencies/blocked_by"


def _issue_list(ctx: Ctx, issues: list[tuple[Repo, Issue]]) -> Reply:
    return Reply(body=[render.issue(r, i, ctx.api) for r, i in issues], paginate=True)


@route("GET", BLOCKED_BY)
def list_blocked_by(ctx: Ctx) -> Reply:
    return _issue_list(ctx, ctx.state.blocked_by(ctx.repo(), ctx.int_param("issue_number")))


@route("GET", ISSUE + "/dependencies/blocking")
def list_blocking(ctx: Ctx) -> Reply:
    return _issue_list(ctx, ctx.state.blocking(ctx.repo(), ctx.int_param("issue_number")))


# POST and DELETE answer with the issue of the path (the blocked one), not the blocker, and
# POST's Location is that issue's URL, as in GitHub traffic recorded by PyGithub's tests.
@route("POST", BLOCKED_BY)
def add_blocked_by(ctx: Ctx) -> Reply:
    body, repo = ctx.require("issue_id"), ctx.repo()
    issue = ctx.state.add_blocked_by(repo, ctx.int_param("issue_number"), int(body["issue_id"]))
    out = render.issue(repo, issue, ctx.api)
    return Reply(201, out, {"Location": out["url"]})


@route("DELETE", BLOCKED_BY + "/{issue_id}")
def remove_blocked_by(ctx: Ctx) -> Reply:
    repo = ctx.repo()
    issue = ctx.state.remove_blocked_by(
        repo, ctx.int_param("issue_number"), ctx.int_param("issue_id")
    )
    return Reply(body=render.issue(repo, issue, ctx.api))


# ---------------------------------------------------------------------------- labels


@route("GET", ISSUE + "/labels")
def list_issue_labels(ctx: Ctx) -> Reply:
    reply = _issue_labels(ctx, ctx.repo().issue(ctx.int_param("issue_number")))
    reply.paginate = True
    return reply


@route("POST", ISSUE + "/labels")
def add_issue_labels(ctx: Ctx) -> Reply:
    issue = ctx.state.add_labels(
        ctx.repo(), ctx.actor, ctx.int_param("issue_number"), _label_names(ctx.body)
    )
    return _issue_labels(ctx, issue)


@route("PUT", ISSUE + "/labels")
def set_issue_labels(ctx: Ctx) -> Reply:
    issue = ctx.state.set_labels(
        ctx.repo(), ctx.actor, ctx.int_param("issue_number"), _label_names(ctx.body)
    )
    return _issue_labels(ctx, issue)


@route("DELETE", ISSUE + "/labels")
def clear_issue_labels(ctx: Ctx) -> Reply:
    ctx.state.set_labels(ctx.repo(), ctx.actor, ctx.int_param("issue_number"), [])
    return Reply(204)


@route("DELETE", ISSUE + "/labels/{name}")
def remove_issue_label(ctx: Ctx) -> Reply:
    issue = ctx.state.remove_label(
        ctx.repo(), ctx.actor, ctx.int_param("issue_number"), ctx.params["name"]
    )
    return _issue_labels(ctx, issue)


@route("GET", "/repos/{owner}/{repo}/labels")
def list_labels(ctx: Ctx) -> Reply:
    repo = ctx.repo()
    return Reply(
        body=[render.label(repo, lb, ctx.api) for lb in repo.labels.values()], paginate=True
    )


@route("POST", "/repos/{owner}/{repo}/labels")
def create_label(ctx: Ctx) -> Reply:
    body, repo = ctx.require("name"), ctx.repo()
    label = ctx.state.create_label(
        repo, body["name"], body.get("color", "ededed"), body.get("description")
    )
    return Reply(201, render.label(repo, label, ctx.api))


@route("GET", "/repos/{owner}/{repo}/labels/{name}")
def get_label(ctx: Ctx) -> Reply:
    repo = ctx.repo()
    return Reply(body=render.label(repo, repo.label(ctx.params["name"]), ctx.api))


@route("PATCH", "/repos/{owner}/{repo}/labels/{name}")
def edit_label(ctx: Ctx) -> Reply:
    repo, body = ctx.repo(), ctx.require()
    label = repo.label(ctx.params["name"])
    if body.get("new_name"):
        del repo.labels[label.name.lower()]
        label.name = body["new_name"]
        repo.labels[label.name.lower()] = label
    label.color = body.get("color", label.color)
    label.description = body.get("description", label.description)
    return Reply(body=render.label(repo, label, ctx.api))


@route("DELETE", "/repos/{owner}/{repo}/labels/{name}")
def delete_label(ctx: Ctx) -> Reply:
    repo = ctx.repo()
    label = repo.label(ctx.params["name"])
    del repo.labels[label.name.lower()]
    for issue in repo.issues.values():
        if label in issue.labels:
            issue.labels.remove(label)
    return Reply(204)


# ---------------------------------------------------------------------------- comments


@route("GET", ISSUE + "/comments")
def list_issue_comments(ctx: Ctx) -> Reply:
    repo = ctx.repo()
    number = repo.issue(ctx.int_param("issue_number")).number
    since = ctx.query.get("since", "")
    comments = [
        c for c in repo.comments.values() if c.issue_number == number and c.updated_at >= since
    ]
    return Reply(body=[render.comment(repo, c, ctx.api) for c in comments], paginate=True)


@route("GET", "/repos/{owner}/{repo}/issues/comments")
def list_repo_comments(ctx: Ctx) -> Reply:
    repo = ctx.repo()
    since = ctx.query.get("since", "")
    comments = [c for c in repo.comments.values() if c.updated_at >= since]
    if ctx.query.get("direction") == "desc":
        comments.reverse()
    return Reply(body=[render.comment(repo, c, ctx.api) for c in comments], paginate=True)


@route("POST", ISSUE + "/comments")
def create_comment(ctx: Ctx) -> Reply:
    body, repo = ctx.require("body"), ctx.repo()
    comment = ctx.state.create_comment(repo, ctx.actor, ctx.int_param("issue_number"), body["body"])
    return Reply(201, render.comment(repo, comment, ctx.api))


@route("GET", COMMENT)
def get_comment(ctx: Ctx) -> Reply:
    repo = ctx.repo()
    return Reply(body=render.comment(repo, repo.comment(ctx.int_param("comment_id")), ctx.api))


@route("PATCH", COMMENT)
def edit_comment(ctx: Ctx) -> Reply:
    body, repo = ctx.require("body"), ctx.repo()
    comment = ctx.state.edit_comment(repo, ctx.actor, ctx.int_param("comment_id"), body["body"])
    return Reply(body=render.comment(repo, comment, ctx.api))


@route("DELETE", COMMENT)
def delete_comment(ctx: Ctx) -> Reply:
    ctx.state.delete_comment(ctx.repo(), ctx.actor, ctx.int_param("comment_id"))
    return Reply(204)


# ---------------------------------------------------------------------------- reactions


def _reactions(ctx: Ctx, repo: Repo) -> list[Reaction]:
    if "comment_id" in ctx.params:
        return repo.comment(ctx.int_param("comment_id")).reactions
    return repo.issue(ctx.int_param("issue_number")).reactions


def _list_reactions(ctx: Ctx) -> Reply:
    content = ctx.query.get("content")
    items = [r for r in _reactions(ctx, ctx.repo()) if content in (None, r.content)]
    return Reply(body=[render.reaction(r, ctx.api) for r in items], paginate=True)


def _create_reaction(ctx: Ctx) -> Reply:
    body = ctx.require("content")
    reaction, created = ctx.state.react(_reactions(ctx, ctx.repo()), ctx.actor, body["content"])
    return Reply(201 if created else 200, render.reaction(reaction, ctx.api))


def _delete_reaction(ctx: Ctx) -> Reply:
    ctx.state.unreact(_reactions(ctx, ctx.repo()), ctx.int_param("reaction_id"))
    return Reply(204)


for _base in (COMMENT, ISSUE):
    route("GET", _base + "/reactions")(_list_reactions)
    route("POST", _base + "/reactions")(_create_reaction)
    route("DELETE", _base + "/reactions/{reaction_id}")(_delete_reaction)
