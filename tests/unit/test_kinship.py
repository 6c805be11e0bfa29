"""How alike two tasks' texts are (bot.analysis.kinship)."""

from __future__ import annotations

from bot.analysis.kinship import alike
from bot.analysis.retrieval import BM25
from bot.analysis.text import words
from bot.models import Task

TEMPLATE = "\n\n## What happens\n\n## What should happen\n\n## Version\n"
# a repository's past commit messages, about other things
HISTORY = BM25.build(
    words(f"{verb} the {thing} of the {place}")
    for verb in ("Fix", "Speed up", "Document", "Test", "Change")
    for thing in ("cache", "logger", "retry", "timeout", "plugin")
    for place in ("client", "server", "scheduler")
)


def task(task_id: str, title: str, body: str = "", files: tuple[str, ...] = ()) -> Task:
    return Task(id=task_id, slug="t", title=title, body=body, files=files)


def test_tasks_about_the_same_thing_are_alike_and_unrelated_ones_are_not():
    tasks = [
        task("1", "Session cookie expiry is off by one day", TEMPLATE),
        task("2", "Cookie expiry of the session is a day late", TEMPLATE),
        task("3", "Add a --json flag to the report command", TEMPLATE),
        task("4", "Translate the error pages into German", TEMPLATE),
    ]
    found = alike(tasks, HISTORY)
    assert found[("1", "2")] >= 0.3
    # the template every task holds links no pair: the others are not alike
    assert set(found) == {("1", "2")}


def test_a_word_the_history_uses_everywhere_makes_no_likeness():
    assert alike([task("1", "scheduler quirk"), task("2", "scheduler oddity")], HISTORY) == {}
    assert alike([task("1", "tokenizer quirk"), task("2", "tokenizer oddity")], HISTORY)


def test_paths_short_texts_and_listed_files_do_not_make_tasks_alike():
    # the files they name are the footprints' to weigh; one common word of a short text: noise
    short = [task("1", "Change src/a.py"), task("2", "Change src/b.py and src/a.py")]
    assert alike(short, HISTORY).get(("1", "2"), 0.0) < 0.15  # a risk of a tenth at most
    # and without a history to weigh words against, nothing is alike
    assert alike(short) == {} and alike(short, BM25.build([words("init")])) == {}
    same = "Rewrite the retry loop of the download manager"
    listed = alike([task("1", same, files=("a.py",)), task("2", same, files=("b.py",))], HISTORY)
    assert listed == {}  # both list their files: their footprints are authoritative
    assert alike([task("1", same, files=("a.py",)), task("2", same)], HISTORY)[("1", "2")] > 0.5


def test_two_bug_reports_are_not_alike_for_their_tracebacks():
    def report(task_id: str, title: str, frames: tuple[str, str]) -> Task:
        trace = "\n".join(
            f'  File "/usr/lib/python3.12/site-packages/app/{name}.py", line {n}, in {name}'
            for n, name in enumerate(frames, start=10)
        )
        body = f"<!-- Describe the bug -->\nTraceback (most recent call last):\n{trace}\nError"
        return Task(id=task_id, slug="t", title=title, body=body)

    tasks = [
        report("1", "Crash when the config file is empty", ("load_config", "parse")),
        report("2", "Wrong colour in the dark theme", ("render_theme", "pick_colour")),
        report("3", "Empty config file crashes on start", ("load_config", "parse")),
        task("4", "Add a --json flag to the report command"),
        task("5", "Translate the error pages into German"),
        task("6", "Document the plugin hooks"),
    ]
    found = alike(tasks, HISTORY)
    assert max(found.get(("1", "2"), 0.0), found.get(("2", "3"), 0.0)) < 0.1
    assert found[("1", "3")] >= 0.3  # the same failure: same words, same functions
