"""Grade one submission, on any worker: the task Dask sends, in a fresh copy of this worker's grading course.

:func:`grade` takes a :class:`GradingJob` (the notebook's bytes, the seed in a :class:`Secret`, the
limits) and returns plain data: scores, the feedback page, the log. Each worker process makes
its grading course once (and probes its sandbox before grading anything), then copies it for
each submission, so each has its own gradebook and sandbox; nothing of a submission stays on
the worker.
"""

from __future__ import annotations

import atexit
import hashlib
import json
import os
import re
import shutil
import socket
import tempfile
import threading
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

import nbformat

from grading import sandbox
from grading.course import GraderUnavailable, course_version, make_course, run_nbgrader
from grading.feedback import problem_page
from grading.protocol import (
    ASSIGNMENT,
    HAND_IN_VARIABLE,
    HIDE_VARIABLE,
    HOME_VARIABLE,
    JOB_VARIABLE,
    KERNEL_OUTPUT,
    OUTPUT_VARIABLE,
    RELEASE,
    ROOT,
    SEED_FILE,
    SOCKETS_VARIABLE,
)
from grading.secrecy import Secret
from grading.submissions import readable_notebook, restore_metadata

MAX_LOG_BYTES = 1 << 20
MAX_AUTOGRADED_BYTES = 20 << 20
MAX_KERNEL_OUTPUT_BYTES = 64 << 10


@dataclass(frozen=True, repr=False)
class GradingJob:
    """Everything one task needs to grade one submission on any worker (no path of this machine is read)."""

    student_id: str
    notebook: bytes
    seed: Secret
    version: str  # course_version() here: a worker with another copy of the course refuses the job
    cell_timeout: int | None
    timeout: float
    hide: tuple[str, ...] = ()  # this machine's submissions and results, covered where a worker shares them
    keep: bool = False
    batch: str = ""  # the Dask topic a worker announces each start under (see grade_on_dask)

    def __repr__(self) -> str:
        return f"GradingJob({self.student_id!r}, {len(self.notebook)} bytes)"


def fingerprint(job: GradingJob) -> str:
    """What a saved result was graded from: the submission, the course, the seed and the time limits."""
    settings = f"{job.version} {job.seed.value} {job.cell_timeout} {job.timeout}".encode()
    return hashlib.sha256(settings + b"\0" + job.notebook).hexdigest()[:16]


@dataclass
class _Grader:
    settings: tuple
    workdir: Path
    course: Path
    hidden: dict[str, str]
    release: nbformat.NotebookNode
    max_score: float
    isolation: str
    hide: list[Path]


_grader: _Grader | None = None


_grader_lock = threading.Lock()


WORKDIR_PREFIX = "autograde-"


def _remove_abandoned_workdirs() -> None:
    """Workdirs of graders that died without cleaning up (a worker killed mid-grading): their seed goes too."""
    for path in Path(tempfile.gettempdir()).glob(f"{WORKDIR_PREFIX}*-*"):
        match = re.fullmatch(rf"{WORKDIR_PREFIX}(\d+)-.*", path.name)
        if not match or not path.is_dir() or path.stat().st_uid != os.geteuid():
            continue
        try:
            os.kill(int(match.group(1)), 0)
        except ProcessLookupError:
            shutil.rmtree(path, ignore_errors=True)
        except PermissionError:
            pass


def _grader_for(job: GradingJob) -> _Grader:
    """This process's grading course for ``job``'s seed and limits, made (and its sandbox probed) on first use."""
    global _grader
    if course_version() != job.version:
        raise GraderUnavailable(
            f"{socket.gethostname()} has another version of the course ({course_version()}, the instructor's is "
            f"{job.version}): install the same commit on every worker."
        )
    settings = (job.seed.value, job.cell_timeout, job.timeout, job.hide)
    with _grader_lock:
        if _grader is None or _grader.settings != settings:
            if _grader is not None:
                shutil.rmtree(_grader.workdir, ignore_errors=True)
            _grader = None
            _remove_abandoned_workdirs()
            workdir = Path(tempfile.mkdtemp(prefix=f"{WORKDIR_PREFIX}{os.getpid()}-"))
            if not job.keep:  # --keep: the courses stay for the instructor to inspect
                atexit.register(shutil.rmtree, workdir, ignore_errors=True)
            hide = [workdir, ROOT / "solutions", ROOT / ".git", SEED_FILE, *map(Path, job.hide)]
            isolation = check_sandbox(workdir, hide)
            course, hidden = make_course(workdir, job.seed.value, submission_timeout=job.timeout)
            from nbgrader.api import Gradebook

            with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
                max_score = float(gradebook.find_assignment(ASSIGNMENT).max_score)
            release = nbformat.read(RELEASE, as_version=4)
            _grader = _Grader(settings, workdir, course, hidden, release, max_score, isolation, hide)
        return _grader


