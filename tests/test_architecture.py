"""The package's shape: one job per module, small modules, imports at the top, no import cycles."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

HELPERS = Path(__file__).resolve().parent.parent / "helpers"
MODULES = {path.stem: path for path in sorted(HELPERS.glob("*.py")) if path.stem != "__init__"}
#: Drawing portraits is one cohesive job, kept whole in pipeline order; the claims' experiments are
#: a catalogue of independent functions, one per experiment, that grows with the ledger.
LONG_ALLOWED = {"faces", "experiments"}
MAX_LINES = 450


def _tree(name: str) -> ast.Module:
    return ast.parse(MODULES[name].read_text(), filename=str(MODULES[name]))


def _helpers_imports(tree: ast.AST) -> set[str]:
    """The helpers modules a module imports, at any depth (functions included)."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            if node.module == "helpers":
                found |= {alias.name for alias in node.names if alias.name in MODULES}
            elif node.module.startswith("helpers."):
                found.add(node.module.split(".")[1])
        elif isinstance(node, ast.Import):
            found |= {alias.name.split(".")[1] for alias in node.names if alias.name.startswith("helpers.")}
    return found


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, str] = {}

    def visit(node: str, path: list[str]) -> list[str] | None:
        state[node] = "open"
        for nxt in sorted(graph[node]):
            if state.get(nxt) == "open":
                return [*path[path.index(nxt) :], nxt] if nxt in path else [*path, nxt]
            if nxt not in state and (found := visit(nxt, [*path, nxt])):
                return found
        state[node] = "done"
        return None

    for start in sorted(graph):
        if start not in state and (found := visit(start, [start])):
            return found
    return None


def test_the_import_graph_between_helpers_modules_has_no_cycle():
    graph = {name: _helpers_imports(_tree(name)) - {name} for name in MODULES}
    assert _cycle(graph) is None, f"import cycle: {' -> '.join(_cycle(graph))}"


def test_the_cycle_finder_finds_cycles():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


@pytest.mark.parametrize("name", sorted(MODULES))
def test_each_module_is_small_and_says_its_one_job_first(name):
    lines = MODULES[name].read_text().count("\n")
    assert lines <= MAX_LINES or name in LONG_ALLOWED, f"helpers/{name}.py has {lines} lines: split it by job"
    docstring = ast.get_docstring(_tree(name))
    assert docstring, f"helpers/{name}.py has no module docstring"
    first = docstring.split("\n")[0]
    assert first.endswith(".") and len(first) <= 120, f"helpers/{name}.py: first docstring line {first!r}"


@pytest.mark.parametrize("name", sorted(MODULES))
def test_imports_are_at_the_top_of_each_module(name):
    late = [
        f"line {node.lineno}"
        for function in ast.walk(_tree(name))
        if isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef)
        for node in ast.walk(function)
        if isinstance(node, ast.Import | ast.ImportFrom)
    ]
    assert not late, f"helpers/{name}.py imports inside functions ({', '.join(late)}): import at the top"
