"""Every lecture notebook, and the exercise solved, runs top to bottom, offline and quietly, on the python3 kernel."""

from __future__ import annotations

import json

import nbformat
import pytest
from nbclient import NotebookClient

from grading.hidden_tests import split_hidden_tests
from tools.book import save_executed
from tools.notebooks import ROOT, student_notebooks

LECTURES = [p for p in student_notebooks() if p.parent.name == "lectures"]
WATCH_FIGURES = """import json, sys
sys.path.insert(0, {root!r})
from tools.legibility import watch_figures
_legibility = watch_figures(get_ipython())"""
# The solution as a student runs it, outside grading (tests/test_grading.py grades it).
SOLUTIONS = sorted(p for p in (LECTURES[0].parent.parent / "solutions").glob("*/*.ipynb"))


@pytest.mark.slow
@pytest.mark.parametrize("path", LECTURES + SOLUTIONS, ids=lambda p: p.name)
def test_notebook_runs_top_to_bottom(path, tmp_path, monkeypatch):
    monkeypatch.delenv("TF_CPP_MIN_LOG_LEVEL", raising=False)  # the kernel as students start it
    nb = nbformat.read(path, as_version=4)
    if path in SOLUTIONS:  # its hidden tests run outside the kernel, on hand-ins, only when graded
        split_hidden_tests(nb.cells)
    # Every figure is checked as it is shown (tools.legibility), from a cell put before all others.
    nb.cells.insert(0, nbformat.v4.new_code_cell(WATCH_FIGURES.format(root=str(ROOT))))
    nb.cells.append(nbformat.v4.new_code_cell("print(json.dumps(_legibility))"))
    # Run in a scratch folder so whatever the notebook writes stays out of the repository.
    resources = {"metadata": {"path": tmp_path}}
    NotebookClient(nb, timeout=600, kernel_name="python3", resources=resources).execute()
    nb.cells.pop(0)
    illegible = json.loads(nb.cells.pop().outputs[0].text)
    for cell in nb.cells:  # numbered as if the checking cell had not run first
        if cell.cell_type == "code" and cell.execution_count:
            cell.execution_count -= 1
            for output in cell.outputs:
                if output.get("execution_count"):
                    output.execution_count -= 1
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert [o for o in outputs if o.output_type == "error"] == []
    # Quiet: no log line or warning under any cell (TensorFlow's C++ notices, Keras' warnings).
    assert [o.text for o in outputs if o.output_type == "stream" and o.name == "stderr"] == []
    assert illegible == [], "figures not legible at the size JupyterLab shows them:\n" + "\n".join(illegible)
    if path in LECTURES:  # the book (tests/test_book.py, make book) shows these outputs
        save_executed(path.relative_to(ROOT), nb)
