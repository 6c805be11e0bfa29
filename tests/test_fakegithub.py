"""Tests of the fake GitHub itself, driven through real PyGithub calls."""

from __future__ import annotations

import json
import urllib.request

import github
import pytest
from fakegithub import FakeGitHub, Repo
from fakegithub.fixtures import make_client
from github import GithubException, RateLimitExceededException, UnknownObjectException

from bot import events


def _branch_with_change(fake: FakeGitHub, repo: Repo, branch: str = "feature", n: int = 1) -> str:
    sha = ""
    for i in range(n):
        sha = fake.push(
            repo, branch, {f"src/f{i}.txt": f"change {i}\n"}, f"change {i}", user="alice"
        )
    return sha


# ---------------------------------------------------------------------------- issues and labels


def test_issue_create_labels_and_close(
    fake_github: FakeGitHub, fake_repo: Repo, gh: github.Github
) -> None:
    repo = gh.get_repo("octo/demo")
    issue = repo.create_issue("Add caching", body="please", labels=["agent:queued"])
    assert issue.number == 1
    assert [lb.name for lb in issue.labels] == ["agent:queued"]

    issue.add_to_labels("wave:1")
    issue.remove_from_labels("agent:queued")
    assert [lb.name for lb in repo.get_issue(1).labels] == ["wave:1"]
    issue.set_labels("a", "b")
    assert {lb.name for lb in issue.get_labels()} == {"a", "b"}
    assert [i.number for i in repo.get_issues(labels=["a"])] == [1]
    assert list(repo.get_issues(labels=["nope"])) == []

    issue.edit(state="closed")
    assert repo.get_issue(1).state == "closed"
    assert list(repo.get_issues(state="open")) == []
    with pytest.raises(GithubException) as err:
        issue.remove_from_labels("not-there")
    assert (err.value.status, err.value.data["message"]) == (404, "Label does not exist")

    kinds = [(d.event, d.action) for d in fake_github.take_deliveries()]
    assert kinds[0] == ("issues", "opened")
    assert ("issues", "labeled") in kinds and ("issues", "unlabeled") in kinds
    assert kinds[-1] == ("issues", "closed")


def test_repo_labels(fake_github: FakeGitHub, fake_repo: Repo, gh: github.Github) -> None:
    repo = gh.get_repo("octo/demo")
    label = repo.create_label("agent:running", "00ff00", "an agent works on it")
    assert repo.get_label("agent:running").color == "00ff00"
    label.edit("agent:busy", "ff0000")
    assert [lb.name for lb in repo.get_labels()] == ["agent:busy"]
    with pytest.raises(GithubException) as err:
        repo.create_label("agent:busy", "ff0000")
    assert err.value.status == 422
    repo.get_label("agent:busy").delete()
    with pytest.raises(UnknownObjectException):
        repo.get_label("agent:busy")


# ------------------------------------------------------------------------- comments, reactions


def test_comments_edit_in_place_and_delete(
    fake_github: FakeGitHub, fake_repo: Repo, gh: github.Github
) -> None:
    issue = gh.get_repo("octo/demo").create_issue("status")
    comment = issue.create_comment("working: 0/3")
    comment.edit("working: 3/3")
    assert issue.get_comment(comment.id).body == "working: 3/3"
    assert [c.body for c in issue.get_comments()] == ["working: 3/3"]

    comment.delete()
    with pytest.raises(UnknownObjectException):
        issue.get_comment(comment.id)

    created = fake_github.take_deliveries("issue_comment", "created")
    assert len(created) == 1
    parsed = events.parse_event("issue_comment", created[0].payload)
    assert isinstance(parsed, events.IssueCommentEvent)
    assert parsed.comment.body == "working: 0/3"
    assert parsed.comment.user.login == fake_github.bot.login
    assert parsed.comment.user.type == "Bot"


