"""GitHub API requests the `orchestrate/overlap` checks cost on a busy repository.

Over the fake GitHub (with a real bare repository): one task is in review and N people's pull
requests are open, each changing its own file, every fifth also the task's file (a real
conflict on one line). Then, counted one by one by the fake: a new pull request is opened, one
of them is pushed to, one that meets nothing is pushed to, and the task lands. The check runs'
heads and files come from one `git fetch` and git itself, so the count grows with the pull
requests whose check changed, not with the open ones.

    cd tests && ../.venv/bin/python benchmarks/pull_check_requests.py [N ...]
"""

from __future__ import annotations

import sys
import tempfile
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fakegithub import Delivery, FakeGitHub, Repo
from github_mode import agent_job_done, deliver

from bot.forge.issues import TASK_LABEL

LINES = "".join(f"line {n}\n" for n in range(1, 21))
TASK_BRANCH = "orchestrate/1-rework-the-report"


def _person(fake: FakeGitHub, repo: Repo, n: int, conflicting: bool) -> None:
    files = {f"src/m{n}.py": f"X = -{n}\n"}
    if conflicting:
        files["src/report.py"] = LINES.replace("line 5\n", f"line 5 by person {n}\n")
    fake.push(repo, f"people/{n}", files, f"change {n}", user="bob")
    fake.state.create_pull(
        repo, fake.state.user("bob"), title=f"Change {n}", head=f"people/{n}", base="main"
    )


def _count(fake: FakeGitHub, repo: Repo, delivery: Delivery, workdir: Path, tag: str) -> int:
    fake.take_deliveries()
    before = fake.total_requests
    run = deliver(fake, repo, delivery, workdir, tag=tag)
    assert run.outcome.error is None, run.outcome.error
    fake.take_deliveries()
    return fake.total_requests - before


def _pull_event(fake: FakeGitHub, action: str) -> Delivery:
    found = [d for d in fake.take_deliveries("pull_request") if d.payload["action"] == action]
    return found[-1]


def busy_repository(open_pulls: int, workdir: Path) -> Counter[str]:
    fake = FakeGitHub(validate=False)
    repo = fake.create_repo("octo/demo", workdir / "demo.git")
    files = {f"src/m{n}.py": f"X = {n}\n" for n in range(open_pulls + 2)}
    fake.push(repo, "main", {**files, "src/report.py": LINES}, "project", user="octo")
    fake.add_collaborator(repo, "alice", "write")
    fake.add_collaborator(repo, "bob", "write")
    counts: Counter[str] = Counter()
    with fake.mock():
        body = "```orchestrate\nfiles: [src/report.py]\n```\n"
        issue = fake.create_issue(repo, "Rework the report", body, user="alice")
        fake.state.add_labels(repo, fake.state.user("alice"), issue.number, [TASK_LABEL])
        [labeled] = [d for d in fake.take_deliveries("issues") if d.action == "labeled"]
        _count(fake, repo, labeled, workdir, "label")
        for n in range(open_pulls):
            _person(fake, repo, n, conflicting=n % 5 == 0)
        fake.take_deliveries()
        agent_job_done(fake, repo, TASK_BRANCH, {"src/report.py": LINES.replace("line 5", "five")})
        counts["task pull request opened (first checks)"] = _count(
            fake, repo, _pull_event(fake, "opened"), workdir, "task"
        )
        _person(fake, repo, open_pulls, conflicting=True)
        counts["a person opens a conflicting pull request"] = _count(
            fake, repo, _pull_event(fake, "opened"), workdir, "open"
        )
        fake.push(repo, "people/1", {"src/m1.py": "X = 100\n"}, "again", user="bob")
        counts["a push to a pull request that meets nothing"] = _count(
            fake, repo, _pull_event(fake, "synchronize"), workdir, "push"
        )
        task_pull = next(n for n, p in repo.pulls.items() if p.head == TASK_BRANCH)
        fake.state.merge_pull(
            repo, fake.state.user("alice"), task_pull, sha=None, method="merge", title=None,
            message=None,
        )  # fmt: skip
        counts["the task lands"] = _count(fake, repo, _pull_event(fake, "closed"), workdir, "land")
    return counts


def main(sizes: list[int]) -> None:
    print("requests per event, with N people's pull requests open (one task in review)")
    for size in sizes:
        with tempfile.TemporaryDirectory() as scratch:
            counts = busy_repository(size, Path(scratch))
        print(f"N = {size}:")
        for what, requests in counts.items():
            print(f"  {requests:4d}  {what}")


if __name__ == "__main__":
    main([int(arg) for arg in sys.argv[1:]] or [10, 50])
