"""A plan as a markdown table and a mermaid graph, for the dashboard, job summary and CLI. Pure.

Task titles and file names are untrusted text: they are escaped (`bot.render.markdown`) so that
they cannot break the table, inject HTML (or a hidden state marker) into a comment, mention
anyone, or break the mermaid source.
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.models import Footprint, Plan
from bot.render.markdown import md

MAX_FILES_SHOWN = 3
MAX_CONFLICT_EDGES = 60
SIDE_BY_SIDE_SHOWN = 5
TITLE_WIDTH = 48


def _short(text: str, width: int = TITLE_WIDTH) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def _files(footprint: Footprint) -> str:
    if footprint.unknown:
        return "**unknown** (runs alone)"
    ranked = footprint.ranked
    shown = []
    for path in ranked[:MAX_FILES_SHOWN]:
        confidence = footprint.confidence.get(path, 1.0)
        suffix = "" if confidence >= 0.999 else f" {confidence:.0%}"
        shown.append(f"`{md(path)}`{suffix}")
    more = len(ranked) - MAX_FILES_SHOWN
    shown.extend(f"`{md(p)}`" for p in footprint.patterns)
    return ", ".join(shown) + (f" +{more} more" if more > 0 else "")


def plan_markdown(plan: Plan) -> str:
    """A table of tasks in merge order with their wave, footprint and why they wait."""
    e = plan.estimate
    lines = [
        f"**{len(plan.tasks)} tasks, {len(plan.waves)} waves, max {plan.max_parallel} in "
        f"parallel.** Makespan {e.makespan:g} (lower bound {e.lower_bound:g}, one by one "
        f"{e.sequential:g}): speedup {e.speedup:g}.",
        "",
        "| Merge | Wave | Task | Footprint | Why |",
        "|---:|---:|---|---|---|",
    ]
    for number, task in enumerate(plan.tasks, start=1):
        lines.append(
            f"| {number} | {task.wave} | #{md(task.id)} {md(_short(task.title))} | "
            f"{_files(task.footprint)} | {md(task.why)} |"
        )
    if plan.critical_path:
        lines += ["", "Critical path: " + " → ".join(f"#{md(t)}" for t in plan.critical_path)]
    side = side_by_side_lines(plan)
    if side:
        lines += ["", "Side by side although they may touch a common file:", ""]
        lines += [f"- {md(line)}" for line in side]
    lines.extend(["", *(f"- {md(note)}" for note in plan.notes)] if plan.notes else [])
    return "\n".join(lines) + "\n"


def side_by_side_lines(plan: Plan, shown: int = SIDE_BY_SIDE_SHOWN) -> list[str]:
    """The riskiest pairs the plan runs together, each with its numbers (`#1 and #3: both may
    touch app.py (40% that both do): conflict risk 12%, below 25`), and how many more."""
    pairs = plan.side_by_side
    lines = [
        f"#{pair.a} and #{pair.b}: {pair.reason}, below {plan.conflict_threshold:.0%}"
        for pair in pairs[:shown]
    ]
    if len(pairs) > shown:
        lines.append(f"{len(pairs) - shown} more pairs, at lower risk")
    return lines


def _label(text: str) -> str:
    text = " ".join(text.split())
    for raw, safe in (("&", "#amp;"), ('"', "#quot;"), ("<", "#lt;"), (">", "#gt;")):
        text = text.replace(raw, safe)
    return text


def _node_ids(ids: Sequence[str]) -> dict[str, str]:
    return {task_id: f"t{index}" for index, task_id in enumerate(ids)}


def plan_mermaid(plan: Plan) -> str:
    """Waves as subgraphs; dependencies as solid arrows, conflicts as dotted links with a file."""
    node = _node_ids([t.id for t in plan.tasks])
    titles = {t.id: t.title for t in plan.tasks}
    lines = ["flowchart LR"]
    for number, wave in enumerate(plan.waves, start=1):
        lines.append(f'  subgraph w{number}["Wave {number}"]')
        for task_id in wave:
            label = _label(f"#{task_id} {_short(titles[task_id], 32)}")
            lines.append(f'    {node[task_id]}["{label}"]')
        lines.append("  end")
    for dep in plan.dependencies:
        lines.append(f"  {node[dep.before]} --> {node[dep.after]}")
    shown = sorted(plan.conflicts, key=lambda c: -c.weight)[:MAX_CONFLICT_EDGES]
    for conflict in shown:
        what = conflict.files[0].rsplit("/", 1)[-1] if conflict.files else "unknown footprint"
        lines.append(f'  {node[conflict.a]} -.-|"{_label(what)}"| {node[conflict.b]}')
    hidden = len(plan.conflicts) - len(shown)
    if hidden > 0:
        lines.append(f"  %% {hidden} weaker conflicts not drawn")
    return "\n".join(lines) + "\n"