def test_comment_by_a_human_token_and_pagination(
    fake_github: FakeGitHub, fake_repo: Repo, gh: github.Github
) -> None:
    fake_github.add_collaborator(fake_repo, "alice", "write")
    issue = fake_github.create_issue(fake_repo, "many comments", user="alice")
    for i in range(35):
        fake_github.comment(fake_repo, issue.number, f"c{i}", user="alice")
    as_alice = make_client(fake_github.token_for("alice"))
    mine = as_alice.get_repo("octo/demo").get_issue(issue.number).create_comment("/go")
    assert mine.user.login == "alice"

    fake_github.reset_counts()
    comments = list(gh.get_repo("octo/demo").get_issue(issue.number).get_comments())
    assert [c.body for c in comments][-2:] == ["c34", "/go"]
    assert len(comments) == 36
    assert (
        fake_github.request_count("GET", "/repos/{owner}/{repo}/issues/{issue_number}/comments")
        == 2
    )
    last = fake_github.take_deliveries("issue_comment")[-1]
    assert last.payload["sender"]["login"] == "alice"
    assert last.payload["comment"]["author_association"] == "COLLABORATOR"


def test_reactions_on_comments_and_issues(
    fake_github: FakeGitHub, fake_repo: Repo, gh: github.Github
) -> None:
    issue = gh.get_repo("octo/demo").create_issue("react")
    comment = issue.create_comment("/orchestrate plan")
    eyes = comment.create_reaction("eyes")
    assert comment.create_reaction("eyes").id == eyes.id  # existing reaction: 200, same id
    assert [r.content for r in comment.get_reactions()] == ["eyes"]
    assert issue.get_comment(comment.id).reactions["eyes"] == 1
    comment.delete_reaction(eyes.id)
    assert list(comment.get_reactions()) == []

    rocket = issue.create_reaction("rocket")
    assert [r.content for r in issue.get_reactions()] == ["rocket"]
    assert issue.delete_reaction(rocket.id)
    assert list(issue.get_reactions()) == []


# ---------------------------------------------------------------------------- users and permissions


def test_permission_lookup_and_authenticated_user(
    fake_github: FakeGitHub, fake_repo: Repo, gh: github.Github
) -> None:
    fake_github.add_collaborator(fake_repo, "alice", "maintain")
    fake_github.state.user("mallory")
    repo = gh.get_repo("octo/demo")
    assert repo.get_collaborator_permission("alice") == "write"
    assert repo.get_collaborator_role_name("alice") == "maintain"
    assert repo.get_collaborator_permission("octo") == "admin"
    assert repo.get_collaborator_permission("mallory") == "read"
    assert repo.has_in_collaborators("alice")
    assert not repo.has_in_collaborators("mallory")
    with pytest.raises(UnknownObjectException):
        repo.get_collaborator_permission("nobody")
    assert {c.login for c in repo.get_collaborators()} == {"octo", "alice"}

    me = gh.get_user()
    assert me.login == "orchestrate-bot[bot]"
    assert me.type == "Bot"


# ---------------------------------------------------------------------------- pulls and merges


@pytest.mark.parametrize("method", ["merge", "squash", "rebase"])
def test_pull_request_merge_moves_the_bare_repo(
    fake_github: FakeGitHub, fake_repo: Repo, gh: github.Github, method: str
) -> None:
    git = fake_repo.git
    base_before = git.branch_sha("main")
    fake_github.push(fake_repo, "main", {"other.txt": "unrelated\n"}, "main moves on", user="octo")
    head = _branch_with_change(fake_github, fake_repo, n=2)
    repo = gh.get_repo("octo/demo")
    pr = repo.create_pull(base="main", head="feature", title="Agent work", body="wave 1")
    assert (pr.number, pr.head.sha, pr.commits, pr.changed_files) == (1, head, 2, 2)
    assert pr.mergeable is True

    status = pr.merge(merge_method=method, sha=head)
    assert status.merged
    main = git.branch_sha("main")
    assert main == status.sha != base_before
    assert git.read_file("main", "src/f1.txt") == "change 1\n"
    assert git.read_file("main", "other.txt") == "unrelated\n"
    parents = git.commit_info(main).parents
    if method == "merge":
        assert len(parents) == 2 and parents[1] == head
    else:
        assert len(parents) == 1
    if method == "rebase":
        assert git.commit_info(main).message == "change 1"
        assert git.commit_info(parents[0]).message == "change 0"

    merged = repo.get_pull(1)
    assert merged.merged and merged.state == "closed" and merged.merge_commit_sha == main
    assert merged.is_merged()
    closed = fake_github.take_deliveries("pull_request", "closed")
    parsed = events.parse_event("pull_request", closed[0].payload)
    assert isinstance(parsed, events.PullRequestEvent)
    assert parsed.pull_request.merged is True


