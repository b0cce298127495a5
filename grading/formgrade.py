"""Hand-grading in nbgrader's formgrader: the class's autograded notebooks gathered into one course that persists.

    make formgrade [GRADED=graded]        # gather, then open formgrader (make lab-instructor's configuration)
    python -m grading.formgrade [--graded graded] [--no-open] [JupyterLab's options]

``make autograde`` grades each submission in a throwaway nbgrader course, so formgrader never
saw them. This command gathers what autograding kept (``graded/autograded/<id>.ipynb`` and
``graded/results/<id>.json``) into one nbgrader course in ``graded/formgrade/``, with its own
gradebook: each student's notebook as graded, and the automatic scores as the grader gave them
(nothing runs again). Formgrader then lists every reflection to read and score.

Run it again after any ``make autograde``: new and regraded submissions come in, and every score
given by hand stays. When a regraded submission's reflection changed after it was scored, the
score stays and the command says so (``graded/formgrade/changed.json``, and ``make grades``' notes),
for a second look; scoring it again in formgrader clears the note.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import nbformat

from grading.course import GraderUnavailable, run_nbgrader
from grading.protocol import ASSIGNMENT, RELEASE, ROOT
from grading.results import load_results, private

COURSE = "formgrade"


def manual_cells(release: Path = RELEASE) -> dict[str, float]:
    """The cells graded by hand (nbgrader's "manually graded answer"), with their points."""
    nb = nbformat.read(release, as_version=4)
    cells = (c.metadata.get("nbgrader", {}) for c in nb.cells)
    return {m["grade_id"]: float(m["points"]) for m in cells if m.get("grade") and m.get("solution")}


def _reflection_digests(nb: nbformat.NotebookNode, by_hand: set[str]) -> dict[str, str]:
    """A digest of each hand-graded cell's text, to notice a reflection that changed after it was scored."""
    return {
        cell.metadata["nbgrader"]["grade_id"]: hashlib.sha256(cell.source.encode()).hexdigest()
        for cell in nb.cells
        if cell.metadata.get("nbgrader", {}).get("grade_id") in by_hand
    }


def make_course(course: Path) -> None:
    """``course``: an nbgrader course of the exercise (its source without hidden tests), its gradebook made."""
    from grading import hidden_tests

    source = course / "source" / ASSIGNMENT
    source.mkdir(parents=True)
    shutil.copy(ROOT / "solutions" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", source)
    notebook = source / f"{ASSIGNMENT}.ipynb"
    nb = nbformat.read(notebook, as_version=nbformat.NO_CONVERT)
    hidden_tests.split_hidden_tests(nb.cells)  # the graded notebooks never had them
    nbformat.write(nb, notebook)
    (course / "nbgrader_config.py").write_text(
        "c = get_config()  # noqa: F821\n"
        "# Hand-grading of the exercise (make formgrade): the notebooks as make autograde graded them.\n"
        f"c.CourseDirectory.root = {str(course)!r}\n"
        'c.CourseDirectory.source_directory = "source"\n'
        'c.CourseDirectory.release_directory = "release"\n'
    )
    log = course / "make-course.log"
    if run_nbgrader(course, "generate_assignment", ASSIGNMENT, "--force", env={}, log=log) != 0:
        raise GraderUnavailable(f"nbgrader generate_assignment failed:\n{log.read_text()[-3000:]}")


def gather(graded: Path) -> dict[str, list[str]]:
    """Bring every autograded submission in ``graded`` into ``graded/formgrade``; return what happened.

    Returns ``{"added": [...], "updated": [...], "changed": [...], "missing": [...]}``: new
    students, students graded again, those whose reflection changed under a score given by hand,
    and results with no graded notebook (a submission nbgrader could not grade).
    """
    from nbgrader.api import Gradebook, MissingEntry
    from sqlalchemy.exc import SAWarning

    results = load_results(graded)  # first: with nothing graded yet, it says what to run and nothing is made
    course = graded / COURSE
    if not (course / "gradebook.db").exists():
        shutil.rmtree(course, ignore_errors=True)
        make_course(course)
    by_hand = set(manual_cells())
    digests_file = course / "reflections.json"
    digests = json.loads(digests_file.read_text()) if digests_file.exists() else {}
    changed_file = course / "changed.json"
    changed = json.loads(changed_file.read_text()) if changed_file.exists() else {}
    report: dict[str, list[str]] = {"added": [], "updated": [], "changed": [], "missing": []}
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        for result in results:
            student_id = result["student_id"]
            notebook_file = graded / "autograded" / f"{student_id}.ipynb"
            if not notebook_file.exists():
                report["missing"].append(student_id)
                continue
            nb = nbformat.read(notebook_file, as_version=4)
            target = course / "autograded" / student_id / ASSIGNMENT
            target.mkdir(parents=True, exist_ok=True)
            nbformat.write(nb, target / f"{ASSIGNMENT}.ipynb")
            gradebook.update_or_create_student(student_id)
            try:
                gradebook.find_submission(ASSIGNMENT, student_id)
                report["updated"].append(student_id)
            except MissingEntry:
                with warnings.catch_warnings():  # nbgrader's own way of adding rows trips SQLAlchemy's autoflush notice
                    warnings.simplefilter("ignore", SAWarning)
                    gradebook.add_submission(ASSIGNMENT, student_id)
                report["added"].append(student_id)
            new_digests = _reflection_digests(nb, by_hand)
            for cell, (score, _) in result.get("by_cell", {}).items():
                try:
                    grade = gradebook.find_grade(cell, ASSIGNMENT, ASSIGNMENT, student_id)
                except MissingEntry:
                    continue  # a cell the release no longer has
                if cell in by_hand:
                    grade.auto_score = None
                    grade.needs_manual_grade = grade.manual_score is None
                    before = digests.get(student_id, {}).get(cell)
                    if grade.manual_score is not None and before and before != new_digests.get(cell):
                        # kept with the score it had: scoring it again (differently) clears the note
                        changed.setdefault(student_id, {})[cell] = float(grade.manual_score)
                else:
                    grade.auto_score, grade.needs_manual_grade = float(score), False
            digests[student_id] = new_digests
        gradebook.db.commit()
        for student_id, cells in list(changed.items()):
            for cell, score in list(cells.items()):
                if gradebook.find_grade(cell, ASSIGNMENT, ASSIGNMENT, student_id).manual_score != score:
                    del cells[cell]  # scored again since
            if not cells:
                del changed[student_id]
    report["changed"] = [f"{student_id} ({', '.join(cells)})" for student_id, cells in sorted(changed.items())]
    digests_file.write_text(json.dumps(digests, indent=1))
    changed_file.write_text(json.dumps(changed, indent=1))
    private(course)
    return report


def manual_points(graded: Path) -> dict[str, float]:
    """The points given by hand in formgrader, per student (only students whose every hand-graded cell has a score)."""
    from nbgrader.api import Gradebook

    database = graded / COURSE / "gradebook.db"
    if not database.exists():
        return {}
    by_hand = set(manual_cells())
    points: dict[str, float] = {}
    with Gradebook(f"sqlite:///{database}") as gradebook:
        for submission in gradebook.assignment_submissions(ASSIGNMENT):
            grades = [g for nb in submission.notebooks for g in nb.grades if g.name in by_hand]
            if grades and all(g.manual_score is not None for g in grades):
                points[submission.student.id] = float(sum(g.manual_score for g in grades))
    return points


def changed_reflections(graded: Path) -> dict[str, dict[str, float]]:
    """Students whose hand-graded cells changed after they were scored, with the scores kept (``gather`` notes them).

    A cell leaves the list once formgrader gives it another score.
    """
    path = graded / COURSE / "changed.json"
    return json.loads(path.read_text()) if path.exists() else {}


def open_formgrader(course: Path, args: list[str]) -> int:
    """JupyterLab with nbgrader's instructor tools (``config/instructor``) on ``course``, at formgrader."""
    env = dict(os.environ, JUPYTER_CONFIG_PATH=str(ROOT / "config" / "instructor"))
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    root_flag = ["--allow-root"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []
    command = [
        sys.executable,
        "-m",
        "jupyter",
        "lab",
        f"--ServerApp.root_dir={course}",
        "--LabApp.default_url=/formgrader",
    ]
    return subprocess.call([*command, *root_flag, *args], cwd=course, env=env)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m grading.formgrade", description=__doc__.split("\n\n")[0])
    parser.add_argument("--graded", type=Path, default=ROOT / "graded", help="what make autograde wrote")
    parser.add_argument("--no-open", action="store_true", help="gather only; do not start formgrader")
    args, lab_args = parser.parse_known_args(argv)
    report = gather(args.graded)
    print(
        f"{len(report['added'])} submissions added and {len(report['updated'])} updated in "
        f"{args.graded / COURSE} (scores given by hand are kept)"
    )
    for line in report["changed"]:
        print(f"changed after you scored it, score kept: look again at {line}")
    for student_id in report["missing"]:
        print(f"{student_id}: no graded notebook (nbgrader could not grade it; see logs/{student_id}.txt)")
    return 0 if args.no_open else open_formgrader(args.graded / COURSE, lab_args)


if __name__ == "__main__":
    sys.exit(main())
