"""The crash-point harness of GitHub mode: the Actions jobs of a 10-task run against the fake
GitHub, one job killed at one crash point, then what GitHub does after a failed job, and checked:
each issue closed by exactly one merged pull request, the base's tree as expected, no agent left
running, no lock, no task checkout left behind.

The fake is served on 127.0.0.1, backed by a real bare repository. The harness plays GitHub:
it delivers a collaborator's `/orchestrate run` comment to the coordinator (`orchestrate
event`), runs an agent job (`orchestrate agent --task N`) for each matrix entry the coordinator
output, then the merge-queue job (`orchestrate merge --github`), and delivers each
`workflow_dispatch` the bot made, until no run is pending. Every job is a process in a session
of its own, in a fresh clone of the repository as actions/checkout leaves it, with a
RUNNER_TRACKING_ID; when a job ends the runner ends every process that carries it.

Crash points (`bot.crashpoints`) are every dashboard write, every git command and every
request to GitHub; a counting run says how many each job of a whole pipeline passes, and point
N crashes the job in which the pipeline's Nth point falls. After a crashed job its run failed:
the failed jobs are re-run (as "Re-run failed jobs" does: the same inputs, on the same runner,
and the jobs that need them), and when nothing else is pending the hourly `schedule` run comes.

    .venv/bin/python tests/crash_points_github.py [--step K] [--modes kill,group,int]
        [--rotate] [--jobs J]

With `--rotate`, each point is tried in one of the modes, the modes in turn.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from fakegithub import Delivery, FakeGitHub, Repo  # noqa: E402
from fakegithub.devflow import closing_references  # noqa: E402
from github_mode import BOT_TOKEN, WORKFLOW  # noqa: E402

from bot.blocks import decode_state  # noqa: E402
from bot.crashpoints import LOG, VARIABLE  # noqa: E402
from bot.forge.issues import TASK_LABEL  # noqa: E402
from bot.process import kill_tree  # noqa: E402
from bot.render.dashboard import DASHBOARD_MARKER  # noqa: E402
from tests.crashing import (  # noqa: E402
    Outcome,
    agents_running,
    arguments,
    checkout_leftovers,
    chosen,
    ctrl_c_works,
    environment,
    plan,
    points_to_try,
    report,
    settle,
    trials,
)

TASKS = 10  # the last two also rewrite shared.txt, which no prediction sees
RUNS = 30  # workflow runs after which a pipeline that has not finished is said not to converge
RERUNS = 2  # "Re-run failed jobs" of one workflow run, at most
SCHEDULES = 2  # schedule runs in a row that change nothing: the pipeline stopped moving
JOB_TIMEOUT = 180.0
AGENT = 'import runpy\nrunpy.run_module("bot.agents.scripted", run_name="__main__")\n'
FILES = {"README.md": "# tasks\n", "shared.txt": "shared\n"}


def title(n: int) -> str:
    return f"Finish task {n}"


def _edits(n: int, tasks: int) -> dict[str, str]:
    edits = {f"task{n}.txt": f"task {n} done\n"}
    if n >= tasks - 1:
        edits["shared.txt"] = f"shared, as task {n} leaves it\n"
    return edits


def _body(n: int, tasks: int) -> str:
    writes = "".join(f"```write {path}\n{text}```\n" for path, text in _edits(n, tasks).items())
    return f"Finish task {n}.\n\n```orchestrate\nfiles: [task{n}.txt]\n```\n\n{writes}"


@dataclass
class Job:
    index: int  # in the order the pipeline ran its jobs
    name: str
    checkout: Path  # its runner's workspace
    code: int = 0
    outputs: dict[str, str] = field(default_factory=dict)  # what it wrote to GITHUB_OUTPUT


class Pipeline:
    """One whole run of the scenario: the served fake GitHub and the jobs GitHub would run.
    `crash` = (job index, its point, mode) crashes that job once; `counting` logs each job's
    points instead."""

    def __init__(
        self,
        root: Path,
        tasks: int = TASKS,
        crash: tuple[int, int, str] | None = None,
        counting: bool = False,
    ) -> None:
        shutil.rmtree(root, ignore_errors=True)  # what an earlier sweep left there
        root.mkdir(parents=True)
        self.root, self.tasks, self.crash, self.counting = root, tasks, crash, counting
        self.fake = FakeGitHub()
        self.repo = self.fake.create_repo("octo/tasks", root / "remote.git")
        self.agent = root / "crash_agent.py"  # in the command line of each agent: the marker
        self.agent.write_text(AGENT)
        self.jobs: list[Job] = []
        self.problems: list[str] = []
        self.url = ""
        self.files: dict[str, str] = {}
        self._runs = 0

    # -- the scenario --------------------------------------------------------------------

    def _populate(self) -> Delivery:
        """The repository, the `parallel` issues, and alice's `/orchestrate run`."""
        fake, repo = self.fake, self.repo
        config = {
            "max_parallel": 4,
            "agent": {
                "command": f"{sys.executable} {self.agent}",
                "env": {"ORCHESTRATE_SCRIPTED_DELAY": "0.2"},
            },
            "resources": {"max_cpu_percent": 100, "max_memory_percent": 100},
        }
        self.files = {**FILES, ".github/orchestrate.yml": json.dumps(config)}
        fake.push(repo, "main", dict(self.files), "project", user="octo")
        fake.add_collaborator(repo, "alice", "write")
        fake.add_workflow(repo, WORKFLOW, "orchestrate")
        alice = fake.state.user("alice")
        for n in range(1, self.tasks + 1):
            issue = fake.create_issue(repo, title(n), _body(n, self.tasks), user="alice")
            fake.state.add_labels(repo, alice, issue.number, [TASK_LABEL])
        home = fake.create_issue(repo, "Plan the work", "Where the plan goes.", user="alice")
        fake.comment(repo, home.number, "/orchestrate run", user="alice")
        [command] = fake.take_deliveries("issue_comment")
        fake.take_deliveries()  # one delivery is enough: the coordinator is level-triggered
        return command

    def expected_tree(self) -> dict[str, str]:
        """The base once every task landed: shared.txt as the conflicting task that merged
        last left it (it was redone on top of the other)."""
        last = next(n for n in (*self.landed(), self.tasks) if n >= self.tasks - 1)
        tree = dict(self.files)
        for n in (*range(1, self.tasks + 1), last):
            tree.update(_edits(n, self.tasks))
        return tree

    def landed(self) -> list[int]:
        """The task of each commit on main, newest first (its `Orchestrate-Task:` trailer)."""
        log = _git(self.repo.git.path, "log", "--format=%B", "main")
        return [int(n) for n in re.findall(r"^Orchestrate-Task: (\d+)$", log, re.M)]

    def tree(self) -> dict[str, str]:
        names = _git(self.repo.git.path, "ls-tree", "-r", "--name-only", "main").split()
        return {name: _git(self.repo.git.path, "show", f"main:{name}") for name in names}

    # -- GitHub's event loop ---------------------------------------------------------------

    def run(self) -> None:
        command = self._populate()
        with self.fake.serve() as url:
            self.url = url
            self._loop(command)

    def _loop(self, command: Delivery) -> None:
        pending, quiet = [command], 0
        for _ in range(RUNS):
            if not pending:
                if self.finished() or quiet >= SCHEDULES:
                    return
                pending.append(Delivery("schedule", None, {"schedule": "23 * * * *"}, "hourly"))
                quiet += 1
            before = self._seen()
            self._workflow_run(pending.pop(0))
            if self._seen() != before:
                quiet = 0
            pending += self.fake.take_deliveries("workflow_dispatch")
            self.fake.take_deliveries()  # caused with the bot's token: GitHub starts no workflow
        self.problems.append(f"still not finished after {RUNS} workflow runs")

    def _workflow_run(self, delivery: Delivery) -> None:
        """coordinate -> one agent job per matrix entry -> merge queue, as the workflow's
        `needs:` and `if:` have it; failed jobs re-run (the run's next attempt), with the
        jobs that need them."""
        folder = self.root / f"run{self._runs}"
        self._runs += 1
        folder.mkdir()
        event = folder / "event.json"
        event.write_text(json.dumps(delivery.payload))
        run = {"GITHUB_RUN_ID": str(1000 + self._runs), "GITHUB_RUN_ATTEMPT": "1"}
        env = {"GITHUB_EVENT_NAME": delivery.event, "GITHUB_EVENT_PATH": str(event), **run}
        name = f"coordinate ({delivery.event})"
        coordinate = self._job(name, ["event"], env, folder / "c")
        for attempt in range(2, RERUNS + 2):
            if coordinate.code == 0:
                break
            run["GITHUB_RUN_ATTEMPT"] = env["GITHUB_RUN_ATTEMPT"] = str(attempt)
            coordinate = self._job(name, ["event"], env, coordinate.checkout)
        if coordinate.code != 0:
            return
        out = coordinate.outputs
        legs = [str(e["task"]) for e in json.loads(out.get("matrix") or "{}").get("include", [])]

        def agent(task: str) -> Job:
            env = {"ORCHESTRATE_DASHBOARD_COMMENT": out.get("dashboard-comment", ""), **run}
            return self._job(f"agent #{task}", ["agent", "--task", task], env, folder / task)

        def merge() -> Job | None:
            if out.get("launch") != "true" and not out.get("merge"):
                return None
            return self._job("merge queue", ["merge", "--github"], run, folder / "m")

        codes = {task: agent(task).code for task in legs}
        merged = merge()
        for attempt in range(int(run["GITHUB_RUN_ATTEMPT"]) + 1, RERUNS + 2):
            failed = [task for task, code in codes.items() if code != 0]
            if not failed and (merged is None or merged.code == 0):
                break
            run["GITHUB_RUN_ATTEMPT"] = str(attempt)
            codes.update({task: agent(task).code for task in failed})
            merged = merge()

    def _job(self, name: str, verb: list[str], env: dict[str, str], checkout: Path) -> Job:
        """One job on a runner: its checkout, then `orchestrate VERB` in a session of its own;
        then the runner's cleanup."""
        job = Job(len(self.jobs), name, checkout)
        self.jobs.append(job)
        _checkout(self.repo, checkout)
        output = checkout.with_suffix(".out")
        output.write_text("")
        crash = {}
        if self.counting:
            crash = {VARIABLE: "0:count", LOG: str(self.root / f"points-{job.index}.log")}
        elif self.crash is not None and self.crash[0] == job.index:
            crash = {VARIABLE: f"{self.crash[1]}:{self.crash[2]}"}
        full = environment(
            {
                "GITHUB_REPOSITORY": self.repo.full_name,
                "GITHUB_TOKEN": BOT_TOKEN,
                "GITHUB_API_URL": self.url,
                "GITHUB_SERVER_URL": self.url,
                "GITHUB_WORKFLOW_REF": f"{self.repo.full_name}/{WORKFLOW}@refs/heads/main",
                "GITHUB_OUTPUT": str(output),
                "GITHUB_STEP_SUMMARY": str(checkout.with_suffix(".md")),
                "ORCHESTRATE_BOT_LOGIN": self.fake.bot.login,
                "RUNNER_TRACKING_ID": self._tracking(job),
                **env,
                **crash,
            }
        )
        argv = [sys.executable, "-m", "bot.cli", *verb, "--repo", str(checkout)]
        with (self.root / "jobs.log").open("a") as log:
            log.write(f"\n== job {job.index}: {name}\n")
            log.flush()
            proc = subprocess.Popen(
                argv, cwd=checkout, env=full, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True, preexec_fn=ctrl_c_works,
            )  # fmt: skip
            try:
                job.code = proc.wait(timeout=JOB_TIMEOUT)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                job.code = proc.wait()
                self.problems.append(f"job {job.index} ({name}) ran past {JOB_TIMEOUT:.0f} s")
        lines = output.read_text().splitlines()
        job.outputs = dict(line.split("=", 1) for line in lines if "=" in line)
        self._clean_up(job, crashed=bool(crash) and not self.counting)
        return job

    def _tracking(self, job: Job) -> str:
        return f"{self.root}#{job.index}"

    def _clean_up(self, job: Job, crashed: bool) -> None:
        """What the runner does when a job ends: it ends every process left with the job's
        RUNNER_TRACKING_ID. Only a job SIGKILLed may leave its agent to it: one that ended on
        its own, or on a Ctrl-C, stops its agent itself."""
        agents = set(agents_running(str(self.agent)))
        left = [p for p in _tracked(self._tracking(job)) if p.pid in agents]
        killed = crashed and self.crash is not None and self.crash[2] != "int"
        running = [p.pid for p in left if _alive(p)]
        if running and not killed:
            self.problems.append(f"job {job.index} ({job.name}) left agent(s) {running}")
        for proc in _tracked(self._tracking(job)):
            kill_tree(proc.pid, grace=0.0)

    # -- what GitHub shows -----------------------------------------------------------------

    def dashboards(self) -> list[str]:
        bot = self.fake.bot.login
        return [
            c.body
            for c in self.repo.comments.values()
            if DASHBOARD_MARKER in c.body and c.user.login == bot
        ]

    def states(self) -> dict[str, dict[str, Any]]:
        boards = self.dashboards()
        state = decode_state(boards[0]) if boards else None
        tasks = state.get("tasks") if state else None
        return tasks if isinstance(tasks, dict) else {}

    def finished(self) -> bool:
        states = self.states()
        merged = [s.get("status") == "merged" for s in states.values()]
        return len(merged) == self.tasks and all(merged)

    def _seen(self) -> tuple[object, ...]:
        """What moving on changes (a schedule run rewrites the dashboard each time)."""
        states = {
            t: (s.get("status"), s.get("attempt"), s.get("redos")) for t, s in self.states().items()
        }
        return (states, self.repo.git.branch_sha("main"), len(self.repo.pulls))

    def points(self) -> list[list[str]]:
        """The crash points each job passed, in order, by kind (a counting run)."""
        logs = [self.root / f"points-{job.index}.log" for job in self.jobs]
        return [[line.split()[1] for line in log.read_text().splitlines()] for log in logs]


