"""Routes: users, repos, collaborators, pulls, checks, git refs, actions, rate limit."""

from __future__ import annotations

from fakegithub import render, render_git
from fakegithub.app import Ctx, Reply, route
from fakegithub.model import ApiError, CheckRun, Repo, invalid, not_found

REPO = "/repos/{owner}/{repo}"
PULL = REPO + "/pulls/{pull_number}"


@route("GET", "/rate_limit")
def rate_limit(ctx: Ctx) -> Reply:
    core = ctx.fake.rate_limit_json()
    other = {"limit": 30, "remaining": 30, "reset": core["reset"], "used": 0}
    return Reply(body={"resources": {"core": core, "search": other, "graphql": core}, "rate": core})


@route("GET", "/user")
def authenticated_user(ctx: Ctx) -> Reply:
    return Reply(body=render.public_user(ctx.actor, ctx.api))


@route("GET", "/users/{username}")
def get_user(ctx: Ctx) -> Reply:
    return Reply(body=render.public_user(ctx.state.find_user(ctx.params["username"]), ctx.api))


@route("GET", REPO)
def get_repo(ctx: Ctx) -> Reply:
    return Reply(body=render.repo(ctx.repo(), ctx.api, viewer=ctx.actor.login, full=True))


# ---------------------------------------------------------------------------- collaborators


def _collaborator(ctx: Ctx, repo: Repo, login: str) -> dict[str, object]:
    user, _permission, role = ctx.state.permission(repo, login)
    rank = ("none", "read", "triage", "write", "maintain", "admin").index(role)
    return {
        **render.user(user, ctx.api),
        "permissions": {
            "pull": rank >= 1,
            "triage": rank >= 2,
            "push": rank >= 3,
            "maintain": rank >= 4,
            "admin": rank >= 5,
        },
        "role_name": role,
    }


@route("GET", REPO + "/collaborators")
def list_collaborators(ctx: Ctx) -> Reply:
    repo = ctx.repo()
    logins = [repo.owner.login, *(u for u in repo.collaborators if u != repo.owner.login.lower())]
    return Reply(body=[_collaborator(ctx, repo, login) for login in logins], paginate=True)


@route("GET", REPO + "/collaborators/{username}")
def is_collaborator(ctx: Ctx) -> Reply:
    if ctx.repo().role(ctx.params["username"]) is None:
        raise not_found()
    return Reply(204)


@route("GET", REPO + "/collaborators/{username}/permission")
def collaborator_permission(ctx: Ctx) -> Reply:
    repo = ctx.repo()
    _user, permission, role = ctx.state.permission(repo, ctx.params["username"])
    user = _collaborator(ctx, repo, ctx.params["username"])
    return Reply(body={"permission": permission, "role_name": role, "user": user})


# ---------------------------------------------------------------------------- pulls


@route("GET", REPO + "/pulls")
def list_pulls(ctx: Ctx) -> Reply:
    repo = ctx.repo()
    state = ctx.query.get("state", "open")
    head = ctx.query.get("head", "").split(":", 1)[-1]
    base = ctx.query.get("base", "")
    pulls = [
        p
        for p in repo.pulls.values()
        if state in ("all", repo.issues[p.number].state)
        and head in ("", p.head)
        and base in ("", p.base)
    ]
    pulls.sort(key=lambda p: p.number, reverse=ctx.query.get("direction", "desc") == "desc")
    return Reply(body=[render_git.pull(repo, p, ctx.api) for p in pulls], paginate=True)


@route("POST", REPO + "/pulls")
def create_pull(ctx: Ctx) -> Reply:
    body, repo = ctx.require("head", "base"), ctx.repo()
    if "title" not in body:
        raise invalid("title is missing", "PullRequest", "title", code="missing_field")
    pull = ctx.state.create_pull(
        repo,
        ctx.actor,
        title=body["title"],
        head=body["head"],
        base=body["base"],
        body=body.get("body"),
        draft=bool(body.get("draft", False)),
    )
    return Reply(201, render_git.pull(repo, pull, ctx.api))


@route("GET", PULL)
def get_pull(ctx: Ctx) -> Reply:
    repo = ctx.repo()
    return Reply(body=render_git.pull(repo, repo.pull(ctx.int_param("pull_number")), ctx.api))


@route("PATCH", PULL)
def edit_pull(ctx: Ctx) -> Reply:
    body, repo = ctx.require(), ctx.repo()
    pull = ctx.state.edit_pull(repo, ctx.actor, ctx.int_param("pull_number"), **body)
    return Reply(body=render_git.pull(repo, pull, ctx.api))


@route("GET", PULL + "/merge")
def is_merged(ctx: Ctx) -> Reply:
    if ctx.repo().pull(ctx.int_param("pull_number")).merged_at is None:
        raise not_found()
    return Reply(204)