def test_merge_guards_sha_mismatch_and_conflict(
    fake_github: FakeGitHub, fake_repo: Repo, gh: github.Github
) -> None:
    head = fake_github.push(
        fake_repo, "feature", {"README.md": "feature\n"}, "edit readme", user="alice"
    )
    fake_github.push(fake_repo, "main", {"README.md": "main\n"}, "edit readme too", user="octo")
    pr = gh.get_repo("octo/demo").create_pull(base="main", head="feature", title="conflicting")
    assert pr.mergeable is False and pr.mergeable_state == "dirty"
    with pytest.raises(GithubException) as err:
        pr.merge(sha="0" * 40)
    assert err.value.status == 409
    with pytest.raises(GithubException) as err:
        pr.merge(sha=head)
    assert err.value.status == 405
    assert fake_repo.git.read_file("main", "README.md") == "main\n"


def test_pull_synchronize_list_and_edit(
    fake_github: FakeGitHub, fake_repo: Repo, gh: github.Github
) -> None:
    first = _branch_with_change(fake_github, fake_repo)
    repo = gh.get_repo("octo/demo")
    pr = repo.create_pull(base="main", head="feature", title="t")
    with pytest.raises(GithubException) as err:
        repo.create_pull(base="main", head="feature", title="again")
    assert err.value.status == 422
    second = fake_github.push(fake_repo, "feature", {"x.txt": "x\n"}, "more", user="alice")
    sync = fake_github.take_deliveries("pull_request", "synchronize")
    assert [(d.payload["before"], d.payload["after"]) for d in sync] == [(first, second)]
    assert [p.number for p in repo.get_pulls(head="octo:feature")] == [pr.number]
    assert [f.filename for f in pr.get_files()] == ["src/f0.txt", "x.txt"]
    pr.add_to_labels("agent:review")
    labeled = fake_github.take_deliveries("pull_request", "labeled")
    assert [d.payload["label"]["name"] for d in labeled] == ["agent:review"]
    assert not fake_github.take_deliveries("issues")
    pr.edit(title="renamed", state="closed")
    assert repo.get_pull(pr.number).title == "renamed"
    assert list(repo.get_pulls(state="open")) == []


# ---------------------------------------------------------------------------- checks, refs, actions


def test_check_runs(fake_github: FakeGitHub, fake_repo: Repo, gh: github.Github) -> None:
    sha = fake_repo.git.branch_sha("main")
    assert sha
    repo = gh.get_repo("octo/demo")
    run = repo.create_check_run(
        "orchestrate/plan", sha, status="in_progress", output={"title": "t", "summary": "s"}
    )
    run.edit(conclusion="success", output={"title": "done", "summary": "all good"})
    assert repo.get_check_run(run.id).conclusion == "success"
    runs = list(repo.get_commit(sha).get_check_runs())
    assert [(r.name, r.status, r.output.title) for r in runs] == [
        ("orchestrate/plan", "completed", "done")
    ]
    completed = fake_github.take_deliveries("check_run", "completed")
    parsed = events.parse_event("check_run", completed[0].payload)
    assert isinstance(parsed, events.CheckRunEvent) and parsed.check_run.conclusion == "success"


