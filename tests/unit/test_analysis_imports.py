from bot.analysis.imports import ImportGraph, neighbours
from bot.analysis.sources import Evidence
from bot.analysis.symbols import FileSymbols

SYMBOLS = {
    "pkg/core.py": FileSymbols("pkg.core", defs=("parse",)),
    "pkg/cli.py": FileSymbols("pkg.cli", imports=("pkg.core", "pkg.core.parse")),
    "pkg/web.py": FileSymbols("pkg.web", imports=("pkg.core.parse",)),
    "pkg/other.py": FileSymbols("pkg.other", imports=("json",)),
}


def test_importers_are_found_through_module_prefixes():
    graph = ImportGraph.build(SYMBOLS)
    assert graph.importers["pkg/core.py"] == {"pkg/cli.py", "pkg/web.py"}
    assert "pkg/other.py" not in graph.importers


def test_importers_join_only_when_the_interface_changes():
    graph = ImportGraph.build(SYMBOLS)
    quiet = Evidence()
    quiet.add("pkg/core.py", "mentioned", 0.9)
    neighbours("Speed up parse() in pkg/core.py", graph, quiet)
    assert set(quiet.found) == {"pkg/core.py"}

    changing = Evidence()
    changing.add("pkg/core.py", "mentioned", 0.9)
    neighbours("Rename parse() to parse_text() in pkg/core.py", graph, changing)
    assert set(changing.found) == {"pkg/core.py", "pkg/cli.py", "pkg/web.py"}
    assert 0 < changing.score("pkg/cli.py") < 0.3
