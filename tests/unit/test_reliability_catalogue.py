"""docs/reliability.md promises that every row of its table is a test: each test it cites
exists, and the row count it states is the table's."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "reliability.md"
CITED = re.compile(r"`+\s*(tests/[\w/]+\.py)::(\w+)")


def _rows() -> list[str]:
    lines = DOC.read_text(encoding="utf-8").splitlines()
    return [
        line for line in lines if line.startswith("| ") and not line.startswith(("| **", "| case"))
    ]


def test_every_row_cites_a_test_that_exists() -> None:
    missing = []
    for row in _rows():
        cited = CITED.findall(row)
        assert cited, f"a row without a test: {row[:80]}"
        for path, name in cited:
            source = ROOT / path
            if not source.exists() or f"def {name}(" not in source.read_text(encoding="utf-8"):
                missing.append(f"{path}::{name}")
    assert not missing, missing


def test_the_stated_row_count_is_the_tables() -> None:
    stated = re.search(r"The table has (\d+) rows", DOC.read_text(encoding="utf-8"))
    assert stated is not None
    assert int(stated.group(1)) == len(_rows())
