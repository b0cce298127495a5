"""Execute every lecture notebook and the exercise's solution offline; print and record time and memory.

    python -m benchmarks.notebooks            # make bench-notebooks
    python -m benchmarks.notebooks lectures/03_feature_extraction.ipynb   # just that one
    python -m benchmarks.notebooks solutions/*/*.ipynb --autograde         # the exercise, and grading it

Also times ``make autograde`` on one submission (the solution), the way instructors grade.

Each notebook runs top to bottom in a fresh kernel and a scratch folder. Peak RSS is the
kernel's own high-water mark, read by one extra cell appended to the in-memory copy (the
notebook file is not changed). Kernels get ``MALLOC_ARENA_MAX=2``, as on Binder (the ``start``
file) and under ``make lab``, unless the environment sets it already. Writes
``docs/benchmarks/notebooks.json``: a list of objects with keys ``notebook``, ``seconds`` and
``peak_rss_mb``, and after a full run one for ``make autograde, one submission`` with
``seconds`` and ``outside_checks_seconds`` (the hidden tests, run outside the kernel). Each
lecture's execution is kept in ``build/executed/`` for ``make book``. Run in Colab's environment
(``make bench-notebooks-colab``, ``COURSE_ENVIRONMENT=colab``), it writes the notebooks' rows to
``docs/benchmarks/notebooks-colab.json`` instead, and neither grades nor keeps executions.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import nbformat

from tools.book import run_in_scratch, save_executed
from tools.colab import in_colab_environment

ROOT = Path(__file__).resolve().parent.parent
# In Colab's environment (make bench-notebooks-colab) the rows go to a file of their own, README's second columns.
OUT = ROOT / "docs" / "benchmarks" / ("notebooks-colab.json" if in_colab_environment() else "notebooks.json")
PEAK_RSS_CELL = (
    "import resource, sys\n"
    "peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
    "print('PEAK_RSS_MB', peak / (1024 * 1024 if sys.platform == 'darwin' else 1024))"
)


def run_notebook(path: Path, timeout: int = 600) -> dict:
    """Execute one notebook; return its row (raises if a cell fails)."""
    nb = nbformat.read(path, as_version=4)
    if path.is_relative_to(ROOT / "solutions"):  # hidden tests run outside the kernel, and only when graded
        from grading.hidden_tests import split_hidden_tests

        split_hidden_tests(nb.cells)
    nb.cells.append(nbformat.v4.new_code_cell(PEAK_RSS_CELL))
    start = time.perf_counter()
    run_in_scratch(nb, timeout)
    seconds = time.perf_counter() - start
    text = "".join(o.get("text", "") for o in nb.cells.pop().outputs)
    peak = float(text.split("PEAK_RSS_MB")[1].split()[0])
    if path.is_relative_to(ROOT / "lectures") and not in_colab_environment():  # make book shows these outputs
        save_executed(path.relative_to(ROOT), nb)
    return {"notebook": path.relative_to(ROOT).as_posix(), "seconds": round(seconds, 1), "peak_rss_mb": round(peak)}


def autograde_seconds() -> tuple[float, float]:
    """Wall time of ``python -m grading`` grading the solution as one student's submission, and of its outside checks.

    The second number is the part spent running the hidden tests outside the kernel (read from
    the grading log, where grading/preprocessors.py records it).
    """
    import re
    import subprocess

    from grading.preprocessors import OUTSIDE_TIMING
    from grading.protocol import ASSIGNMENT

    with tempfile.TemporaryDirectory() as scratch:
        folder, out = Path(scratch) / "submissions", Path(scratch) / "out"
        folder.mkdir()
        source = ROOT / "solutions" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
        (folder / "student.ipynb").write_bytes(source.read_bytes())
        start = time.perf_counter()  # grading puts this Python's bin (nbgrader, alembic) on PATH itself
        subprocess.run(
            [sys.executable, "-m", "grading", str(folder), "--out", str(out)],
            cwd=ROOT,
            check=True,
            capture_output=True,
        )
        seconds = time.perf_counter() - start
        outside = re.search(rf"{OUTSIDE_TIMING} ([0-9.]+) s", (out / "logs" / "student.txt").read_text())
        return seconds, float(outside.group(1)) if outside else float("nan")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.notebooks", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "notebooks",
        nargs="*",
        type=Path,
        help="default: lectures/ and solutions/ (named ones update their rows in the JSON)",
    )
    parser.add_argument(
        "--autograde", action="store_true", help="time make autograde of one submission also when notebooks are named"
    )
    args = parser.parse_args(argv)
    paths = [p.resolve() for p in args.notebooks] or [
        *sorted((ROOT / "lectures").glob("*.ipynb")),
        *sorted((ROOT / "solutions").glob("*/*.ipynb")),
    ]
    rows = []
    print(f"{'notebook':<50}{'seconds':>9}{'peak RSS MB':>13}")
    for path in paths:
        row = run_notebook(path)
        rows.append(row)
        print(f"{row['notebook']:<50}{row['seconds']:>9.1f}{row['peak_rss_mb']:>13.0f}", flush=True)
    lectures = [r for r in rows if r["notebook"].startswith("lectures/")]
    if lectures:
        print(
            f"{'lectures/ in all':<50}{sum(r['seconds'] for r in lectures):>9.1f}"
            f"{max(r['peak_rss_mb'] for r in lectures):>13.0f}"
        )
    _save(rows, partial=bool(args.notebooks))  # the notebooks' rows are kept even if grading fails below
    if (not args.notebooks or args.autograde) and not in_colab_environment():  # Colab has no nbgrader
        seconds, outside = autograde_seconds()
        print(f"{'make autograde, one submission':<50}{seconds:>9.1f}")
        print(f"{'  of which hidden tests outside the kernel':<50}{outside:>9.1f}")
        row = {"notebook": "make autograde, one submission", "seconds": round(seconds, 1)}
        _save([{**row, "outside_checks_seconds": round(outside, 1)}], partial=True)
    return 0


def _save(rows: list[dict], *, partial: bool) -> None:
    """Write ``rows`` to the JSON; a partial run updates its own rows and keeps the others."""
    OUT.parent.mkdir(parents=True, exist_ok=True)
    if partial and OUT.exists():
        fresh = {r["notebook"] for r in rows}
        rows = sorted(
            [r for r in json.loads(OUT.read_text()) if r["notebook"] not in fresh] + rows, key=lambda r: r["notebook"]
        )
    OUT.write_text(json.dumps(rows, indent=2) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    sys.exit(main())
