"""Replay windows of a repository's real history through `orchestrate run`, end to end.

Not a test: a script that prints figures. A window is K consecutive first-parent changes of a
real repository, started as if all K were tasks at once from the commit before the first of
them (the window's base W). For each window:

1. A throwaway repository is cloned from --repo with `git clone --shared` (the clone is only
   read) and its `main` set to W, so the planner sees W's history as it would in real use.
2. Each change becomes a task file outside that repository: its subject is the title, the rest
   of its message the body, no `files:` (the planner predicts from the text). Ids 1..K in
   history order.
3. Each change's real patch (`git diff --binary --full-index C^ C`) is written beside the
   tasks, with a small agent (orchestrate's `command` preset) that sleeps --work seconds and
   then applies its task's patch in its worktree with `git apply --3way`. A patch that does
   not apply (the work it builds on has not landed yet) is undone and the agent exits 1,
   naming the files: the realistic failure of starting a change too early. A patch whose
   only trouble is a changelog-style file is made there as an agent making its change to the
   changelog it finds would: entries it adds go beside the others' (both sides' lines), a
   line it rewrites (a release date, a heading) is rewritten where it still stands (the
   oracle does not count those pairs).
4. `orchestrate plan --json` then `orchestrate run` run with max_parallel P (--parallel), then
   again in a fresh throwaway repository with max_parallel 1: the sequential baseline with the
   same overheads, doing the changes one by one in history's order (each task file gets a
   priority, and no pair is kept apart, so the priorities alone set the order; a run that
   started them in another order says so). Planning runs first in both, so both runs start
   with a warm cache (as after a user's `orchestrate plan`); only `orchestrate run` is timed
   (wall clock). orchestrate is imported from --source (PYTHONPATH), so any checkout of it
   can be measured.
5. `orchestrate status --json` gives each task's final status, attempts and redos.
6. The final tree of `main` is compared with the tree of the window's last change in --repo.
   Windows from a file may skip commits (bots' commits were left out of them); the paths that
   only those skipped commits explain are counted apart.
7. The oracle knows the real conflicts: pairs labelled `parallel_conflict` (from the windows
   file, or for --generate labelled with `git merge-tree` by window_gen.py), not counting pairs
   that conflict only in changelog-style files (orchestrate merges those as a union); a pair
   whose label is unknown counts when it shares a file that is not a changelog. The oracle's
   schedule is the fewest waves of at most P changes in which each change comes after every
   earlier change it conflicts with (the later one builds on the earlier), found exactly by
   search (windows are small). Oracle time = waves x work.

Per window it prints K, the plan's waves, the most agents that ran at once, wall time parallel
and sequential, the speedup (sequential / parallel), the oracle speedup (K / oracle waves),
reached (speedup / oracle speedup), the outcomes, redos and whether the final tree matches,
then each task that did not simply merge and why; at the end a summary line (sums, geometric
means of the speedups) and, before the table, the command line that reproduces it.

    .venv/bin/python tests/benchmarks/replay_run.py --repo FLASK_CLONE \
        --windows ../shared/data/history/flask_windows.jsonl --pick 436 439 [--work 5]
    .venv/bin/python tests/benchmarks/replay_run.py --repo HTTPX_CLONE --generate 2 --k 8 \
        --source /path/to/other/orchestrate/checkout [--repeat 3]

`--repeat N` replays each window N times and then prints each window's median speedup (one
run's figure moves by a few tenths from run to run).

`--pick` takes line numbers (from 0) of the windows file. Nothing here reaches the network.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from fnmatch import fnmatch
from itertools import combinations
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
PROJECT = HERE.parents[1]
CHANGELOGS = ("CHANGES*", "CHANGELOG*", "HISTORY.*", "NEWS*", "RELEASE-NOTES*")
OUTCOMES = ("merged", "no-op", "failed", "conflict", "blocked")

Pair = tuple[int, int]

AGENT = '''\
"""replay_run.py's agent: wait, then apply this task's real patch in its own worktree."""
import difflib
import os
import subprocess
import sys
import tempfile
import time
from fnmatch import fnmatch
from pathlib import Path

CHANGELOGS = CHANGELOG_PATTERNS


def git(*args):
    return subprocess.run(["git", *args], capture_output=True, text=True)


def named(stderr):
    """The paths in `git apply`'s complaints ("error: patch failed: a.py:3", "error: a.py: ...")."""
    paths = []
    for line in stderr.splitlines():
        rest = line.removeprefix("error: ")
        if rest == line or ": " not in rest:
            continue
        if rest.startswith("patch failed: "):
            path = rest.removeprefix("patch failed: ").rsplit(":", 1)[0]
        else:
            path = rest.split(": ", 1)[0]
        if path not in paths:
            paths.append(path)
    return paths


