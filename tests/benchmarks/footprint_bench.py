"""Score footprint prediction and planning on windows replayed from a repository's history.

Not a test: a script. Windows come from a JSONL file (see shared/data/history/README.md) or are
generated from any git repository's history (`--generate`, see window_gen.py). For each window
the predictor runs at the window's base; the script prints file recall and precision, conflict
recall (changelog-only conflicts counted apart), the share of independent pairs left parallel,
and the effective speedup next to the oracle (true files) and everything serialized. `--speed`
times planning 200 tasks on a large repository, cold and warm.

    python tests/benchmarks/footprint_bench.py --repo FLASK_CLONE \
        --windows ../shared/data/history/flask_windows.jsonl [--limit N]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bot.analysis import predict_footprints
from bot.models import Footprint, Task
from bot.planning import build_plan
from bot.planning.calibrate import calibrate_threshold
from bot.planning.graphs import CONFLICT_THRESHOLD, MERGEABLE, find_conflicts, is_mergeable
from bot.snapshot import load_snapshot

Pair = tuple[int, int]


def task_of(index: int, message: str) -> Task:
    title, _, body = message.strip().partition("\n")
    return Task(id=str(index), slug="change", title=title, body=body.strip())


def simulate(k: int, order: Sequence[int], serial: set[Pair], real: set[Pair], slots: int) -> int:
    """Steps to finish k equal tasks: a predicted conflict serializes the pair; a real conflict
    between two tasks in flight together costs the later-merged one a redo."""
    pending = list(order)
    rank = {task: position for position, task in enumerate(order)}
    steps = 0
    while pending:
        batch: list[int] = []
        for task in pending:
            if len(batch) < slots and not any(tuple(sorted((task, o))) in serial for o in batch):
                batch.append(task)
        steps += 1
        redo = {
            max(a, b, key=rank.__getitem__)
            for a in batch
            for b in batch
            if a < b and (a, b) in real
        }
        pending = [t for t in pending if t not in batch or t in redo]
        for task in redo:  # once rebased on the merged work, a redo no longer collides
            real = {p for p in real if task not in p}
    return steps


class Score:
    def __init__(self) -> None:
        self.tp = self.fp = self.fn = 0
        self.conf_tp = self.conf_fp = self.conf_fn = 0
        self.real = self.real_hit = self.changelog = self.changelog_hit = 0
        self.independent = self.independent_left = 0
        self.tasks = self.unknown = self.empty = 0
        self.steps = {"predicted": 0, "oracle": 0, "serial": 0}
        self.windows = self.k = 0
        self.risks: list[tuple[float, bool]] = []  # (predicted risk, really conflicts)
        self.chosen: list[float] = []  # thresholds chosen by calibration, with "auto"

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


Threshold = float | str  # a number, or "auto": calibrated per window base (bot.planning.calibrate)


def score_window(
    window: dict[str, Any], repo: Path, cache: Path, scores: dict[Threshold, Score]
) -> None:
    snapshot = load_snapshot(repo, window["base"], cache)
    tasks = [task_of(t["i"], t["message"]) for t in window["tasks"]]
    footprints = predict_footprints(tasks, snapshot)
    truth = {str(t["i"]): Footprint(files=tuple(t["true_files"])) for t in window["tasks"]}
    oracle_plan = build_plan(tasks, truth, 4)
    oracle = _pairs(oracle_plan.conflicts)
    independent, changelog, real = _labels(window)
    k = len(tasks)
    risk = {key: c.weight for c in find_conflicts(footprints, 0.0) for key in _pairs([c])}
    calibrated = calibrate_threshold(snapshot, MERGEABLE).threshold if "auto" in scores else None
    for threshold, score in scores.items():
        if calibrated is not None and threshold == "auto":
            score.chosen.append(calibrated)
        score.risks.extend((risk.get(pair, 0.0), pair in real) for pair in real | independent)
        for t in window["tasks"]:
            score.files(footprints[str(t["i"])], set(t["true_files"]))
        chosen = calibrated if threshold == "auto" and calibrated is not None else threshold
        plan = build_plan(tasks, footprints, 4, conflict_threshold=float(chosen))
        predicted = _pairs(plan.conflicts)
        score.independent += len(independent)
        score.independent_left += len(independent - predicted)
        score.changelog += len(changelog)
        score.changelog_hit += len(changelog & predicted)
        score.real += len(real)
        score.real_hit += len(real & predicted)
        order = [int(t) for t in plan.merge_order]
        score.steps["predicted"] += simulate(k, order, predicted, real, 4)
        oracle_order = [int(t) for t in oracle_plan.merge_order]
        score.steps["oracle"] += simulate(k, oracle_order, oracle, real, 4)
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


def report(threshold: Threshold, s: Score) -> None:
    speed = {name: _ratio(s.k, steps) for name, steps in s.steps.items()}
    if s.chosen:
        chosen = sorted(s.chosen)
        shown = f"auto (median {chosen[len(chosen) // 2]:.3f}, {chosen[0]:.3f}..{chosen[-1]:.3f})"
    else:
        shown = f"{threshold:g}" if isinstance(threshold, float) else str(threshold)
    print(f"--- conflict threshold {shown}: {s.windows} windows, {s.tasks} tasks")
    recall, precision = _ratio(s.tp, s.tp + s.fn), _ratio(s.tp, s.tp + s.fp)
    print(
        f"files      recall {recall:.3f}  precision {precision:.3f}"
        f"  (confidence >= 0.5: recall {_ratio(s.conf_tp, s.conf_tp + s.conf_fn):.3f}"
        f" precision {_ratio(s.conf_tp, s.conf_tp + s.conf_fp):.3f};"
        f" {_ratio(s.empty, s.tasks):.0%} of tasks with none; {s.unknown} unknown)"
    )
    print(
        f"conflicts  recall {_ratio(s.real_hit, s.real):.3f} ({s.real_hit}/{s.real} non-changelog);"
        f" changelog-only {s.changelog} (union-merged, {s.changelog_hit} also flagged)"
    )
    print(
        f"parallel   {_ratio(s.independent_left, s.independent):.1%} of independent pairs left"
        f" parallel ({s.independent_left}/{s.independent})"
    )
    left, at = curve_point(s.risks)
    print(f"curve      at recall 0.90: {left:.1%} of independent pairs parallel (risk {at:.3f})")
    print(
        f"speedup    predicted {speed['predicted']:.2f}  oracle {speed['oracle']:.2f}"
        f"  serialized {speed['serial']:.2f}  (predicted/oracle"
        f" {_ratio(speed['predicted'], speed['oracle']):.2f})"
    )


def read_windows(path: Path, limit: int | None) -> list[dict[str, Any]]:
    windows: list[dict[str, Any]] = []
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                windows.append(json.loads(line))
    return windows[:limit] if limit else windows


def run_windows(
    windows: Sequence[dict[str, Any]], repo: Path, cache: Path, thresholds: Sequence[Threshold]
) -> None:
    scores: dict[Threshold, Score] = {threshold: Score() for threshold in thresholds}
    started = time.perf_counter()
    for number, window in enumerate(windows, start=1):
        score_window(window, repo, cache, scores)
        if number % 50 == 0:
            print(
                f"  {number}/{len(windows)} windows, {time.perf_counter() - started:.0f} s",
                file=sys.stderr,
            )
    for threshold, score in scores.items():
        report(threshold, score)
    print(f"({time.perf_counter() - started:.1f} s)")


def _threshold(text: str) -> Threshold:
    return "auto" if text == "auto" else float(text)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repo", type=Path, help="a clone of the repository, with history")
    parser.add_argument("--windows", type=Path, help="windows JSONL (shared/data/history)")
    parser.add_argument("--generate", type=int, metavar="N", help="generate N windows from --repo")
    parser.add_argument("--save", type=Path, help="write generated windows to this JSONL file")
    parser.add_argument("--limit", type=int, help="score only the first N windows")
    parser.add_argument(
        "--threshold",
        type=_threshold,
        action="append",
        help="conflict threshold(s): a number, or auto (calibrated on each base's own history)",
    )
    parser.add_argument("--speed", type=Path, metavar="REPO", help="time planning on REPO")
    parser.add_argument("--tasks", type=int, default=200, help="tasks for --speed")
    parser.add_argument("--cache", type=Path, help="snapshot cache (default: a temporary one)")
    args = parser.parse_args(argv)
    thresholds = args.threshold or [CONFLICT_THRESHOLD]
    with tempfile.TemporaryDirectory() as scratch:
        cache = args.cache or Path(scratch)
        if args.repo and (args.windows or args.generate):
            if args.windows:
                windows = read_windows(args.windows, args.limit)
            else:
                from window_gen import generate_windows

                windows = generate_windows(args.repo, args.generate, args.save)
            run_windows(windows, args.repo, cache, thresholds)
        if args.speed:
            from speed import time_planning

            time_planning(args.speed, args.tasks, cache / "speed")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