def check_sandbox(workdir: Path, hide: list[Path]) -> str:
    """Ask a confined process what it can reach; refuse to grade if it can read any secret. Returns its isolation."""
    targets = []
    for path in [*hide, ROOT / "grading", Path.home()]:
        if path.is_file():
            targets.append(path)
        elif path.is_dir():  # a few files of each folder: the folders themselves hold the sandbox's mount points
            targets += [file for _, file in zip(range(5), (p for p in path.rglob("*") if p.is_file()), strict=False)]
    try:
        report = sandbox.probe([str(p) for p in targets], scratch=workdir, hide=tuple(hide))
    except sandbox.SandboxUnavailable as error:
        raise GraderUnavailable(f"Not grading on {socket.gethostname()}: {error}") from None
    if report["readable"]:
        raise GraderUnavailable(
            f"A submission on {socket.gethostname()} could read {report['readable']}: not grading. Grade in a "
            "container (README: 'Grading safely')."
        )
    return report["isolation"]


def _autograde(course: Path, attempt: Path, grader: _Grader, job: GradingJob, nb: nbformat.NotebookNode) -> str:
    """Run nbgrader's autograde on ``nb`` in ``course`` and the sandbox; return what went wrong ('' if nothing)."""
    log = attempt / "log.txt"
    restored = restore_metadata(nb, grader.release)
    if restored:
        with open(log, "a") as out:
            out.write(f"nbgrader metadata restored from the release for: {', '.join(restored)}\n")
    target = course / "submitted" / job.student_id / ASSIGNMENT
    target.mkdir(parents=True)
    nbformat.write(nb, target / f"{ASSIGNMENT}.ipynb")
    run = attempt / "run"
    run.mkdir(mode=0o700)
    home, sockets = sandbox.make_home(run / "home"), sandbox.make_home(run / "sockets")
    runtime = run / "runtime"
    runtime.mkdir(mode=0o700)
    handed_in = run / "job.json"
    handed_in.write_text(
        json.dumps(
            {
                "hidden": grader.hidden,
                "seed_file": str(grader.workdir / "seed"),
                "hand_in": str(home / "hand-in"),
                "scratch": str(run),
            }
        )
    )
    env = {
        HOME_VARIABLE: str(home),
        HIDE_VARIABLE: os.pathsep.join(map(str, grader.hide)),
        HAND_IN_VARIABLE: str(home / "hand-in"),
        OUTPUT_VARIABLE: str(run / KERNEL_OUTPUT),
        SOCKETS_VARIABLE: str(sockets / "kernel"),
        JOB_VARIABLE: str(handed_in),
        "JUPYTER_RUNTIME_DIR": str(runtime),
        # One core per grading, wherever it runs: workers are one per core, and Dask's nanny sets the
        # same for its workers (make bench-grading measured kernels on one OpenMP thread faster, too).
        "OMP_NUM_THREADS": "1",
    }
    options = (
        [f"--Execute.timeout={job.cell_timeout}", f"--TolerantExecute.timeout={job.cell_timeout}"]
        if job.cell_timeout
        else []
    )
    # nbgrader's own deadline is the notebook's plus time for the hidden tests; this one is the last resort
    status = run_nbgrader(
        course,
        "autograde",
        ASSIGNMENT,
        f"--student={job.student_id}",
        "--force",
        *options,
        env=env,
        log=log,
        timeout=job.timeout + 900,
    )
    if status is None:
        return f"stopped after {job.timeout + 900:.0f} s"
    if status != 0:
        return f"nbgrader could not grade it (exit status {status}; see logs/{job.student_id}.txt)"
    return ""


def _scores(course: Path, student_id: str) -> dict:
    """The score and per-cell scores nbgrader saved for ``student_id`` (nothing if it saved none)."""
    from nbgrader.api import Gradebook, MissingEntry

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        try:
            graded = gradebook.find_submission(ASSIGNMENT, student_id)
        except MissingEntry:
            return {}
        return {
            "score": float(graded.score),
            "by_cell": {
                cell.name: [float(cell.score), float(cell.max_score)]
                for notebook in graded.notebooks
                for cell in notebook.grades
            },
        }


