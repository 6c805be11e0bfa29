"""How alike two tasks' texts are (bot.analysis.kinship)."""

from __future__ import annotations

from bot.analysis.history import Commit, HistoryIndex
from bot.analysis.kinship import Kinship, alike
from bot.models import Task

TEMPLATE = "\n\n## What happens\n\n## What should happen\n\n## Version\n"


def history(messages: list[str]) -> HistoryIndex:
    commits = [Commit(f"c{n}", 10_000 - n, text, ("app.py",)) for n, text in enumerate(messages)]
    return HistoryIndex.build(commits, ["app.py"])


# a repository's past commit messages, about other things
PAST = [
    f"{verb} the {thing} of the {place}"
    for verb in ("Fix", "Speed up", "Document", "Test", "Change")
    for thing in ("cache", "logger", "retry", "timeout", "plugin")
    for place in ("client", "server", "scheduler")
]
HISTORY = history(PAST)


def likeness(found: dict[tuple[str, str], Kinship], pair: tuple[str, str]) -> float:
    return found[pair].likeness if pair in found else 0.0


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
    assert likeness(found, ("1", "2")) >= 0.3
    # the template every task holds links no pair: the others are not alike
    assert set(found) == {("1", "2")}


def test_a_word_the_history_uses_everywhere_makes_no_likeness():
    assert alike([task("1", "scheduler quirk"), task("2", "scheduler oddity")], HISTORY) == {}
    assert alike([task("1", "tokenizer quirk"), task("2", "tokenizer oddity")], HISTORY)


def test_paths_short_texts_and_listed_files_do_not_make_tasks_alike():
    # the files they name are the footprints' to weigh; one common word of a short text: noise
    short = [task("1", "Change src/a.py"), task("2", "Change src/b.py and src/a.py")]
    assert likeness(alike(short, HISTORY), ("1", "2")) < 0.15  # a risk of a tenth at most
    # and without a history to weigh words against, nothing is alike
    assert alike(short) == {} and alike(short, history(["init"])) == {}
    same = "Rewrite the retry loop of the download manager"
    listed = alike([task("1", same, files=("a.py",)), task("2", same, files=("b.py",))], HISTORY)
    assert listed == {}  # both list their files: their footprints are authoritative
    one_lists = alike([task("1", same, files=("a.py",)), task("2", same)], HISTORY)
    assert likeness(one_lists, ("1", "2")) > 0.5


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
    assert max(likeness(found, ("1", "2")), likeness(found, ("2", "3"))) < 0.1
    assert likeness(found, ("1", "3")) >= 0.3  # the same failure: same words, same functions


def test_texts_naming_one_rare_thing_are_kin_and_a_bots_template_names_are_not():
    template = "\n\nupdated-dependencies:\n- dependency-name: {name}\n  dependency-type: direct"
    bots = [f"Bump thing{n} from 1.0 to 1.1" + template.format(name=f"thing{n}") for n in range(6)]
    past = history(PAST + bots)
    tasks = [
        task("1", "Version 0.27.1"),
        task("2", "Update CHANGELOG for the 0.27.1 release date"),
        task("3", "Bump cryptography from 43.0.0 to 43.0.1", template.format(name="cryptography")),
        task("4", "Bump mypy from 1.11.0 to 1.11.2", template.format(name="mypy")),
    ]
    found = alike(tasks, past)
    assert found[("1", "2")].names == ("0.27.1",)
    # dependabot's fields are in every one of its past messages: a template, no kinship
    assert ("3", "4") not in found or not found[("3", "4")].names


def test_a_name_every_issue_of_a_form_holds_makes_no_kin():
    form = "\n\n### Environment\n`pip_version`: 24.0, `python_version`: 3.12"
    tasks = [task(str(n), f"Problem {word}", form) for n, word in enumerate("abcdefgh")]
    assert not any(kin.names for kin in alike(tasks, HISTORY).values())


def test_the_same_co_author_makes_no_kin():
    trailer = "\n\nCo-authored-by: Kevin Deldycke <kevin@deldycke.com>"
    tasks = [
        task("1", "`Parameter` typing improvements", trailer),
        task("2", "Fix readline backspace and line wrapping on linux", trailer),
    ]
    assert alike(tasks, HISTORY) == {}
