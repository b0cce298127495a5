"""Autograde a folder of submitted exercise notebooks with nbgrader, offline, in a throwaway course.

    make autograde SUBMISSIONS=path/to/folder          # or:
    python -m tools.autograde path/to/folder [--out graded] [--cell-timeout 300]

``folder`` holds one notebook per student: ``<student_id>.ipynb`` or
``<student_id>/sunglasses_vs_hat.ipynb``. Writes ``<out>/grades.csv`` (``student_id``, ``score``,
``max_score``), ``<out>/scores_by_cell.csv``, ``<out>/feedback/<student_id>.html`` and
``<out>/logs/<student_id>.txt``.

How it keeps grading fair and the grader safe:

- Every run grades in a fresh temporary course directory with its own gradebook, made from
  ``solutions/`` with the instructor's secret seed written into the hidden tests (the seed is in
  ``$GRADING_SEED`` or in ``.grading_seed``, made once, readable by its owner only). Neither the
  seed nor the hidden tests are in ``exercises/``; feedback shows neither.
- Submissions run in a sandboxed kernel (tools/sandbox_kernel.py): as root, under an unprivileged
  user who cannot read the course source, the gradebook, the seed or other students' work.
- One submission cannot spoil the batch: each is graded in its own nbgrader run, with a time
  limit per cell and per submission; whatever goes wrong scores what its passing tests earned,
  and is reported.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from nbconvert.preprocessors import Preprocessor
from traitlets import Bool

ROOT = Path(__file__).resolve().parent.parent
ASSIGNMENT = "sunglasses_vs_hat"
SEED_FILE = ROOT / ".grading_seed"
SEED_VARIABLE = "GRADING_SEED"
# The line of each hidden test that holds the seed; in solutions/ it holds a placeholder seed.
SEED_LINE = re.compile(r"^(GRADING_SEED = )(\d+)(  # make autograde puts the instructor's secret seed here)$",
                       re.MULTILINE)
STUDENT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@+-]{0,63}")
KERNEL_NAME = "course-sandbox"


class BriefTracebacks(Preprocessor):
    """In feedback, a failed test shows its error and message, not the code around it.

    A traceback quotes the lines near the failure, and in a test cell those can be hidden tests.
    """

    enabled = Bool(True)  # nbconvert's preprocessors are off unless enabled

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type == "code" and cell.metadata.get("nbgrader", {}).get("grade"):
            for output in cell.get("outputs", []):
                if output.output_type == "error":
                    output.traceback = [f"{output.ename}: {output.evalue}"]
        return cell, resources


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


def find_submissions(folder: Path) -> tuple[list[Submission], list[str]]:
    """The submissions in ``folder``, and a sentence for everything in it that is not one."""
    if not folder.is_dir():
        raise SystemExit(f"{folder} is not a folder. Pass a folder holding <student_id>.ipynb files or "
                         f"<student_id>/{ASSIGNMENT}.ipynb folders.")
    submissions, problems, seen = [], [], set()
    for entry in sorted(folder.iterdir()):
        if entry.name.startswith("."):
            continue
        if entry.is_file() and entry.suffix == ".ipynb":
            student_id, notebook = entry.stem, entry
        elif entry.is_dir():
            student_id, notebook = entry.name, entry / f"{ASSIGNMENT}.ipynb"
            if not notebook.is_file():
                problems.append(f"{entry}/ holds no {ASSIGNMENT}.ipynb: skipped")
                continue
        else:
            problems.append(f"{entry}: not a notebook (.ipynb) nor a student folder: skipped")
            continue
        if not STUDENT_ID.fullmatch(student_id):
            problems.append(f"{entry}: {student_id!r} is not a usable student id (letters, digits, _.@+-): skipped")
        elif student_id in seen:
            problems.append(f"{entry}: a second submission of {student_id}: skipped")
        else:
            seen.add(student_id)
            submissions.append(Submission(student_id, notebook))
    if not submissions:
        raise SystemExit(f"No submissions in {folder}: expected <student_id>.ipynb files or "
                         f"<student_id>/{ASSIGNMENT}.ipynb folders.\n" + "\n".join(problems))
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


def _nbgrader(course: Path, *args: str, sandbox: dict[str, str], log: Path | None = None,
              timeout: float | None = None) -> int | None:
    """Run one nbgrader command in ``course``; return its exit status (``None`` when it timed out)."""
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
               JUPYTER_PATH=str(course / ".jupyter"), **sandbox)
    env.pop(SEED_VARIABLE, None)
    with open(log or os.devnull, "a") as out:
        process = subprocess.Popen([sys.executable, "-m", "nbgrader", *args], cwd=course, env=env, stdout=out,
                                   stderr=subprocess.STDOUT, start_new_session=True)
        try:
            return process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            return None


def sandbox_settings(workdir: Path, out: Path, submissions: Path) -> dict[str, str]:
    """Where kernels live, and what they must not see (see tools/sandbox_kernel.py)."""
    secret = [workdir / "course", ROOT / "solutions", ROOT / ".git", ROOT / "gradebook.db", SEED_FILE,
              out.resolve(), submissions.resolve()]
    return {"COURSE_SANDBOX_DIR": str(workdir / "scratch"),
            "COURSE_SANDBOX_HIDE": os.pathsep.join(str(p) for p in secret)}


def make_course(workdir: Path, seed: int, sandbox: dict[str, str]) -> Path:
    """A private nbgrader course in ``workdir``: the exercise's source with the seed, and its gradebook."""
    for folder in (workdir, workdir / "scratch"):
        folder.mkdir(exist_ok=True)
        folder.chmod(0o711)  # the sandbox user may pass through to its own home, and see nothing
    course = workdir / "course"
    course.mkdir(mode=0o700)
    source = course / "solutions" / ASSIGNMENT
    shutil.copytree(ROOT / "solutions" / ASSIGNMENT, source)
    notebook = source / f"{ASSIGNMENT}.ipynb"
    nb = nbformat.read(notebook, as_version=nbformat.NO_CONVERT)
    count = 0
    for cell in nb.cells:
        cell.source, n = SEED_LINE.subn(rf"\g<1>{seed}\g<3>", cell.source)
        count += n
    if count == 0:
        raise SystemExit(f"No hidden-test seed line in {notebook.relative_to(course)}; the hidden tests need "
                         f"one: GRADING_SEED = <number>  # make autograde puts the instructor's secret seed here")
    nbformat.write(nb, notebook)
    config = (ROOT / "nbgrader_config.py").read_text()
    (course / "nbgrader_config.py").write_text(config + f'''
# Grading copy (tools/autograde.py): the sandboxed kernel, and no hidden tests in the feedback.
import sys
from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor
from nbgrader.preprocessors import ClearHiddenTests, GetGrades

sys.path.insert(0, {str(ROOT)!r})
from tools.autograde import BriefTracebacks

c.Execute.kernel_name = "{KERNEL_NAME}"
c.GenerateFeedback.preprocessors = [GetGrades, ClearHiddenTests, BriefTracebacks, CSSHTMLHeaderPreprocessor]
''')
    kernel = course / ".jupyter" / "kernels" / KERNEL_NAME
    kernel.mkdir(parents=True)
    (kernel / "kernel.json").write_text(
        json.dumps({"argv": [sys.executable, str(ROOT / "tools" / "sandbox_kernel.py"), "-f", "{connection_file}"],
                    "display_name": "Python 3 (grading sandbox)", "language": "python"}))
    if _nbgrader(course, "generate_assignment", ASSIGNMENT, "--force", sandbox=sandbox,
                 log=workdir / "release.log") != 0:
        raise SystemExit(f"nbgrader generate_assignment failed:\n{(workdir / 'release.log').read_text()[-3000:]}")
    return course


