"""Autograde a folder of submitted exercise notebooks with nbgrader, offline, in a throwaway course.

    make autograde SUBMISSIONS=path/to/folder          # or:
    python -m tools.autograde path/to/folder [--out graded] [--cell-timeout 300]

``folder`` holds one notebook per student: ``<student_id>.ipynb`` or
``<student_id>/sunglasses_vs_hat.ipynb``. Writes ``<out>/grades.csv`` (``student_id``, ``score``,
``max_score``), ``<out>/scores_by_cell.csv``, ``<out>/feedback/<student_id>.html`` and
``<out>/logs/<student_id>.txt``, readable by the grader only.

How it keeps grading fair and the grader safe (README: "Grading safely"):

- Every run grades in a fresh temporary course with its own gradebook, made from ``solutions/``
  with the hidden tests taken out (tools/hidden_tests.py): they run after the notebook, outside
  the student's kernel, on what its test cells handed in, with the instructor's secret seed
  (``$GRADING_SEED`` or ``.grading_seed``, made once, readable by its owner only). Neither the
  seed nor the hidden tests ever reach the kernel, the gradebook or the feedback.
- Every submission runs in a kernel of its own confined by bubblewrap (tools/sandbox.py): a
  fresh home no other submission sees, its own PID namespace (nothing outlives it), no network,
  an unprivileged user; its nbgrader metadata is restored from the release first.
- One submission cannot spoil the batch: a kernel that dies or runs out of time keeps the points
  earned before it (tools/preprocessors.py), and whatever goes wrong is reported.
- Feedback pages are bounded in size, inert (student HTML sanitized, scripts blocked by a
  Content-Security-Policy) and checked for the seed and the hidden tests before they are written.
"""

from __future__ import annotations