def _git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, capture_output=True, text=True, check=True
    ).stdout


def _checkout(repo: Repo, path: Path) -> None:
    """What actions/checkout leaves a job: a clone of the default branch. A runner that ran
    the job before (a re-run on a self-hosted runner) still has its workspace, which
    actions/checkout reuses as it does: stale locks removed, every local branch deleted,
    `git clean -ffdx`, fetched; when a branch cannot be deleted (a task worktree holds it),
    it clones afresh instead."""
    if path.exists():
        for lock in ("index.lock", "shallow.lock"):
            (path / ".git" / lock).unlink(missing_ok=True)
        _git(path, "checkout", "--quiet", "--detach")
        for branch in _git(path, "branch", "--format=%(refname:short)").split():
            if subprocess.run(
                ["git", "branch", "-D", branch], cwd=path, capture_output=True
            ).returncode:
                shutil.rmtree(path)
                break
    if path.exists():
        _git(path, "clean", "-ffdx", "--quiet")
        _git(path, "reset", "--hard", "--quiet")
        _git(path, "fetch", "--quiet", "origin")
        _git(path, "checkout", "--quiet", "--force", "-B", "main", "origin/main")
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    _git(path.parent, "clone", "--quiet", str(repo.git.path), str(path))
    for key, value in (("user.name", "runner"), ("user.email", "runner@example.com")):
        _git(path, "config", key, value)


