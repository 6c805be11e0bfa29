"""Where in a file a task edits: the lines its text points at, and what that does to a pair."""

from __future__ import annotations

from bot.analysis import RepoSnapshot, predict_footprints
from bot.analysis.footprint import SETS_VERSION
from bot.analysis.history import Commit
from bot.analysis.regions import LineIndex, adjacent, pointers, sets_version
from bot.models import Footprint, Task
from bot.planning import build_plan
from bot.planning.risk import ADJACENT_RATE, APART_RATE, ConflictRates

REQUIREMENTS = """\
# Tests & Linting
coverage[toml]==7.6.0
cryptography==43.0.0
mypy==1.11.0

# Packaging
build==1.2.1
twine==5.1.1
"""


def test_versions_code_and_code_shaped_names_point_plain_words_and_addresses_do_not():
    text = (
        "Bump cryptography from 43.0.0 to 43.0.1 (#3295)\n\n"
        "Bumps [cryptography](https://github.com/pyca/cryptography) from 43.0.0 to 43.0.1.\n"
        "Expose `FunctionAuth` in `__all__`, see send_file and actions/checkout; HTML, URL.\n"
        "Co-authored-by: someone <123+someone@users.noreply.github.com>"
    )
    assert pointers(text) == {
        "43.0.0", "43.0.1", "FunctionAuth", "__all__", "send_file", "actions/checkout",
    }  # fmt: skip


def test_a_token_points_at_its_lines_unless_it_is_everywhere():
    index = LineIndex.build(REQUIREMENTS + "\n".join(["mypy"] * 5))
    assert index.anchors(pointers("Bump cryptography from 43.0.0 to 43.0.1")) == (3,)
    assert index.anchors({"build", "twine"}) == (7, 8)
    assert index.anchors({"mypy"}) == ()  # on six lines: points nowhere
    assert index.anchors({"nowhere"}) == ()
    assert adjacent((2,), (3,)) and not adjacent((3,), (7, 8))


def _tasks(*titles: str) -> list[Task]:
    return [Task(id=str(n), slug="t", title=title) for n, title in enumerate(titles, start=1)]


def _snapshot(reads: list[list[str]]) -> RepoSnapshot:
    def read(paths):  # type: ignore[no-untyped-def]
        reads.append(sorted(paths))
        return {"requirements.txt": REQUIREMENTS}

    return RepoSnapshot(files=("requirements.txt", "app.py"), read=read)


def test_footprints_name_the_lines_of_files_two_pointing_tasks_share():
    reads: list[list[str]] = []
    tasks = _tasks(
        "Bump coverage from 7.6.0 to 7.6.1 in requirements.txt",
        "Bump cryptography from 43.0.0 to 43.0.1 in requirements.txt",
        "Bump twine from 5.1.1 to 5.1.2 in requirements.txt",
        "Tidy requirements.txt",  # no pointer: no region, and its files are not read for it
    )
    prints = predict_footprints(tasks, _snapshot(reads))
    assert [prints[t].lines for t in "1234"] == [
        {"requirements.txt": (2,)}, {"requirements.txt": (3,)}, {"requirements.txt": (8,)}, {},
    ]  # fmt: skip
    assert reads == [["requirements.txt"]]  # one read, of the one file held by two pointers


def test_adjacent_lines_are_kept_apart_and_lines_apart_run_side_by_side():
    """The file's own rate (0.3) gives way to what git does with edits at those lines."""
    at = {
        n: Footprint(files=("requirements.txt",), lines={"requirements.txt": (n,)})
        for n in (2, 3, 8)
    }
    rates = ConflictRates(base=0.3)
    near = build_plan(_tasks("a", "b"), {"1": at[2], "2": at[3]}, 4, rates=rates)
    [pair] = near.conflicts
    assert pair.weight == ADJACENT_RATE
    assert pair.reason == (
        "both touch requirements.txt, at line 2 and line 3 (adjacent): "
        f"conflict risk {ADJACENT_RATE:.0%}"
    )
    far = build_plan(_tasks("a", "b"), {"1": at[2], "2": at[8]}, 4, rates=rates)
    assert far.conflicts == () and far.waves == (("1", "2"),)
    [side] = far.side_by_side
    assert side.weight == APART_RATE and "(apart)" in side.reason
    # one side with no region: the file's rate, as before
    plain = Footprint(files=("requirements.txt",))
    same = build_plan(_tasks("a", "b"), {"1": at[2], "2": plain}, 4, rates=rates)
    assert [c.weight for c in same.conflicts] == [0.3]