def changelog(path):
    name = path.rsplit("/", 1)[-1].upper()
    return any(fnmatch(name, pattern) for pattern in CHANGELOGS)


def find(lines, part):
    """Where `part` first stands in `lines`, or None."""
    for at in range(len(lines) - len(part) + 1):
        if lines[at : at + len(part)] == part:
            return at
    return None


def made_on(ours, base, theirs):
    """One conflicted stretch of a changelog as an agent making this change on the file it
    finds would leave it: the change's edits to the lines it was made on (a release date
    rewritten, a heading inserted above one) made to those lines where they still stand, the
    others' changes there kept. None where the change was made on no line there (both only
    added lines at one place: both sides are kept then) or a line it edits is not there."""
    if not base:
        return None
    result = list(ours)
    edits = difflib.SequenceMatcher(None, base, theirs, autojunk=False).get_opcodes()
    for tag, i1, i2, j1, j2 in reversed(edits):
        if tag == "equal":
            continue
        if i1 < i2:  # lines it rewrote or removed
            at = find(result, base[i1:i2])
            if at is None:
                return None
            result[at : at + i2 - i1] = theirs[j1:j2]
        elif i1 == 0:  # lines it added: before the first line, after the last, or after one
            result[0:0] = theirs[j1:j2]
        elif i1 == len(base):
            result.extend(theirs[j1:j2])
        else:
            at = find(result, base[i1 - 1 : i1])
            if at is None:
                return None
            result[at + 1 : at + 1] = theirs[j1:j2]
    return result


def resolve(path):
    """A changelog that `git apply --3way` left conflicted, resolved as an agent adding its
    entry (both sides' lines) or editing lines there (`made_on`) would."""
    stages = {}
    for stage in (1, 2, 3):
        shown = subprocess.run(["git", "show", f":{stage}:{path}"], capture_output=True)
        stages[stage] = shown.stdout if shown.returncode == 0 else b""
    with tempfile.TemporaryDirectory() as scratch:
        names = []
        for stage in (2, 1, 3):
            name = Path(scratch) / str(stage)
            name.write_bytes(stages[stage])
            names.append(str(name))
        labels = ["-L", "ours", "-L", "base", "-L", "theirs"]
        merged = subprocess.run(
            ["git", "merge-file", "-p", "--diff3", *labels, *names], capture_output=True
        ).stdout
    out, block, part = [], {}, None
    for line in merged.splitlines(keepends=True):
        mark = line.rstrip(b"\\r\\n")
        if mark == b"<<<<<<< ours":
            block, part = {"ours": [], "base": [], "theirs": []}, "ours"
        elif mark == b"||||||| base" and part == "ours":
            part = "base"
        elif mark == b"=======" and part == "base":
            part = "theirs"
        elif mark == b">>>>>>> theirs" and part == "theirs":
            done = made_on(block["ours"], block["base"], block["theirs"])
            out.extend(done if done is not None else block["ours"] + block["theirs"])
            part = None
        elif part is not None:
            block[part].append(line)
        else:
            out.append(line)
    Path(path).write_bytes(b"".join(out))
    git("add", "--", path)