def test_check_run_annotations_are_appended_never_replaced(
    fake_repo: Repo, gh: github.Github
) -> None:
    """As GitHub does: each update adds its annotations to those already there."""
    sha = fake_repo.git.branch_sha("main")
    assert sha
    repo = gh.get_repo("octo/demo")
    note = {"path": "a.py", "start_line": 2, "end_line": 3, "annotation_level": "warning",
            "message": "first", "title": "one"}  # fmt: skip
    output = {"title": "t", "summary": "s", "annotations": [note]}
    run = repo.create_check_run("orchestrate/overlap", sha, output=output)
    run.edit(output={**output, "annotations": [{**note, "message": "second"}]})
    again = repo.get_check_run(run.id)
    assert again.output.annotations_count == 2
    assert [a.message for a in again.get_annotations()] == ["first", "second"]


def test_git_ref_crud_and_branches(
    fake_github: FakeGitHub, fake_repo: Repo, gh: github.Github
) -> None:
    git = fake_repo.git
    main = git.branch_sha("main")
    assert main
    repo = gh.get_repo("octo/demo")
    ref = repo.create_git_ref("refs/heads/agent/task-1", main)
    assert git.branch_sha("agent/task-1") == main
    assert repo.get_git_ref("heads/agent/task-1").object.sha == main
    assert repo.get_branch("agent/task-1").commit.sha == main
    assert {b.name for b in repo.get_branches()} == {"main", "agent/task-1"}

    ahead = git.commit("scratch", {"a.txt": "a\n"}, "ahead", parents=[main])
    ref.edit(ahead)  # fast-forward
    assert git.branch_sha("agent/task-1") == ahead
    with pytest.raises(GithubException) as err:
        ref.edit(main)  # not a fast-forward
    assert err.value.status == 422
    ref.edit(main, force=True)
    assert git.branch_sha("agent/task-1") == main
    assert [r.ref for r in repo.get_git_matching_refs("heads/agent/")] == [
        "refs/heads/agent/task-1"
    ]

    ref.delete()
    assert git.branch_sha("agent/task-1") is None
    with pytest.raises(UnknownObjectException):
        repo.get_git_ref("heads/agent/task-1")
    with pytest.raises(UnknownObjectException):
        repo.get_branch("agent/task-1")


def test_workflow_dispatch_and_run(
    fake_github: FakeGitHub, fake_repo: Repo, gh: github.Github
) -> None:
    fake_github.add_workflow(fake_repo, ".github/workflows/agent.yml", "agent")
    workflow = gh.get_repo("octo/demo").get_workflow("agent.yml")
    assert workflow.create_dispatch("main", {"task": "42"})
    assert [(d.workflow.path, d.ref, d.inputs) for d in fake_repo.dispatches] == [
        (".github/workflows/agent.yml", "main", {"task": "42"})
    ]
    dispatched = fake_github.take_deliveries("workflow_dispatch")
    parsed = events.parse_event("workflow_dispatch", dispatched[0].payload)
    assert isinstance(parsed, events.WorkflowDispatchEvent)
    assert (parsed.ref, parsed.inputs) == ("refs/heads/main", {"task": "42"})

    fake_github.complete_workflow_run(fake_repo, "agent.yml", "main", conclusion="failure")
    run = fake_github.take_deliveries("workflow_run", "completed")[0]
    parsed_run = events.parse_event("workflow_run", run.payload)
    assert isinstance(parsed_run, events.WorkflowRunEvent)
    assert parsed_run.workflow_run.conclusion == "failure"


def test_rate_limit_endpoint_and_headers(
    fake_github: FakeGitHub, fake_repo: Repo, gh: github.Github
) -> None:
    gh.get_repo("octo/demo")
    remaining, limit = gh.rate_limiting
    assert (remaining, limit) == (4999, 5000)
    assert gh.get_rate_limit().resources.core.remaining == 4999
    fake_github.rate_remaining = 0
    with pytest.raises(RateLimitExceededException):
        gh.get_repo("octo/demo")


# ---------------------------------------------------------------------------- faults and counters


