"""The import graph of ``scaling/`` has no cycle.

Every ``import``/``from … import`` statement of the package, at module level or inside a
function (``if TYPE_CHECKING:`` blocks excepted), is read with :mod:`ast` and resolved to the
modules it runs: ``from .x import name`` is an edge to ``x`` (or to ``x.name`` when that is a
module), and importing ``a.b.c`` also runs the ``__init__`` of the packages ``a.b`` above it
(unless the importer lives inside them, when they are already being imported). A cycle means
some module can only be imported after another has half-loaded: the order of imports then
decides whether a name exists.
"""

from __future__ import annotations

import ast
from pathlib import Path

import scaling

ROOT = Path(scaling.__file__).resolve().parent

#: Imports that close a cycle still in the code, (importer, imported): each entry says which
#: cycle it closes. Fix a cycle, then remove its entries (a test below fails until you do).
#: Nothing new may be added here: move the shared name to a module both sides can import.
KNOWN_CYCLES: set[tuple[str, str]] = set()


def module_names() -> dict[str, Path]:
    """Dotted name → file of every module of the package."""
    out = {}
    for f in ROOT.rglob("*.py"):
        parts = list(f.relative_to(ROOT.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = f
    return out


def _type_checking_nodes(tree: ast.AST) -> set[int]:
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skip.update(id(n) for n in ast.walk(node))
    return skip


def import_graph() -> dict[str, dict[str, int]]:
    """Module → {module it imports: line of the first such import}."""
    mods = module_names()
    graph: dict[str, dict[str, int]] = {}
    for name, path in mods.items():
        package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
        tree = ast.parse(path.read_text(), str(path))
        skip = _type_checking_nodes(tree)
        edges = graph.setdefault(name, {})

        def add(target: str, line: int, name=name, edges=edges) -> None:
            if target in mods and target != name:
                edges.setdefault(target, line)
            # the packages above the target run their __init__ first, unless the importer
            # is inside them (then they are being imported already)
            parts = target.split(".")
            for i in range(1, len(parts)):
                dep = ".".join(parts[:i])
                if dep in mods and not (name + ".").startswith(dep + "."):
                    edges.setdefault(dep, line)

        for node in ast.walk(tree):
            if id(node) in skip:
                continue
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.split(".")[0] == "scaling":
                        add(alias.name, node.lineno)
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")[:len(package.split(".")) - node.level + 1]
                    base = ".".join(base + ([node.module] if node.module else []))
                else:
                    base = node.module or ""
                if base.split(".")[0] != "scaling":
                    continue
                for alias in node.names:
                    sub = f"{base}.{alias.name}"
                    add(sub if sub in mods else base, node.lineno)
    return graph


def find_cycle(graph: dict[str, dict[str, int]]) -> list[str] | None:
    """One cycle ``[a, b, …, a]`` of the graph, or None (depth-first search)."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(v: str) -> list[str] | None:
        state[v] = 1
        path.append(v)
        for w in sorted(graph.get(v, {})):
            if state.get(w) == 1:
                return path[path.index(w):] + [w]
            if w not in state and (found := visit(w)):
                return found
        path.pop()
        state[v] = 2
        return None

    for v in sorted(graph):
        if v not in state and (found := visit(v)):
            return found
    return None


def without(graph: dict[str, dict[str, int]], edges) -> dict[str, dict[str, int]]:
    return {a: {b: line for b, line in out.items() if (a, b) not in edges}
            for a, out in graph.items()}


def describe(cycle: list[str], graph: dict[str, dict[str, int]]) -> str:
    return "\n".join(f"  {a} imports {b} (line {graph[a][b]})"
                     for a, b in zip(cycle[:-1], cycle[1:], strict=True))


def test_the_walker_sees_a_cycle():
    g = {"a": {"b": 3}, "b": {"c": 5}, "c": {"a": 7}, "d": {"a": 1}}
    assert find_cycle(g) == ["a", "b", "c", "a"]
    assert find_cycle(without(g, {("c", "a")})) is None


def test_the_walker_resolves_relative_and_package_imports():
    g = import_graph()
    assert "scaling.store" in g["scaling"]  # from .store import … in scaling/__init__.py
    # from ...units import format_count, three levels down
    assert "scaling.units" in g["scaling.report.pages.summary"]
    # a function-level import (the report module loads its pages lazily)
    assert "scaling.report.pages" in g["scaling.report"]
    # importing scaling.predict.result runs scaling/predict/__init__.py first
    assert "scaling.predict" in g["scaling.report.pages.midtraining"]


def test_no_import_cycle():
    graph = import_graph()
    cycle = find_cycle(without(graph, KNOWN_CYCLES))
    assert cycle is None, ("import cycle in scaling/ (move the shared name to a module both "
                           "sides can import):\n" + describe(cycle, graph))


def reaches(graph: dict[str, dict[str, int]], start: str, goal: str) -> bool:
    seen, todo = {start}, [start]
    while todo:
        for w in graph.get(todo.pop(), {}):
            if w == goal:
                return True
            if w not in seen:
                seen.add(w)
                todo.append(w)
    return False


def test_known_cycles_are_still_cycles():
    """An entry of KNOWN_CYCLES whose cycle is gone must leave the list."""
    graph = import_graph()
    rest = without(graph, KNOWN_CYCLES)
    for a, b in sorted(KNOWN_CYCLES):
        assert b in graph.get(a, {}), f"{a} no longer imports {b}: remove it from KNOWN_CYCLES"
        assert reaches(rest, b, a), (f"{a} → {b} no longer closes a cycle: remove it from "
                                     "KNOWN_CYCLES")
