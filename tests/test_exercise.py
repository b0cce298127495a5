"""The sunglasses-vs-hat exercise: its nbgrader source and its release (grading: tests/test_grading_*.py)."""

from __future__ import annotations

import json
import os
import re
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


def test_every_self_check_asks_for_the_graders_own_line():
    """Where a hidden test needs an accuracy, its self-check reads its own score against that same line."""
    nb = nbformat.read(SOURCE, as_version=4)
    hidden = hidden_tests.split_hidden_tests(nb.cells)
    lines = 0
    for cell in (c for c in nb.cells if hidden_tests.is_test_cell(c)):
        grade_id = cell.metadata["nbgrader"]["grade_id"]
        graders = set(re.findall(r"_accuracy >= (0\.\d+)", hidden[grade_id]))
        self_checks = set(re.findall(r"against_the_grader\([^,]+?, (0\.\d+)", cell.source))
        assert graders == self_checks, f"{grade_id}: the grader needs {graders}, the self-check asks {self_checks}"
        lines += len(graders)
    assert lines == 3, "check-head, check-tune and check-night measure accuracy"


def test_the_student_sees_no_grading_branch_and_the_experiment_is_skipped_by_its_tag():
    nb = nbformat.read(RELEASE, as_version=4)
    assert not any("grading()" in cell.source for cell in nb.cells)
    tagged = [c for c in nb.cells if "skip-execution" in c.metadata.get("tags", [])]
    assert [c.metadata["nbgrader"]["grade_id"] for c in tagged] == ["experiment"]
    assert not tagged[0].metadata["nbgrader"]["grade"], "a skipped cell earns nothing"


def test_the_stated_running_time_is_the_measured_one():
    intro = nbformat.read(SOURCE, as_version=4).cells[1].source
    stated = re.search(r"runs in about (\w+) minutes", intro.replace("\n", " "))
    assert stated, "the first cell says how long the finished notebook runs"
    words = {"two": 2, "three": 3, "four": 4, "five": 5}
    measured = json.loads((ROOT / "docs" / "benchmarks" / "notebooks.json").read_text())
    seconds = next(r["seconds"] for r in measured if r["notebook"].startswith("solutions/"))
    assert abs(words[stated.group(1)] * 60 - seconds) <= 45, (
        f"the intro says about {stated.group(1)} minutes; make bench-notebooks measured {seconds:.0f} s"
    )


def test_the_model_answer_counts_weights_as_the_model_does():
    from helpers.models import load_base
    from helpers.surgery import attach_head, unfreeze_last

    reflection = next(c for c in nbformat.read(SOURCE, as_version=4).cells if c.get("id") == "reflection").source
    base = load_base("bundled")
    assert f"{base.count_params():,}-weight base" in reflection
    model = attach_head(base, 2)
    for n_blocks in (3, 18):  # as the exploration counts them: the unfrozen blocks' and the head's
        trainable = sum(int(w.numpy().size) for w in unfreeze_last(model, n_blocks).trainable_weights)
        assert f"{trainable:,}" in reflection, (n_blocks, trainable)


def test_every_honest_variant_of_the_agreement_benchmark_still_applies():
    from benchmarks.agreement import VARIANTS, variant

    assert len(VARIANTS) >= 12
    for edits in VARIANTS.values():
        variant(edits)  # raises if an edit no longer finds its text


def test_the_recorded_agreement_has_no_right_that_the_grader_failed():
    record = json.loads((ROOT / "docs" / "benchmarks" / "exercise.json").read_text())["agreement"]
    assert record["submissions"] >= 12 and record["right_but_failed"] == 0, record["cells"]


def test_the_night_line_passes_the_solutions_choice_and_fails_the_lazy_ones_on_every_measured_seed():
    nb = nbformat.read(SOURCE, as_version=4)
    hidden = hidden_tests.split_hidden_tests(nb.cells)["check-night"]
    line = float(re.search(r"_accuracy >= (0\.\d+)", hidden).group(1))
    assert f"needs {line:.0%}" in (ROOT / "README.md").read_text()
    measured = json.loads((ROOT / "docs" / "benchmarks" / "exercise.json").read_text())["night"]["hidden_accuracy"]
    assert min(measured["every block at 1e-4 (the solution)"]) >= line + 0.03, "a margin above the line"
    for lazy in ("feature extraction (0 blocks)", "every block at 1e-2 (wrecks)"):
        assert max(measured[lazy]) < line, lazy
    solution = next(c for c in nb.cells if c.get("id") == "night-choice").source
    assert "NIGHT_BLOCKS, NIGHT_LR = 18, 1e-4" in solution, "the solution's choice is the one measured"
