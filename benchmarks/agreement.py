"""Do the exercise's self-checks agree with the grader? Honest submissions, each check read both ways.

    python -m benchmarks.exercise --agreement     # about 3 minutes a submission on 2 cores

Each submission is the solution changed the way honest students differ (fewer or more epochs,
other rates, seeds, validation splits, head sizes, night-camera choices). It runs as a student
runs it, with ``hand_in`` saving what each test cell hands in; then the grader's hidden tests
run on those hand-ins, outside the kernel, as ``make autograde`` runs them
(:func:`grading.hidden_tests.run_outside`), under a grading seed of its own. For every test cell
the self-check's verdict ("Right.", close to the grader's line, or failed) is set against the
grader's (passed or failed). The promise: never "Right." where the grader then fails.
"""

from __future__ import annotations

import os
import tempfile
from collections import Counter
from pathlib import Path

import nbformat

from grading.hidden_tests import is_test_cell, run_outside, split_hidden_tests
from grading.protocol import ASSIGNMENT, ROOT
from helpers.hand_in import HAND_IN_VARIABLE

SOURCE = ROOT / "solutions" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"

#: Each honest submission: its name and the edits it makes, as ``(grade_id, old text, new text)``.
VARIANTS: dict[str, list[tuple[str, str, str]]] = {
    "the solution": [],
    "head for 3 epochs": [("train-head", "epochs=8", "epochs=3")],
    "head for 20 epochs": [("train-head", "epochs=8", "epochs=20")],
    "another validation split": [("load-data", "seed=0", "seed=7")],
    "another training seed": [("build-model", "set_random_seed(0)", "set_random_seed(3)")],
    "head at 3e-3, fine-tuning at 3e-4": [
        ("train-head", "HEAD_LR = 1e-3", "HEAD_LR = 3e-3"),
        ("fine-tune", "FINE_TUNE_LR = 1e-4", "FINE_TUNE_LR = 3e-4"),
    ],
    "a wider head with dropout 0.5": [
        ("build-model", "len(class_names))", "len(class_names), hidden_units=3, dropout=0.5)")
    ],
    "fine-tuning at 1e-5": [("fine-tune", "FINE_TUNE_LR = 1e-4", "FINE_TUNE_LR = 1e-5")],
    "fine-tuning 4 epochs, no stopping": [
        (
            "fine-tune",
            "epochs=15, verbose=0,\n                         callbacks=[best_epoch_stopping(patience=5)])",
            "epochs=4, verbose=0)",
        )
    ],
    "fine-tuning with differential rates": [
        (
            "fine-tune",
            "history_tune = model.fit(",
            "from helpers.learning_rates import differential_optimizer\n"
            "model.compile(differential_optimizer(model, FINE_TUNE_LR)[0], model.loss, metrics=['accuracy'])\n"
            "history_tune = model.fit(",
        )
    ],
    "night: feature extraction only": [
        ("night-choice", "NIGHT_BLOCKS, NIGHT_LR = 18, 1e-4", "NIGHT_BLOCKS, NIGHT_LR = 0, 1e-4"),
        ("night-choice", "epochs=10", "epochs=1"),
    ],
    "night: 3 blocks": [("night-choice", "NIGHT_BLOCKS, NIGHT_LR = 18, 1e-4", "NIGHT_BLOCKS, NIGHT_LR = 3, 1e-4")],
    "night: 9 blocks": [("night-choice", "NIGHT_BLOCKS, NIGHT_LR = 18, 1e-4", "NIGHT_BLOCKS, NIGHT_LR = 9, 1e-4")],
    "night: every block at 1e-3": [("night-choice", "NIGHT_LR = 18, 1e-4", "NIGHT_LR = 18, 1e-3")],
    "night: every block at 1e-2": [("night-choice", "NIGHT_LR = 18, 1e-4", "NIGHT_LR = 18, 1e-2")],
    "night: every block, 6 epochs, no stopping": [
        (
            "night-choice",
            "epochs=10, verbose=0,\n" + " " * 32 + "callbacks=[best_epoch_stopping(patience=3)])",
            "epochs=6, verbose=0)",
        )
    ],
}