def _readable_notebook(path: Path) -> str | None:
    try:
        nbformat.read(path, as_version=4)
    except Exception as error:  # anything unreadable: the student's file, not our crash
        return f"not a readable notebook ({type(error).__name__}: {str(error)[:200]})"
    return None


def grade_submission(course: Path, submission: Submission, logs: Path, *, sandbox: dict[str, str],
                     cell_timeout: int | None, timeout: float) -> str:
    """Autograde one submission in its own nbgrader run; return what went wrong ('' if nothing)."""
    problem = _readable_notebook(submission.notebook)
    if problem:
        return problem
    target = course / "submitted" / submission.student_id / ASSIGNMENT
    target.mkdir(parents=True)
    shutil.copyfile(submission.notebook, target / f"{ASSIGNMENT}.ipynb")
    log = logs / f"{submission.student_id}.txt"
    options = [f"--Execute.timeout={cell_timeout}"] if cell_timeout else []
    status = _nbgrader(course, "autograde", ASSIGNMENT, f"--student={submission.student_id}", "--force", *options,
                       sandbox=sandbox, log=log, timeout=timeout)
    if status is None:
        return f"stopped after {timeout:.0f} s (the time limit of one submission)"
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
                grade.by_cell = {cell.name: (float(cell.score), float(cell.max_score))
                                 for notebook in graded.notebooks for cell in notebook.grades}
            grades.append(grade)
    return grades


