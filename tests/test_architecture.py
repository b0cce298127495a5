"""The code's shape: one job per module, small modules, imports at the top of helpers, no import cycles."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT

#: Every package of the repository; a subpackage (grading.confined) is part of its parent's graph.
PACKAGES = ("helpers", "grading", "tools", "benchmarks")
MODULES = {
    ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__"): path
    for package in PACKAGES
    for path in sorted((ROOT / package).rglob("*.py"))
    if "__pycache__" not in path.parts
}
HELPERS = {name.split(".", 1)[1]: path for name, path in MODULES.items() if name.startswith("helpers.")}
#: Drawing portraits is one cohesive job, kept whole in pipeline order.
LONG_ALLOWED = {"helpers.faces"}
MAX_LINES = 450


def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(), filename=str(path))


def _imports(name: str, tree: ast.AST) -> set[str]:
    """The repository's modules that module ``name`` imports, at any depth (functions included)."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            found |= {f"{node.module}.{alias.name}" for alias in node.names} | {node.module}
        elif isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
    # a module counts, not the packages above it: "grading.sandbox" does not import "grading"
    return {module for module in found if module in MODULES and not name.startswith(f"{module}.")} - {name}


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


def test_the_import_graph_between_the_repositorys_modules_has_no_cycle():
    graph = {name: _imports(name, _tree(path)) for name, path in MODULES.items()}
    assert graph["grading.cli"] >= {"grading.task", "grading.dispatch"}, "the graph sees the package's imports"
    assert _cycle(graph) is None, f"import cycle: {' -> '.join(_cycle(graph))}"


def test_the_cycle_finder_finds_cycles():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


def test_the_sandbox_side_of_grading_imports_nothing_of_the_host_side():
    """What runs confined imports only ``grading.protocol`` (the shared names) of the grader's package."""
    for name, path in MODULES.items():
        if name.startswith("grading.confined"):
            imported = {m for m in _imports(name, _tree(path)) if m.startswith("grading.")}
            assert imported <= {"grading.protocol", "grading.confined"}, (name, imported)


@pytest.mark.parametrize("name", sorted(MODULES))
def test_each_module_is_small_and_says_its_one_job_first(name):
    path = MODULES[name]
    lines = path.read_text().count("\n")
    assert lines <= MAX_LINES or name in LONG_ALLOWED, f"{path.relative_to(ROOT)} has {lines} lines: split it by job"
    docstring = ast.get_docstring(_tree(path))
    assert docstring, f"{path.relative_to(ROOT)} has no module docstring"
    first = docstring.split("\n")[0]
    assert first.endswith(".") and len(first) <= 120, f"{path.relative_to(ROOT)}: first docstring line {first!r}"


#: Modules whose one job is an import done a special way.
LATE_IMPORT_ALLOWED = {"quiet": "imports TensorFlow with its standard error caught, once"}


@pytest.mark.parametrize("name", sorted(set(HELPERS) - set(LATE_IMPORT_ALLOWED)))
def test_imports_are_at_the_top_of_each_helpers_module(name):
    late = [
        f"line {node.lineno}"
        for function in ast.walk(_tree(HELPERS[name]))
        if isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef)
        for node in ast.walk(function)
        if isinstance(node, ast.Import | ast.ImportFrom)
    ]
    assert not late, f"helpers/{name}.py imports inside functions ({', '.join(late)}): import at the top"


def test_light_helpers_import_no_tensorflow():
    """The package and its modules without models import no TensorFlow: the grader reads their constants."""
    code = (
        "import sys, helpers, helpers.hand_in, helpers.tasks, helpers.evidence.claims, grading.protocol\n"
        "print(sorted(m for m in ('tensorflow', 'keras') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]", done.stdout + done.stderr
    heavy = subprocess.run(
        [sys.executable, "-c", "import sys, helpers.models; print('tensorflow' in sys.modules)"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    assert heavy.stdout.strip() == "True" and heavy.stderr == "", "helpers.models imports it, quietly"
