"""Pull requests, merges, git refs, check runs and Actions: the ``State`` mixin.

Refs and merges act on the repo's real bare git repository.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fakegithub.gitrepo import ZERO_SHA, GitError, MergeConflict
from fakegithub.model import (
    ApiError,
    CheckRun,
    Dispatch,
    Issue,
    Pull,
    Repo,
    User,
    Workflow,
    WorkflowRun,
    invalid,
    not_found,
)

# GitHub's closing keywords: "Closes #1", "fixes: #2", "resolved octo/demo#3" (any case).
CLOSING = re.compile(
    r"\b(?:close[sd]?|fix(?:e[sd])?|resolve[sd]?)(?::\s*|\s+)([\w.-]+/[\w.-]+)?#(\d+)\b",
    re.IGNORECASE,
)


def closing_references(repo: Repo, text: str) -> list[int]:
    """Issue numbers of ``repo`` that ``text`` references with a closing keyword, in order."""
    numbers: list[int] = []
    for match in CLOSING.finditer(text):
        other, number = match.group(1), int(match.group(2))
        if (other is None or other.lower() == repo.full_name.lower()) and number not in numbers:
            numbers.append(number)
    return numbers


class DevFlow:
    """Operations of ``State`` around code: pulls, refs, checks, workflows."""

    if TYPE_CHECKING:

        def next_id(self) -> int: ...
        def now(self) -> str: ...
        def emit(self, event: str, action: str | None, **objects: Any) -> None: ...
        def edit_issue(self, repo: Repo, actor: User, number: int, **changes: Any) -> Issue: ...

    # ------------------------------------------------------------------ pulls
    def create_pull(
        self,
        repo: Repo,
        actor: User,
        *,
        title: str,
        head: str,
        base: str,
        body: str | None = None,
        draft: bool = False,
    ) -> Pull:
        head = head.split(":", 1)[-1]
        head_sha, base_sha = repo.git.branch_sha(head), repo.git.branch_sha(base)
        if head_sha is None:
            raise invalid("head invalid", "PullRequest", "head", code="invalid")
        if base_sha is None:
            raise invalid("base invalid", "PullRequest", "base", code="invalid")
        if repo.open_pulls_with_head(head):
            raise invalid(
                f"A pull request already exists for {repo.owner.login}:{head}.", "PullRequest"
            )
        if not repo.git.commits_between(base_sha, head_sha):
            raise invalid(f"No commits between {base} and {head}", "PullRequest")
        number = max(repo.issues, default=0) + 1
        now = self.now()
        issue = Issue(number, self.next_id(), title, body, actor, now, now, is_pull=True)
        repo.issues[number] = issue
        pull = Pull(number, self.next_id(), head, base, draft=draft)
        repo.pulls[number] = pull
        self.emit("pull_request", "opened", repo=repo, pull=pull, sender=actor)
        return pull

    def edit_pull(self, repo: Repo, actor: User, number: int, **changes: Any) -> Pull:
        pull = repo.pull(number)
        if changes.get("base"):
            if repo.git.branch_sha(changes["base"]) is None:
                raise invalid("base invalid", "PullRequest", "base", code="invalid")
            pull.base = changes["base"]
        self.edit_issue(
            repo,
            actor,
            number,
            title=changes.get("title"),
            body=changes.get("body"),
            state=changes.get("state"),
        )
        return pull

    def merge_pull(
        self,
        repo: Repo,
        actor: User,
        number: int,
        *,
        sha: str | None,
        method: str,
        title: str | None,
        message: str | None,
    ) -> str:
        pull, issue = repo.pull(number), repo.issue(number)
        if issue.state != "open" or pull.merged_at:
            raise ApiError(405, "Pull Request is not mergeable")
        head_sha = repo.head_sha(pull)
        if sha and sha != head_sha:
            raise ApiError(409, "Head branch was modified. Review and try the merge again.")
        if method == "merge":
            default_title = f"Merge pull request #{number} from {repo.owner.login}/{pull.head}"
            text = f"{title or default_title}\n\n{message if message is not None else issue.title}"
        else:
            text = f"{title or f'{issue.title} (#{number})'}\n\n{message or ''}".rstrip()
        author = (actor.name or actor.login, f"{actor.id}+{actor.login}@users.noreply.github.com")
        try:
            merged = repo.git.merge(pull.base, head_sha, method, text + "\n", author=author)
        except MergeConflict as error:
            raise ApiError(405, "Pull Request is not mergeable") from error
        except GitError as error:  # the base moved while merging
            raise ApiError(409, f"Base branch was modified: {error}") from error
        pull.merged_at, pull.merged_by, pull.merge_commit_sha = self.now(), actor, merged
        pull.closed_head_sha = head_sha
        issue.state, issue.closed_at, issue.closed_by = "closed", pull.merged_at, actor
        issue.state_reason, issue.updated_at = "completed", pull.merged_at
        self.emit("pull_request", "closed", repo=repo, pull=pull, sender=actor)
        if pull.base == repo.default_branch:  # GitHub closes issues only from the default branch
            self._close_referenced(repo, actor, f"{issue.title}\n{issue.body or ''}")
        return merged

    def _close_referenced(self, repo: Repo, actor: User, text: str) -> None:
        """Close the open issues (not pulls) of ``repo`` that ``text`` closes, as an edit would."""
        for number in closing_references(repo, text):
            target = repo.issues.get(number)
            if target is not None and not target.is_pull and target.state == "open":
                self.edit_issue(repo, actor, number, state="closed", state_reason="completed")

    # ------------------------------------------------------------------ refs
    def create_ref(self, repo: Repo, ref: str, sha: str) -> None:
        if not ref.startswith("refs/") or ref.count("/") < 2:
            raise invalid("Reference name is not valid")
        if repo.git.resolve(sha) is None:
            raise invalid("Object does not exist")
        if ref in repo.git.refs(ref):
            raise invalid("Reference already exists")
        repo.git.update_ref(ref, sha, ZERO_SHA)

    def update_ref(self, repo: Repo, actor: User, ref: str, sha: str, force: bool = False) -> None:
        old = repo.git.refs(ref).get(ref)
        if old is None:
            raise invalid("Reference does not exist")
        if repo.git.resolve(sha) is None:
            raise invalid("Object does not exist")
        if not force and not repo.git.is_ancestor(old, sha):
            raise invalid("Update is not a fast forward")
        repo.git.update_ref(ref, sha, old)
        self.pushed(repo, actor, ref, old, sha)

    def pushed(self, repo: Repo, actor: User, ref: str, before: str, after: str) -> None:
        """A branch moved: open pull requests with that head are synchronized."""
        if before == after or not ref.startswith("refs/heads/"):
            return
        for pull in repo.open_pulls_with_head(ref.removeprefix("refs/heads/")):
            repo.issues[pull.number].updated_at = self.now()
            self.emit(
                "pull_request",
                "synchronize",
                repo=repo,
                pull=pull,
                sender=actor,
                before=before,
                after=after,
            )

    def delete_ref(self, repo: Repo, ref: str) -> None:
        if ref not in repo.git.refs(ref):
            raise invalid("Reference does not exist")
        for pull in repo.open_pulls_with_head(ref.removeprefix("refs/heads/")):
            pull.closed_head_sha = repo.head_sha(pull)
        repo.git.delete_ref(ref)

    # ------------------------------------------------------------------ checks and actions
    def create_check_run(self, repo: Repo, app: User, fields: dict[str, Any]) -> CheckRun:
        if repo.git.resolve(fields["head_sha"]) is None:
            raise invalid("No commit found for SHA: " + fields["head_sha"], "CheckRun", "head_sha")
        now = self.now()
        run = CheckRun(
            id=self.next_id(),
            name=fields["name"],
            head_sha=fields["head_sha"],
            status="queued",
            conclusion=None,
            started_at=fields.get("started_at") or now,
            completed_at=None,
            app=app,
        )
        repo.check_runs[run.id] = run
        return self.update_check_run(repo, app, run.id, fields, created=True)

    def update_check_run(
        self, repo: Repo, app: User, run_id: int, fields: dict[str, Any], created: bool = False
    ) -> CheckRun:
        run = repo.check_runs.get(run_id)
        if run is None:
            raise not_found()
        was_completed = run.status == "completed"
        for key in ("name", "status", "details_url", "external_id", "started_at"):
            if fields.get(key) is not None:
                setattr(run, key, fields[key])
        if fields.get("output"):
            output = dict(fields["output"])
            notes = output.pop("annotations", None) or []
            if len(notes) > 50:
                raise invalid("Only 50 annotations are allowed per request", "CheckRun")
            run.output = {**run.output, **output}
            run.annotations.extend(notes)  # GitHub appends; they are never taken back
        if fields.get("conclusion"):
            run.conclusion, run.status = fields["conclusion"], "completed"
        if run.status == "completed":
            run.completed_at = fields.get("completed_at") or run.completed_at or self.now()
        if run.status == "completed" and not was_completed:
            self.emit("check_run", "completed", repo=repo, check_run=run, sender=app)
        elif created:
            self.emit("check_run", "created", repo=repo, check_run=run, sender=app)
        return run

    def add_workflow(self, repo: Repo, path: str, name: str | None = None) -> Workflow:
        workflow = Workflow(self.next_id(), name or Path(path).stem, path, self.now())
        repo.workflows[workflow.id] = workflow
        return workflow

    def workflow(self, repo: Repo, workflow_id: str) -> Workflow:
        for workflow in repo.workflows.values():
            if workflow_id in (str(workflow.id), workflow.path, Path(workflow.path).name):
                return workflow
        raise not_found()

    def dispatch(
        self, repo: Repo, actor: User, workflow_id: str, ref: str, inputs: dict[str, Any]
    ) -> Dispatch:
        workflow = self.workflow(repo, workflow_id)
        if repo.git.resolve(ref) is None and repo.git.branch_sha(ref) is None:
            raise invalid(f"No ref found for: {ref}")
        dispatch = Dispatch(workflow, ref, dict(inputs), actor)
        repo.dispatches.append(dispatch)
        self.emit("workflow_dispatch", None, repo=repo, dispatch=dispatch, sender=actor)
        return dispatch

    def complete_workflow_run(
        self,
        repo: Repo,
        actor: User,
        workflow_id: str,
        branch: str,
        *,
        conclusion: str = "success",
        event: str = "workflow_dispatch",
    ) -> WorkflowRun:
        """A run of a workflow on ``branch`` finished (emits ``workflow_run`` completed)."""
        workflow = self.workflow(repo, workflow_id)
        sha = repo.git.branch_sha(branch)
        if sha is None:
            raise invalid(f"No ref found for: {branch}")
        run = WorkflowRun(
            id=self.next_id(),
            workflow=workflow,
            head_branch=branch,
            head_sha=sha,
            event=event,
            conclusion=conclusion,
            run_number=len(repo.workflow_runs) + 1,
            actor=actor,
            created_at=self.now(),
            pull_numbers=tuple(p.number for p in repo.open_pulls_with_head(branch)),
        )
        repo.workflow_runs[run.id] = run
        self.emit("workflow_run", "completed", repo=repo, run=run, sender=actor)
        return run