def _alive(proc: psutil.Process) -> bool:
    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _tracked(tracking: str) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter():
        try:
            if proc.environ().get("RUNNER_TRACKING_ID") == tracking:
                found.append(proc)
        except psutil.Error:
            continue
    return found


def check(pipe: Pipeline) -> list[str]:
    """What is wrong once the pipeline stopped (nothing, when it converged)."""
    problems = list(pipe.problems)
    repo = pipe.repo
    if len(pipe.dashboards()) != 1:
        problems.append(f"{len(pipe.dashboards())} dashboard comments")
    states = pipe.states()
    if sorted(s.get("status", "planned") for s in states.values()) != ["merged"] * pipe.tasks:
        statuses = {t: s.get("status", "planned") for t, s in states.items()}
        problems.append(f"not all merged on the dashboard: {statuses}")
    landed = pipe.landed()
    for n in range(1, pipe.tasks + 1):
        pulls = [p for p in repo.pulls.values() if n in _closes(repo, p.number)]
        merged = [p.number for p in pulls if p.merged_at]
        if repo.issues[n].state != "closed" or len(merged) != 1 or len(pulls) != 1:
            problems.append(
                f"#{n}: issue {repo.issues[n].state}, pull requests "
                f"{[p.number for p in pulls]}, merged {merged}"
            )
        if landed.count(n) != 1:
            problems.append(f"task #{n} landed on main {landed.count(n)} times")
    if opened := [n for n in repo.pulls if repo.issues[n].state == "open"]:
        problems.append(f"pull requests left open: {opened}")
    if pipe.tree() != pipe.expected_tree():
        wrong = sorted(set(pipe.tree().items()) ^ set(pipe.expected_tree().items()))
        problems.append(f"main's tree differs from the expected one: {wrong}")
    if unfinished := [c.id for c in repo.check_runs.values() if c.status != "completed"]:
        problems.append(f"check runs left in progress: {unfinished}")
    return problems + _leftovers(pipe)


