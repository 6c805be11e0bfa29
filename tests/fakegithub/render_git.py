"""JSON representations of pulls, check runs, git objects and workflows (see ``render``)."""

from __future__ import annotations

from typing import Any

from fakegithub.model import CheckRun, Pull, Repo, Workflow
from fakegithub.render import (
    HTML,
    JSON,
    author_association,
    integration,
    label,
    node_id,
    repo,
    user,
)


def _branch_end(r: Repo, branch: str, sha: str, api: str) -> JSON:
    return {
        "label": f"{r.owner.login}:{branch}",
        "ref": branch,
        "sha": sha,
        "user": user(r.owner, api),
        "repo": repo(r, api),
    }


def pull(r: Repo, p: Pull, api: str) -> JSON:
    i = r.issues[p.number]
    url = f"{api}/repos/{r.full_name}/pulls/{p.number}"
    html = f"{HTML}/{r.full_name}/pull/{p.number}"
    head_sha = r.head_sha(p)
    base_sha = r.git.branch_sha(p.base) or head_sha
    git_ok = r.git.resolve(head_sha) is not None
    stats = r.git.diff_stats(base_sha, head_sha) if git_ok else []
    commits = len(r.git.commits_between(base_sha, head_sha)) if git_ok and not p.merged_at else 0
    mergeable: bool | None = None
    state = "unknown"
    if i.state == "open" and git_ok:
        mergeable = r.git.can_merge(base_sha, head_sha)
        state = "clean" if mergeable else "dirty"
    links = {
        "self": url,
        "html": html,
        "issue": f"{api}/repos/{r.full_name}/issues/{p.number}",
        "comments": f"{api}/repos/{r.full_name}/issues/{p.number}/comments",
        "review_comments": f"{url}/comments",
        "review_comment": f"{api}/repos/{r.full_name}/pulls/comments{{/number}}",
        "commits": f"{url}/commits",
        "statuses": f"{api}/repos/{r.full_name}/statuses/{head_sha}",
    }
    return {
        "url": url,
        "id": p.id,
        "node_id": node_id("PR", p.id),
        "html_url": html,
        "diff_url": f"{html}.diff",
        "patch_url": f"{html}.patch",
        "issue_url": links["issue"],
        "commits_url": links["commits"],
        "review_comments_url": links["review_comments"],
        "review_comment_url": links["review_comment"],
        "comments_url": links["comments"],
        "statuses_url": links["statuses"],
        "number": p.number,
        "state": i.state,
        "locked": False,
        "title": i.title,
        "user": user(i.user, api),
        "body": i.body,
        "labels": [label(r, lb, api) for lb in i.labels],
        "milestone": None,
        "active_lock_reason": None,
        "created_at": i.created_at,
        "updated_at": i.updated_at,
        "closed_at": i.closed_at,
        "merged_at": p.merged_at,
        "merge_commit_sha": p.merge_commit_sha,
        "assignee": None,
        "assignees": [],
        "requested_reviewers": [],
        "requested_teams": [],
        "head": _branch_end(r, p.head, head_sha, api),
        "base": _branch_end(r, p.base, base_sha, api),
        "_links": {key: {"href": value} for key, value in links.items()},
        "author_association": author_association(r, i.user),
        "auto_merge": None,
        "draft": p.draft,
        "merged": p.merged_at is not None,
        "mergeable": mergeable,
        "rebaseable": mergeable,
        "mergeable_state": state,
        "merged_by": user(p.merged_by, api) if p.merged_by else None,
        "comments": sum(1 for c in r.comments.values() if c.issue_number == p.number),
        "review_comments": 0,
        "maintainer_can_modify": False,
        "commits": commits,
        "additions": sum(s[1] for s in stats),
        "deletions": sum(s[2] for s in stats),
        "changed_files": len(stats),
    }


def pull_minimal(r: Repo, p: Pull, api: str) -> JSON:
    repo_ref = {"id": r.id, "url": f"{api}/repos/{r.full_name}", "name": r.name}
    return {
        "id": p.id,
        "number": p.number,
        "url": f"{api}/repos/{r.full_name}/pulls/{p.number}",
        "head": {"ref": p.head, "sha": r.head_sha(p), "repo": repo_ref},
        "base": {"ref": p.base, "sha": r.git.branch_sha(p.base) or "", "repo": repo_ref},
    }


