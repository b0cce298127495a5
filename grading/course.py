"""The private nbgrader course each submission is graded in, made from the exercise's source without its hidden tests.

A grading worker makes one course (:func:`make_course`) and copies it for each submission, so each
has a gradebook of its own. :func:`run_nbgrader` runs nbgrader's commands in it;
:func:`course_version` names what decides a grade, so that every worker grades the same course.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import nbformat

from grading import hidden_tests
from grading.protocol import ASSIGNMENT, GRADING_KERNEL, ROOT, SEED_VARIABLE

#: What decides a grade besides the submission: a change to any of these grades everything again,
#: and a worker whose copy differs from the instructor's refuses to grade.
GRADER_FILES = ("solutions", "exercises", "helpers", "grading", "nbgrader_config.py")


class GraderUnavailable(RuntimeError):
    """This machine cannot grade (no sandbox, another version of the course): no submission's fault."""


def run_nbgrader(
    course: Path, *args: str, env: dict[str, str], log: Path | None = None, timeout: float | None = None
) -> int | None:
    """Run one nbgrader command in ``course``; return its exit status (``None`` when it timed out).

    It runs in a session of its own (a student's kernel cannot signal the grader), and dies with
    the thread that started it (``setpriv --pdeathsig``): a worker killed mid-grading leaves nothing.
    """
    env = dict(
        os.environ,
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        JUPYTER_PATH=str(course / ".jupyter"),
        PYTHONPATH=str(ROOT),  # the grading course's configuration imports grading
        **env,
    )
    env.pop(SEED_VARIABLE, None)
    setpriv = shutil.which("setpriv")
    dies_with_grader = [setpriv, "--pdeathsig", "KILL", "--"] if setpriv and sys.platform.startswith("linux") else []
    with open(log or os.devnull, "a") as out:
        process = subprocess.Popen(
            [*dies_with_grader, sys.executable, "-m", "nbgrader", *args],
            cwd=course,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            return process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None
        finally:
            if process.poll() is None:  # timed out, or the grader was interrupted: stop it and its kernel
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def make_course(workdir: Path, seed: int, *, submission_timeout: float) -> tuple[Path, dict[str, str]]:
    """A private nbgrader course in ``workdir`` made from the exercise's source without its hidden tests.

    Returns the course folder and the hidden tests (``grade_id -> code``); the seed and the
    hidden tests are written to files in ``workdir`` that only the grader can read.
    """
    course = workdir / "course"
    course.mkdir(mode=0o700)
    source = course / "solutions" / ASSIGNMENT
    shutil.copytree(ROOT / "solutions" / ASSIGNMENT, source)
    notebook = source / f"{ASSIGNMENT}.ipynb"
    nb = nbformat.read(notebook, as_version=nbformat.NO_CONVERT)
    try:
        hidden = hidden_tests.split_hidden_tests(nb.cells)
    except ValueError as error:
        raise GraderUnavailable(f"{notebook.relative_to(course)}: {error}") from None
    nbformat.write(nb, notebook)
    (workdir / "seed").write_text(f"{seed}\n")
    (course / "nbgrader_config.py").write_text(
        "c = get_config()  # noqa: F821\n"
        f"load_subconfig({str(ROOT / 'nbgrader_config.py')!r})  # noqa: F821\n"
        f"load_subconfig({str(ROOT / 'grading' / 'course_config.py')!r})  # noqa: F821\n"
        f"c.TolerantExecute.submission_timeout = {int(submission_timeout)}\n"
    )
    kernel = course / ".jupyter" / "kernels" / GRADING_KERNEL
    kernel.mkdir(parents=True)
    (kernel / "kernel.json").write_text(
        json.dumps(
            {
                "argv": [sys.executable, "-m", "grading.sandbox", "kernel", "-f", "{connection_file}"],
                "env": {"PYTHONPATH": str(ROOT)},
                "display_name": "Python 3 (grading sandbox)",
                "language": "python",
            }
        )
    )
    if run_nbgrader(course, "generate_assignment", ASSIGNMENT, "--force", env={}, log=workdir / "release.log") != 0:
        raise GraderUnavailable(
            f"nbgrader generate_assignment failed:\n{(workdir / 'release.log').read_text()[-3000:]}"
        )
    return course, hidden


@functools.cache
def course_version() -> str:
    """A hash of everything in this checkout that decides a grade (``GRADER_FILES``)."""
    digest = hashlib.sha256()
    for name in GRADER_FILES:
        path = ROOT / name
        files = (
            sorted(
                p
                for p in path.rglob("*")
                if p.is_file()
                and not any(part == "__pycache__" or part.startswith(".") for part in p.relative_to(ROOT).parts)
            )
            if path.is_dir()
            else [path]
        )
        for file in files:
            digest.update(file.relative_to(ROOT).as_posix().encode() + b"\0" + file.read_bytes() + b"\0")
    return digest.hexdigest()[:16]