@route("PUT", PULL + "/merge")
def merge_pull(ctx: Ctx) -> Reply:
    body = ctx.body if isinstance(ctx.body, dict) else {}
    sha = ctx.state.merge_pull(
        ctx.repo(),
        ctx.actor,
        ctx.int_param("pull_number"),
        sha=body.get("sha"),
        method=body.get("merge_method", "merge"),
        title=body.get("commit_title"),
        message=body.get("commit_message"),
    )
    return Reply(body={"sha": sha, "merged": True, "message": "Pull Request successfully merged"})


@route("GET", PULL + "/files")
def list_pull_files(ctx: Ctx) -> Reply:
    repo = ctx.repo()
    pull = repo.pull(ctx.int_param("pull_number"))
    head = repo.head_sha(pull)
    base = repo.git.branch_sha(pull.base) or head
    web = f"{render.HTML}/{repo.full_name}"
    files = [
        {
            "sha": None,
            "filename": path,
            "status": status,
            "additions": add,
            "deletions": delete,
            "changes": add + delete,
            "blob_url": f"{web}/blob/{head}/{path}",
            "raw_url": f"{web}/raw/{head}/{path}",
            "contents_url": f"{ctx.api}/repos/{repo.full_name}/contents/{path}?ref={head}",
        }
        for path, add, delete, status in repo.git.diff_stats(base, head)
    ]
    return Reply(body=files, paginate=True)


# ---------------------------------------------------------------------------- checks


@route("POST", REPO + "/check-runs")
def create_check_run(ctx: Ctx) -> Reply:
    body, repo = ctx.require("name", "head_sha"), ctx.repo()
    run = ctx.state.create_check_run(repo, ctx.actor, body)
    return Reply(201, render_git.check_run(repo, run, ctx.api))


def _check_run(ctx: Ctx) -> tuple[Repo, CheckRun]:
    repo = ctx.repo()
    run = repo.check_runs.get(ctx.int_param("check_run_id"))
    if run is None:
        raise not_found()
    return repo, run


@route("GET", REPO + "/check-runs/{check_run_id}")
def get_check_run(ctx: Ctx) -> Reply:
    repo, run = _check_run(ctx)
    return Reply(body=render_git.check_run(repo, run, ctx.api))


@route("GET", REPO + "/check-runs/{check_run_id}/annotations")
def list_check_run_annotations(ctx: Ctx) -> Reply:
    repo, run = _check_run(ctx)
    notes = [render_git.annotation(repo, run, note) for note in run.annotations]
    return Reply(body=notes, paginate=True)


@route("PATCH", REPO + "/check-runs/{check_run_id}")
def update_check_run(ctx: Ctx) -> Reply:
    repo = ctx.repo()
    run = ctx.state.update_check_run(repo, ctx.actor, ctx.int_param("check_run_id"), ctx.require())
    return Reply(body=render_git.check_run(repo, run, ctx.api))


def _resolve_commit(repo: Repo, ref: str) -> str:
    sha = repo.git.branch_sha(ref) or repo.git.resolve(ref)
    if sha is None:
        raise ApiError(422, f"No commit found for SHA: {ref}")
    return sha


@route("GET", REPO + "/commits/{ref}/check-runs")
def list_check_runs_for_ref(ctx: Ctx) -> Reply:
    repo = ctx.repo()
    sha = _resolve_commit(repo, ctx.params["ref"])
    name, status = ctx.query.get("check_name"), ctx.query.get("status")
    runs = [
        render_git.check_run(repo, run, ctx.api)
        for run in reversed(repo.check_runs.values())
        if run.head_sha == sha and name in (None, run.name) and status in (None, run.status)
    ]
    return Reply(
        body={"total_count": len(runs), "check_runs": runs}, paginate=True, list_key="check_runs"
    )


@route("GET", REPO + "/commits/{ref}")
def get_commit(ctx: Ctx) -> Reply:
    repo = ctx.repo()
    return Reply(body=render_git.commit(repo, _resolve_commit(repo, ctx.params["ref"]), ctx.api))


# ---------------------------------------------------------------------------- git refs and branches


@route("GET", REPO + "/git/ref/{ref}")
def get_ref(ctx: Ctx) -> Reply:
    repo, ref = ctx.repo(), "refs/" + ctx.params["ref"]
    sha = repo.git.refs(ref).get(ref)
    if sha is None:
        raise not_found()
    return Reply(body=render_git.git_ref(repo, ref, sha, ctx.api))


@route("GET", REPO + "/git/matching-refs/{ref}")
def matching_refs(ctx: Ctx) -> Reply:
    repo, prefix = ctx.repo(), "refs/" + ctx.params["ref"]
    refs = {name: sha for name, sha in repo.git.refs().items() if name.startswith(prefix)}
    return Reply(
        body=[render_git.git_ref(repo, n, s, ctx.api) for n, s in sorted(refs.items())],
        paginate=True,
    )


