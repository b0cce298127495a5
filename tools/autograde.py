"""Autograde a folder of submitted exercise notebooks with nbgrader, offline, in parallel on Dask.

    make autograde SUBMISSIONS=path/to/folder [JOBS=1] [SCHEDULER=tcp://host:8786] [STUDENT=id]
    python -m tools.autograde path/to/folder [--out graded] [--jobs N] [--scheduler ADDRESS]
                              [--student ID] [--regrade] [--cell-timeout 300]

``folder`` holds one notebook per student: ``<student_id>.ipynb`` or
``<student_id>/sunglasses_vs_hat.ipynb``. Writes ``<out>/grades.csv`` (``student_id``, ``score``,
``max_score``), ``<out>/scores_by_cell.csv``, ``<out>/feedback/<student_id>.html``,
``<out>/logs/<student_id>.txt`` and ``<out>/results/<student_id>.json``, readable by the grader only.

How a class is graded (README: "Grading a whole class"):

- Each submission is one task, :func:`grade`: it grades the submission in a fresh temporary
  nbgrader course with its own gradebook, and returns the scores, the feedback page and the log.
  Only this process writes ``<out>``: it checks each page for the grader's secrets, saves the
  result as it arrives, and rewrites the two tables after each one.
- Tasks run on Dask: a local cluster sized to the machine (one worker per core, as long as each has
  about 1.3 GB of memory for its grading kernel), or an existing scheduler (``--scheduler``).
  ``--jobs 1`` grades one after another in this process, with the same task.
- A worker that dies while grading has its submission graded again elsewhere; a submission whose
  grading kills its worker twice is reported as failed (the scheduler's
  ``distributed.scheduler.allowed-failures`` is 1). Interrupted (Ctrl-C), the batch keeps what is
  graded; run again, it grades only what is missing or changed (``--regrade``: everything).

How it keeps grading fair and the grader safe (README: "Grading safely"):

- Hidden tests are taken out of the grading copy of ``solutions/`` (tools/hidden_tests.py): they
  run after the notebook, outside the student's kernel, on what its test cells handed in, with
  the instructor's secret seed (``$GRADING_SEED`` or ``.grading_seed``, made once, readable by its
  owner only). Neither the seed nor the hidden tests ever reach the kernel, the gradebook or the
  feedback; the seed travels to workers inside the task, in a :class:`Secret` whose repr and Dask
  token do not show it.
- Every submission runs in a kernel of its own confined by bubblewrap (tools/sandbox.py): only
  the system, the Python installation and ``helpers`` visible (an allow-list), a fresh home no
  other submission sees, its own PID namespace (nothing outlives it), no network, an
  unprivileged user, none of the grader's open files; its nbgrader metadata is restored from
  the release first, and deleted test cells are put back. Each worker probes its sandbox before
  it grades anything.
- One submission cannot spoil the batch: a kernel that dies or runs out of time keeps the points
  earned before it (tools/preprocessors.py), and whatever goes wrong is reported.
- Feedback pages are bounded in size, inert (student HTML sanitized, scripts blocked by a
  Content-Security-Policy) and checked for the seed and the hidden tests before they are written.
"""

from __future__ import annotations

import argparse
import atexit
import base64
import copy
import csv
import functools
import hashlib
import html
import json
import logging
import os
import re
import secrets
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import uuid
import zlib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from tools import hidden_tests, sandbox
from tools.preprocessors import JOB_VARIABLE, SOCKETS_VARIABLE

ROOT = Path(__file__).resolve().parent.parent
ASSIGNMENT = "sunglasses_vs_hat"
RELEASE = ROOT / "exercises" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
SEED_FILE = ROOT / ".grading_seed"
SEED_VARIABLE = "GRADING_SEED"
STUDENT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@+-]{0,63}")
KERNEL_NAME = "course-sandbox"
MAX_SUBMISSION_BYTES = 50 << 20
# Feedback pages are plain documents: no script, frame, form or remote resource may run or load.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; img-src data:; style-src 'unsafe-inline'; font-src data:; "
    "form-action 'none'; base-uri 'none'; frame-ancestors 'none'"
)
MAX_FEEDBACK_BYTES = 10 << 20
MAX_LOG_BYTES = 1 << 20
#: The kernel's own standard output and error (tools/sandbox.py), appended to the log after the grader's lines.
KERNEL_OUTPUT = "kernel-output.txt"
MAX_KERNEL_OUTPUT_BYTES = 64 << 10
#: Memory one local worker is given: the solved exercise peaks at 1.2 GB in its kernel
#: (docs/benchmarks/notebooks.json), and nbgrader and the hidden tests run beside it.
KERNEL_MEMORY = int(1.3 * 2**30)
#: What decides a grade besides the submission: a change to any of these grades everything again,
#: and a worker whose copy differs from the instructor's refuses to grade.
GRADER_FILES = (
    "solutions",
    "exercises",
    "helpers",
    "nbgrader_config.py",
    "tools/autograde.py",
    "tools/hidden_tests.py",
    "tools/preprocessors.py",
    "tools/sandbox.py",
)


