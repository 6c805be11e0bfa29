"""Plans rendered as markdown and mermaid, with untrusted titles escaped."""

from __future__ import annotations

from bot.models import Footprint, Task
from bot.planning import build_plan
from bot.planning.risk import ConflictRates
from bot.render import plan_markdown, plan_mermaid


def _plan():
    tasks = [
        Task(id="1", slug="a", title="Fix <b>bold</b> | pipes"),
        Task(id="2", slug="b", title='Say "hi"', depends_on=("1",)),
        Task(id="3", slug="c", title="Touch app"),
        Task(id="4", slug="d", title="No idea"),
    ]
    footprints = {
        "1": Footprint(files=("src/app.py",), confidence={"src/app.py": 0.9}),
        "2": Footprint(files=("docs/x.rst",)),
        "3": Footprint(files=("src/app.py",)),
        "4": Footprint(unknown=True),
    }
    return build_plan(tasks, footprints, 2, rates=ConflictRates(base=1.0))


def test_markdown_table_lists_every_task_in_merge_order():
    text = plan_markdown(_plan())
    assert "| Merge | Wave | Task | Footprint | Why |" in text
    assert "&lt;b&gt;" in text and "<b>" not in text
    assert "\\| pipes" in text
    assert "`src/app.py` 90%" in text
    assert "**unknown** (runs alone)" in text
    assert "Critical path:" in text
    assert "no predicted footprint" in text


def test_mermaid_has_waves_dependencies_and_dotted_conflicts():
    text = plan_mermaid(_plan())
    assert text.startswith("flowchart LR")
    assert 'subgraph w1["Wave 1"]' in text
    assert "#quot;hi#quot;" in text and '"hi"' not in text
    assert " --> " in text
    assert '-.-|"app.py"|' in text
    assert '-.-|"unknown footprint"|' in text


def test_the_plan_table_mentions_no_one():
    from bot.analysis import RepoSnapshot, predict_footprints
    from bot.planning import build_plan
    from bot.render.plan import plan_markdown
    from bot.taskfile import parse_task_file

    task = parse_task_file("1-ping.md", "---\nfiles: [a.py]\n---\n")
    task = task.model_copy(update={"title": "ping @admin about #12 <b>now</b>"})
    plan = build_plan([task], predict_footprints([task], RepoSnapshot(files=("a.py",))), 2)
    table = plan_markdown(plan)
    assert "@admin" not in table and "@\u200badmin" in table
    assert "#12" not in table and "<b>" not in table