def _announce_start(job: GradingJob) -> None:
    """Tell the instructor's machine this submission's grading starts, when on a Dask worker."""
    if not job.batch:
        return
    try:
        from distributed import get_worker

        get_worker().log_event(job.batch, {"student_id": job.student_id})
    except (ImportError, ValueError):  # not on a Dask worker
        pass


def grade(job: GradingJob) -> dict:
    """Grade one submission in a fresh nbgrader course of its own: the task each worker runs.

    Returns plain data for the instructor's machine: ``score``, ``max_score``, ``by_cell``
    (``grade_id -> [score, max_score]``), ``problem`` ('' if none), ``feedback`` (the page's HTML, or
    ``None``), ``log``, ``isolation``, ``worker``, ``seconds`` (grading) and ``setup_seconds`` (the
    worker's course, made for its first submission). Nothing of the submission is left
    on the worker. Whatever goes wrong with a submission that parses as a notebook is that
    submission's problem, with a result, a page and a log; only a grader that cannot grade at all
    (:class:`GraderUnavailable`) raises.
    """
    started = time.perf_counter()
    _announce_start(job)
    grader = _grader_for(job)
    setup = time.perf_counter() - started
    attempt = Path(tempfile.mkdtemp(prefix="attempt-", dir=grader.workdir))
    log = attempt / "log.txt"  # where _autograde and generate_feedback both write
    worker = f"{socket.gethostname()}:{os.getpid()}"
    log.write_text(f"Graded by {worker} ({job.student_id}, course version {job.version}, {time.ctime()})\n")
    result = {
        "student_id": job.student_id,
        "score": 0.0,
        "max_score": grader.max_score,
        "by_cell": {},
        "problem": "",
        "feedback": None,
        "isolation": grader.isolation,
        "worker": worker,
    }
    try:
        nb, result["problem"] = readable_notebook(job.notebook)
        if nb is not None:
            try:
                result.update(_grade_notebook(attempt, grader, job, nb))
            except Exception as error:  # a submission the grader could not handle: its problem, not the batch's
                with open(log, "a") as out:
                    out.write("".join(traceback.format_exception(error)))
                result["problem"] = f"the grader could not grade this notebook ({type(error).__name__}; see the log)"
            if result["feedback"] is None:
                result["feedback"] = problem_page(job.student_id, result["problem"])
        result["log"] = log.read_bytes()[-MAX_LOG_BYTES:].decode(errors="replace") if log.exists() else ""
    finally:
        if job.keep:
            result["kept"] = str(attempt)
        else:
            shutil.rmtree(attempt, ignore_errors=True)
    result["seconds"] = round(time.perf_counter() - started - setup, 2)
    result["setup_seconds"] = round(setup, 2)  # this worker's grading course, made for its first submission
    return result


def _grade_notebook(attempt: Path, grader: _Grader, job: GradingJob, nb: nbformat.NotebookNode) -> dict:
    """Autograde ``nb`` in a copy of the grading course; its problem, scores and feedback page."""
    log = attempt / "log.txt"
    course = attempt / "course"
    shutil.copytree(grader.course, course, symlinks=True)
    graded = {"problem": _autograde(course, attempt, grader, job, nb), **_scores(course, job.student_id)}
    output = attempt / "run" / KERNEL_OUTPUT
    if output.exists() and output.stat().st_size:
        with open(output, "rb") as kernel, open(log, "a") as out:
            kernel.seek(max(0, output.stat().st_size - MAX_KERNEL_OUTPUT_BYTES))
            out.write("\n--- written by the submission's kernel (its stdout and stderr), not by the grader ---\n")
            out.write(kernel.read().decode(errors="replace") + "\n--- end of the kernel's output ---\n")
    # The graded notebook (outputs bounded, no hidden tests: the course never had them), for make formgrade
    autograded = course / "autograded" / job.student_id / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
    if autograded.exists() and autograded.stat().st_size <= MAX_AUTOGRADED_BYTES:
        graded["autograded"] = autograded.read_text(errors="replace")
    run_nbgrader(course, "generate_feedback", ASSIGNMENT, f"--student={job.student_id}", "--force", env={}, log=log)
    page = course / "feedback" / job.student_id / ASSIGNMENT / f"{ASSIGNMENT}.html"
    graded["feedback"] = page.read_text(errors="replace") if page.exists() else None
    return graded
