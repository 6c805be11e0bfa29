"""Score footprint prediction and planning on windows replayed from a repository's history.

Not a test: a script. Windows come from a JSONL file (see shared/data/history/README.md) or are
generated from any git repository's history (`--generate`, see window_gen.py). For each window
the predictor runs at the window's base; the script prints file recall and precision, conflict
recall (changelog-only conflicts counted apart), the share of independent pairs left parallel,
and the effective speedup next to the oracle (true files) and everything serialized. A
changelog-only conflict costs a redo in the simulation, as a real one does, where git's union
would be refused (orchestrate's merge driver keeps both sides only when both only add lines:
here, when either change removed or rewrote a line of that file in history). `--speed`
times planning 200 tasks on a large repository, cold and warm.

    python tests/benchmarks/footprint_bench.py --repo FLASK_CLONE \
        --windows ../shared/data/history/flask_windows.jsonl [--limit N]
"""

from __future__ import annotations

import argparse
import functools
import itertools
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bot.analysis import predict_footprints
from bot.analysis.kinship import alike
from bot.models import Footprint, Task
from bot.planning import build_plan
from bot.planning import risk as risk_module
from bot.planning.changelogs import MERGEABLE, is_mergeable
from bot.planning.graphs import risky_pairs
from bot.planning.risk import CONFLICT_THRESHOLD, ConflictRates, conflict_rates
from bot.snapshot import load_past_pairs, load_snapshot

Pair = tuple[int, int]


def task_of(index: int, message: str) -> Task:
    title, _, body = message.strip().partition("\n")
    return Task(id=str(index), slug="change", title=title, body=body.strip())


def simulate(
    k: int, order: Sequence[int], serial: set[Pair], real: set[Pair], slots: int
) -> tuple[int, int, int]:
    """Steps to finish k equal tasks, redos, and the conflicts (`real`: those that cost a
    redo) whose newer change started first: a predicted conflict serializes the pair; a
    conflict between two tasks in flight together costs the later-merged one a redo. A pair
    (i, j), i < j, started j first costs nothing here (an agent writes its change on what it
    finds), but in history j was made on i's work, and a change that builds on another may
    fail until that one lands."""
    pending = list(order)
    rank = {task: position for position, task in enumerate(order)}
    pairs = set(real)
    started: dict[int, int] = {}
    steps = redos = 0
    while pending:
        batch: list[int] = []
        for task in pending:
            if len(batch) < slots and not any(tuple(sorted((task, o))) in serial for o in batch):
                batch.append(task)
        steps += 1
        for task in batch:
            started.setdefault(task, steps)
        redo = {
            max(a, b, key=rank.__getitem__)
            for a in batch
            for b in batch
            if a < b and (a, b) in real
        }
        pending = [t for t in pending if t not in batch or t in redo]
        redos += len(redo)
        for task in redo:  # once rebased on the merged work, a redo no longer collides
            real = {p for p in real if task not in p}
    return steps, redos, sum(started[j] < started[i] for i, j in pairs)


class Score:
    def __init__(self) -> None:
        self.tp = self.fp = self.fn = 0
        self.conf_tp = self.conf_fp = self.conf_fn = 0
        self.real = self.real_hit = self.changelog = self.changelog_hit = self.refused = 0
        self.independent = self.independent_left = 0
        self.tasks = self.unknown = self.empty = 0
        self.steps = {"predicted": 0, "oracle": 0, "best": 0, "serial": 0}
        self.redos = self.newer_first = 0
        self.windows = self.k = 0
        self.risks: list[tuple[float, bool]] = []  # (predicted risk, really conflicts)
        self.known: list[tuple[float, bool]] = []  # the same, from the files really touched
        self.rates: list[float] = []  # each window's learnt repository-wide conflict rate

    def files(self, footprint: Footprint, truth: set[str]) -> None:
        predicted = set(footprint.files)
        confident = {f for f in predicted if footprint.confidence.get(f, 1.0) >= 0.5}
        self.tp += len(predicted & truth)
        self.fp += len(predicted - truth)
        self.fn += len(truth - predicted)
        self.conf_tp += len(confident & truth)
        self.conf_fp += len(confident - truth)
        self.conf_fn += len(truth - confident)
        self.tasks += 1
        self.unknown += footprint.unknown
        self.empty += not confident


