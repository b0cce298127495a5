"""The sunglasses-vs-hat exercise: its nbgrader source and its release (grading: tests/test_grading_*.py)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat

from conftest import ROOT
from grading import hidden_tests
from grading.protocol import ASSIGNMENT

NAME = ASSIGNMENT
SOURCE = ROOT / "solutions" / NAME / f"{NAME}.ipynb"
RELEASE = ROOT / "exercises" / NAME / f"{NAME}.ipynb"
MANUAL_POINTS = 2


def nbgrader_env() -> dict[str, str]:
    return dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")


def files_under(folder: Path) -> list[Path]:
    """Files as git sees them: no hidden files or folders (Jupyter's checkpoints, say)."""
    return sorted(
        p.relative_to(folder)
        for p in folder.rglob("*")
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(folder).parts)
    )


def grade_cells(nb) -> dict[str, dict]:
    return {
        cell.metadata["nbgrader"]["grade_id"]: cell.metadata["nbgrader"]
        for cell in nb.cells
        if cell.metadata.get("nbgrader", {}).get("grade")
    }


def test_release_is_exactly_what_nbgrader_generates(tmp_path):
    shutil.copytree(ROOT / "solutions", tmp_path / "solutions")
    shutil.copy(ROOT / "nbgrader_config.py", tmp_path)
    done = subprocess.run(
        [sys.executable, "-m", "nbgrader", "generate_assignment", NAME, "--force"],
        cwd=tmp_path,
        env=nbgrader_env(),
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    made, kept = files_under(tmp_path / "exercises"), files_under(ROOT / "exercises")
    assert made == kept, "exercises/ differs from what `make release` makes: run make release"
    for path in made:
        assert (tmp_path / "exercises" / path).read_bytes() == (ROOT / "exercises" / path).read_bytes(), (
            f"exercises/{path} is out of date: run make release"
        )


def test_source_notebook_is_a_well_formed_nbgrader_assignment():
    nb = nbformat.read(SOURCE, as_version=4)
    ids = [cell.metadata["nbgrader"]["grade_id"] for cell in nb.cells if "nbgrader" in cell.metadata]
    assert len(ids) == len(set(ids)), "grade_id values must be unique"
    graded = grade_cells(nb)
    assert all(meta.get("points", 0) > 0 for meta in graded.values())
    tests = {k: m for k, m in graded.items() if not m["solution"]}
    assert all(m["locked"] for m in tests.values()), "test cells must be locked"
    manual = [k for k, m in graded.items() if m["solution"]]
    assert manual == ["reflection"] and graded["reflection"]["points"] == MANUAL_POINTS
    assert not any("GRADING_SEED" in cell.source for cell in nb.cells), "the seed reaches the hidden tests by itself"
    hidden = hidden_tests.split_hidden_tests(nbformat.read(SOURCE, as_version=4).cells)
    assert set(hidden) == set(tests), "every test cell's points come from its hidden tests"
    for grade_id in tests:  # and from what the cell hands in, first thing, whatever its asserts say
        cell = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)
        first_assert = cell.source.index("assert ")
        assert f'hand_in("{grade_id}"' in cell.source[:first_assert], grade_id


def test_release_holds_no_solution_hidden_test_or_seed():
    source = nbformat.read(SOURCE, as_version=4)
    secrets_ = {
        "### BEGIN HIDDEN TESTS",
        "hidden_accuracy",
        "### BEGIN SOLUTION",
        *(
            line.strip()
            for code in hidden_tests.split_hidden_tests(nbformat.read(SOURCE, as_version=4).cells).values()
            for line in code.splitlines()
            if len(line.strip()) > 12
        ),
    }
    outside = []  # what the instructions say anyway is not a leak
    for cell in source.cells:  # every line of every solution
        if "### BEGIN SOLUTION" in cell.source:
            before, rest = cell.source.split("### BEGIN SOLUTION", 1)
            body, after = rest.split("### END SOLUTION", 1)
            secrets_.update(line.strip() for line in body.splitlines() if len(line.strip()) > 12)
            outside += [before, after]
        else:
            outside.append(cell.source)
    secrets_ = {s for s in secrets_ if not any(s in text for text in outside)}
    for path in (ROOT / "exercises").rglob("*"):
        if path.is_file():
            leaked = sorted(s for s in secrets_ if s in path.read_text())
            assert not leaked, f"{path.relative_to(ROOT)} gives away: {leaked[:3]}"
    released = grade_cells(nbformat.read(RELEASE, as_version=4))
    assert released.keys() == grade_cells(source).keys()
