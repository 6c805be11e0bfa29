"""The one way a plan is made, in both modes: footprints predicted from a snapshot of the base
(with the agents' own answers when `plan.predictor: agent` asked for them), then the schedule
under the config's limits, with the repository's conflict rates and the threshold in force. Pure."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from bot.analysis import RepoSnapshot, predict_footprints
from bot.analysis.kinship import alike
from bot.config import Config
from bot.models import Plan, Task
from bot.planning.calibrate import Calibration
from bot.planning.risk import ConflictRates
from bot.planning.schedule import build_plan


def plan_tasks(
    tasks: Sequence[Task],
    snapshot: RepoSnapshot,
    config: Config,
    risk: Calibration | None = None,
    hints: Mapping[str, list[str]] | None = None,
) -> Plan:
    footprints = predict_footprints(list(tasks), snapshot, dict(hints or {}))
    return build_plan(
        list(tasks),
        footprints,
        config.max_parallel,
        mergeable=config.merge.mergeable,
        conflict_threshold=risk.threshold if risk else config.plan.threshold,
        rates=risk.rates if risk else ConflictRates(),
        alike=alike(tasks, snapshot.history_index),
    )
