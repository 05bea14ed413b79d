"""The import graph of the library, read from its source with `ast`: which modules a stage's code can reach.

Every import counts, at any depth (inside functions too), so a stage's cache key covers all the code it may run
and the graph can be checked for cycles.
"""

from __future__ import annotations

import ast
import hashlib
import sys
from functools import cache
from pathlib import Path

PACKAGE = "radimpress"
ROOT = Path(__file__).resolve().parents[1]


@cache
def library_modules() -> dict[str, Path]:
    """Every module of the library by dotted name (a package by its `__init__`)."""
    modules = {}
    for path in sorted(ROOT.rglob("*.py")):
        parts = (PACKAGE, *path.relative_to(ROOT).with_suffix("").parts)
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        modules[name] = path
    return modules


def imports_of(source: str, modules: dict[str, Path]) -> set[str]:
    """The library modules a source imports: `import a.b`, `from a import b` (b a module or a name in a)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return {name for name in found if name in modules}


@cache
def import_graph() -> dict[str, frozenset[str]]:
    """module -> the library modules it imports directly."""
    modules = library_modules()
    return {name: frozenset(imports_of(path.read_text(), modules) - {name}) for name, path in modules.items()}


def reachable(module: str) -> list[str]:
    """`module` and every library module it imports, directly or not, with the packages they sit in, sorted.

    A package's `__init__` runs when any of its modules is imported, so it is reachable too (but is no edge of
    the graph: that would make every package that re-exports its modules look like a cycle).
    """
    graph, seen, todo = import_graph(), set(), [module]
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo.extend(graph[name] if name in graph else imports_of(source_path(name).read_text(), library_modules()))
            todo.extend(p for p in _parents(name) if p in graph)
    return sorted(seen)


def source_path(module: str) -> Path:
    """The file of a library module, or of an imported module outside the library (a test's own stage)."""
    return library_modules().get(module) or Path(sys.modules[module].__file__)


def _parents(module: str) -> list[str]:
    parts = module.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts))]


@cache
def code_digest(module: str) -> str:
    """sha256 of the source of every module `module` reaches: any change to the code a stage runs changes it."""
    sha = hashlib.sha256()
    for name in reachable(module):
        sha.update(name.encode() + b"\0" + source_path(name).read_bytes() + b"\0")
    return sha.hexdigest()


def find_cycles(graph: dict[str, frozenset[str]]) -> list[list[str]]:
    """Every strongly connected group of two or more modules (or a module importing itself), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(node: str) -> None:  # Tarjan's algorithm; the graph has a few dozen nodes, so recursion is fine
        index[node] = low[node] = len(index)
        stack.append(node)
        for child in graph.get(node, ()):
            if child not in index:
                visit(child)
                low[node] = min(low[node], low[child])
            elif child in stack:
                low[node] = min(low[node], index[child])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == node:
                    break
            if len(group) > 1 or node in graph.get(node, ()):
                cycles.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(cycles)
