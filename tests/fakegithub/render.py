"""JSON representations of model objects, shaped like GitHub's REST responses.

``api`` is the API root the client used (``https://api.github.com`` or the local
server's URL), so that URLs PyGithub follows come back to the fake.
"""

from __future__ import annotations

from typing import Any

from fakegithub.model import (
    REACTIONS,
    Comment,
    Issue,
    Label,
    Reaction,
    Repo,
    User,
)

HTML = "https://github.com"
JSON = dict[str, Any]

_REPO_URL_FIELDS = {
    "archive_url": "/{archive_format}{/ref}",
    "assignees_url": "/assignees{/user}",
    "blobs_url": "/git/blobs{/sha}",
    "branches_url": "/branches{/branch}",
    "collaborators_url": "/collaborators{/collaborator}",
    "comments_url": "/comments{/number}",
    "commits_url": "/commits{/sha}",
    "compare_url": "/compare/{base}...{head}",
    "contents_url": "/contents/{+path}",
    "contributors_url": "/contributors",
    "deployments_url": "/deployments",
    "downloads_url": "/downloads",
    "events_url": "/events",
    "forks_url": "/forks",
    "git_commits_url": "/git/commits{/sha}",
    "git_refs_url": "/git/refs{/sha}",
    "git_tags_url": "/git/tags{/sha}",
    "hooks_url": "/hooks",
    "issue_comment_url": "/issues/comments{/number}",
    "issue_events_url": "/issues/events{/number}",
    "issues_url": "/issues{/number}",
    "keys_url": "/keys{/key_id}",
    "labels_url": "/labels{/name}",
    "languages_url": "/languages",
    "merges_url": "/merges",
    "milestones_url": "/milestones{/number}",
    "notifications_url": "/notifications{?since,all,participating}",
    "pulls_url": "/pulls{/number}",
    "releases_url": "/releases{/id}",
    "stargazers_url": "/stargazers",
    "statuses_url": "/statuses/{sha}",
    "subscribers_url": "/subscribers",
    "subscription_url": "/subscription",
    "tags_url": "/tags",
    "teams_url": "/teams",
    "trees_url": "/git/trees{/sha}",
}


def node_id(prefix: str, ident: int) -> str:
    return f"{prefix}_kwDO{ident:08d}"


def user(u: User, api: str) -> JSON:
    base = f"{api}/users/{u.login}"
    return {
        "login": u.login,
        "id": u.id,
        "node_id": node_id("U", u.id),
        "avatar_url": f"https://avatars.githubusercontent.com/u/{u.id}?v=4",
        "gravatar_id": "",
        "url": base,
        "html_url": f"{HTML}/{u.login}",
        "followers_url": f"{base}/followers",
        "following_url": f"{base}/following{{/other_user}}",
        "gists_url": f"{base}/gists{{/gist_id}}",
        "starred_url": f"{base}/starred{{/owner}}{{/repo}}",
        "subscriptions_url": f"{base}/subscriptions",
        "organizations_url": f"{base}/orgs",
        "repos_url": f"{base}/repos",
        "events_url": f"{base}/events{{/privacy}}",
        "received_events_url": f"{base}/received_events",
        "type": u.type,
        "user_view_type": "public",
        "site_admin": False,
    }


def public_user(u: User, api: str) -> JSON:
    return {
        **user(u, api),
        "name": u.name,
        "company": None,
        "blog": "",
        "location": None,
        "email": None,
        "hireable": None,
        "bio": None,
        "public_repos": 1,
        "public_gists": 0,
        "followers": 0,
        "following": 0,
        "created_at": u.created_at,
        "updated_at": u.created_at,
    }


def integration(app: User, api: str) -> JSON:
    slug = app.login.removesuffix("[bot]")
    return {
        "id": app.id,
        "slug": slug,
        "node_id": node_id("A", app.id),
        "owner": user(app, api),
        "name": slug,
        "description": None,
        "external_url": f"{HTML}/apps/{slug}",
        "html_url": f"{HTML}/apps/{slug}",
        "created_at": app.created_at,
        "updated_at": app.created_at,
        "permissions": {
            "checks": "write",
            "contents": "write",
            "issues": "write",
            "metadata": "read",
        },
        "events": ["check_run", "issue_comment", "issues", "pull_request"],
    }


def repo(r: Repo, api: str, *, viewer: str | None = None, full: bool = False) -> JSON:
    url = f"{api}/repos/{r.full_name}"
    open_issues = sum(1 for i in r.issues.values() if i.state == "open")
    out: JSON = {
        "id": r.id,
        "node_id": node_id("R", r.id),
        "name": r.name,
        "full_name": r.full_name,
        "owner": user(r.owner, api),
        "private": r.private,
        "visibility": "private" if r.private else "public",
        "html_url": f"{HTML}/{r.full_name}",
        "description": None,
        "fork": False,
        "url": url,
        **{key: url + suffix for key, suffix in _REPO_URL_FIELDS.items()},
        "git_url": f"git://github.com/{r.full_name}.git",
        "ssh_url": f"git@github.com:{r.full_name}.git",
        "clone_url": f"{HTML}/{r.full_name}.git",
        "svn_url": f"{HTML}/{r.full_name}",
        "mirror_url": None,
        "homepage": None,
        "language": None,
        "forks_count": 0,
        "forks": 0,
        "stargazers_count": 0,
        "watchers_count": 0,
        "watchers": 0,
        "size": 1,
        "default_branch": r.default_branch,
        "open_issues_count": open_issues,
        "open_issues": open_issues,
        "is_template": False,
        "topics": [],
        "has_issues": True,
        "has_projects": False,
        "has_wiki": False,
        "has_pages": False,
        "has_downloads": True,
        "has_discussions": False,
        "archived": False,
        "disabled": False,
        "license": None,
        "pushed_at": r.created_at,
        "created_at": r.created_at,
        "updated_at": r.created_at,
        "allow_merge_commit": True,
        "allow_squash_merge": True,
        "allow_rebase_merge": True,
    }
    if viewer is not None:
        role = r.role(viewer)
        rank = ("read", "triage", "write", "maintain", "admin").index(role) if role else 0
        out["permissions"] = {
            "admin": rank >= 4,
            "maintain": rank >= 3,
            "push": rank >= 2,
            "triage": rank >= 1,
            "pull": True,
        }
    if full:
        out.update(network_count=0, subscribers_count=0)
    return out