def _pairs(plan_conflicts: Iterable[Any]) -> set[Pair]:
    return {tuple(sorted((int(c.a), int(c.b)))) for c in plan_conflicts}  # type: ignore[misc]


def _labels(window: dict[str, Any]) -> tuple[set[Pair], set[Pair], set[Pair]]:
    """(independent, changelog-only conflicts, other conflicts) among the labelled pairs."""
    independent: set[Pair] = set()
    changelog: set[Pair] = set()
    real: set[Pair] = set()
    for pair in window["pairs"]:
        key = (pair["i"], pair["j"])
        label = pair["parallel_conflict"]
        if label is None:
            continue
        if not label:
            independent.add(key)
        elif all(is_mergeable(f) for f in pair["pc_conflict_files"]):
            changelog.add(key)
        else:
            real.add(key)
    return independent, changelog, real


@functools.cache
def _rewritten(repo: Path, sha: str) -> frozenset[str]:
    """The files of which a past change removed or rewrote lines (`git diff --numstat`)."""
    out = subprocess.run(
        ["git", "-C", str(repo), "diff", "--numstat", "--no-renames", f"{sha}^1", sha],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    return frozenset(
        path for deleted, path in (line.split("\t")[1:3] for line in out.splitlines())
        if deleted != "0"
    )  # fmt: skip


def _refused(window: dict[str, Any], changelog: set[Pair], repo: Path) -> set[Pair]:
    """The changelog-only conflicts whose union orchestrate's merge driver would refuse: a
    side rewrote or removed a line of the file (roughly: where a change builds on the other's
    entry, history's diff edits lines the parallel change would not have had)."""
    sha = {task["i"]: task["sha"] for task in window["tasks"]}
    files = {(pair["i"], pair["j"]): pair["pc_conflict_files"] for pair in window["pairs"]}
    return {
        (i, j)
        for i, j in changelog
        if set(files[i, j]) & (_rewritten(repo, sha[i]) | _rewritten(repo, sha[j]))
    }


Threshold = float  # the conflict risk from which a pair is kept apart
RISK_BINS = (0.0, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 1.01)
SURE = ConflictRates(base=1.0)  # every shared file conflicts: the risk is the chance of sharing


def _rates(repo: Path, snapshot: Any, cache: Path, learnt: bool) -> ConflictRates:
    """The repository's conflict rates as a plan at this base learns them, or the default."""
    return (
        conflict_rates(load_past_pairs(repo, snapshot, cache), MERGEABLE)
        if learnt
        else (ConflictRates())
    )


def score_window(
    window: dict[str, Any],
    repo: Path,
    cache: Path,
    scores: dict[Threshold, Score],
    learnt: bool = True,
) -> None:
    snapshot = load_snapshot(repo, window["base"], cache)
    tasks = [task_of(t["i"], t["message"]) for t in window["tasks"]]
    footprints = predict_footprints(tasks, snapshot)
    truth = {str(t["i"]): Footprint(files=tuple(t["true_files"])) for t in window["tasks"]}
    oracle_plan = build_plan(tasks, truth, 4, conflict_threshold=1e-9, rates=SURE)
    oracle = _pairs(oracle_plan.conflicts)  # the true files: pairs that really share one
    independent, changelog, real = _labels(window)
    refused = _refused(window, changelog, repo)
    redone = real | refused  # conflicts that cost a redo when together
    k = len(tasks)
    rates = _rates(repo, snapshot, cache, learnt)
    texts = alike(tasks, snapshot.history_index)
    risk = {
        key: c.weight for c in risky_pairs(footprints, rates, alike=texts) for key in _pairs([c])
    }
    known = {key: c.weight for c in risky_pairs(truth, rates) for key in _pairs([c])}
    for threshold, score in scores.items():
        score.rates.append(rates.base)
        score.risks.extend((risk.get(pair, 0.0), pair in real) for pair in real | independent)
        score.known.extend((known.get(pair, 0.0), pair in real) for pair in real | independent)
        for t in window["tasks"]:
            score.files(footprints[str(t["i"])], set(t["true_files"]))
        plan = build_plan(
            tasks, footprints, 4, conflict_threshold=threshold, rates=rates, alike=texts
        )
        predicted = _pairs(plan.conflicts)
        score.independent += len(independent)
        score.independent_left += len(independent - predicted)
        score.changelog += len(changelog)
        score.changelog_hit += len(changelog & predicted)
        score.refused += len(refused)
        score.real += len(real)
        score.real_hit += len(real & predicted)
        order = [int(t) for t in plan.merge_order]
        steps, redos, newer_first = simulate(k, order, predicted, redone, 4)
        score.steps["predicted"] += steps
        score.redos += redos
        score.newer_first += newer_first
        oracle_order = [int(t) for t in oracle_plan.merge_order]
        score.steps["oracle"] += simulate(k, oracle_order, oracle, redone, 4)[0]
        score.steps["best"] += simulate(k, list(range(k)), redone, redone, 4)[0]
        score.steps["serial"] += k
        score.windows += 1
        score.k += k


def _ratio(a: float, b: float) -> float:
    return a / b if b else 0.0


def curve_point(risks: Sequence[tuple[float, bool]], recall: float = 0.9) -> tuple[float, float]:
    """Walking down the predicted risks: the share of independent pairs still parallel, and the
    risk threshold, where conflict recall first reaches `recall` (threshold-free comparison)."""
    positives = sum(label for _, label in risks)
    negatives = len(risks) - positives
    hit = flagged = 0
    for weight, label in sorted(risks, key=lambda item: -item[0]):
        hit += label
        flagged += not label
        if hit >= recall * positives:
            return _ratio(negatives - flagged, negatives), weight
    return 0.0, 0.0


def reliability(risks: Sequence[tuple[float, bool]], edges: Sequence[float] = RISK_BINS) -> str:
    """Predicted conflict risk against what happened, by bin: `risk 10-20%: 12% of 340`."""
    parts = []
    for low, high in itertools.pairwise(edges):
        inside = [real for risk, real in risks if low <= risk < high]
        if inside:
            parts.append(f"{low:.0%}-{high:.0%}: {sum(inside) / len(inside):.0%} of {len(inside)}")
    return "; ".join(parts)


def report(threshold: Threshold, s: Score) -> None:
    speed = {name: _ratio(s.k, steps) for name, steps in s.steps.items()}
    rates = sorted(s.rates) or [0.0]
    print(
        f"--- conflict risk threshold {threshold:g}: {s.windows} windows, {s.tasks} tasks;"
        f" learnt conflict rate median {rates[len(rates) // 2]:.2f}"
        f" ({rates[0]:.2f}..{rates[-1]:.2f})"
    )
    recall, precision = _ratio(s.tp, s.tp + s.fn), _ratio(s.tp, s.tp + s.fp)
    print(
        f"files      recall {recall:.3f}  precision {precision:.3f}"
        f"  (confidence >= 0.5: recall {_ratio(s.conf_tp, s.conf_tp + s.conf_fn):.3f}"
        f" precision {_ratio(s.conf_tp, s.conf_tp + s.conf_fp):.3f};"
        f" {_ratio(s.empty, s.tasks):.0%} of tasks with none; {s.unknown} unknown)"
    )
    print(
        f"conflicts  recall {_ratio(s.real_hit, s.real):.3f} ({s.real_hit}/{s.real} non-changelog);"
        f" changelog-only {s.changelog} ({s.changelog - s.refused} union-merged, {s.refused}"
        f" refused: a side rewrites a line, a redo when together; {s.changelog_hit} flagged)"
    )
    print(
        f"parallel   {_ratio(s.independent_left, s.independent):.1%} of independent pairs left"
        f" parallel ({s.independent_left}/{s.independent})"
    )
    left, at = curve_point(s.risks)
    print(f"curve      at recall 0.90: {left:.1%} of independent pairs parallel (risk {at:.3f})")
    left, at = curve_point(s.known)
    print(f"bound      the same from the files really touched: {left:.1%} (risk {at:.3f})")
    print(f"calibrated {reliability(s.risks)}")
    print(
        f"speedup    predicted {speed['predicted']:.2f}  oracle {speed['oracle']:.2f}"
        f"  serialized {speed['serial']:.2f}  (predicted/oracle"
        f" {_ratio(speed['predicted'], speed['oracle']):.2f}); knowing the real conflicts"
        f" {speed['best']:.2f} (predicted/best {_ratio(speed['predicted'], speed['best']):.2f})"
    )
    print(
        f"redos      {s.redos} ({_ratio(s.redos, s.k):.1%} more agent runs than tasks);"
        f" {s.newer_first} of {s.real + s.refused} conflicts started the newer change first"
    )


def read_windows(path: Path, limit: int | None) -> list[dict[str, Any]]:
    windows: list[dict[str, Any]] = []
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                windows.append(json.loads(line))
    return windows[:limit] if limit else windows


def run_windows(
    windows: Sequence[dict[str, Any]],
    repo: Path,
    cache: Path,
    thresholds: Sequence[Threshold],
    learnt: bool = True,
) -> None:
    scores: dict[Threshold, Score] = {threshold: Score() for threshold in thresholds}
    started = time.perf_counter()
    for number, window in enumerate(windows, start=1):
        score_window(window, repo, cache, scores, learnt)
        if number % 50 == 0:
            print(
                f"  {number}/{len(windows)} windows, {time.perf_counter() - started:.0f} s",
                file=sys.stderr,
            )
    for threshold, score in scores.items():
        report(threshold, score)
    print(f"({time.perf_counter() - started:.1f} s)")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repo", type=Path, help="a clone of the repository, with history")
    parser.add_argument("--windows", type=Path, help="windows JSONL (shared/data/history)")
    parser.add_argument("--generate", type=int, metavar="N", help="generate N windows from --repo")
    parser.add_argument("--save", type=Path, help="write generated windows to this JSONL file")
    parser.add_argument("--limit", type=int, help="score only the first N windows")
    parser.add_argument(
        "--threshold",
        type=float,
        action="append",
        help="conflict risk threshold(s): pairs at or above it are kept apart (default: 1/4)",
    )
    parser.add_argument(
        "--flat-rate",
        action="store_true",
        help="do not learn conflict rates from each base's history (the default rate instead)",
    )
    parser.add_argument(
        "--text-weight",
        type=float,
        help=f"weight of texts alike in a pair's risk (default {risk_module.TEXT_WEIGHT}; 0: off)",
    )
    parser.add_argument("--speed", type=Path, metavar="REPO", help="time planning on REPO")
    parser.add_argument("--tasks", type=int, default=200, help="tasks for --speed")
    parser.add_argument("--cache", type=Path, help="snapshot cache (default: a temporary one)")
    args = parser.parse_args(argv)
    thresholds = args.threshold or [CONFLICT_THRESHOLD]
    if args.text_weight is not None:
        risk_module.TEXT_WEIGHT = args.text_weight  # an experiment: the planner reads it
    with tempfile.TemporaryDirectory() as scratch:
        cache = args.cache or Path(scratch)
        if args.repo and (args.windows or args.generate):
            if args.windows:
                windows = read_windows(args.windows, args.limit)
            else:
                from window_gen import generate_windows

                windows = generate_windows(args.repo, args.generate, args.save)
            run_windows(windows, args.repo, cache, thresholds, not args.flat_rate)
        if args.speed:
            from speed import time_planning

            time_planning(args.speed, args.tasks, cache / "speed")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
