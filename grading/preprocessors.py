"""The nbgrader preprocessors of the course's autograding: tolerant execution, outside verdicts, bounded output.

grading/course_config.py puts them into the grading course's nbgrader configuration:

- :class:`TolerantExecute` runs a submission to its end, or to the cell where its kernel died
  or ran out of time; the cells before keep what they earned, the cells after say why they did
  not run, and the notebook is graded and gets feedback either way. Cells tagged
  ``skip-execution`` (an experiment that earns no points) do not run, and say so.
- :class:`BoundOutputs` bounds every output in characters (nbgrader's ``LimitOutput`` counts
  lines, and one line can be 20 MB) and keeps only inert kinds of output (text, PNG, JPEG).
- :class:`HiddenVerdicts` runs the hidden tests outside the kernel (grading/hidden_tests.py) and
  makes their verdict the only output of a test cell that counts for its points.
- :class:`BriefTracebacks` keeps a failed test's error message in the feedback, not its code.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from time import monotonic

import nbformat
from jupyter_core.utils import run_sync
from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbconvert.preprocessors import Preprocessor
from nbgrader.preprocessors import Execute, NbGraderPreprocessor
from traitlets import Bool, Integer

from grading import hidden_tests
from grading.hidden_tests import is_test_cell
from grading.protocol import JOB_VARIABLE

SAFE_MIMETYPES = ("text/plain", "image/png", "image/jpeg")
CUT_NOTE = "\n... [{} characters cut by the grader] ...\n"
OUTSIDE_TIMING = "hidden tests run outside the kernel in"


def _error(name: str, message: str) -> nbformat.NotebookNode:
    return nbformat.v4.new_output("error", ename=name, evalue=message, traceback=[f"{name}: {message}"])


def _stream(text: str) -> nbformat.NotebookNode:
    return nbformat.v4.new_output("stream", name="stdout", text=text)


class TolerantExecute(Execute):
    """nbgrader's Execute that survives a dead kernel, a cell past its time limit, and the submission's deadline."""

    submission_timeout = Integer(900, help="seconds the whole notebook may run").tag(config=True)

    def preprocess(self, nb, resources=None, km=None):
        self._deadline = monotonic() + self.submission_timeout
        self._stopped = ""
        self._timed_out = False
        try:
            return super().preprocess(nb, resources, km)
        except (DeadKernelError, CellTimeoutError, RuntimeError) as error:
            if not self._stopped:  # the kernel never started: nbgrader reports that
                raise
            self.log.warning("after the run stopped (%s): %s", self._stopped, error)
            return nb, resources

    def _get_timeout(self, cell):
        remaining = max(1, int(self._deadline - monotonic()))
        timeout = super()._get_timeout(cell)
        return remaining if timeout is None or timeout <= 0 else min(timeout, remaining)

    async def _async_handle_timeout(self, timeout, cell=None):
        self._timed_out = True
        return await super()._async_handle_timeout(timeout, cell)

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type != "code":
            return cell, resources
        if not self._stopped and monotonic() >= self._deadline:
            self._stopped = f"the notebook used up its {self.submission_timeout} s"
        if self._stopped:
            cell.outputs = [_error("NotRun", f"this cell did not run: {self._stopped}")]
            return cell, resources
        if self.skip_cells_with_tag in cell.metadata.get("tags", []):  # nbclient skips it; the feedback says so
            tag = self.skip_cells_with_tag
            cell.outputs = [_stream(f"Not run while grading (tagged {tag}): it earns no points.\n")]
            return cell, resources
        try:
            cell, resources = super().preprocess_cell(cell, resources, index)
        except DeadKernelError:
            self._stopped = "the kernel died in an earlier cell"
            cell.outputs.append(
                _error(
                    "DeadKernelError",
                    "the kernel died while this cell ran (it was killed, or "
                    "ran out of memory); the cells after it did not run",
                )
            )
        except CellTimeoutError:
            self._timed_out = True
        if self._timed_out and not self._stopped:
            self._stopped = f"an earlier cell ran past its time limit ({self._get_timeout(cell)} s or the notebook's)"
            if not any(o.output_type == "error" for o in cell.outputs):
                cell.outputs.append(_error("CellTimeoutError", "this cell ran past its time limit and was stopped"))
            self._kill_kernel()
        return cell, resources

    def _kill_kernel(self) -> None:
        """A kernel that ignored the interrupt would hold every later cell for its whole time limit."""
        try:
            if self.km is not None:
                run_sync(self.km.shutdown_kernel)(now=True)
        except Exception as error:  # already gone
            self.log.info("stopping the kernel: %s", error)


class BoundOutputs(NbGraderPreprocessor):
    """Bound every output in characters, keep only inert output kinds, and bound the notebook's outputs in all."""

    max_output_chars = Integer(10_000, help="characters of one output's text").tag(config=True)
    max_image_chars = Integer(1_500_000, help="characters (base64) of one image").tag(config=True)
    max_source_chars = Integer(50_000, help="characters of one cell's source").tag(config=True)
    max_notebook_chars = Integer(8_000_000, help="characters of all outputs together").tag(config=True)

    def _cut(self, text, limit: int) -> str:
        text = "".join(text) if isinstance(text, list) else str(text)
        if len(text) <= limit:
            return text
        head, tail = limit * 4 // 5, limit // 5
        return text[:head] + CUT_NOTE.format(len(text) - head - tail) + text[len(text) - tail :]

    def _bound(self, output):
        kind = output.output_type
        if kind == "stream":
            output.text = self._cut(output.text, self.max_output_chars)
        elif kind == "error":
            output.ename = self._cut(output.ename, 200)
            output.evalue = self._cut(output.evalue, self.max_output_chars // 4)
            lines = [self._cut(line, 2_000) for line in output.traceback[-50:]]
            output.traceback = lines
        elif kind in ("execute_result", "display_data"):
            data = {}
            for mimetype in SAFE_MIMETYPES:
                if mimetype not in output.data:
                    continue
                value = output.data[mimetype]
                if mimetype == "text/plain":
                    data[mimetype] = self._cut(value, self.max_output_chars)
                elif len(value) <= self.max_image_chars:
                    data[mimetype] = value
                else:
                    data["text/plain"] = f"[an image of {len(value):,} characters, left out by the grader]"
            if not data:
                kinds = ", ".join(sorted(output.data)) or "none"
                data["text/plain"] = f"[output of kind {kinds} left out by the grader]"
            output.data = nbformat.from_dict(data)
            output.metadata = nbformat.from_dict({})
        return output

    def preprocess(self, nb, resources):
        budget = self.max_notebook_chars
        for cell in nb.cells:
            cell.source = self._cut(cell.source, self.max_source_chars)
            if cell.cell_type != "code":
                continue
            outputs = []
            for output in cell.outputs:
                output = self._bound(output)
                size = len(json.dumps(output))
                if size > budget:
                    outputs.append(_stream("[more output left out: the notebook reached the grader's limit]"))
                    budget = 0
                    break
                budget -= size
                outputs.append(output)
            cell.outputs = outputs
        return nb, resources


class HiddenVerdicts(NbGraderPreprocessor):
    """Run the hidden tests outside the kernel; their verdict alone decides each test cell's points.

    A test cell keeps what it printed (to stdout), shows what its own visible asserts said, and
    ends with the verdict: ``Grader's check: passed`` or a ``HiddenTestFailed`` error, which is
    what nbgrader's ``SaveAutoGrades`` scores (an error: no points).
    """

    def preprocess(self, nb, resources):
        job = json.loads(Path(os.environ[JOB_VARIABLE]).read_text())
        seed = int(Path(job["seed_file"]).read_text().strip())
        order = [c.metadata["nbgrader"]["grade_id"] for c in nb.cells if is_test_cell(c)]
        tests = [(grade_id, job["hidden"][grade_id]) for grade_id in order if grade_id in job["hidden"]]
        start = monotonic()
        verdicts, log = hidden_tests.run_outside(Path(job["hand_in"]), tests, seed, scratch=Path(job["scratch"]))
        self.log.info("%s %.1f s", OUTSIDE_TIMING, monotonic() - start)
        if log.strip():
            self.log.warning("the grader's checks said:\n%s", log[-3000:])
        for cell in nb.cells:
            if is_test_cell(cell):
                grade_id = cell.metadata["nbgrader"]["grade_id"]
                cell.outputs = self._judged(
                    cell.outputs,
                    verdicts.get(grade_id)
                    or {"passed": False, "message": "this cell has no hidden tests to decide its points"},
                )
        return nb, resources

    @staticmethod
    def _judged(outputs, verdict: dict) -> list:
        kept = []
        for output in outputs:
            if output.output_type == "stream" and output.name == "stdout":
                kept.append(output)
            elif output.output_type == "error" and output.ename != "NotRun":
                kept.append(_stream(f"Your self-check said: {output.ename}: {output.evalue}\n"))
            elif output.output_type == "error":
                kept.append(_stream(f"{output.evalue}\n"))
        if verdict["passed"]:
            kept.append(_stream("Grader's check: passed.\n"))
        else:
            kept.append(_error("HiddenTestFailed", verdict["message"] or "a hidden test failed"))
        return kept


class BriefTracebacks(Preprocessor):
    """In feedback, a failed test shows its error and message, not the code around it."""

    enabled = Bool(True)  # nbconvert's preprocessors are off unless enabled

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type == "code" and cell.metadata.get("nbgrader", {}).get("grade"):
            for output in cell.get("outputs", []):
                if output.output_type == "error":
                    output.traceback = [f"{output.ename}: {output.evalue}"]
        return cell, resources