def test_faults_5xx_secondary_rate_limit_429_and_404(
    fake_github: FakeGitHub, fake_repo: Repo, gh: github.Github
) -> None:
    repo = gh.get_repo("octo/demo")
    fake_github.fail_next(502, method="POST", route="/repos/{owner}/{repo}/issues")
    with pytest.raises(GithubException) as err:
        repo.create_issue("first try")
    assert err.value.status == 502
    assert repo.create_issue("second try").number == 1

    fake_github.secondary_rate_limit(retry_after=30, route="/issues/1/comments")
    with pytest.raises(RateLimitExceededException) as limited:
        repo.get_issue(1).create_comment("hi")
    assert limited.value.status == 403
    assert limited.value.headers is not None and limited.value.headers["retry-after"] == "30"
    assert "secondary rate limit" in limited.value.data["message"]

    fake_github.secondary_rate_limit(status=429, retry_after=5)
    with pytest.raises(GithubException) as err:
        repo.get_issue(1)
    assert err.value.status == 429

    comment = repo.get_issue(1).create_comment("hi")
    comment.delete()
    with pytest.raises(UnknownObjectException):
        comment.edit("again")


def test_request_counts(fake_github: FakeGitHub, fake_repo: Repo, gh: github.Github) -> None:
    repo = gh.get_repo("octo/demo")
    repo.get_issues().totalCount  # noqa: B018
    assert fake_github.total_requests == 2
    assert fake_github.request_count("GET") == 2
    assert fake_github.request_count(route="/repos/{owner}/{repo}") == 1
    fake_github.reset_counts()
    assert fake_github.total_requests == 0


# ------------------------------------------------------------------------- transport, validation


def test_out_of_process_server(fake_repo: Repo, fake_github: FakeGitHub) -> None:
    with fake_github.serve() as url:
        assert url.startswith("http://127.0.0.1:")
        request = urllib.request.Request(
            f"{url}/repos/octo/demo", headers={"Authorization": "token x"}
        )
        with urllib.request.urlopen(request, timeout=5) as response:
            body = json.loads(response.read())
            assert response.headers["X-RateLimit-Remaining"] == "4999"
        assert body["full_name"] == "octo/demo"
        assert body["url"] == f"{url}/repos/octo/demo"
        issue = make_client(base_url=url).get_repo("octo/demo").create_issue("over http")
        assert issue.number == 1
        issue.create_comment("followed the returned url")
    assert fake_github.request_count("POST") == 2


def test_invalid_request_is_caught(
    fake_github: FakeGitHub, fake_repo: Repo, gh: github.Github
) -> None:
    issue = gh.get_repo("octo/demo").create_issue("x")
    with fake_github.expect_violation() as found:
        issue.create_reaction("thumbs-up")  # not an allowed reaction content
    assert "is not one of" in found[0]


def test_invalid_response_and_webhook_are_caught(fake_github: FakeGitHub, fake_repo: Repo) -> None:
    validator = fake_github.validator
    assert validator is not None
    request = validator.request(
        method="GET",
        path="/repos/octo/demo/issues/1",
        template="/repos/{owner}/{repo}/issues/{issue_number}",
        path_params={"owner": "octo", "repo": "demo", "issue_number": "1"},
        query=(),
        headers={},
        body=None,
    )
    bad_issue = b'{"number": "one"}'
    with fake_github.expect_violation() as found:
        validator.response(request, 200, {"Content-Type": "application/json"}, bad_issue)
    assert "InvalidData" in found[0]
    with fake_github.expect_violation() as found:
        validator.webhook("issues-opened", {"action": "opened", "issue": {"number": 1}})
    assert "webhook issues-opened" in found[0]


def test_github_app_installation_auth(fake_github: FakeGitHub, fake_repo: Repo) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    app_auth = github.Auth.AppAuth(1, pem)
    installation = github.GithubIntegration(auth=app_auth).get_repo_installation("octo", "demo")
    client = github.Github(
        auth=app_auth.get_installation_auth(installation.id),
        retry=None,
        seconds_between_requests=None,
        seconds_between_writes=None,
    )
    comment = client.get_repo("octo/demo").create_issue("via app").create_comment("hi")
    assert comment.user.login == fake_github.bot.login
    assert (
        fake_github.request_count("POST", "/app/installations/{installation_id}/access_tokens") == 1
    )