def _closes(repo: Repo, number: int) -> list[int]:
    return closing_references(repo, repo.issues[number].body or "")


def _leftovers(pipe: Pipeline) -> list[str]:
    problems = []
    for checkout in sorted({job.checkout for job in pipe.jobs}):
        problems.extend(checkout_leftovers(checkout))
    running = agents_running(str(pipe.agent))
    problems.extend(f"agent process {pid} still running" for pid in running)
    try:
        pipe.fake.check()
    except AssertionError as error:
        problems.append(str(error))
    return problems


@dataclass
class Count:
    tasks: int
    jobs: list[str]  # each job's name, in order
    points: list[list[str]]  # the kind of each crash point each job passed, in order
    problems: list[str]  # of the uncrashed pipeline itself

    @property
    def total(self) -> int:
        return sum(len(points) for points in self.points)

    def locate(self, point: int) -> tuple[int, int]:
        """(job index, the job's own point) of the pipeline's `point`th crash point."""
        for index, points in enumerate(self.points):
            if point <= len(points):
                return index, point
            point -= len(points)
        raise ValueError("past the pipeline's last crash point")

    def first(self, job: str, kind: str) -> int:
        """The pipeline's point that is the first of `kind` in the first job named `job`."""
        index = self.jobs.index(job)
        return (
            sum(len(points) for points in self.points[:index]) + self.points[index].index(kind) + 1
        )


