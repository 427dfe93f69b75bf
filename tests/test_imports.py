"""The package's import graph has no cycle at all. ``lint-imports`` (pyproject.toml) checks the
layers and cycles between siblings; a package whose ``__init__`` imports a module that imports
the package back is a cycle it does not see, so every module-level cycle is looked for here."""

from __future__ import annotations

import grimp


def cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan's algorithm)."""
    order: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(module: str) -> None:
        order[module] = low[module] = len(order)
        stack.append(module)
        for imported in sorted(graph.find_modules_directly_imported_by(module)):
            if imported not in order:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in stack:
                low[module] = min(low[module], order[imported])
        if low[module] == order[module]:
            group = stack[stack.index(module) :]
            del stack[stack.index(module) :]
            if len(group) > 1:
                found.append(sorted(group))

    for module in sorted(graph.modules):
        if module not in order:
            visit(module)
    return found


def test_no_module_imports_itself_back() -> None:
    graph = grimp.build_graph("qa", cache_dir=None)
    assert len(graph.modules) > 50
    assert cycles(graph) == []


def test_a_cycle_is_found() -> None:
    """The check itself: a cycle added to a real graph is reported."""
    graph = grimp.build_graph("qa", cache_dir=None)
    graph.add_import(importer="qa.text.pages", imported="qa.service")
    assert any({"qa.service", "qa.text.pages"} <= set(group) for group in cycles(graph))
