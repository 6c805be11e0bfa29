"""GitHub API requests per task over the whole lifecycle in GitHub mode, by job and endpoint.

Plays the event loop job by job over the fake GitHub (as tests/integration/test_github_jobs.py
does): N independent tasks are labeled, `/orchestrate run` is said, agent jobs run with the
scripted agent, the merge job lands them, dispatches continue the loop. Every request the jobs
send is counted by the fake. GITHUB_TOKEN allows 1,000 requests an hour per repository.

    cd tests && ../.venv/bin/python benchmarks/github_requests.py [--every-event] [TASKS ...]

The issues are labeled all at once. GitHub runs the workflow's coordinator in one concurrency
group: one run at a time and one pending, a newer pending run replacing the older. So of N
`labeled` events sent together, the first runs and the last waits; the ones between are
cancelled. That is what is counted, unless `--every-event` runs one coordinator per event.
"""

from __future__ import annotations

import json
import sys
import tempfile
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fakegithub import FakeGitHub
from github_mode import agent_job, deliver, merge_job

from bot.forge.issues import TASK_LABEL

CONFIG = "agent: {preset: scripted}\nmax_parallel: 4\n"


def lifecycle(
    count: int, workdir: Path, every_event: bool = False
) -> tuple[Counter[str], Counter[str], int]:
    """(requests by job, requests by endpoint, rounds) for `count` independent tasks."""
    fake = FakeGitHub(validate=False)
    repo = fake.create_repo("octo/demo", workdir / "demo.git")
    files = {f"src/m{n}.py": f"X = {n}\n" for n in range(count)}
    fake.push(repo, "main", {**files, ".github/orchestrate.yml": CONFIG}, "project", user="octo")
    fake.add_collaborator(repo, "alice", "write")
    fake.add_workflow(repo, ".github/workflows/orchestrate.yml", "orchestrate")
    by_job: Counter[str] = Counter()
    rounds = 0
    with fake.mock():
        for n in range(count):
            body = (
                f"```orchestrate\nfiles: [src/m{n}.py]\n```\n```write src/m{n}.py\nX = -{n}\n```\n"
            )
            issue = fake.create_issue(repo, f"Change module {n}", body, user="alice")
            fake.state.add_labels(repo, fake.state.user("alice"), issue.number, [TASK_LABEL])
        labeled = [d for d in fake.take_deliveries("issues") if d.action == "labeled"]
        fake.take_deliveries()
        runs = labeled if every_event else [labeled[0], labeled[-1]][: len(labeled)]
        before = fake.total_requests
        for index, delivery in enumerate(runs):
            deliver(fake, repo, delivery, workdir / "labels", tag=f"l{index}")
            fake.take_deliveries()
        by_job["coordinator"] += fake.total_requests - before
        fake.comment(repo, max(repo.issues), "/orchestrate run", user="alice")
        [pending] = fake.take_deliveries("issue_comment")
        while True:
            rounds += 1
            before = fake.total_requests
            run = deliver(fake, repo, pending, workdir / f"c{rounds}")
            by_job["coordinator"] += fake.total_requests - before
            fake.take_deliveries()
            comment = int(run.outputs["dashboard-comment"] or 0) or None
            for entry in json.loads(run.outputs["matrix"])["include"]:
                before = fake.total_requests
                agent_job(repo, entry["task"], workdir / f"r{rounds}-a{entry['task']}", comment)
                by_job["agent"] += fake.total_requests - before
            before = fake.total_requests
            merge_job(repo, workdir / f"r{rounds}-merge")
            by_job["merge"] += fake.total_requests - before
            dispatched = fake.take_deliveries("workflow_dispatch")
            fake.take_deliveries()
            if not dispatched or rounds > count:
                break
            [pending] = dispatched
        merged = sum(1 for i in repo.issues.values() if i.state == "closed" and not i.is_pull)
        assert merged == count, f"only {merged} of {count} tasks merged"
    return by_job, Counter(fake.counts), rounds


def main(sizes: list[int], every_event: bool) -> None:
    runs = "a coordinator run per label event" if every_event else "label events collapsed"
    print(f"GitHub API requests per task, whole lifecycle (label -> merged), by job; {runs}")
    print(f"{'tasks':>5} {'rounds':>6} {'total':>6} {'per task':>8}  coordinator / agent / merge")
    endpoints: Counter[str] = Counter()
    for size in sizes:
        with tempfile.TemporaryDirectory() as tmp:
            by_job, counts, rounds = lifecycle(size, Path(tmp), every_event)
        total = sum(by_job.values())
        jobs = " / ".join(f"{by_job[j] / size:.1f}" for j in ("coordinator", "agent", "merge"))
        print(f"{size:>5} {rounds:>6} {total:>6} {total / size:>8.1f}  {jobs}")
        endpoints = counts
    print(f"\nby endpoint, {sizes[-1]} tasks:")
    for endpoint, count in endpoints.most_common():
        print(f"  {count:>5}  {endpoint}")


if __name__ == "__main__":
    every = "--every-event" in sys.argv
    main([int(arg) for arg in sys.argv[1:] if arg.isdigit()] or [4, 8, 16], every)