def write_feedback(course: Path, grades: list[Grade], out: Path, seed: int, sandbox: dict[str, str]) -> None:
    _nbgrader(course, "generate_feedback", ASSIGNMENT, "--force", sandbox=sandbox, log=out / "logs" / "_feedback.txt")
    (out / "feedback").mkdir(exist_ok=True)
    for grade in grades:
        html = course / "feedback" / grade.student_id / ASSIGNMENT / f"{ASSIGNMENT}.html"
        if html.exists():
            # A traceback can quote the line that holds the seed; it stays the grader's secret.
            text = html.read_text().replace(str(seed), "&lt;secret seed&gt;")
            (out / "feedback" / f"{grade.student_id}.html").write_text(text)


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


def check_sandbox(sandbox: dict[str, str]) -> str:
    """Ask a sandboxed process what it can reach; stop if it can read any secret. Returns its isolation."""
    probe = subprocess.run([sys.executable, str(ROOT / "tools" / "sandbox_kernel.py"), "--probe"],
                           capture_output=True, text=True, env=dict(os.environ, **sandbox))
    if probe.returncode != 0:
        raise SystemExit(f"The grading sandbox cannot run the course's Python ({sys.executable}):\n"
                         f"{probe.stderr[-1500:]}\nMake the repository and its .venv readable by others "
                         f"(chmod -R o+rX), or set COURSE_SANDBOX_USER to a user who can read them.")
    report = json.loads(probe.stdout.strip().splitlines()[-1])
    if os.geteuid() == 0 and report["readable"]:
        raise SystemExit(f"A submission could read {report['readable']}: not grading. Grade in a container "
                         "(README: 'Grading safely').")
    if os.geteuid() != 0:
        print("Note: not running as root, so submissions run with your own rights and could read your files. "
              "Grade in a container or as a separate user with no network (README: 'Grading safely').")
    return report["isolation"]


def autograde(folder: Path, out: Path, *, cell_timeout: int | None = None, timeout: float = 900,
              keep: bool = False) -> list[Grade]:
    """Grade every submission in ``folder``; write grades.csv, feedback and logs to ``out``."""
    submissions, skipped = find_submissions(folder)
    for line in skipped:
        print(f"Skipped: {line}")
    seed = grading_seed()
    out.mkdir(parents=True, exist_ok=True)
    (out / "logs").mkdir(exist_ok=True)
    previous_umask = os.umask(0o077)  # everything the grader writes stays the grader's
    workdir = Path(tempfile.mkdtemp(prefix="autograde-"))
    sandbox = sandbox_settings(workdir, out, folder)
    try:
        course = make_course(workdir, seed, sandbox)
        print(f"Submissions run in a sandbox: {check_sandbox(sandbox)}.")
        problems = {}
        for number, submission in enumerate(submissions, 1):
            print(f"[{number}/{len(submissions)}] grading {submission.student_id} ...", flush=True)
            problem = grade_submission(course, submission, out / "logs", sandbox=sandbox,
                                       cell_timeout=cell_timeout, timeout=timeout)
            if problem:
                problems[submission.student_id] = problem
            for home in (workdir / "scratch").iterdir():  # nothing of one kernel is left for the next
                shutil.rmtree(home, ignore_errors=True)
        grades = collect_grades(course, submissions, problems)
        write_feedback(course, grades, out, seed, sandbox)
    finally:
        os.umask(previous_umask)
        if keep:
            print(f"Kept the grading course in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    write_grades(grades, out)
    width = max(len(g.student_id) for g in grades)
    for grade in grades:
        note = f"   ({grade.problem})" if grade.problem else ""
        print(f"{grade.student_id:<{width}}  {grade.score:g} / {grade.max_score:g}{note}")
    print(f"\nGrades: {out / 'grades.csv'}\nFeedback: {out / 'feedback'}\nLogs: {out / 'logs'}\n"
          "The written reflection is graded by hand (nbgrader formgrader); its points are not in the score yet.")
    return grades


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.autograde", description=__doc__.split("\n\n")[0])
    parser.add_argument("submissions", type=Path, help="folder of <student_id>.ipynb or <student_id>/ folders")
    parser.add_argument("--out", type=Path, default=ROOT / "graded", help="where grades and feedback go")
    parser.add_argument("--cell-timeout", type=int, default=None,
                        help="seconds one cell may run (default: c.Execute.timeout of nbgrader_config.py)")
    parser.add_argument("--timeout", type=float, default=900, help="seconds one submission may take in all")
    parser.add_argument("--keep", action="store_true", help="keep the temporary grading course to inspect it")
    args = parser.parse_args(argv)
    autograde(args.submissions, args.out, cell_timeout=args.cell_timeout, timeout=args.timeout, keep=args.keep)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
