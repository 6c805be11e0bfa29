"""The building blocks: words, BM25, the symbol index and the history index."""

from __future__ import annotations

from bot.analysis.history import Commit, HistoryIndex
from bot.analysis.retrieval import BM25
from bot.analysis.symbols import SymbolIndex, extract_symbols, mentioned_identifiers, module_name
from bot.analysis.text import path_words, split_identifier, words


def test_identifiers_split_and_stem():
    assert split_identifier("HTTPServerError") == ["http", "server", "error"]
    assert split_identifier("send_file") == ["send", "file"]
    assert "send_file" in words("fix send_file")
    assert words("errors") == words("error")
    assert words("handling") == words("handled")
    assert "the" not in words("the cart")
    assert "ext:py" in path_words("src/shop/cart.py")


def test_bm25_ranks_the_document_with_the_rare_shared_term_first():
    index = BM25.build([["cart", "item"], ["invoice", "vat", "item"], ["cart", "view"]])
    assert index.top(["vat", "item"], 2)[0][0] == 1
    assert index.scores(["missing"]) == {}


def test_module_names():
    assert module_name("src/flask/app.py") == "flask.app"
    assert module_name("pkg/sub/__init__.py") == "pkg.sub"


def test_extract_symbols_reads_defs_methods_imports_and_docstrings():
    info = extract_symbols(
        "pkg/mod.py",
        '"""Module doc."""\nimport os\nfrom . import sibling\nfrom .x import y\n'
        "try:\n    def maybe(): ...\nexcept ImportError:\n    pass\n"
        'class A:\n    """Class A doc."""\n    def m(self):\n        from .lazy import z\n'
        "VALUE = 1\n",
    )
    assert {"maybe", "A", "A.m", "VALUE"} <= set(info.defs)
    assert {"os", "pkg.sibling", "pkg.x.y", "pkg.lazy.z"} <= set(info.imports)
    # `from . import sibling` names the submodule, not the package's __init__
    assert "pkg" not in info.imports and "pkg.x" not in info.imports
    assert "Module doc." in info.doc and "Class A doc." in info.doc


def test_a_star_import_depends_on_the_package_itself():
    info = extract_symbols("pkg/mod.py", "from .helpers import *\nfrom json import loads\n")
    assert set(info.imports) == {"pkg.helpers", "json.loads"}


def test_newer_syntax_falls_back_to_a_regex():
    info = extract_symbols("m.py", "type Alias = int\ndef f(): ...\nclass C: ...\n")
    assert set(info.defs) >= {"f", "C"} or info.defs == ()


def test_symbol_index_resolution():
    index = SymbolIndex.build(
        {
            "src/p/a.py": extract_symbols("src/p/a.py", "class Thing:\n    def go(self): ...\n"),
            "src/p/b.py": extract_symbols("src/p/b.py", "def helper(): ...\n"),
        }
    )
    assert [h.path for h in index.resolve_dotted("p.b")] == ["src/p/b.py"]
    assert [h.path for h in index.resolve_dotted("Thing.go")] == ["src/p/a.py"]
    assert [h.path for h in index.resolve_name("helper")] == ["src/p/b.py"]
    assert index.resolve_name("nothing") == []


def test_mentioned_identifiers_skip_file_names():
    found = dict(mentioned_identifiers("see app.py and flask.app.Flask, call run() or `Cart`"))
    assert "app.py" not in found
    assert found["flask.app.Flask"] is True
    assert "run" in found and "Cart" in found


def test_cochange_needs_support_and_confidence():
    commits = [Commit(str(n), n, "m", ("a.py", "b.py")) for n in range(3)]
    commits += [Commit("x", 9, "m", ("a.py", "c.py"))]
    index = HistoryIndex.build(commits, ["a.py", "b.py", "c.py"])
    partners = index.cochanged("a.py")
    assert [p[0] for p in partners] == ["b.py"]
    assert partners[0][1] == 0.75 and partners[0][2] == 3


def test_history_ignores_huge_commits_and_vanished_files():
    huge = Commit("h", 1, "reformat", tuple(f"f{n}.py" for n in range(100)))
    gone = Commit("g", 2, "old", ("gone.py",))
    index = HistoryIndex.build([huge, gone], ["f1.py"])
    assert index.commits == ()


def test_votes_are_shrunk_towards_the_base_rate():
    commits = [Commit(str(n), n, "bump deps", ("req.txt",)) for n in range(4)]
    commits += [Commit("z", 9, "other words", ("app.py",))]
    index = HistoryIndex.build(commits, ["req.txt", "app.py"])
    votes = index.votes(index.similar(words("bump deps")))
    assert 0.5 < votes["req.txt"] < 1.0


def test_a_commit_touching_most_of_a_small_tree_is_not_history():
    from bot.analysis.history import Commit, HistoryIndex

    tree = [f"pkg/m{n}.py" for n in range(12)]
    initial = Commit("a" * 40, 1.0, "initial import", tuple(tree))
    pair = Commit("b" * 40, 2.0, "fix parser", ("pkg/m1.py", "pkg/m2.py"))
    index = HistoryIndex.build([pair, initial], tree)
    assert [c.sha for c in index.commits] == ["b" * 40]


def test_an_older_view_knows_exactly_what_an_index_of_the_older_history_knows():
    files = ["app.py", "cli.py", "db.py", "big.py"]
    history = [
        Commit(f"{i:040x}", 10_000 - i, f"{topic} change {i}", touched)
        for i, (topic, touched) in enumerate(
            [("cli", ("cli.py", "app.py"))] * 4
            + [("db", ("db.py",)), ("bulk", tuple(f"x{n}.py" for n in range(60)))]
            + [("db", ("db.py", "app.py"))] * 5
            + [("cli", ("cli.py",))] * 3
        )
    ]
    full = HistoryIndex.build(history, files)
    for position in (0, 3, 4, 6, 9):
        view = full.older_than(position)
        fresh = HistoryIndex.build(history[position:], files)
        assert view.prior == fresh.prior
        for path in files:
            assert view.cochanged(path, 2, 0.2) == fresh.cochanged(path, 2, 0.2)
        for query in (["cli"], ["db"]):
            seen = {n.commit.sha for n in view.similar(query)}
            assert seen == {n.commit.sha for n in fresh.similar(query)}
            assert all(int(sha, 16) >= position for sha in seen)
