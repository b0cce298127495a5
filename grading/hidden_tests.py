"""Hidden tests on the grader's side: take them out of the source, and run them confined on what was handed in.

In ``solutions/`` an instructor writes hidden tests as nbgrader has them, between
``### BEGIN HIDDEN TESTS`` and ``### END HIDDEN TESTS`` in a test cell. At grading time they
never reach the student's kernel:

1. :func:`split_hidden_tests` takes them out of the grading copy of the source, so neither the
   kernel nor the gradebook nor the feedback ever holds them;
2. the notebook runs; each test cell's visible part calls :func:`helpers.hand_in.hand_in`,
   which saves the values of that step (the model, the history, the answers);
3. :func:`run_outside` starts the confined checker (:mod:`grading.confined.checks`) in a sandbox
   of its own, which imports nothing from the submission and runs each cell's hidden tests on
   what that cell handed in. The secret seed reaches it on its standard input.

A test cell's points are its hidden tests' verdict alone: a cell that was blanked, skipped or
rewritten handed nothing in and earns nothing, and a student's names (``max = ...``) cannot
break a check. So the hidden tests of a cell must check everything its visible asserts check,
and read only what their own cell hands in (a cell that fails then costs only its own points).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from grading import sandbox
from grading.confined.checks import VERDICT_MARK, plain_folder
from grading.protocol import ROOT

HIDDEN_BLOCK = re.compile(
    r"^[ \t]*### BEGIN HIDDEN TESTS[ \t]*\n(.*?)^[ \t]*### END HIDDEN TESTS[ \t]*\n?", re.MULTILINE | re.DOTALL
)


def is_test_cell(cell) -> bool:
    """Whether ``cell`` is an nbgrader test cell: graded code that is not an answer.

    Read from the cell's nbgrader metadata as ``nbgrader.utils.is_grade`` and ``is_solution`` read
    it, without importing nbgrader: the notebook tests take a solution's hidden tests out in
    Colab's environment too (make test-colab), which has no nbgrader.
    """
    meta = cell.metadata.get("nbgrader", {})
    return cell.cell_type == "code" and bool(meta.get("grade", False)) and not meta.get("solution", False)


def split_hidden_tests(cells: list) -> dict[str, str]:
    """Take the hidden tests out of the test cells of ``cells`` (changed in place): ``{grade_id: code}``.

    Examples
    --------
    >>> import nbformat
    >>> cell = nbformat.v4.new_code_cell("assert x\\n### BEGIN HIDDEN TESTS\\nassert y\\n### END HIDDEN TESTS\\n")
    >>> cell.metadata["nbgrader"] = {"grade": True, "solution": False, "grade_id": "t", "points": 1}
    >>> split_hidden_tests([cell]), cell.source
    ({'t': 'assert y\\n'}, 'assert x\\n')
    """
    hidden = {}
    for cell in (c for c in cells if is_test_cell(c)):
        meta = cell.metadata["nbgrader"]
        blocks = HIDDEN_BLOCK.findall(cell.source)
        if not blocks:
            raise ValueError(
                f"test cell {meta['grade_id']!r} has no hidden tests. Its points come from its hidden "
                "tests, run outside the student's kernel on what the cell hands in: add a "
                "### BEGIN HIDDEN TESTS / ### END HIDDEN TESTS block that checks what its asserts check."
            )
        hidden[meta["grade_id"]] = "".join(blocks)
        cell.source = HIDDEN_BLOCK.sub("", cell.source)
    return hidden


BOOT = f"import sys; sys.path.insert(0, {str(ROOT)!r}); from grading.confined.checks import main; main()"


def run_outside(
    hand_in_dir: Path, tests: list[tuple[str, str]], seed: int, *, scratch: Path, timeout: float = 600
) -> tuple[dict[str, dict], str]:
    """Run the hidden tests in a confined Python of their own; return the verdicts and what it printed.

    ``python -I`` (no current folder, user site or ``PYTHON*`` variables on ``sys.path``), as the
    sandbox user, seeing the handed-in values read-only and nothing else of the submission.
    """
    if os.path.lexists(hand_in_dir) and not plain_folder(hand_in_dir):  # a link, a file: not what hand_in made
        return _every_cell_failed(tests, "the hand-in folder was replaced by a link or a file: refused"), ""
    home = sandbox.make_home(scratch / "checker-home")
    try:
        readable = (ROOT / "grading", hand_in_dir) if plain_folder(hand_in_dir) else (ROOT / "grading",)
        command, _ = sandbox.confined([sys.executable, "-I", "-c", BOOT], home=home, readable=readable)
        job = json.dumps({"hand_in": str(hand_in_dir), "tests": tests, "seed": seed})
        done = subprocess.run(command, input=job, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return _every_cell_failed(tests, f"the grader's checks ran past {timeout:.0f} s"), ""
    finally:
        shutil.rmtree(home, ignore_errors=True)
    for line in reversed(done.stdout.splitlines()):
        if line.startswith(VERDICT_MARK):
            return json.loads(line[len(VERDICT_MARK) :]), done.stderr
    return (
        _every_cell_failed(tests, f"the grader's checks could not run (exit {done.returncode})"),
        done.stdout[-3000:] + done.stderr[-3000:],
    )


def _every_cell_failed(tests: list[tuple[str, str]], message: str) -> dict[str, dict]:
    return {grade_id: {"passed": False, "message": message} for grade_id, _ in tests}