import argparse
import base64
import copy
import csv
import html
import json
import os
import re
import secrets
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
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
    """
    released = {
        cell.metadata["nbgrader"]["grade_id"]: cell.metadata["nbgrader"]
        for cell in release.cells
        if "nbgrader" in cell.metadata
    }
    changed, seen = [], set()
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader")
        if meta is None:
            continue
        grade_id = meta.get("grade_id") if isinstance(meta, dict) else None
        if grade_id in released and grade_id not in seen:
            seen.add(grade_id)
            if meta != released[grade_id]:
                changed.append(str(grade_id))
                cell.metadata["nbgrader"] = copy.deepcopy(released[grade_id])
        else:
            changed.append(f"{grade_id!r} (not in the release)")
            del cell.metadata["nbgrader"]
    return changed


def _nbgrader(
    course: Path, *args: str, env: dict[str, str], log: Path | None = None, timeout: float | None = None
) -> int | None:
    """Run one nbgrader command in ``course``; return its exit status (``None`` when it timed out)."""
    env = dict(
        os.environ,
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        JUPYTER_PATH=str(course / ".jupyter"),
        **env,
    )
    env.pop(SEED_VARIABLE, None)
    with open(log or os.devnull, "a") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "nbgrader", *args],
            cwd=course,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            return process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            return None


def secret_paths(workdir: Path, out: Path, submissions: Path) -> list[Path]:
    """What no submission may see, beyond what tools/sandbox.py always covers."""
    return [workdir, ROOT / "solutions", ROOT / ".git", SEED_FILE, out.resolve(), submissions.resolve()]


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
        raise SystemExit(f"{notebook.relative_to(course)}: {error}") from None
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
        raise SystemExit(f"nbgrader generate_assignment failed:\n{(workdir / 'release.log').read_text()[-3000:]}")
    return course, hidden


def _readable_notebook(path: Path) -> tuple[nbformat.NotebookNode | None, str]:
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
        with os.fdopen(descriptor) as file:
            return nbformat.read(file, as_version=4), ""
    except Exception as error:  # anything unreadable: the student's file, not our crash
        return None, f"not a readable notebook ({type(error).__name__}: {str(error)[:200]})"


def grade_submission(
    course: Path,
    workdir: Path,
    hidden: dict[str, str],
    submission: Submission,
    logs: Path,
    *,
    release: nbformat.NotebookNode,
    hide: list[Path],
    cell_timeout: int | None,
    timeout: float,
) -> str:
    """Autograde one submission in its own nbgrader run and sandbox; return what went wrong ('' if nothing)."""
    nb, problem = _readable_notebook(submission.notebook)
    if nb is None:
        return problem
    log = logs / f"{submission.student_id}.txt"
    restored = restore_metadata(nb, release)
    if restored:
        with open(log, "a") as out:
            out.write(f"nbgrader metadata restored from the release for: {', '.join(restored)}\n")
    target = course / "submitted" / submission.student_id / ASSIGNMENT
    target.mkdir(parents=True)
    nbformat.write(nb, target / f"{ASSIGNMENT}.ipynb")
    run = workdir / "runs" / submission.student_id
    run.mkdir(parents=True, mode=0o700)
    home, sockets = sandbox.make_home(run / "home"), sandbox.make_home(run / "sockets")
    runtime = run / "runtime"
    runtime.mkdir(mode=0o700)
    job = run / "job.json"
    job.write_text(
        json.dumps(
            {
                "hidden": hidden,
                "seed_file": str(workdir / "seed"),
                "hand_in": str(home / "hand-in"),
                "scratch": str(run),
            }
        )
    )
    env = {
        sandbox.HOME_VARIABLE: str(home),
        sandbox.HIDE_VARIABLE: os.pathsep.join(map(str, hide)),
        sandbox.HAND_IN_VARIABLE: str(home / "hand-in"),
        SOCKETS_VARIABLE: str(sockets / "kernel"),
        JOB_VARIABLE: str(job),
        "JUPYTER_RUNTIME_DIR": str(runtime),
    }
    options = [f"--Execute.timeout={cell_timeout}", f"--TolerantExecute.timeout={cell_timeout}"] if cell_timeout else []
    try:
        # nbgrader's own deadline is the notebook's plus time for the hidden tests; this one is the last resort
        status = _nbgrader(
            course,
            "autograde",
            ASSIGNMENT,
            f"--student={submission.student_id}",
            "--force",
            *options,
            env=env,
            log=log,
            timeout=timeout + 900,
        )
    finally:
        shutil.rmtree(run, ignore_errors=True)  # nothing of one submission is left for the next
    if status is None:
        return f"stopped after {timeout + 900:.0f} s"
    if status != 0:
        return f"nbgrader could not grade it (exit status {status}; see {log})"
    return ""


def collect_grades(course: Path, submissions: list[Submission], problems: dict[str, str]) -> list[Grade]:
    from nbgrader.api import Gradebook, MissingEntry

    grades = []
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        max_score = gradebook.find_assignment(ASSIGNMENT).max_score
        for submission in submissions:
            grade = Grade(submission.student_id, 0.0, float(max_score), problems.get(submission.student_id, ""))
            try:
                graded = gradebook.find_submission(ASSIGNMENT, submission.student_id)
            except MissingEntry:
                graded = None
            if graded is not None:
                grade.score = float(graded.score)
                grade.by_cell = {
                    cell.name: (float(cell.score), float(cell.max_score))
                    for notebook in graded.notebooks
                    for cell in notebook.grades
                }
            grades.append(grade)
    return grades


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
    """What of the grader's secrets ``page`` holds (in its text or with HTML entities decoded)."""
    texts = (page, html.unescape(page))
    return sorted({what for form, what in forms.items() if any(form in text for text in texts)})


def inert(page: str) -> str:
    """A feedback page with a Content-Security-Policy that blocks every script, frame and remote load."""
    meta = f'<meta http-equiv="Content-Security-Policy" content="{CONTENT_SECURITY_POLICY}">'
    head = re.search(r"<head[^>]*>", page, re.IGNORECASE)
    return page[: head.end()] + meta + page[head.end() :] if head else meta + page


