"""Each notebook executed once a session, as a student's kernel runs it, every figure checked: a fixture.

The notebook tests (``test_notebooks_run.py``) assert on these executions and the book test
(``test_book.py``) builds the book from them, whichever runs first: each lecture runs once. The
executed lectures are kept in ``build/executed/``, where ``tools.book`` reuses them while the
notebook and ``helpers`` are unchanged. The first notebook asked for starts every one the
session's tests will ask for, :data:`AT_ONCE` at a time, longest first.
"""

from __future__ import annotations

import json
import multiprocessing
import traceback
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path

import nbformat
import pytest

from grading.hidden_tests import split_hidden_tests
from tools.book import run_in_scratch, save_executed
from tools.colab import in_colab_environment
from tools.notebooks import ROOT, student_notebooks

#: Notebooks executed at once. A kernel keeps both cores busy only part of the time (Keras' Python
#: between TensorFlow's kernels): two at a time ran the graded class 1.5 times as fast as one.
AT_ONCE = 2

# Appended to the path, not put first: the kernel imports the installed ``helpers`` (make test-colab
# installs the course as Colab's set-up cell does; elsewhere it is installed in place, from this checkout).
WATCH_FIGURES = """import json, sys
sys.path.append({root!r})
from tools.legibility import watch_figures
_legibility = watch_figures(get_ipython())"""


def execute_checked(path: Path) -> tuple[nbformat.NotebookNode, list[str]]:
    """``path`` executed top to bottom in a scratch folder, and what ``tools.legibility`` found illegible.

    A solution runs as a student runs it, outside grading: its hidden tests, which run outside the
    kernel on hand-ins when graded, are taken out. The kernel starts without ``TF_CPP_MIN_LOG_LEVEL``,
    as students' kernels do (:func:`tools.book.run_in_scratch`). Raises nbclient's ``CellExecutionError``
    at the first failing cell.
    """
    nb = nbformat.read(path, as_version=4)
    if path.parent.parent.name == "solutions":
        split_hidden_tests(nb.cells)
    # Every figure is checked as it is shown (tools.legibility), from a cell put before all others.
    nb.cells.insert(0, nbformat.v4.new_code_cell(WATCH_FIGURES.format(root=str(ROOT))))
    nb.cells.append(nbformat.v4.new_code_cell("print(json.dumps(_legibility))"))
    run_in_scratch(nb, unset=("TF_CPP_MIN_LOG_LEVEL",))  # what the notebook writes stays out of the repository
    nb.cells.pop(0)
    illegible = json.loads(nb.cells.pop().outputs[0].text)
    for cell in nb.cells:  # numbered as if the checking cell had not run first
        if cell.cell_type == "code" and cell.execution_count:
            cell.execution_count -= 1
            for output in cell.outputs:
                if output.get("execution_count"):
                    output.execution_count -= 1
    # The book shows these outputs: those of the course's own environment, not of Colab's (make test-colab).
    if path.parent.name == "lectures" and not in_colab_environment():
        save_executed(path.relative_to(ROOT), nb)
    return nb, illegible


def _execute_in_worker(path: Path) -> tuple[nbformat.NotebookNode, list[str]] | str:
    """:func:`execute_checked` in a worker; a failure comes back as its traceback (exceptions may not pickle)."""
    try:
        return execute_checked(path)
    except Exception:
        return traceback.format_exc()


def _asked_for(session: pytest.Session) -> list[Path]:
    """The notebooks this session's tests ask for, longest first (by docs/benchmarks/notebooks.json)."""
    lectures = [p for p in student_notebooks() if p.parent.name == "lectures"]
    paths: set[Path] = set()
    for item in session.items:
        if "notebook_runs" in getattr(item, "fixturenames", ()):
            param = getattr(getattr(item, "callspec", None), "params", {}).get("path")
            paths.update([param] if isinstance(param, Path) else lectures)  # the book asks for every lecture
    record = ROOT / "docs" / "benchmarks" / "notebooks.json"
    seconds = {ROOT / r["notebook"]: r["seconds"] for r in json.loads(record.read_text())} if record.exists() else {}
    return sorted(paths, key=lambda p: (-seconds.get(p, 0.0), p))


@pytest.fixture(scope="session")
def notebook_runs(request) -> Callable[[Path], tuple[nbformat.NotebookNode, list[str]]]:
    """``run(path)``: :func:`execute_checked` once a session per notebook (a failure is raised again each time)."""
    # spawned, not forked: this process may hold TensorFlow's threads by then
    pool = ProcessPoolExecutor(AT_ONCE, mp_context=multiprocessing.get_context("spawn"))
    runs: dict[Path, Future] = {}

    def run(path: Path) -> tuple[nbformat.NotebookNode, list[str]]:
        if not runs:
            for wanted in _asked_for(request.session):
                runs[wanted] = pool.submit(_execute_in_worker, wanted)
        if path not in runs:
            runs[path] = pool.submit(_execute_in_worker, path)
        result = runs[path].result()
        if isinstance(result, str):  # every test of this notebook fails with it
            raise RuntimeError(f"{path.relative_to(ROOT)} failed:\n{result}")
        return result

    yield run
    pool.shutdown(cancel_futures=True)
