"""Every lecture notebook, and the exercise solved, runs top to bottom, offline and quietly, on the python3 kernel;
a lecture run untouched leaves every Your-turn check at "not yet"."""

from __future__ import annotations

import asyncio
import re
import time
from queue import Empty

import pytest

from tools.book import REPLY_POLL_SECONDS, poll_in_slices
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
    # Quiet: no log line or warning under any cell (TensorFlow's C++ notices, Keras' warnings), and none on
    # stdout either, where TensorFlow's retracing warnings go.
    assert [o.text for o in outputs if o.output_type == "stream" and o.name == "stderr"] == []
    stdout = "".join(o.text for o in outputs if o.output_type == "stream" and o.name == "stdout")
    assert not re.findall(r"^.*(?:WARNING|retracing).*$", stdout, flags=re.MULTILINE)
    # No progress bar saved in the state it was first drawn in (the runs set TQDM_DISABLE: tools.book.run_in_scratch).
    shown = "".join(o.get("data", {}).get("text/plain", "") for o in outputs if o.output_type == "display_data")
    assert not re.findall(r"^.*\b0%\|.*$", shown, flags=re.MULTILINE)
    if path in LECTURES:
        # A Your-turn check that passes before the student acts teaches nothing.
        checks = re.findall(r"^Self-check:.*$", stdout, flags=re.MULTILINE)
        assert [c for c in checks if not c.startswith("Self-check: not yet")] == []
        has_your_turn = any(c.cell_type == "markdown" and "## Your turn" in c.source for c in nb.cells)
        assert bool(checks) == has_your_turn, "a Your-turn section without a self-check, or the other way round"
    if path in SOLUTIONS:  # the solution clears every self-check, the grader's lines with their margin included
        for cell in (c for c in nb.cells if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("grade")):
            said = "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")
            assert "Right." in said, f"{cell.metadata.nbgrader.grade_id} said: {said}"
    assert illegible == [], "figures not legible at the size JupyterLab shows them:\n" + "\n".join(illegible)


def test_a_reply_the_first_look_missed_costs_a_second_not_the_cells_whole_timeout():
    """tools.book.WidgetSafeClient: a poll that misses a reply (nbclient issue 312) is followed by another."""
    asked = []

    async def misses_the_first_reply(timeout):
        asked.append(timeout)
        if len(asked) == 1:  # the edge-triggered poll saw nothing: it sleeps its whole timeout
            await asyncio.sleep(timeout)
            raise Empty
        return {"msg_type": "execute_reply"}

    started = time.monotonic()
    reply = asyncio.run(asyncio.wait_for(poll_in_slices(misses_the_first_reply)(timeout=600), 30))
    assert reply == {"msg_type": "execute_reply"} and time.monotonic() - started < 3 * REPLY_POLL_SECONDS
    assert asked == [REPLY_POLL_SECONDS, REPLY_POLL_SECONDS]

    async def never_replies(timeout):
        asked.append(timeout)
        await asyncio.sleep(timeout)
        raise Empty

    asked.clear()
    with pytest.raises(Empty):
        asyncio.run(poll_in_slices(never_replies, seconds=0.01)(timeout=0.05))
    assert len(asked) >= 3 and max(asked) <= 0.01, "a real timeout still ends the wait"