def count_points(root: Path, tasks: int = TASKS) -> Count:
    """The crash points of each job of one uncrashed pipeline; its problems too (a conflict
    that was not redone is one: the scenario would not test what it should)."""
    pipe = Pipeline(root, tasks, counting=True)
    pipe.run()
    problems = check(pipe)
    redone = [t for t, s in pipe.states().items() if s.get("redos")]
    if len(redone) != 1 or int(redone[0]) < tasks - 1:
        problems.append(f"expected one of the last two tasks redone, got {redone}")
    return Count(tasks, [job.name for job in pipe.jobs], pipe.points(), problems)


def crash_then_finish(root: Path, count: Count, point: int, mode: str) -> Outcome:
    index, own = count.locate(point)
    pipe = Pipeline(root, count.tasks, crash=(index, own, mode))
    pipe.run()
    crashed = pipe.jobs[index] if index < len(pipe.jobs) else None
    outcome = Outcome(point, mode, runs=len(pipe.jobs))
    outcome.where = f"job {index} ({count.jobs[index]}), its point {own}"
    outcome.first_exit = crashed.code if crashed is not None else 0
    settle(lambda: _leftovers(pipe))
    outcome.problems.extend(check(pipe))
    return outcome


def sweep(root: Path, count: Count, tried: list[tuple[int, str]], jobs: int = 1) -> list[Outcome]:
    """Each (point, mode) of `tried`, in a folder of its own."""
    chosen = [(root / f"{mode}-{point}", count, point, mode) for point, mode in tried]
    return trials(crash_then_finish, chosen, jobs)


def main(argv: list[str] | None = None) -> int:
    args = arguments(__doc__.split("\n\n")[0], Path("/tmp/orchestrate-crash-points-github"), argv)
    started = time.monotonic()
    count = count_points(args.workdir / "count")
    if count.problems:
        print("the uncrashed pipeline does not converge: " + "; ".join(count.problems))
        return 1
    points = points_to_try(count.total, args.step)
    modes = args.modes.split(",")
    print(
        f"a whole pipeline ({len(count.jobs)} jobs) passes {count.total} crash points; "
        f"{plan(points, modes, args.rotate)}"
    )
    tried = chosen(points, modes, args.rotate)
    return report(sweep(args.workdir, count, tried, args.jobs), "jobs run", started)


if __name__ == "__main__":
    raise SystemExit(main())
