"""A symbol index built from Python source with `ast`: modules, classes, functions, methods.

`extract_symbols` reads one file (the I/O side caches its result per blob id); `SymbolIndex`
resolves identifiers mentioned in task text (`pkg.mod`, `Class`, `Class.method`, `name()`) to
the files that define them. Pure.
"""

from __future__ import annotations

import ast
import re
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field

from bot.analysis.mentions import FILE_EXTENSIONS

_SOURCE_ROOTS = ("src/", "lib/", "python/")
_DOTTED = re.compile(r"(?<![\w./-])([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+)(\(\))?(?![\w/-])")
_CALL = re.compile(r"(?<![\w.])([A-Za-z_]\w*)\(\)")
_TICKED = re.compile(r"`+([A-Za-z_][\w.]*)(?:\(\))?`+")
_SHAPED = re.compile(
    r"(?<![\w./-])([A-Za-z]*[a-z][A-Za-z]*[A-Z]\w*|[a-z]\w*_\w+|[A-Z][a-z]+[A-Z]\w*)"
)


@dataclass(frozen=True)
class FileSymbols:
    """What one Python file defines and imports, and the words of its docstrings."""

    module: str
    defs: tuple[str, ...] = ()
    imports: tuple[str, ...] = ()
    doc: str = ""


def module_name(path: str) -> str:
    """`src/flask/app.py` -> `flask.app`; `pkg/__init__.py` -> `pkg`."""
    for root in _SOURCE_ROOTS:
        if path.startswith(root):
            path = path[len(root) :]
            break
    stem = path.removesuffix(".py").removesuffix(".pyi")
    parts = [p for p in stem.split("/") if p]
    if parts and parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _docline(node: ast.AST) -> str:
    if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
        doc = ast.get_docstring(node, clean=False) or ""
        return doc.strip().split("\n\n", 1)[0][:300]
    return ""


def _top_level(body: list[ast.stmt]) -> list[ast.stmt]:
    """Statements at module level, looking inside `if`, `try` and `with` but not into defs."""
    found: list[ast.stmt] = []
    for node in body:
        found.append(node)
        if isinstance(node, ast.If | ast.Try | ast.With):
            for block in ("body", "orelse", "finalbody"):
                found.extend(_top_level(getattr(node, block, [])))
            for handler in getattr(node, "handlers", []):
                found.extend(_top_level(handler.body))
    return found


def _all_statements(body: list[ast.stmt]) -> Iterator[ast.stmt]:
    """Every statement, inside functions, classes and blocks too, without visiting the
    expressions (which are most of a tree's nodes, and never hold an import)."""
    for node in body:
        yield node
        for block in ("body", "orelse", "finalbody"):
            inner = getattr(node, block, None)
            if isinstance(inner, list):
                yield from _all_statements(inner)
        for holder in [*getattr(node, "handlers", []), *getattr(node, "cases", [])]:
            yield from _all_statements(holder.body)


def _imports(tree: ast.Module, module: str, is_package: bool) -> list[str]:
    """Every module the file imports, lazily inside functions too, as dotted names.

    `from pkg import name` gives `pkg.name` (the import graph resolves it to `pkg/name.py` or
    to `pkg/__init__.py`, whichever exists), and `pkg` itself only for a star import.
    """
    found: list[str] = []
    package = module if is_package else module.rpartition(".")[0]
    for node in _all_statements(tree.body):
        if isinstance(node, ast.Import):
            found.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)] if node.level > 1 else anchor
                base = ".".join([*anchor, base] if base else anchor)
            names = [alias.name for alias in node.names if alias.name != "*"]
            if len(names) < len(node.names):
                found.append(base)
            found.extend(f"{base}.{name}" for name in names)
    return sorted(set(found))


_DEF = re.compile(r"^(?:class|(?:async\s+)?def)\s+([A-Za-z_]\w*)", re.M)


def extract_symbols(path: str, source: str) -> FileSymbols:
    """Top-level classes and functions, methods as `Class.method`, imports, docstring lines."""
    module = module_name(path)
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):  # newer syntax than ours: fall back to a regex
        return FileSymbols(module=module, defs=tuple(dict.fromkeys(_DEF.findall(source))))
    defs: list[str] = []
    docs = [_docline(tree)]
    statements = _top_level(tree.body)
    for node in statements:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            defs.append(node.name)
            docs.append(_docline(node))
        elif isinstance(node, ast.ClassDef):
            defs.append(node.name)
            docs.append(_docline(node))
            for item in node.body:
                if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef):
                    defs.append(f"{node.name}.{item.name}")
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            defs.extend(
                t.id for t in targets if isinstance(t, ast.Name) and not t.id.startswith("__")
            )
    is_package = path.endswith("__init__.py")
    return FileSymbols(
        module=module,
        defs=tuple(defs),
        imports=tuple(_imports(tree, module, is_package)),
        doc=" ".join(d for d in docs if d),
    )


@dataclass(frozen=True)
class Hit:
    path: str
    name: str
    how: str  # module | method | definition
    share: int  # how many files the name resolved to


@dataclass
class SymbolIndex:
    modules: dict[str, str] = field(default_factory=dict)
    names: dict[str, list[str]] = field(default_factory=dict)

    @classmethod
    def build(cls, symbols: Mapping[str, FileSymbols]) -> SymbolIndex:
        modules: dict[str, str] = {}
        names: dict[str, set[str]] = defaultdict(set)
        for path, info in symbols.items():
            if info.module:
                modules.setdefault(info.module, path)
            for name in info.defs:
                names[name].add(path)
        return cls(modules, {name: sorted(paths) for name, paths in names.items()})

    def _defined(self, name: str, how: str, limit: int) -> list[Hit]:
        paths = self.names.get(name, [])
        if 0 < len(paths) <= limit:
            return [Hit(p, name, how, len(paths)) for p in paths]
        return []

    def resolve_dotted(self, dotted: str) -> list[Hit]:
        if dotted in self.modules:
            return [Hit(self.modules[dotted], dotted, "module", 1)]
        parts = dotted.split(".")
        for cut in range(len(parts) - 1, 0, -1):
            prefix = ".".join(parts[:cut])
            if prefix in self.modules:
                path = self.modules[prefix]
                defined = self._defined(parts[cut], "definition", 2)
                return [Hit(path, dotted, "module", 1), *(h for h in defined if h.path != path)]
        method = ".".join(parts[-2:])
        return self._defined(method, "method", 3) or self._defined(parts[-1], "definition", 3)

    def resolve_name(self, name: str) -> list[Hit]:
        return self._defined(name, "definition", 4)


def mentioned_identifiers(text: str) -> list[tuple[str, bool]]:
    """(identifier, dotted) pairs that look like code: dotted names, calls, backticks, shapes."""
    seen: dict[str, bool] = {}
    for match in _DOTTED.finditer(text):
        name = match.group(1)
        if name.rsplit(".", 1)[-1].lower() not in FILE_EXTENSIONS:
            seen.setdefault(name, True)
    for pattern in (_CALL, _TICKED, _SHAPED):
        for match in pattern.finditer(text):
            name = match.group(1)
            seen.setdefault(name, "." in name)
    return list(seen.items())


def find_symbols(text: str, index: SymbolIndex) -> Iterable[Hit]:
    for name, dotted in mentioned_identifiers(text):
        yield from index.resolve_dotted(name) if dotted else index.resolve_name(name)
