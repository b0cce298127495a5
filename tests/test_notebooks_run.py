"""Every lecture notebook, and the exercise solved, runs top to bottom, offline and quietly, on the python3 kernel."""

from __future__ import annotations

import pytest

from tools.notebooks import student_notebooks

LECTURES = [p for p in student_notebooks() if p.parent.name == "lectures"]
# The solution as a student runs it, outside grading (tests/test_grading_batch.py grades it).
SOLUTIONS = sorted(p for p in (LECTURES[0].parent.parent / "solutions").glob("*/*.ipynb"))


@pytest.mark.slow
@pytest.mark.parametrize("path", LECTURES + SOLUTIONS, ids=lambda p: p.name)
def test_notebook_runs_top_to_bottom(path, notebook_runs):
    nb, illegible = notebook_runs(path)  # tests/notebook_runs.py: executed once a session, figures checked
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert [o for o in outputs if o.output_type == "error"] == []
    # Quiet: no log line or warning under any cell (TensorFlow's C++ notices, Keras' warnings).
    assert [o.text for o in outputs if o.output_type == "stream" and o.name == "stderr"] == []
    assert illegible == [], "figures not legible at the size JupyterLab shows them:\n" + "\n".join(illegible)