class GraderUnavailable(RuntimeError):
    """This machine cannot grade (no sandbox, another version of the course): no submission's fault."""


class Secret:
    """The grading seed on its way to a worker: its repr, str and Dask token never show the value."""

    __slots__ = ("value",)

    def __init__(self, value: int) -> None:
        self.value = int(value)

    def __repr__(self) -> str:
        return "Secret(<hidden>)"

    __str__ = __repr__

    def __dask_tokenize__(self) -> str:
        return "grading-seed"

    def __reduce__(self):
        return Secret, (self.value,)


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


@dataclass
class Submission:
    student_id: str
    notebook: Path


@dataclass
class Grade:
    student_id: str
    score: float
    max_score: float
    problem: str = ""
    by_cell: dict[str, tuple[float, float]] = field(default_factory=dict)  # grade_id -> (score, max_score)
    seconds: float = 0.0
    worker: str = ""

    @classmethod
    def from_result(cls, result: dict) -> Grade:
        by_cell = {cell: (float(score), float(most)) for cell, (score, most) in result["by_cell"].items()}
        return cls(
            result["student_id"],
            float(result["score"]),
            float(result["max_score"]),
            result.get("problem", ""),
            by_cell,
            float(result.get("seconds", 0.0)),
            result.get("worker", ""),
        )


def _plain_file_problem(path: Path) -> str | None:
    """Why ``path`` cannot be graded as a notebook file (a link, a device, too big), or ``None``."""
    info = path.lstat()
    if stat.S_ISLNK(info.st_mode):
        return "is a symbolic link: refused (put the notebook file itself in the folder)"
    if not stat.S_ISREG(info.st_mode):
        return "is not a regular file (a pipe, socket or device): refused"
    if info.st_size > MAX_SUBMISSION_BYTES:
        return f"is {info.st_size >> 20} MB, over the {MAX_SUBMISSION_BYTES >> 20} MB a notebook may have: refused"
    return None


def find_submissions(folder: Path) -> tuple[list[Submission], list[str]]:
    """The submissions in ``folder``, and a sentence for everything in it that is not one."""
    if not folder.is_dir():
        raise SystemExit(
            f"{folder} is not a folder. Pass a folder holding <student_id>.ipynb files or "
            f"<student_id>/{ASSIGNMENT}.ipynb folders."
        )
    submissions, problems, seen = [], [], set()
    for entry in sorted(folder.iterdir()):
        if entry.name.startswith("."):
            continue
        mode = entry.lstat().st_mode
        if stat.S_ISDIR(mode):
            student_id, notebook = entry.name, entry / f"{ASSIGNMENT}.ipynb"
            if not notebook.exists() and not notebook.is_symlink():
                problems.append(f"{entry}/ holds no {ASSIGNMENT}.ipynb: skipped")
                continue
        elif entry.suffix == ".ipynb":
            student_id, notebook = entry.stem, entry
        elif stat.S_ISLNK(mode):
            problems.append(f"{entry} is a symbolic link: refused (put the notebook or folder itself there)")
            continue
        else:
            problems.append(f"{entry}: not a notebook (.ipynb) nor a student folder: skipped")
            continue
        problem = _plain_file_problem(notebook)
        if problem:
            problems.append(f"{notebook} {problem}")
        elif not STUDENT_ID.fullmatch(student_id):
            problems.append(f"{entry}: {student_id!r} is not a usable student id (letters, digits, _.@+-): skipped")
        elif student_id in seen:
            problems.append(f"{entry}: a second submission of {student_id}: skipped")
        else:
            seen.add(student_id)
            submissions.append(Submission(student_id, notebook))
    if not submissions:
        raise SystemExit(
            f"No submissions in {folder}: expected <student_id>.ipynb files or "
            f"<student_id>/{ASSIGNMENT}.ipynb folders.\n" + "\n".join(problems)
        )
    return submissions, problems