def label(r: Repo, lb: Label, api: str) -> JSON:
    return {
        "id": lb.id,
        "node_id": node_id("LA", lb.id),
        "url": f"{api}/repos/{r.full_name}/labels/{lb.name}",
        "name": lb.name,
        "description": lb.description,
        "color": lb.color,
        "default": False,
    }


def reaction(rx: Reaction, api: str) -> JSON:
    return {
        "id": rx.id,
        "node_id": node_id("REA", rx.id),
        "user": user(rx.user, api),
        "content": rx.content,
        "created_at": rx.created_at,
    }


def reaction_rollup(reactions: list[Reaction], url: str) -> JSON:
    out: JSON = {"url": url, "total_count": len(reactions)}
    for content in REACTIONS:
        out[content] = sum(1 for rx in reactions if rx.content == content)
    return out


def author_association(r: Repo, u: User) -> str:
    if u.login.lower() == r.owner.login.lower():
        return "OWNER"
    return "COLLABORATOR" if r.role(u.login) else "NONE"


def issue(r: Repo, i: Issue, api: str) -> JSON:
    url = f"{api}/repos/{r.full_name}/issues/{i.number}"
    out: JSON = {
        "id": i.id,
        "node_id": node_id("I", i.id),
        "url": url,
        "repository_url": f"{api}/repos/{r.full_name}",
        "labels_url": f"{url}/labels{{/name}}",
        "comments_url": f"{url}/comments",
        "events_url": f"{url}/events",
        "html_url": f"{HTML}/{r.full_name}/{'pull' if i.is_pull else 'issues'}/{i.number}",
        "number": i.number,
        "state": i.state,
        "state_reason": i.state_reason,
        "title": i.title,
        "body": i.body,
        "user": user(i.user, api),
        "labels": [label(r, lb, api) for lb in i.labels],
        "assignee": None,
        "assignees": [],
        "milestone": None,
        "locked": False,
        "active_lock_reason": None,
        "comments": sum(1 for c in r.comments.values() if c.issue_number == i.number),
        "closed_at": i.closed_at,
        "created_at": i.created_at,
        "updated_at": i.updated_at,
        "closed_by": user(i.closed_by, api) if i.closed_by else None,
        "author_association": author_association(r, i.user),
        "reactions": reaction_rollup(i.reactions, f"{url}/reactions"),
        "timeline_url": f"{url}/timeline",
        "performed_via_github_app": None,
        "issue_dependencies_summary": dependencies_summary(r, i),
    }
    if i.is_pull:
        pull_url = f"{api}/repos/{r.full_name}/pulls/{i.number}"
        html = f"{HTML}/{r.full_name}/pull/{i.number}"
        out["draft"] = r.pulls[i.number].draft
        out["pull_request"] = {
            "url": pull_url,
            "html_url": html,
            "diff_url": f"{html}.diff",
            "patch_url": f"{html}.patch",
            "merged_at": r.pulls[i.number].merged_at,
        }
    return out


def dependencies_summary(r: Repo, i: Issue) -> JSON:
    """Counts of blocking and blocked issues; `blocked_by`/`blocking` count open ones (a
    blocker in another repository counts as open: this view cannot see its state)."""
    by_id = {other.id: other for other in r.issues.values()}
    blockers = [by_id.get(issue_id) for issue_id in i.blocked_by]
    blocked = [other for other in r.issues.values() if i.id in other.blocked_by]
    return {
        "blocked_by": sum(1 for b in blockers if b is None or b.state == "open"),
        "blocking": sum(1 for b in blocked if b.state == "open"),
        "total_blocked_by": len(blockers),
        "total_blocking": len(blocked),
    }


def comment(r: Repo, c: Comment, api: str) -> JSON:
    url = f"{api}/repos/{r.full_name}/issues/comments/{c.id}"
    return {
        "id": c.id,
        "node_id": node_id("IC", c.id),
        "url": url,
        "html_url": f"{HTML}/{r.full_name}/issues/{c.issue_number}#issuecomment-{c.id}",
        "issue_url": f"{api}/repos/{r.full_name}/issues/{c.issue_number}",
        "body": c.body,
        "user": user(c.user, api),
        "created_at": c.created_at,
        "updated_at": c.updated_at,
        "author_association": author_association(r, c.user),
        "reactions": reaction_rollup(c.reactions, f"{url}/reactions"),
        "performed_via_github_app": None,
    }