def test_the_pair_is_explained_by_the_file_that_adds_most_to_its_risk():
    """app.py comes first and is as sure, but the adjacent lines of requirements.txt weigh more."""
    here = Footprint(files=("app.py", "requirements.txt"), lines={"requirements.txt": (2,)})
    there = Footprint(files=("app.py", "requirements.txt"), lines={"requirements.txt": (3,)})
    plan = build_plan(_tasks("a", "b"), {"1": here, "2": there}, 4, rates=ConflictRates(0.3))
    [pair] = plan.conflicts
    assert pair.weight == round((0.3 + ADJACENT_RATE) / 2, 3)
    assert pair.reason.startswith(
        "both touch requirements.txt (+1 more), at line 2 and line 3 (adj"
    )


def test_a_release_names_its_major_and_other_tasks_that_mention_versions_do_not():
    assert sets_version("Release 2.1.0") == {2}
    assert sets_version("start version 2.2.0.dev0") == {2}
    assert sets_version("Merge pull request #4007 from pallets/release-2.0.0") == {2}
    assert sets_version("Bump version to 8.3.dev") == {8}
    assert not sets_version("Update CHANGELOG for 0.27.1 release date")
    assert not sets_version("Bump pytest from 7.4.0 to 7.4.2")
    assert not sets_version("drop support for Python 3.8")


def test_a_release_points_at_the_line_setting_a_version_of_its_major():
    source = 'import os\n__version__ = "2.1.0rc1"\nEXAMPLE = {"version": "1.0"}\n'
    assert LineIndex.build(source, "src/pkg/__init__.py").anchors((), release={2}) == (2,)
    assert LineIndex.build(source, "src/pkg/__init__.py").anchors((), release={3}) == (2,)
    assert LineIndex.build(source, "src/pkg/__init__.py").anchors((), release={5}) == ()
    assert LineIndex.build(source, "docs/install.rst").anchors((), release={2}) == ()  # docs
    toml = '[project]\nname = "pkg"\nversion = "2.1.0"\n'
    assert LineIndex.build(toml, "pyproject.toml").anchors((), release={2}) == (3,)


def test_two_releases_are_sure_of_the_version_file_and_kept_apart():
    files = ("src/pkg/__init__.py", "src/pkg/app.py", "CHANGES.rst")
    texts = {"src/pkg/__init__.py": '__version__ = "2.0.0"\n', "src/pkg/app.py": "x = 1\n"}
    history = tuple(
        Commit(f"r{n}", 1000 - n, f"Release version 1.{n}.0", ("src/pkg/__init__.py",))
        for n in range(3)
    ) + tuple(Commit(f"a{n}", 900 - n, "tidy the app", ("src/pkg/app.py",)) for n in range(60))
    snapshot = RepoSnapshot(files=files, history=history, read=lambda paths: texts)
    tasks = _tasks("Release 2.0.1", "start version 2.1.0.dev0")
    prints = predict_footprints(tasks, snapshot)
    for footprint in prints.values():
        assert footprint.confidence["src/pkg/__init__.py"] >= SETS_VERSION
        assert footprint.reasons["src/pkg/__init__.py"].startswith("sets the version (line 1)")
        assert footprint.lines["src/pkg/__init__.py"] == (1,)
    plan = build_plan(tasks, prints, 4, rates=ConflictRates(0.1))
    assert plan.waves == (("1",), ("2",))
    assert plan.conflicts[0].reason.startswith(
        "both may touch src/pkg/__init__.py (91% that both do), both at line 1: conflict risk"
    )


def test_the_pointers_of_an_issue_form_point_nowhere():
    """Every task's form names `pip_version`, on line 9: were it a pointer, every pair would
    meet there."""
    form = "\n\nEnvironment: `pip_version` and `python_version`"
    texts = {"requirements.txt": REQUIREMENTS + "# pip_version: see CONTRIBUTING\n"}
    snapshot = RepoSnapshot(files=("requirements.txt",), read=lambda paths: texts)
    bumps = [("coverage", "7.6.0"), ("cryptography", "43.0.0"), ("twine", "5.1.1")]
    tasks = [
        Task(id=str(n), slug="t", title=f"Bump {name} from {old} in requirements.txt", body=form)
        for n, (name, old) in enumerate(bumps, start=1)
    ] + [Task(id="4", slug="t", title="Tidy requirements.txt", body=form)]
    prints = predict_footprints(tasks, snapshot)
    assert [prints[t].lines for t in "1234"] == [
        {"requirements.txt": (2,)}, {"requirements.txt": (3,)}, {"requirements.txt": (8,)}, {},
    ]  # fmt: skip