patches, work = Path(sys.argv[1]), float(sys.argv[2])
task = os.environ["ORCHESTRATE_TASK_ID"]
if Path.cwd().resolve() != Path(os.environ["ORCHESTRATE_WORKTREE"]).resolve():
    sys.exit(f"task {task}: not started in its worktree; nothing done")
time.sleep(work)
patch = patches / f"{task}.patch"
if patch.stat().st_size == 0:
    sys.exit(0)  # the change changed nothing: a no-op
applied = git("apply", "--3way", "--whitespace=nowarn", str(patch))
if applied.returncode == 0:
    sys.exit(0)
unmerged = git("diff", "--name-only", "--diff-filter=U").stdout.splitlines()
if unmerged and all(changelog(path) for path in unmerged) and not named(applied.stderr):
    for path in unmerged:  # an agent makes its change to the changelog it finds
        resolve(path)
    sys.exit(0)
files = unmerged or named(applied.stderr) or ["(see above)"]
git("reset", "-q", "--hard", "HEAD")  # undo the half-applied patch, staged files included
git("clean", "-fdq")
print(applied.stderr.strip()[-2000:])
print(f"task {task}: its change does not apply here: {', '.join(files)}")
sys.exit(1)
'''


# -- windows --------------------------------------------------------------------------------


@dataclass
class Change:
    id: int  # 1..K in history order
    sha: str
    message: str


@dataclass
class Window:
    name: str
    base: str
    changes: list[Change]
    real: set[Pair]  # really conflicting pairs (ids), changelog-only pairs left out


def is_changelog(path: str) -> bool:
    name = path.rsplit("/", 1)[-1].upper()
    return any(fnmatch(name, pattern.upper()) for pattern in CHANGELOGS)


def really_conflict(pair: dict[str, Any]) -> bool:
    """Labelled as conflicting in parallel, unless only changelog-style files conflict. A pair
    whose label is unknown (null) counts as conflicting when it shares a file that is not a
    changelog: the oracle keeps it apart, to be safe."""
    label = pair["parallel_conflict"]
    if label is None:
        files = pair.get("overlap_files", [])
    else:
        files = pair["pc_conflict_files"] if label else []
    return any(not is_changelog(path) for path in files)


def real_conflicts(pairs: Sequence[dict[str, Any]]) -> set[Pair]:
    return {(pair["i"] + 1, pair["j"] + 1) for pair in pairs if really_conflict(pair)}


def window_of(record: dict[str, Any], name: str) -> Window:
    changes = [
        Change(number, task["sha"], task["message"])
        for number, task in enumerate(record["tasks"], start=1)
    ]
    return Window(name, record["base"], changes, real_conflicts(record["pairs"]))


def read_windows(path: Path, picks: Sequence[int]) -> list[Window]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return [window_of(json.loads(lines[n]), f"{path.name}:{n}") for n in picks]


def generated_windows(repo: Path, count: int, k: int) -> list[Window]:
    """The newest `count` windows of size `k` that window_gen makes (its sizes cycle through
    K_CYCLE, so it is asked for enough windows of every size)."""
    sys.path.insert(0, str(HERE))
    from window_gen import K_CYCLE, generate_windows

    if k not in K_CYCLE:
        raise SystemExit(f"--k must be one of {K_CYCLE} with --generate")
    records = [w for w in generate_windows(repo, count * len(K_CYCLE)) if w["K"] == k]
    chosen = records[-count:]
    first = len(records) - len(chosen)
    return [window_of(w, f"{repo.name}:gen{first + n}") for n, w in enumerate(chosen)]


# -- the oracle -----------------------------------------------------------------------------


def oracle_waves(k: int, real: set[Pair], slots: int) -> int:
    """The fewest waves of at most `slots` changes in which each change comes after every
    earlier change it really conflicts with (it builds on that one). Exact: breadth-first over
    the sets of changes done, each wave as full as the ready changes allow (filling a wave never
    delays anything, the changes being of equal length). Exponential in k; windows are small."""
    after = {task: frozenset(a for a, b in real if b == task) for task in range(1, k + 1)}
    everything = frozenset(after)
    done_sets: set[frozenset[int]] = {frozenset()}
    waves = 0
    while everything not in done_sets:
        waves += 1
        following: set[frozenset[int]] = set()
        for done in done_sets:
            ready = sorted(t for t in everything - done if after[t] <= done)
            for wave in combinations(ready, min(slots, len(ready))):
                following.add(done | frozenset(wave))
        done_sets = following
    return waves


# -- git and orchestrate --------------------------------------------------------------------


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)} in {repo}: {done.stderr.strip()}")
    return done.stdout


def throwaway_repo(clone: Path, base: str, path: Path) -> Path:
    """A repository at `path` borrowing `clone`'s objects, `main` at `base`, no remote."""
    git(path.parent, "clone", "--quiet", "--shared", "--no-checkout", str(clone), str(path))
    git(path, "checkout", "--quiet", "-B", "main", base)
    git(path, "remote", "remove", "origin")
    return path


def slug(subject: str) -> str:
    words = re.sub(r"[^a-z0-9]+", "-", subject.lower()).strip("-")
    return words[:40].rstrip("-") or "change"


def write_tasks(window: Window, tasks: Path, in_order: bool = False) -> None:
    """One task file per change. `in_order`: each with a priority that starts the changes in
    history's order when one agent works (the baseline: doing them one by one)."""
    tasks.mkdir()
    for change in window.changes:
        subject, _, body = change.message.strip().partition("\n")
        priority = f"priority: {len(window.changes) + 1 - change.id}\n" if in_order else ""
        text = f"---\ntitle: {json.dumps(subject.strip())}\n{priority}---\n{body.strip()}\n"
        (tasks / f"{change.id}-{slug(subject)}.md").write_text(text, encoding="utf-8")


def write_patches(window: Window, clone: Path, patches: Path) -> None:
    patches.mkdir()
    for change in window.changes:
        diff = subprocess.run(
            ["git", "-C", str(clone), "diff", "--binary", "--full-index", "--no-color",
             "--no-ext-diff", "--src-prefix=a/", "--dst-prefix=b/", f"{change.sha}^1", change.sha],
            capture_output=True, check=True,
        ).stdout  # fmt: skip
        (patches / f"{change.id}.patch").write_bytes(diff)


def write_config(scratch: Path, slots: int, work: float) -> Path:
    """The run's config: `slots` agents at once, each the agent in `scratch`; defaults else,
    except the machine gate: agents that sleep use no CPU, and a benchmark that shares the
    machine with other work would otherwise measure that work, not the schedule."""
    agent, patches = scratch / "agent.py", scratch / "patches"
    command = shlex.join([sys.executable, str(agent), str(patches), str(work)])
    path = scratch / f"orchestrate-p{slots}.yml"
    # One agent: no pair is kept apart, so the tasks' priorities alone set the order.
    in_order = "plan: {conflict_threshold: 1.0}\n" if slots == 1 else ""
    path.write_text(
        f"max_parallel: {slots}\nagent:\n  preset: command\n  command: {json.dumps(command)}\n"
        f"resources: {{max_cpu_percent: 100, max_memory_percent: 100}}\n{in_order}",
        encoding="utf-8",
    )
    return path


@dataclass
class Orchestrate:
    source: Path
    scratch: Path  # the working directory: never a checkout whose `bot` would shadow --source

    def env(self) -> dict[str, str]:
        return {**os.environ, "PYTHONPATH": str(self.source)}

    def __call__(self, *args: str, log: Path | None = None, timeout: float = 3600) -> str:
        """Run `orchestrate ARGS`; its standard output. Standard error (and output) go to
        `log`; a usage error (exit code 2) raises."""
        command = [sys.executable, "-m", "bot.cli", *args]
        with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
            child = subprocess.Popen(
                command, cwd=self.scratch, env=self.env(), stdout=out, stderr=err,
                start_new_session=True, text=True,
            )  # fmt: skip
            try:
                code = child.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(child.pid, signal.SIGKILL)  # the run and the agents it started
                code = child.wait()
            out.seek(0)
            err.seek(0)
            stdout, stderr = out.read(), err.read()
        if log is not None:
            log.write_text(stdout + stderr, encoding="utf-8")
        if code == 2:
            raise RuntimeError(f"orchestrate {' '.join(args)}: {stderr.strip()[-2000:]}")
        return stdout

    def origin(self) -> str:
        """Which `bot` the runs import, and its commit."""
        where = subprocess.run(
            [sys.executable, "-c", "import bot; print(bot.__file__)"],
            cwd=self.scratch, env=self.env(), capture_output=True, text=True, check=True,
        ).stdout.strip()  # fmt: skip
        commit = git(self.source, "rev-parse", "--short", "HEAD").strip()
        changed = git(self.source, "--no-optional-locks", "status", "--porcelain")  # no index write
        dirty = " (with uncommitted changes)" if changed else ""
        return f"{where} at {commit}{dirty}"


# -- one run --------------------------------------------------------------------------------


@dataclass
class RunResult:
    slots: int
    wall: float
    plan_seconds: float
    plan_waves: int
    peak_agents: int | None
    outcomes: dict[str, int]
    attempts: int
    redos: int
    tree: str
    order: list[str] = field(default_factory=list)
    tasks: list[dict[str, Any]] = field(default_factory=list)


def _task_summary(state: dict[str, Any]) -> dict[str, Any]:
    keys = ("id", "status", "attempt", "redos", "detail", "conflict_files")
    tail = [line for line in str(state.get("log_tail") or "").splitlines() if line.strip()]
    return {**{key: state.get(key) for key in keys}, "last_line": tail[-1] if tail else ""}


def peak_agents(events: Sequence[dict[str, Any]]) -> int | None:
    """The most agents running at once, from the status events (None if the oldest are cut)."""
    if not events or events[0]["seq"] != 1:
        return None
    running = peak = 0
    for event in events:
        if event["new"] is not None and event["old"] != event["new"]:
            running += (event["new"] == "running") - (event["old"] == "running")
            peak = max(peak, running)
    return peak


def started_order(events: Sequence[dict[str, Any]]) -> list[str]:
    """The tasks in the order their first agents started."""
    order: list[str] = []
    for event in events:
        if event["new"] == "running" and event["task_id"] not in order:
            order.append(str(event["task_id"]))
    return order


def run_once(
    orchestrate: Orchestrate, window: Window, clone: Path, scratch: Path, slots: int, work: float
) -> RunResult:
    repo = throwaway_repo(clone, window.base, scratch / f"repo-p{slots}")
    config = write_config(scratch, slots, work)
    tasks = scratch / ("tasks-in-order" if slots == 1 else "tasks")
    common = ["--repo", str(repo), "--tasks", str(tasks), "--config", str(config)]
    began = time.perf_counter()
    plan = json.loads(orchestrate("plan", *common, "--json"))
    plan_seconds = time.perf_counter() - began
    began = time.perf_counter()
    orchestrate("run", *common, log=scratch / f"run-p{slots}.log")
    wall = time.perf_counter() - began
    status = json.loads(orchestrate("status", "--repo", str(repo), "--json"))
    states = status["tasks"]
    counts = Counter(str(s["status"]) for s in states)
    return RunResult(
        slots=slots,
        wall=wall,
        plan_seconds=plan_seconds,
        plan_waves=len(plan["waves"]),
        peak_agents=peak_agents(status["events"]),
        order=started_order(status["events"]),
        outcomes={name: counts.get(name, 0) for name in {*OUTCOMES, *counts}},
        attempts=sum(int(s["attempt"]) for s in states),
        redos=sum(int(s["redos"]) for s in states),
        tree=git(repo, "rev-parse", "main^{tree}").strip(),
        tasks=[_task_summary(s) for s in states],
    )


# -- the tree check -------------------------------------------------------------------------


@dataclass
class TreeCheck:
    match: bool
    differing: list[str]
    skipped_commits: int  # first-parent commits between the base and the last change, not tasks
    explained_by_skipped: int  # differing paths that a skipped commit touched
    reordered: int = 0  # differing paths with the same lines as history's, in another order


def skipped_paths(clone: Path, window: Window) -> tuple[int, set[str]]:
    shas = {c.sha for c in window.changes}
    listed = git(clone, "rev-list", "--first-parent", f"{window.base}..{window.changes[-1].sha}")
    skipped = [sha for sha in listed.split() if sha not in shas]
    paths: set[str] = set()
    for sha in skipped:
        paths.update(git(clone, "diff", "--name-only", f"{sha}^1", sha).split("\n"))
    return len(skipped), paths - {""}


def check_tree(repo: Path, clone: Path, window: Window, tree: str) -> TreeCheck:
    last = window.changes[-1].sha
    expected = git(clone, "rev-parse", f"{last}^{{tree}}").strip()
    count, paths = skipped_paths(clone, window)
    if tree == expected:
        return TreeCheck(True, [], count, 0)
    differing = [p for p in git(repo, "diff", "--name-only", tree, expected).split("\n") if p]
    reordered = sum(_same_lines(repo, tree, expected, path) for path in differing)
    return TreeCheck(False, differing, count, len(set(differing) & paths), reordered)


def _same_lines(repo: Path, tree: str, expected: str, path: str) -> bool:
    """Whether a path holds the same lines in both trees, only in another order (a changelog's
    entries, union-merged in the order their changes landed rather than history's)."""
    found = subprocess.run(["git", "show", f"{tree}:{path}"], cwd=repo, capture_output=True)
    wanted = subprocess.run(["git", "show", f"{expected}:{path}"], cwd=repo, capture_output=True)
    if found.returncode or wanted.returncode:
        return False
    return sorted(found.stdout.splitlines()) == sorted(wanted.stdout.splitlines())


# -- one window -----------------------------------------------------------------------------


@dataclass
class WindowResult:
    window: str
    base: str
    k: int
    real_conflicts: list[Pair]
    oracle_waves: int
    parallel: RunResult
    sequential: RunResult
    tree: TreeCheck
    same_tree_as_sequential: bool
    work: float
    scratch: str | None

    @property
    def speedup(self) -> float:
        return self.sequential.wall / self.parallel.wall

    @property
    def oracle_speedup(self) -> float:
        return self.k / self.oracle_waves

    @property
    def reached(self) -> float:
        return self.speedup / self.oracle_speedup

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data.update(
            speedup=self.speedup,
            oracle_speedup=self.oracle_speedup,
            reached=self.reached,
            oracle_seconds=self.oracle_waves * self.work,
        )
        return data


def replay(
    window: Window, args: argparse.Namespace, orchestrate: Orchestrate, scratch: Path
) -> WindowResult:
    write_tasks(window, scratch / "tasks")
    write_tasks(window, scratch / "tasks-in-order", in_order=True)
    write_patches(window, args.repo, scratch / "patches")
    agent = AGENT.replace("CHANGELOG_PATTERNS", repr(CHANGELOGS), 1)
    (scratch / "agent.py").write_text(agent, encoding="utf-8")
    parallel = run_once(orchestrate, window, args.repo, scratch, args.parallel, args.work)
    sequential = run_once(orchestrate, window, args.repo, scratch, 1, args.work)
    return WindowResult(
        window=window.name,
        base=window.base,
        k=len(window.changes),
        real_conflicts=sorted(window.real),
        oracle_waves=oracle_waves(len(window.changes), window.real, args.parallel),
        parallel=parallel,
        sequential=sequential,
        tree=check_tree(scratch / f"repo-p{args.parallel}", args.repo, window, parallel.tree),
        same_tree_as_sequential=parallel.tree == sequential.tree,
        work=args.work,
        scratch=str(scratch) if args.keep else None,
    )


# -- printing -------------------------------------------------------------------------------

HEADER = (
    f"{'window':<22} {'K':>2} {'waves':>5} {'peak':>4} {'par s':>6} {'seq s':>6} {'speedup':>7} "
    f"{'oracle':>6} {'reached':>7}  outcomes (merged/no-op/failed/conflict/blocked)  redos  tree"
)


def outcome_text(outcomes: dict[str, int]) -> str:
    shown = "/".join(str(outcomes.get(name, 0)) for name in OUTCOMES)
    other = {k: v for k, v in outcomes.items() if k not in OUTCOMES and v}
    return shown + (f" +{other}" if other else "")


def tree_text(check: TreeCheck) -> str:
    if check.match:
        return "yes"
    text = f"no ({len(check.differing)} paths differ"
    if check.explained_by_skipped:
        text += f", {check.explained_by_skipped} touched by skipped commits"
    if check.reordered:
        text += f", {check.reordered} only in the order of their lines"
    return text + ")"


def print_window(result: WindowResult) -> None:
    p = result.parallel
    peak = "?" if p.peak_agents is None else str(p.peak_agents)
    print(
        f"{result.window:<22} {result.k:>2} {p.plan_waves:>5} {peak:>4} {p.wall:>6.1f} "
        f"{result.sequential.wall:>6.1f} {result.speedup:>7.2f} {result.oracle_speedup:>6.2f} "
        f"{result.reached:>7.0%}  {outcome_text(p.outcomes):<47} {p.redos:>5}  "
        f"{tree_text(result.tree)}"
    )
    notes = [
        f"  real conflicts {result.real_conflicts or 'none'}; oracle {result.oracle_waves} waves"
        f" = {result.oracle_waves * result.work:g} s of work; plan {p.plan_seconds:.1f} s;"
        f" sequential run: {outcome_text(result.sequential.outcomes)},"
        f" redos {result.sequential.redos};"
        f" same tree as sequential: {'yes' if result.same_tree_as_sequential else 'no'}"
    ]
    history = [str(number) for number in range(1, result.k + 1)]
    if result.sequential.order != history[: len(result.sequential.order)]:
        notes.append(f"  the sequential run started them out of order: {result.sequential.order}")
    if result.tree.skipped_commits:
        notes.append(f"  the window skips {result.tree.skipped_commits} commit(s) of the history")
    if result.tree.differing:
        notes.append(f"  differing paths: {', '.join(result.tree.differing[:8])}")
    for run in (p, result.sequential):
        for task in run.tasks:
            if task["status"] != "merged" or task["attempt"] > 1 or task["redos"]:
                notes.append(
                    f"  P={run.slots} task {task['id']}: {task['status']}, attempts"
                    f" {task['attempt']}, redos {task['redos']}: {task['detail'][:100]}"
                    f" | {task['last_line'][:120]}"
                )
    if result.scratch:
        notes.append(f"  kept: {result.scratch}")
    print("\n".join(notes), flush=True)


def summary(results: Sequence[WindowResult]) -> dict[str, Any]:
    def geomean(values: Sequence[float]) -> float:
        return math.exp(sum(map(math.log, values)) / len(values)) if values else 0.0

    outcomes: Counter[str] = Counter()
    for result in results:
        outcomes.update(result.parallel.outcomes)
    return {
        "windows": len({r.window for r in results}),
        "replays": len(results),
        "tasks": sum(r.k for r in results),
        "parallel_seconds": sum(r.parallel.wall for r in results),
        "sequential_seconds": sum(r.sequential.wall for r in results),
        "speedup_geomean": geomean([r.speedup for r in results]),
        "oracle_speedup_geomean": geomean([r.oracle_speedup for r in results]),
        "reached_geomean": geomean([r.reached for r in results]),
        "outcomes": dict(outcomes),
        "redos": sum(r.parallel.redos for r in results),
        "tree_matches": sum(r.tree.match for r in results),
    }


def print_summary(total: dict[str, Any]) -> None:
    print(
        f"all: {total['windows']} windows"
        + (f" ({total['replays']} replays)" if total["replays"] > total["windows"] else "")
        + f", {total['tasks']} tasks; parallel"
        f" {total['parallel_seconds']:.1f} s, sequential {total['sequential_seconds']:.1f} s;"
        f" speedup geomean {total['speedup_geomean']:.2f}, oracle"
        f" {total['oracle_speedup_geomean']:.2f}, reached {total['reached_geomean']:.0%};"
        f" outcomes {outcome_text(total['outcomes'])}; redos {total['redos']};"
        f" tree matches {total['tree_matches']}/{total['replays']}"
    )


def print_medians(results: Sequence[WindowResult]) -> None:
    """Each window's median speedup over its replays (they vary by a few tenths from run to
    run), and their geometric mean."""
    by_window: dict[str, list[WindowResult]] = {}
    for result in results:
        by_window.setdefault(result.window, []).append(result)
    medians = []
    for name, runs in by_window.items():
        ranked = sorted(runs, key=lambda r: r.speedup)
        middle = ranked[len(ranked) // 2]
        medians.append(middle)
        each = ", ".join(f"{r.speedup:.2f}" for r in runs)
        print(
            f"median of {len(runs)}: {name:<22} {middle.speedup:.2f}x"
            f" ({middle.reached:.0%} of the oracle's {middle.oracle_speedup:.2f}x); runs: {each}"
        )
    print(f"medians: speedup geomean {summary(medians)['speedup_geomean']:.2f}")


# -- main -----------------------------------------------------------------------------------


def arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--repo", type=Path, required=True, help="a full clone, with history")
    chosen = parser.add_mutually_exclusive_group(required=True)
    chosen.add_argument("--windows", type=Path, help="windows JSONL (shared/data/history)")
    chosen.add_argument("--generate", type=int, metavar="N", help="N windows from --repo's history")
    parser.add_argument("--pick", type=int, nargs="+", metavar="N", help="line numbers, from 0")
    parser.add_argument("--k", type=int, default=8, help="window size with --generate (8)")
    parser.add_argument("--work", type=float, default=5.0, help="seconds each agent works (5)")
    parser.add_argument("--parallel", type=int, default=4, help="max_parallel of the run (4)")
    parser.add_argument("--source", type=Path, default=PROJECT, help="orchestrate to measure")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directories")
    parser.add_argument(
        "--repeat", type=int, default=1, metavar="N", help="replay each window N times (1)"
    )
    parser.add_argument("--json", action="store_true", help="one JSON line per window")
    args = parser.parse_args(argv)
    if args.windows and not args.pick:
        parser.error("--windows needs --pick N [N ...]")
    args.repo, args.source = args.repo.resolve(), args.source.resolve()
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = arguments(argv)
    given = sys.argv[1:] if argv is None else list(argv)
    command = shlex.join([sys.executable, str(Path(__file__).resolve()), *given])
    if args.windows:
        windows = read_windows(args.windows, args.pick)
    else:
        windows = generated_windows(args.repo, args.generate, args.k)
    results = []
    with tempfile.TemporaryDirectory(prefix="replay-run-") as home:
        orchestrate = Orchestrate(args.source, Path(home))
        if not args.json:
            print(f"orchestrate: {orchestrate.origin()}\nreproduce: {command}\n{HEADER}")
        for window in windows:
            for _ in range(max(1, args.repeat)):
                scratch = Path(tempfile.mkdtemp(prefix="replay-window-"))
                try:
                    result = replay(window, args, orchestrate, scratch)
                finally:
                    if not args.keep:
                        shutil.rmtree(scratch, ignore_errors=True)
                results.append(result)
                if args.json:
                    print(json.dumps(result.as_json()), flush=True)
                else:
                    print_window(result)
    total = summary(results)
    if args.json:
        print(json.dumps({"summary": total, "command": command}))
    else:
        print_summary(total)
        if args.repeat > 1:
            print_medians(results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
