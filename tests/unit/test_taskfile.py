import pytest

from bot.taskfile import TaskFileError, parse_task_file


def test_front_matter_and_body():
    task = parse_task_file(
        "tasks/07-add-login.md",
        "---\ntitle: Add login\nlabels: [auth]\ndepends_on: [3, '#4']\nfiles: [src/login.py]\n"
        "priority: 2\n---\nThe body.\n",
    )
    assert task.id == "7"
    assert task.slug == "add-login"
    assert task.branch == "orchestrate/7-add-login"
    assert task.title == "Add login"
    assert task.depends_on == ("3", "4")
    assert task.files == ("src/login.py",)
    assert task.labels == ("auth",)
    assert task.priority == 2
    assert task.body == "The body."


def test_title_from_heading_or_slug():
    assert parse_task_file("1-x.md", "# Fix the bug\n\nDetails").title == "Fix the bug"
    assert parse_task_file("1-fix-the-bug.md", "no heading").title == "fix the bug"


def test_single_values_become_lists():
    task = parse_task_file("2-a.md", "---\ndepends_on: 1\nfiles: a.py\n---\n")
    assert task.depends_on == ("1",)
    assert task.files == ("a.py",)


def test_agent_override_by_preset_name_or_mapping():
    assert parse_task_file("1-a.md", "---\nagent: scripted\n---\n").agent == {"preset": "scripted"}
    assert parse_task_file("1-a.md", "---\nagent: {timeout: 5m}\n---\n").agent == {"timeout": "5m"}


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("notes.md", "x", "notes.md: file name must look like <id>-<slug>.md"),
        ("1-a.md", "---\ntitle: [oops\n---\n", "1-a.md: line 3: front matter:"),
        ("1-a.md", "---\ntitle: x\n", "front matter opened with '---' but never closed"),
        ("1-a.md", "---\n- a\n- b\n---\n", "front matter must be a mapping"),
        (
            "1-a.md",
            "---\ntitel: typo\n---\n",
            "front matter: titel: Extra inputs are not permitted",
        ),
        ("1-a.md", "---\npriority: high\n---\n", "front matter: priority:"),
    ],
)
def test_errors_name_the_file_and_the_problem(name, text, message):
    with pytest.raises(TaskFileError) as caught:
        parse_task_file(name, text)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)