def grading_seed() -> int:
    """The instructor's secret seed: ``$GRADING_SEED``, else ``.grading_seed`` (made on first use)."""
    if os.environ.get(SEED_VARIABLE):
        return int(os.environ[SEED_VARIABLE])
    if not SEED_FILE.exists():
        descriptor = os.open(SEED_FILE, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as out:
            out.write(f"{secrets.randbelow(10**9) + 10**9}\n")
        print(f"Made a secret grading seed in {SEED_FILE} (keep it; never commit or share it).")
    return int(SEED_FILE.read_text().strip())


def restore_metadata(nb: nbformat.NotebookNode, release: nbformat.NotebookNode) -> list[str]:
    """Give every cell of ``nb`` the nbgrader metadata the release gave it; return what was changed.

    A cell whose grade_id the release does not have (or has already given out) loses its nbgrader
    metadata: a student cannot make an answer cell worth 100 points, nor a new graded cell.
    Metadata of any other JSON type (``null``, a list, a number, a ``grade_id`` that is not a
    string) is dropped the same way, and a cell whose whole ``metadata`` is not a table gets an
    empty one.
    """
    released = {
        cell.metadata["nbgrader"]["grade_id"]: cell.metadata["nbgrader"]
        for cell in release.cells
        if "nbgrader" in cell.metadata
    }
    changed, seen = [], set()
    for cell in nb.cells:
        if not isinstance(cell.get("metadata"), dict):
            cell["metadata"] = nbformat.NotebookNode()
            changed.append("a cell's metadata (not a table)")
        if "nbgrader" not in cell.metadata:
            continue
        meta = cell.metadata["nbgrader"]
        grade_id = meta.get("grade_id") if isinstance(meta, dict) else None
        if isinstance(grade_id, str) and grade_id in released and grade_id not in seen:
            seen.add(grade_id)
            if meta != released[grade_id]:
                changed.append(grade_id)
                cell.metadata["nbgrader"] = copy.deepcopy(released[grade_id])
        else:
            changed.append(f"{str(grade_id)[:64]!r} (not in the release)")
            del cell.metadata["nbgrader"]
    return changed + _restore_test_cells(nb, release)


def _restore_test_cells(nb: nbformat.NotebookNode, release: nbformat.NotebookNode) -> list[str]:
    """Put back the release's test cells that ``nb`` lacks, each after the release cell before it.

    nbgrader then restores their source, as for every locked cell; a deleted test cell costs
    nothing (nbgrader's own ``add_missing_cells`` fails on cells whose metadata has no grade_id).
    """
    present = [cell.metadata.get("nbgrader", {}).get("grade_id") for cell in nb.cells]
    restored, anchor = [], -1
    for cell in release.cells:
        meta = cell.metadata.get("nbgrader", {})
        if "grade_id" not in meta:
            continue
        if meta["grade_id"] in present:
            anchor = present.index(meta["grade_id"])
        elif meta.get("grade") and not meta.get("solution"):
            anchor += 1
            nb.cells.insert(anchor, copy.deepcopy(cell))
            present.insert(anchor, meta["grade_id"])
            restored.append(f"{meta['grade_id']} (deleted: restored)")
    return restored


def _nbgrader(
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


COURSE_CONFIG = """
# Grading copy (tools/autograde.py): sandboxed kernels on Unix sockets, hidden tests outside them.
import os
import sys
from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor
from nbconvert.preprocessors.sanitize import SanitizeHTML
from nbgrader.preprocessors import (AssignLatePenalties, CheckCellMetadata, GetGrades, IgnorePattern, LimitOutput,
                                    SaveAutoGrades)
from nbconvert.preprocessors import ClearMetadataPreprocessor

sys.path.insert(0, {root!r})
from tools.preprocessors import BoundOutputs, BriefTracebacks, HiddenVerdicts, TolerantExecute

c.Execute.kernel_name = "{kernel}"
c.TolerantExecute.kernel_name = "{kernel}"
c.TolerantExecute.submission_timeout = {submission_timeout}
# No TCP: the kernel has no network at all, and reaches nbgrader through sockets in its own folder.
c.KernelManager.transport = "ipc"
c.KernelManager.ip = os.environ.get("{sockets_variable}", "kernel-ipc")
c.Autograde.autograde_preprocessors = [TolerantExecute, LimitOutput, BoundOutputs, HiddenVerdicts, IgnorePattern,
                                       ClearMetadataPreprocessor, SaveAutoGrades, AssignLatePenalties,
                                       CheckCellMetadata]
# No ClearHiddenTests: the hidden tests never reach these notebooks, and a student's own "BEGIN HIDDEN
# TESTS" comment would make it fail the whole page.
c.GenerateFeedback.preprocessors = [GetGrades, BriefTracebacks, SanitizeHTML, CSSHTMLHeaderPreprocessor]
c.SanitizeHTML.enabled = True  # nbconvert's preprocessors are off unless enabled
"""


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
    config = (ROOT / "nbgrader_config.py").read_text()
    (course / "nbgrader_config.py").write_text(
        config
        + COURSE_CONFIG.format(
            root=str(ROOT),
            kernel=KERNEL_NAME,
            submission_timeout=int(submission_timeout),
            sockets_variable=SOCKETS_VARIABLE,
        )
    )
    kernel = course / ".jupyter" / "kernels" / KERNEL_NAME
    kernel.mkdir(parents=True)
    (kernel / "kernel.json").write_text(
        json.dumps(
            {
                "argv": [sys.executable, str(ROOT / "tools" / "sandbox.py"), "kernel", "-f", "{connection_file}"],
                "display_name": "Python 3 (grading sandbox)",
                "language": "python",
            }
        )
    )
    if _nbgrader(course, "generate_assignment", ASSIGNMENT, "--force", env={}, log=workdir / "release.log") != 0:
        raise GraderUnavailable(
            f"nbgrader generate_assignment failed:\n{(workdir / 'release.log').read_text()[-3000:]}"
        )
    return course, hidden


def check_sandbox(workdir: Path, hide: list[Path]) -> str:
    """Ask a confined process what it can reach; refuse to grade if it can read any secret. Returns its isolation."""
    targets = []
    for path in [*hide, ROOT / "tools", Path.home()]:
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


def fingerprint(job: GradingJob) -> str:
    """What a saved result was graded from: the submission, the course, the seed and the time limits."""
    settings = f"{job.version} {job.seed.value} {job.cell_timeout} {job.timeout}".encode()
    return hashlib.sha256(settings + b"\0" + job.notebook).hexdigest()[:16]


# --- on a worker: one grading course per process, copied for each submission ------------------------


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


def _readable_notebook(data: bytes) -> tuple[nbformat.NotebookNode | None, str]:
    try:
        return nbformat.reads(data.decode("utf-8"), as_version=4), ""
    except Exception as error:  # anything unreadable: the student's file, not our crash
        return None, f"not a readable notebook ({type(error).__name__}: {str(error)[:200]})"


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
        sandbox.HOME_VARIABLE: str(home),
        sandbox.HIDE_VARIABLE: os.pathsep.join(map(str, grader.hide)),
        sandbox.HAND_IN_VARIABLE: str(home / "hand-in"),
        sandbox.OUTPUT_VARIABLE: str(run / KERNEL_OUTPUT),
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
    status = _nbgrader(
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
        nb, result["problem"] = _readable_notebook(job.notebook)
        if nb is not None:
            try:
                result.update(_grade_notebook(attempt, grader, job, nb))
            except Exception as error:  # a submission the grader could not handle: its problem, not the batch's
                with open(log, "a") as out:
                    out.write("".join(traceback.format_exception(error)))
                result["problem"] = f"the grader could not grade this notebook ({type(error).__name__}; see the log)"
            if result["feedback"] is None:
                result["feedback"] = _problem_page(job.student_id, result["problem"])
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
    _nbgrader(course, "generate_feedback", ASSIGNMENT, f"--student={job.student_id}", "--force", env={}, log=log)
    page = course / "feedback" / job.student_id / ASSIGNMENT / f"{ASSIGNMENT}.html"
    graded["feedback"] = page.read_text(errors="replace") if page.exists() else None
    return graded


def _problem_page(student_id: str, problem: str) -> str:
    """A feedback page for a notebook nbgrader gave none for: what went wrong, in plain words."""
    return (
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>Feedback: {html.escape(student_id)}</title></head>"
        f"<body><h1>{ASSIGNMENT}</h1><p>Your notebook could not be graded automatically: "
        f"{html.escape(problem or 'nbgrader made no feedback for it')}. Your instructor has the details.</p>"
        "</body></html>"
    )


def secret_forms(seed: int, hidden: dict[str, str], public: str = "") -> dict[str, str]:
    """The seed and the hidden tests in the forms a feedback page is checked for: ``form -> what it is``.

    A line of a hidden test that is also in ``public`` (the release, where an assert can repeat a
    visible one) is no secret.
    """
    forms = {}
    kept = [(str(seed), "the seed"), *((code, f"the hidden tests of {cell}") for cell, code in hidden.items())]
    for text, what in kept:
        raw = text.encode()
        forms[text] = what
        forms[text[::-1]] = f"{what}, reversed"
        for shift in range(3):
            # base64 of the text wherever it starts in an encoded stream: the groups it alone decides
            encoded = base64.b64encode(b"\0" * shift + raw).decode()[4 if shift else 0 : -4]
            for form in (encoded, encoded.replace("+", "-").replace("/", "_")):
                if len(form) >= 8:
                    forms[form] = f"{what}, base64"
        for line in text.splitlines():
            if len(line.strip()) >= 24 and line.strip() not in public:
                forms[line.strip()] = f"a line of {what}"
    return forms


def leaks(page: str, forms: dict[str, str]) -> list[str]:
    """What of the grader's secrets ``page`` holds: in its text, with HTML entities decoded, or encoded.

    Runs of hex, base64 and base85 in the page are decoded, and what decodes is also inflated
    (zlib, gzip or raw deflate): a submission that found a secret cannot print it hex- or
    base85-encoded, compressed or not.
    """
    texts = [page, html.unescape(page), *_decoded(page)]
    return sorted({what for form, what in forms.items() if any(form in text for text in texts)})


ENCODED_RUNS = (  # (pattern, decoder, characters a group of it encodes: where a run may start)
    (re.compile(r"[0-9a-fA-F]{16,}"), bytes.fromhex, 2),
    (re.compile(r"[A-Za-z0-9+/]{16,}"), base64.b64decode, 4),
    (re.compile(r"[A-Za-z0-9_-]{16,}"), base64.urlsafe_b64decode, 4),
    (re.compile(r"[0-9A-Za-z!#$%&()*+;<=>?@^_`{|}~-]{15,}"), base64.b85decode, 5),
)
MAX_INFLATED_BYTES = 16 << 20


def _decoded(text: str):
    """The texts that runs of hex, base64 or base85 in ``text`` decode to, and their inflated forms.

    Runs are read in the page's text between tags (base85's alphabet holds ``<`` and ``>``), from
    each place a group could start (a run may begin with a character that only looks encoded).
    """
    nodes = [html.unescape(node) for node in re.findall(r">([^<]+)<", text)] or [text]
    for pattern, decode, group in ENCODED_RUNS:
        for run in (run for node in nodes for run in pattern.findall(node)):
            for start in range(group):
                part = run[start:]
                part = part[: len(part) // group * group]
                try:
                    raw = decode(part)
                except ValueError:
                    continue
                yield raw.decode("latin-1")
                for wbits in (zlib.MAX_WBITS | 32, -zlib.MAX_WBITS):  # zlib or gzip header; raw deflate
                    try:
                        yield zlib.decompressobj(wbits).decompress(raw, MAX_INFLATED_BYTES).decode("latin-1")
                    except zlib.error:
                        pass


ACTIVE_URL = re.compile(
    r"""(\s(?:href|src|action|formaction|xlink:href|poster|background)\s*=\s*)("[^"]*"|'[^']*'|[^\s>]+)""",
    re.IGNORECASE,
)


def _inert_url(match: re.Match) -> str:
    """A link or source attribute, or ``"#"`` for a URL that runs code (javascript:, vbscript:, data:)."""
    url = re.sub(r"[\x00-\x20]", "", html.unescape(match.group(2).strip("\"'"))).lower()
    if url.startswith(("javascript:", "vbscript:")) or (
        url.startswith("data:") and not re.match(r"data:image/(png|jpeg|gif|webp)[;,]", url)
    ):
        return f'{match.group(1)}"#"'
    return match.group(0)


def inert(page: str) -> str:
    """A feedback page with a Content-Security-Policy that blocks every script, frame and remote load.

    Links to ``javascript:``, ``vbscript:`` and ``data:`` URLs (a student's markdown can write
    them) become ``#``, so the page holds no live code even where the policy is not enforced.
    """
    page = ACTIVE_URL.sub(_inert_url, page)
    meta = f'<meta http-equiv="Content-Security-Policy" content="{CONTENT_SECURITY_POLICY}">'
    head = re.search(r"<head[^>]*>", page, re.IGNORECASE)
    return page[: head.end()] + meta + page[head.end() :] if head else meta + page


# --- on the instructor's machine: what to grade, where, and the merge into <out> -------------------


def write_grades(grades: list[Grade], out: Path) -> None:
    """``grades.csv`` (one row per student) and ``scores_by_cell.csv`` (one row per graded cell)."""
    for name, header, rows in (
        ("grades.csv", ["student_id", "score", "max_score"], ([g.student_id, g.score, g.max_score] for g in grades)),
        (
            "scores_by_cell.csv",
            ["student_id", "cell", "score", "max_score"],
            ([g.student_id, cell, *points] for g in grades for cell, points in g.by_cell.items()),
        ),
    ):
        partial = out / f".{name}.partial"
        with open(partial, "w", newline="") as file:
            writer = csv.writer(file)
            writer.writerow(header)
            writer.writerows([f"{v:g}" if isinstance(v, float) else v for v in row] for row in rows)
        partial.replace(out / name)  # a batch stopped at any moment leaves whole tables


def private(out: Path) -> None:
    """``out`` and everything in it readable by the grader only."""
    out.chmod(0o700)
    for path in out.rglob("*"):
        if not path.is_symlink():
            path.chmod(0o700 if path.is_dir() else 0o600)


class Results:
    """``<out>``: each result saved as it arrives, checked for the grader's secrets, and the tables kept whole."""

    def __init__(self, out: Path, submissions: list[Submission], forms: dict[str, str]) -> None:
        self.out, self.forms = out, forms
        self.order = [s.student_id for s in submissions]
        for folder in ("logs", "feedback", "results"):
            (out / folder).mkdir(parents=True, exist_ok=True)
        private(out)
        self.saved: dict[str, dict] = {}
        for student_id in self.order:
            path = out / "results" / f"{student_id}.json"
            if path.exists():
                try:
                    self.saved[student_id] = json.loads(path.read_text())
                except ValueError:
                    pass  # half-written by a stopped batch: graded again

    def record(self, result: dict) -> Grade:
        """Save one result: its feedback page (inert, bounded, or withheld), its log and its scores."""
        result = dict(result)
        student_id = result["student_id"]
        feedback, log = result.pop("feedback", None), result.pop("log", "")
        page = self.out / "feedback" / f"{student_id}.html"
        if feedback is None:
            page.unlink(missing_ok=True)
        else:
            found = leaks(feedback, self.forms)
            if found:
                feedback = (
                    "<!DOCTYPE html><title>Feedback withheld</title><p>This feedback page was withheld: it held "
                    "what the grader keeps secret. Your instructor has your score.</p>"
                )
                problem = result.get("problem", "")
                result["problem"] = (problem + "; " if problem else "") + f"feedback withheld ({', '.join(found)})"
            elif len(feedback.encode()) > MAX_FEEDBACK_BYTES:
                feedback = feedback[: MAX_FEEDBACK_BYTES // 2] + "<p>[the rest of this page was cut by the grader]</p>"
            page.write_text(inert(feedback))
        (self.out / "logs" / f"{student_id}.txt").write_text(log)
        partial = self.out / "results" / f".{student_id}.json.partial"
        partial.write_text(json.dumps(result, indent=1))
        partial.replace(self.out / "results" / f"{student_id}.json")
        self.saved[student_id] = result
        self.write_tables()
        return Grade.from_result(result)

    def grades(self) -> list[Grade]:
        return [Grade.from_result(self.saved[s]) for s in self.order if s in self.saved]

    def write_tables(self) -> None:
        write_grades(self.grades(), self.out)


def release_max_score() -> float:
    """The assignment's points, as the release's nbgrader metadata gives them."""
    release = nbformat.read(RELEASE, as_version=4)
    return float(sum(c.metadata.get("nbgrader", {}).get("points", 0) for c in release.cells))


def failed(job: GradingJob, reason: str) -> dict:
    """The result of a submission that could not be graded: no points, and why."""
    return {
        "student_id": job.student_id,
        "score": 0.0,
        "max_score": release_max_score(),
        "by_cell": {},
        "problem": reason,
        "failed": True,
    }


def local_workers() -> tuple[int, str]:
    """How many submissions this machine grades at once, and why: a core and ``KERNEL_MEMORY`` each."""
    import psutil

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    available = psutil.virtual_memory().available
    workers = max(1, min(cores, available // KERNEL_MEMORY))
    why = f"{cores} cores, {available / 2**30:.1f} GB free, {KERNEL_MEMORY / 2**30:.1f} GB per grading kernel"
    return workers, why


OnResult = Callable[[GradingJob, "dict | BaseException"], None]


def grade_here(jobs: list[GradingJob], on_result: OnResult) -> None:
    """Grade one submission after another in this process (``--jobs 1``)."""
    for job in jobs:
        try:
            result = grade(job)
        except GraderUnavailable:
            raise
        except Exception as error:  # a bug of the grader: report it, grade the rest
            result = error
        on_result(job, result)


def grade_on_dask(jobs: list[GradingJob], on_result: OnResult, *, scheduler: str | None, workers: int) -> None:
    """Grade on Dask: a local cluster of ``workers`` processes, or the one behind ``scheduler``.

    When a worker dies, the scheduler grades its submission again elsewhere, and gives up on a
    submission after its second dead worker (``KilledWorker``). The scheduler also blames the
    submissions waiting on that worker, which never ran there: so each start is announced (an event
    under the batch's topic), and only a submission that had started twice when its workers died is
    reported as failed; the others are sent again. No more tasks are in flight than the cluster has
    threads, so few wait.
    """
    import dask
    from distributed import Client, KilledWorker, LocalCluster, as_completed

    cluster = None
    # allowed-failures is read by the scheduler: it holds for the local cluster made here; an existing
    # scheduler has its own (README: "Grading a whole class").
    with dask.config.set({"distributed.scheduler.allowed-failures": 1}):
        if scheduler:
            client = Client(scheduler, timeout="60s")
        else:
            cluster = LocalCluster(
                n_workers=workers,
                threads_per_worker=1,
                processes=True,
                memory_limit=0,  # the grading kernels are the workers' children: their memory is not counted
                dashboard_address=None,
                host="127.0.0.1",
                silence_logs=logging.ERROR,
            )
            client = Client(cluster)
    queue, in_flight = list(jobs), {}
    starts: Counter[str] = Counter()  # per student: gradings begun (their workers died, but for the last)
    sent_again: Counter[str] = Counter()
    finished = as_completed()
    try:
        if scheduler:
            retries = client.run_on_scheduler(_allowed_failures)
            if retries != 1:
                print(
                    f"Note: this scheduler grades a submission again after up to {retries} worker deaths; "
                    "start it with DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES=1 to give up after the second."
                )

        def count_start(event: tuple[float, dict]) -> None:
            starts[event[1]["student_id"]] += 1

        if jobs:
            client.subscribe_topic(jobs[0].batch, count_start)

        def submit_more() -> None:
            threads = max(1, sum(client.nthreads().values()))
            while queue and len(in_flight) < threads:
                job = queue.pop(0)
                future = client.submit(grade, job, key=f"grade-{job.student_id}-{uuid.uuid4().hex[:8]}", pure=False)
                in_flight[future] = job
                finished.add(future)

        submit_more()
        for future in finished:
            job = in_flight.pop(future)
            try:
                result = future.result()
            except KilledWorker as error:
                if starts[job.student_id] < 2 and sent_again[job.student_id] < 3:
                    sent_again[job.student_id] += 1
                    queue.insert(0, job)  # blamed for a death while it waited: it never ran twice
                    submit_more()
                    continue
                result = failed(
                    job,
                    f"its grading was stopped twice by the death of its worker (killed, or out of memory): {error}",
                )
            except GraderUnavailable:
                raise
            except Exception as error:
                result = error
            on_result(job, result)
            submit_more()
    finally:
        if in_flight:
            client.cancel(list(in_flight), force=True)
        client.close()
        if cluster is not None:
            cluster.close()


def _allowed_failures(dask_scheduler) -> int:
    return int(dask_scheduler.allowed_failures)


def _read_submission(path: Path) -> bytes:
    descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    with os.fdopen(descriptor, "rb") as file:
        return file.read(MAX_SUBMISSION_BYTES + 1)


def autograde(
    folder: Path,
    out: Path,
    *,
    jobs: int | None = None,
    scheduler: str | None = None,
    students: tuple[str, ...] = (),
    regrade: bool = False,
    cell_timeout: int | None = None,
    timeout: float = 900,
    keep: bool = False,
) -> list[Grade]:
    """Grade the submissions in ``folder`` not yet graded in ``out``; write grades, feedback and logs there.

    Parameters
    ----------
    folder : Path
        ``<student_id>.ipynb`` files or ``<student_id>/sunglasses_vs_hat.ipynb`` folders.
    out : Path
        Where results go; what it already holds for an unchanged submission is kept.
    jobs : int, optional
        Submissions graded at once on a local Dask cluster; 1 grades in this process. Default: as
        many as the machine has cores and memory for (:func:`local_workers`).
    scheduler : str, optional
        Address of an existing Dask scheduler (``tcp://host:8786``) to grade on instead.
    students : tuple of str
        Grade only these students (again, even if unchanged).
    regrade : bool
        Grade every submission again.
    cell_timeout, timeout : number
        Seconds one cell and one submission may run.
    keep : bool
        Keep each submission's grading course (with ``jobs=1``, to inspect it).
    """
    submissions, skipped = find_submissions(folder)
    for line in skipped:
        print(f"Skipped: {line}")
    unknown = sorted(set(students) - {s.student_id for s in submissions})
    if unknown:
        raise SystemExit(
            f"No submission of {', '.join(unknown)} in {folder}. Its students: "
            f"{', '.join(s.student_id for s in submissions[:10])}{' ...' if len(submissions) > 10 else ''}"
        )
    seed = Secret(grading_seed())
    os.environ.pop(SEED_VARIABLE, None)  # workers started from here must not inherit it
    hidden = hidden_tests.split_hidden_tests(
        nbformat.read(ROOT / "solutions" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", as_version=4).cells
    )
    public = "\n".join(cell.source for cell in nbformat.read(RELEASE, as_version=4).cells)
    previous_umask = os.umask(0o077)  # everything the grader writes stays the grader's
    try:
        results = Results(out, submissions, secret_forms(seed.value, hidden, public))
        todo, batch = [], f"autograde-{uuid.uuid4().hex}"
        for submission in submissions:
            if students and submission.student_id not in students:
                continue
            job = GradingJob(
                submission.student_id,
                _read_submission(submission.notebook),
                seed,
                course_version(),
                cell_timeout,
                timeout,
                hide=tuple(str(p.resolve()) for p in (folder, out)),
                keep=keep,
                batch=batch,
            )
            saved = results.saved.get(submission.student_id, {})
            if regrade or students or saved.get("fingerprint") != fingerprint(job):
                todo.append(job)
        kept = len(results.saved) - sum(job.student_id in results.saved for job in todo)
        return _grade_batch(todo, results, kept=kept, jobs=jobs, scheduler=scheduler)
    finally:
        os.umask(previous_umask)
        private(out)


def _grade_batch(
    todo: list[GradingJob], results: Results, *, kept: int, jobs: int | None, scheduler: str | None
) -> list[Grade]:
    """Grade ``todo``, saving each result as it comes; print each, a summary, and where everything is."""
    from tqdm.auto import tqdm

    if scheduler:
        where = f"on the Dask cluster at {scheduler}"
    else:
        if jobs is None:
            jobs, why = local_workers()
            jobs = min(jobs, max(1, len(todo)))
            where = f"on {jobs} local workers ({why})" if jobs > 1 else "in this process"
        else:
            where = f"on {jobs} local workers" if jobs > 1 else "in this process"
    print(
        f"{len(todo)} to grade {where}; {kept} already graded and unchanged, kept"
        + (" (--regrade grades them again)." if kept else ".")
    )
    graded, errors, isolations = [], {}, set()
    progress = tqdm(total=len(todo), unit="submission", disable=None, smoothing=0)
    started = time.perf_counter()

    def on_result(job: GradingJob, result: dict | BaseException) -> None:
        if isinstance(result, BaseException):
            errors[job.student_id] = f"{type(result).__name__}: {result}"
            progress.write(f"{job.student_id}: not graded, the grader failed ({errors[job.student_id]})")
        else:
            result["fingerprint"], result["graded_at"] = fingerprint(job), time.strftime("%Y-%m-%dT%H:%M:%S")
            grade_ = results.record(result)
            graded.append(grade_)
            if result.get("isolation") and result["isolation"] not in isolations:
                isolations.add(result["isolation"])
                progress.write(f"Submissions run in a sandbox: {result['isolation']}.")
            note = f"   ({grade_.problem})" if grade_.problem else ""
            if result.get("kept"):
                note += f"   (its grading course: {result['kept']})"
            progress.write(
                f"{grade_.student_id}: {grade_.score:g} / {grade_.max_score:g} in {grade_.seconds:.0f} s{note}"
            )
        progress.update()

    interrupted = False
    try:
        if todo and (scheduler or jobs > 1):
            grade_on_dask(todo, on_result, scheduler=scheduler, workers=jobs)
        else:
            grade_here(todo, on_result)
    except KeyboardInterrupt:
        interrupted = True
    except GraderUnavailable as error:
        raise SystemExit(str(error)) from None
    finally:
        progress.close()
        results.write_tables()
    _summary(results, graded, errors, kept=kept, seconds=time.perf_counter() - started, left=len(todo) - len(graded))
    if interrupted:
        raise KeyboardInterrupt
    if errors:
        raise SystemExit(1)
    return results.grades()


def _summary(results: Results, graded: list[Grade], errors: dict[str, str], *, kept: int, seconds: float, left: int):
    grades = results.grades()
    if grades:
        width = max(len(g.student_id) for g in grades)
        print()
        for grade_ in grades:
            note = f"   ({grade_.problem})" if grade_.problem else ""
            print(f"{grade_.student_id:<{width}}  {grade_.score:g} / {grade_.max_score:g}{note}")
    failures = [g for g in graded if results.saved[g.student_id].get("failed")]
    print(
        f"\nThis run: {len(graded)} graded in {seconds:.0f} s ({len(failures)} failed), {kept} kept from before, "
        f"{len(errors)} not graded (the grader failed)" + (f", {left - len(errors)} left" if left > len(errors) else "")
    )
    timed = [g for g in graded if g.seconds]
    if timed:
        slowest = max(timed, key=lambda g: g.seconds)
        print(
            f"Per submission: {sum(g.seconds for g in timed) / len(timed):.0f} s on average; slowest "
            f"{slowest.student_id}, {slowest.seconds:.0f} s ({slowest.worker})."
        )
    if left > len(errors):
        print("Stopped before the end: run the same command again to grade the rest (what is graded is kept).")
    out = results.out
    print(
        f"Grades: {out / 'grades.csv'}\nFeedback: {out / 'feedback'}\nLogs: {out / 'logs'}\n"
        "The written reflection is graded by hand (nbgrader formgrader); its points are not in the score yet."
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.autograde", description=__doc__.split("\n\n")[0])
    parser.add_argument("submissions", type=Path, help="folder of <student_id>.ipynb or <student_id>/ folders")
    parser.add_argument("--out", type=Path, default=ROOT / "graded", help="where grades and feedback go")
    parser.add_argument(
        "--jobs", type=int, default=None, help="submissions graded at once here (default: what cores and memory allow)"
    )
    parser.add_argument("--scheduler", default=None, help="grade on an existing Dask cluster: tcp://host:8786")
    parser.add_argument("--student", action="append", default=[], help="grade this student again (repeatable)")
    parser.add_argument("--regrade", action="store_true", help="grade every submission again, changed or not")
    parser.add_argument(
        "--cell-timeout",
        type=int,
        default=None,
        help="seconds one cell may run (default: c.Execute.timeout of nbgrader_config.py)",
    )
    parser.add_argument("--timeout", type=float, default=900, help="seconds one submission may take in all")
    parser.add_argument("--keep", action="store_true", help="keep each grading course to inspect it (with --jobs 1)")
    args = parser.parse_args(argv)
    if args.jobs is not None and args.jobs < 1:
        parser.error(f"--jobs {args.jobs}: give 1 or more (1 grades one submission after another, here)")
    try:
        autograde(
            args.submissions,
            args.out,
            jobs=args.jobs,
            scheduler=args.scheduler,
            students=tuple(args.student),
            regrade=args.regrade,
            cell_timeout=args.cell_timeout,
            timeout=args.timeout,
            keep=args.keep,
        )
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    # Run as tools.autograde, not __main__: Dask sends grade() and GradingJob to workers by their module's name.
    from tools import autograde as _module

    raise SystemExit(_module.main())