def write_feedback(course: Path, grades: list[Grade], out: Path, forms: dict[str, str]) -> None:
    _nbgrader(course, "generate_feedback", ASSIGNMENT, "--force", env={}, log=out / "logs" / "_feedback.txt")
    (out / "feedback").mkdir(exist_ok=True)
    for grade in grades:
        page = course / "feedback" / grade.student_id / ASSIGNMENT / f"{ASSIGNMENT}.html"
        if not page.exists():
            continue
        text = page.read_text(errors="replace")
        found = leaks(text, forms)
        if found:
            text = (
                "<!DOCTYPE html><title>Feedback withheld</title><p>This feedback page was withheld: it held "
                "what the grader keeps secret. Your instructor has your score.</p>"
            )
            grade.problem = (grade.problem + "; " if grade.problem else "") + f"feedback withheld ({', '.join(found)})"
        elif len(text.encode()) > MAX_FEEDBACK_BYTES:
            text = text[: MAX_FEEDBACK_BYTES // 2] + "<p>[the rest of this page was cut by the grader]</p>"
        (out / "feedback" / f"{grade.student_id}.html").write_text(inert(text))


def write_grades(grades: list[Grade], out: Path) -> None:
    """``grades.csv`` (one row per student) and ``scores_by_cell.csv`` (one row per graded cell)."""
    with open(out / "grades.csv", "w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["student_id", "score", "max_score"])
        for grade in grades:
            writer.writerow([grade.student_id, f"{grade.score:g}", f"{grade.max_score:g}"])
    with open(out / "scores_by_cell.csv", "w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["student_id", "cell", "score", "max_score"])
        for grade in grades:
            for cell, (score, max_score) in grade.by_cell.items():
                writer.writerow([grade.student_id, cell, f"{score:g}", f"{max_score:g}"])


def check_sandbox(workdir: Path, hide: list[Path]) -> str:
    """Ask a confined process what it can reach; stop if it can read any secret. Returns its isolation."""
    targets = []
    for path in [*hide, ROOT / "tools", Path.home()]:
        if path.is_file():
            targets.append(path)
        elif path.is_dir():  # a few files of each folder: the folders themselves hold the sandbox's mount points
            targets += [file for _, file in zip(range(5), (p for p in path.rglob("*") if p.is_file()), strict=False)]
    try:
        report = sandbox.probe([str(p) for p in targets], scratch=workdir, hide=tuple(hide))
    except sandbox.SandboxUnavailable as error:
        raise SystemExit(f"Not grading: {error}") from None
    if report["readable"]:
        raise SystemExit(
            f"A submission could read {report['readable']}: not grading. Grade in a container "
            "(README: 'Grading safely')."
        )
    return report["isolation"]


def private(out: Path) -> None:
    """``out`` and everything in it readable by the grader only."""
    out.chmod(0o700)
    for path in out.rglob("*"):
        if not path.is_symlink():
            path.chmod(0o700 if path.is_dir() else 0o600)


def autograde(
    folder: Path, out: Path, *, cell_timeout: int | None = None, timeout: float = 900, keep: bool = False
) -> list[Grade]:
    """Grade every submission in ``folder``; write grades.csv, feedback and logs to ``out``."""
    submissions, skipped = find_submissions(folder)
    for line in skipped:
        print(f"Skipped: {line}")
    seed = grading_seed()
    previous_umask = os.umask(0o077)  # everything the grader writes stays the grader's
    out.mkdir(parents=True, exist_ok=True)
    (out / "logs").mkdir(exist_ok=True)
    private(out)
    workdir = Path(tempfile.mkdtemp(prefix="autograde-"))
    hide = secret_paths(workdir, out, folder)
    try:
        print(f"Submissions run in a sandbox: {check_sandbox(workdir, hide)}.")
        course, hidden = make_course(workdir, seed, submission_timeout=timeout)
        release = nbformat.read(RELEASE, as_version=4)
        problems = {}
        for number, submission in enumerate(submissions, 1):
            print(f"[{number}/{len(submissions)}] grading {submission.student_id} ...", flush=True)
            problem = grade_submission(
                course,
                workdir,
                hidden,
                submission,
                out / "logs",
                release=release,
                hide=hide,
                cell_timeout=cell_timeout,
                timeout=timeout,
            )
            if problem:
                problems[submission.student_id] = problem
        grades = collect_grades(course, submissions, problems)
        public = "\n".join(cell.source for cell in release.cells)
        write_feedback(course, grades, out, secret_forms(seed, hidden, public))
        write_grades(grades, out)
        private(out)
    finally:
        os.umask(previous_umask)
        if keep:
            print(f"Kept the grading course in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    width = max(len(g.student_id) for g in grades)
    for grade in grades:
        note = f"   ({grade.problem})" if grade.problem else ""
        print(f"{grade.student_id:<{width}}  {grade.score:g} / {grade.max_score:g}{note}")
    print(
        f"\nGrades: {out / 'grades.csv'}\nFeedback: {out / 'feedback'}\nLogs: {out / 'logs'}\n"
        "The written reflection is graded by hand (nbgrader formgrader); its points are not in the score yet."
    )
    return grades


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.autograde", description=__doc__.split("\n\n")[0])
    parser.add_argument("submissions", type=Path, help="folder of <student_id>.ipynb or <student_id>/ folders")
    parser.add_argument("--out", type=Path, default=ROOT / "graded", help="where grades and feedback go")
    parser.add_argument(
        "--cell-timeout",
        type=int,
        default=None,
        help="seconds one cell may run (default: c.Execute.timeout of nbgrader_config.py)",
    )
    parser.add_argument("--timeout", type=float, default=900, help="seconds one submission may take in all")
    parser.add_argument("--keep", action="store_true", help="keep the temporary grading course to inspect it")
    args = parser.parse_args(argv)
    autograde(args.submissions, args.out, cell_timeout=args.cell_timeout, timeout=args.timeout, keep=args.keep)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