@route("POST", REPO + "/git/refs")
def create_ref(ctx: Ctx) -> Reply:
    body, repo = ctx.require("ref", "sha"), ctx.repo()
    ctx.state.create_ref(repo, body["ref"], body["sha"])
    return Reply(201, render_git.git_ref(repo, body["ref"], body["sha"], ctx.api))


@route("PATCH", REPO + "/git/refs/{ref}")
def update_ref(ctx: Ctx) -> Reply:
    body, repo, ref = ctx.require("sha"), ctx.repo(), "refs/" + ctx.params["ref"]
    ctx.state.update_ref(repo, ctx.actor, ref, body["sha"], bool(body.get("force", False)))
    return Reply(body=render_git.git_ref(repo, ref, body["sha"], ctx.api))


@route("DELETE", REPO + "/git/refs/{ref}")
def delete_ref(ctx: Ctx) -> Reply:
    ctx.state.delete_ref(ctx.repo(), "refs/" + ctx.params["ref"])
    return Reply(204)


@route("GET", REPO + "/branches")
def list_branches(ctx: Ctx) -> Reply:
    repo = ctx.repo()
    refs = repo.git.refs("refs/heads/")
    branches = [
        render_git.short_branch(repo, n.removeprefix("refs/heads/"), s, ctx.api)
        for n, s in sorted(refs.items())
    ]
    return Reply(body=branches, paginate=True)


@route("GET", REPO + "/branches/{branch}")
def get_branch(ctx: Ctx) -> Reply:
    repo, name = ctx.repo(), ctx.params["branch"]
    sha = repo.git.branch_sha(name)
    if sha is None:
        raise ApiError(404, "Branch not found")
    return Reply(body=render_git.branch(repo, name, sha, ctx.api))


# ---------------------------------------------------------------------------- actions


@route("GET", REPO + "/actions/workflows/{workflow_id}")
def get_workflow(ctx: Ctx) -> Reply:
    repo = ctx.repo()
    return Reply(
        body=render_git.workflow(repo, ctx.state.workflow(repo, ctx.params["workflow_id"]), ctx.api)
    )


@route("POST", REPO + "/actions/workflows/{workflow_id}/dispatches")
def dispatch_workflow(ctx: Ctx) -> Reply:
    body, repo = ctx.require("ref"), ctx.repo()
    ctx.state.dispatch(
        repo, ctx.actor, ctx.params["workflow_id"], body["ref"], body.get("inputs") or {}
    )
    if not body.get("return_run_details"):
        return Reply(204)
    run_id = ctx.state.next_id()
    return Reply(
        body={
            "workflow_run_id": run_id,
            "run_url": f"{ctx.api}/repos/{repo.full_name}/actions/runs/{run_id}",
            "html_url": f"{render.HTML}/{repo.full_name}/actions/runs/{run_id}",
        }
    )


# ---------------------------------------------------------------------------- GitHub App auth

INSTALLATION_ID = 424242  # the installation of every webhook payload, too
APP_PERMISSIONS = {
    "checks": "write",
    "contents": "write",
    "issues": "write",
    "pull_requests": "write",
}


@route("GET", REPO + "/installation")
def repo_installation(ctx: Ctx) -> Reply:
    repo, app = ctx.repo(), ctx.state.bot
    slug = app.login.removesuffix("[bot]")
    base = f"{ctx.api}/app/installations/{INSTALLATION_ID}"
    return Reply(
        body={
            "id": INSTALLATION_ID,
            "account": render.user(repo.owner, ctx.api),
            "repository_selection": "all",
            "access_tokens_url": f"{base}/access_tokens",
            "repositories_url": f"{ctx.api}/installation/repositories",
            "html_url": f"{render.HTML}/settings/installations/{INSTALLATION_ID}",
            "app_id": app.id,
            "app_slug": slug,
            "target_id": repo.owner.id,
            "target_type": repo.owner.type,
            "permissions": APP_PERMISSIONS,
            "events": ["check_run", "issue_comment", "issues", "pull_request"],
            "created_at": app.created_at,
            "updated_at": app.created_at,
            "single_file_name": None,
            "suspended_by": None,
            "suspended_at": None,
        }
    )


@route("POST", "/app/installations/{installation_id}/access_tokens")
def installation_token(ctx: Ctx) -> Reply:
    """Any JWT is accepted; the token acts as the bot user."""
    if ctx.int_param("installation_id") != INSTALLATION_ID:
        raise not_found()
    token = f"ghs_fake{ctx.state.next_id()}"
    ctx.fake.tokens[token] = ctx.state.bot.login
    body = {
        "token": token,
        "expires_at": "2099-01-01T00:00:00Z",
        "permissions": APP_PERMISSIONS,
        "repository_selection": "all",
    }
    return Reply(201, body)