def variant(edits: list[tuple[str, str, str]]) -> nbformat.NotebookNode:
    """The solution with ``edits`` made (each old text must be in its cell, once or more)."""
    nb = nbformat.read(SOURCE, as_version=4)
    for grade_id, old, new in edits:
        cell = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)
        if old not in cell.source:
            raise ValueError(f"{grade_id!r} has no {old!r}: the solution changed, update benchmarks/agreement.py")
        cell.source = cell.source.replace(old, new)
    return nb


def self_check_verdict(cell: nbformat.NotebookNode) -> str:
    """What a self-check cell said: ``"right"``, ``"close"`` (no "Right.", no failure) or ``"failed"``."""
    if any(output.output_type == "error" for output in cell.outputs):
        return "failed"
    printed = "".join(output.get("text", "") for output in cell.outputs if output.output_type == "stream")
    return "right" if "Right." in printed else "close"


def grade_both_ways(nb: nbformat.NotebookNode, seed: int, scratch: Path) -> dict[str, tuple[str, bool, str]]:
    """Run ``nb`` as a student, then the grader's hidden tests: ``{grade_id: (self-check, grader passed, message)}``."""
    from tools.book import WidgetSafeClient

    hidden = split_hidden_tests(nb.cells)
    hand_in_dir = scratch / "hand_in"
    env = {**os.environ, HAND_IN_VARIABLE: str(hand_in_dir), "TQDM_DISABLE": "1", "MALLOC_ARENA_MAX": "2"}
    # as the grader runs it: every cell, errors or not, but not the experiment tagged skip-execution
    client = WidgetSafeClient(
        nb, timeout=600, kernel_name="python3", allow_errors=True, resources={"metadata": {"path": str(scratch)}}
    )
    client.execute(env=env)
    tests = [(c.metadata.nbgrader.grade_id, hidden[c.metadata.nbgrader.grade_id]) for c in nb.cells if is_test_cell(c)]
    # the checker runs as the sandbox user, as when graded (where the kernel, not root, wrote the hand-ins)
    for path in [scratch, *scratch.rglob("*")]:
        path.chmod(path.stat().st_mode | 0o555 if path.is_dir() else path.stat().st_mode | 0o444)
    verdicts, log = run_outside(hand_in_dir, tests, seed, scratch=scratch)
    if any("could not run" in verdict["message"] for verdict in verdicts.values()):
        raise RuntimeError(f"the grader's checks could not run, so nothing was compared:\n{log[-3000:]}")
    return {
        grade_id: (self_check_verdict(cell), verdicts[grade_id]["passed"], verdicts[grade_id]["message"])
        for cell in nb.cells
        if is_test_cell(cell)
        for grade_id in [cell.metadata.nbgrader.grade_id]
    }


def agreement(names: list[str] | None = None) -> dict:
    """Grade every variant both ways; the counts per test cell, and each submission's verdicts."""
    per_cell: dict[str, Counter] = {}
    submissions = []
    for index, name in enumerate(names or VARIANTS):
        with tempfile.TemporaryDirectory() as scratch:
            seed = 20_000 + index
            results = grade_both_ways(variant(VARIANTS[name]), seed, Path(scratch))
        for grade_id, (said, passed, _) in results.items():
            per_cell.setdefault(grade_id, Counter())[f"{said}, grader {'passed' if passed else 'failed'}"] += 1
        submissions.append(
            {"submission": name, "seed": seed, "cells": {k: [s, p, m] for k, (s, p, m) in results.items()}}
        )
        print(
            f"{name}: " + ", ".join(f"{k} {s}/{'pass' if p else 'FAIL'}" for k, (s, p, _) in results.items()),
            flush=True,
        )
    return {
        "submissions": len(submissions),
        "right_but_failed": sum(c["right, grader failed"] for c in per_cell.values()),
        "cells": {grade_id: dict(sorted(counts.items())) for grade_id, counts in per_cell.items()},
        "per_submission": submissions,
    }
