from bot.agents.ask import parse_paths


def test_paths_are_read_from_a_chatty_answer():
    answer = """I expect to change these:
- `src/app/views.py`
* src/app/models.py,
1. tests/test_views.py
2) "docs/api.md"
README.md
See https://example.com/page.html for details.
src/app/views.py
"""
    assert parse_paths(answer) == [
        "src/app/views.py",
        "src/app/models.py",
        "tests/test_views.py",
        "docs/api.md",
        "README.md",
    ]


def test_no_paths_in_prose():
    assert parse_paths("I would refactor the caching layer and add tests.") == []