def check_run(r: Repo, run: CheckRun, api: str) -> JSON:
    url = f"{api}/repos/{r.full_name}/check-runs/{run.id}"
    output = {"title": None, "summary": None, "text": None, **run.output}
    pulls = [
        p
        for p in r.pulls.values()
        if r.issues[p.number].state == "open" and r.head_sha(p) == run.head_sha
    ]
    return {
        "id": run.id,
        "node_id": node_id("CR", run.id),
        "head_sha": run.head_sha,
        "external_id": run.external_id or "",
        "url": url,
        "html_url": f"{HTML}/{r.full_name}/runs/{run.id}",
        "details_url": run.details_url or f"{HTML}/{r.full_name}/runs/{run.id}",
        "status": run.status,
        "conclusion": run.conclusion,
        "started_at": run.started_at,
        "completed_at": run.completed_at,
        "output": {
            "title": output["title"],
            "summary": output["summary"],
            "text": output["text"],
            "annotations_count": len(run.annotations),
            "annotations_url": f"{url}/annotations",
        },
        "name": run.name,
        "check_suite": {"id": run.id + 500000},
        "app": integration(run.app, api),
        "pull_requests": [pull_minimal(r, p, api) for p in pulls],
    }


def annotation(r: Repo, run: CheckRun, note: dict[str, Any]) -> JSON:
    return {
        "path": note["path"],
        "start_line": note["start_line"],
        "end_line": note["end_line"],
        "start_column": note.get("start_column"),
        "end_column": note.get("end_column"),
        "annotation_level": note["annotation_level"],
        "title": note.get("title"),
        "message": note["message"],
        "raw_details": note.get("raw_details"),
        "blob_href": f"{HTML}/{r.full_name}/blob/{run.head_sha}/{note['path']}",
    }


def git_ref(r: Repo, ref: str, sha: str, api: str) -> JSON:
    return {
        "ref": ref,
        "node_id": node_id("REF", abs(hash(ref)) % 10**8),
        "url": f"{api}/repos/{r.full_name}/git/{ref}",
        "object": {
            "type": "commit",
            "sha": sha,
            "url": f"{api}/repos/{r.full_name}/git/commits/{sha}",
        },
    }


def commit(r: Repo, sha: str, api: str) -> JSON:
    info = r.git.commit_info(sha)
    base = f"{api}/repos/{r.full_name}"
    return {
        "url": f"{base}/commits/{sha}",
        "sha": sha,
        "node_id": node_id("C", int(sha[:7], 16)),
        "html_url": f"{HTML}/{r.full_name}/commit/{sha}",
        "comments_url": f"{base}/commits/{sha}/comments",
        "commit": {
            "url": f"{base}/git/commits/{sha}",
            "author": {
                "name": info.author_name,
                "email": info.author_email,
                "date": info.author_date,
            },
            "committer": {
                "name": info.committer_name,
                "email": info.committer_email,
                "date": info.committer_date,
            },
            "message": info.message,
            "comment_count": 0,
            "tree": {"sha": info.tree, "url": f"{base}/git/trees/{info.tree}"},
        },
        "author": None,
        "committer": None,
        "parents": [
            {"sha": p, "url": f"{base}/commits/{p}", "html_url": f"{HTML}/{r.full_name}/commit/{p}"}
            for p in info.parents
        ],
    }


def short_branch(r: Repo, name: str, sha: str, api: str) -> JSON:
    return {
        "name": name,
        "commit": {"sha": sha, "url": f"{api}/repos/{r.full_name}/commits/{sha}"},
        "protected": False,
    }


def branch(r: Repo, name: str, sha: str, api: str) -> JSON:
    base = f"{api}/repos/{r.full_name}/branches/{name}"
    return {
        "name": name,
        "commit": commit(r, sha, api),
        "_links": {"html": f"{HTML}/{r.full_name}/tree/{name}", "self": base},
        "protected": False,
        "protection": {"enabled": False},
        "protection_url": f"{base}/protection",
    }


def workflow(r: Repo, wf: Workflow, api: str) -> JSON:
    return {
        "id": wf.id,
        "node_id": node_id("W", wf.id),
        "name": wf.name,
        "path": wf.path,
        "state": "active",
        "created_at": wf.created_at,
        "updated_at": wf.created_at,
        "url": f"{api}/repos/{r.full_name}/actions/workflows/{wf.id}",
        "html_url": f"{HTML}/{r.full_name}/blob/{r.default_branch}/{wf.path}",
        "badge_url": f"{HTML}/{r.full_name}/workflows/{wf.name}/badge.svg",
    }
