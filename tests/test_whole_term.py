"""The instructor's whole term on a graded class: formgrader, late work, the LMS's files, the similarity report.

The class is the session's graded batch (tests/grading_harness.py): the solution and seven students
of tests/class_of_students.py, graded on the cluster among the adversarial submissions. Its
``graded/`` folder is copied, gathered into formgrader's course (``make formgrade``), reflections
are scored (one in formgrader in Chromium), the final grades go to Canvas and Moodle with one
student a day late and one past the cut-off, and the similarity report ranks the two planted
near-copies first. One submission is then graded again after its reflection changed.
"""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from class_of_students import ANSWERS, INDEPENDENT, PLANTED
from grading_harness import copy_submissions, grade_command

from conftest import ROOT, SHOTS, running_jupyter
from grading import final, formgrade, lms, similarity
from grading.protocol import ASSIGNMENT

pytestmark = pytest.mark.slow

#: The class whose term is followed: the solution and the seven students, with the due date and times.
CLASS = ("good", *ANSWERS)
TERM = """[sunglasses_vs_hat]
due = 2027-03-05T23:59:00-05:00
late_policy = "per-day"
late_deduction_percent = 10
cutoff = 2027-03-08T23:59:00-05:00
"""
#: when each handed in: dee 19 hours late (a day's 10%), eve past the cut-off (nothing kept)
SUBMITTED = {student: "2027-03-05T18:30:00-05:00" for student in CLASS} | {
    "dee": "2027-03-06T18:59:00-05:00",
    "eve": "2027-03-09T08:00:00-05:00",
}


def gradebook(graded):
    from nbgrader.api import Gradebook

    return Gradebook(f"sqlite:///{graded / formgrade.COURSE / 'gradebook.db'}")


def manual_score(graded, student_id: str, cell: str = "reflection"):
    with gradebook(graded) as book:
        return book.find_grade(cell, ASSIGNMENT, ASSIGNMENT, student_id).manual_score


def give(graded, student_id: str, score: float, cell: str = "reflection") -> None:
    with gradebook(graded) as book:
        book.find_grade(cell, ASSIGNMENT, ASSIGNMENT, student_id).manual_score = score
        book.db.commit()


def final_rows(batches, graded) -> dict[str, dict[str, str]]:
    assert final.main([str(batches["folder"]), "--graded", str(graded)]) == 0
    with open(graded / "final.csv", newline="") as f:
        return {row["student_id"]: row for row in csv.DictReader(f)}


@pytest.fixture
def graded(batches, tmp_path):
    """A copy of the batch's ``graded/`` folder, so each test changes its own."""
    copy = tmp_path / "graded"
    shutil.copytree(batches["first"]["out"], copy)
    return copy


def test_the_class_comes_into_formgrader_as_graded(batches, graded):
    report = formgrade.gather(graded)
    assert "good" in report["added"] and report["updated"] == [] and report["changed"] == []
    assert "corrupt" not in report["added"], "nothing to hand-grade in a file that was not a notebook"
    with gradebook(graded) as book:
        for cell, score in batches["first"]["by_cell"]["good"].items():
            grade = book.find_grade(cell, ASSIGNMENT, ASSIGNMENT, "good")
            if cell == "reflection":
                assert grade.auto_score is None and grade.needs_manual_grade and grade.manual_score is None
            else:
                assert grade.auto_score == score and not grade.needs_manual_grade, cell
        assert book.find_submission(ASSIGNMENT, "good").score == 15
    page = (graded / formgrade.COURSE / "autograded" / "good" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb").read_text()
    assert "hidden_accuracy(" not in page and str(batches["seed"]) not in page, "no hidden test, no seed"
    assert (graded / formgrade.COURSE / "gradebook.db").stat().st_mode & 0o077 == 0


def only_the_class(batches, folder) -> tuple[Path, Path]:
    """The class's submissions and the copy of what make autograde wrote for them: ``(submissions, graded)``."""
    submissions = copy_submissions(batches, folder / "submissions", list(CLASS))
    graded = folder / "graded"
    shutil.copytree(batches["first"]["out"], graded)
    for path in graded.rglob("*"):
        if path.is_file() and path.parent != graded and path.stem not in CLASS:
            path.unlink()
    return submissions, graded


def score_in_formgrader(browser, url: str, token: str, graded: Path, student_id: str, points: float) -> None:
    """Score ``student_id``'s reflection in formgrader's grading page, as an instructor does."""
    with gradebook(graded) as book:
        submission = book.find_submission_notebook(ASSIGNMENT, ASSIGNMENT, student_id).id
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    try:
        # formgrader's start page logs in (its grading pages' requests need the cookie), then the reflection
        page.goto(f"{url}/formgrader?token={token}")
        page.wait_for_load_state("networkidle")
        page.goto(f"{url}/formgrader/submissions/{submission}/")
        score = page.locator("input.score#reflection")
        score.wait_for(timeout=60_000)
        score.fill(f"{points:g}")
        score.press("Tab")  # formgrader saves a score when it loses focus
        deadline = time.monotonic() + 30
        while manual_score(graded, student_id) != points and time.monotonic() < deadline:
            time.sleep(0.5)
        score.scroll_into_view_if_needed()
        page.screenshot(path=SHOTS / "formgrader_reflection.png")
    finally:
        page.close()


def lms_file(graded: Path, name: str) -> list[list[str]]:
    with open(graded / name, newline="") as f:
        return list(csv.reader(f))


def test_the_whole_term_from_formgrader_to_canvas_and_moodle_with_late_work_and_copies_found(
    batches, browser, tmp_path, capsys
):
    submissions, graded = only_the_class(batches, tmp_path)
    (tmp_path / "term.toml").write_text(TERM)
    times = tmp_path / "times.csv"
    times.write_text("student_id,submitted\n" + "".join(f"{s},{t}\n" for s, t in SUBMITTED.items()))
    automatic = {student: batches["first"]["grades"][student] for student in CLASS}
    assert automatic == {s: batches["expected"][s] for s in CLASS}

    # 1. hand-grading: the reflections scored in formgrader (one in the browser, the rest as formgrader stores them)
    with running_jupyter(["make", "formgrade", f"GRADED={graded}"]) as (url, token):
        score_in_formgrader(browser, url, token, graded, "good", 2)
    assert manual_score(graded, "good") == 2
    by_hand = {student: 2.0 for student in CLASS} | {"ana": 1.5, "eve": 1.0}
    for student, points in by_hand.items():
        give(graded, student, points)

    # 2. final grades for Canvas: the LMS's own export as the roster, one of its students without a submission
    canvas_roster = tmp_path / "canvas-export.csv"
    canvas_roster.write_text(
        "Student,ID,SIS User ID,SIS Login ID,Section,Sunglasses vs hat (4321)\n    Points Possible,,,,,17\n"
        + "".join(f'"{s.title()}, Student",{100 + n},S{100 + n},{s},CS109B,\n' for n, s in enumerate([*CLASS, "hal"]))
    )
    options = ["--graded", str(graded), "--term", str(tmp_path / "term.toml"), "--times", str(times)]
    canvas = ["--roster", str(canvas_roster), "--lms", "canvas", "--roster-id", "SIS Login ID"]
    capsys.readouterr()
    assert final.main([str(submissions), *options, *canvas]) == 0
    said = capsys.readouterr().out
    assert "in the roster with no submission (grade left empty): Hal, Student (hal)" in said
    with open(graded / "final.csv", newline="") as f:
        rows = {row["student_id"]: row for row in csv.DictReader(f)}
    assert set(rows) == set(CLASS)
    expected_total = {s: automatic[s] + by_hand[s] for s in CLASS} | {"dee": 15 + 2 - 1.7, "eve": 0}
    assert {s: float(rows[s]["total"]) for s in CLASS} == pytest.approx(expected_total)
    assert (rows["good"]["automatic"], rows["good"]["manual"], rows["good"]["total"]) == ("15", "2", "17")
    assert rows["dee"]["late_penalty"] == "1.7" and "19 hours after the due date" in rows["dee"]["notes"]
    assert "after the cut-off" in rows["eve"]["notes"] and rows["good"]["late_penalty"] == "0"
    table = lms_file(graded, "canvas.csv")
    assert table[0] == [*lms.CANVAS_IDENTITY, "Sunglasses vs hat (4321)"], "Canvas's gradebook import columns"
    assert {row[3]: row[5] for row in table[1:]} == {s: rows[s]["total"] for s in CLASS} | {"hal": ""}
    late_page = next((graded / "to_students").glob("Dee_Student_*/sunglasses_vs_hat_feedback.html")).read_text()
    assert "Late: handed in 19 hours after the due date" in late_page and "Total: 15.3 of 17" in late_page

    # 3. the same grades for Moodle: its grade export as the roster, matched by ID number
    moodle_roster = tmp_path / "moodle-export.csv"
    moodle_roster.write_text(
        "First name,Last name,ID number,Institution,Department,Email address\n"
        + "".join(f"{s.title()},Student,{s},,,{s}@example.edu\n" for s in CLASS)
    )
    moodle = ["--roster", str(moodle_roster), "--lms", "moodle", "--roster-id", "ID number"]
    assert final.main([str(submissions), *options, *moodle]) == 0
    table = lms_file(graded, "moodle.csv")
    assert table[0] == ["First name", "Last name", "ID number", "Email address", "Sunglasses vs hat", "Feedback"]
    assert {row[2]: row[4] for row in table[1:]} == {s: rows[s]["total"] for s in CLASS}
    assert "after the cut-off" in next(row[5] for row in table[1:] if row[2] == "eve")

    # 4. the similarity report: both planted near-copies above every pair of students who worked alone
    assert similarity.main([str(submissions), "--out", str(graded)]) == 0
    with open(graded / "similarity" / "pairs.csv", newline="") as f:
        pairs = {(row["first"], row["second"]): row for row in csv.DictReader(f)}
    score = {pair: max(float(row["code_similarity"]), float(row["prose_similarity"])) for pair, row in pairs.items()}
    alone = ("good", *INDEPENDENT)
    highest_alone = max(score[(a, b)] for a in alone for b in alone if a < b)
    assert all(score[pair] > highest_alone for pair in PLANTED), (highest_alone, {p: score[p] for p in PLANTED})
    assert set(sorted(score, key=score.get)[-2:]) == PLANTED, "the two planted pairs rank first"
    assert (graded / "similarity" / "index.html").stat().st_mode & 0o077 == 0, "never for students"


def test_regrading_a_changed_submission_keeps_every_score_given_by_hand_and_says_what_changed(batches, graded):
    formgrade.gather(graded)
    given = {"good": 2.0, "ana": 1.0, "raises": 0.5}
    for student_id, score in given.items():
        give(graded, student_id, score)
    folder = graded.parent / "submissions"  # the class's folder, one submission changed in it
    shutil.copytree(batches["folder"], folder, symlinks=True)
    text = (folder / "raises.ipynb").read_text()
    (folder / "raises.ipynb").write_text(text.replace("YOUR ANSWER HERE", "I rewrote my reflection after grading."))
    env = dict(os.environ, GRADING_SEED=str(batches["seed"]))
    command = grade_command(folder, graded, "--student", "raises", "--regrade", "--jobs", "1")
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    report = formgrade.gather(graded)
    assert report["changed"] == ["raises (reflection)"]
    assert {s: manual_score(graded, s) for s in given} == given, "every score given by hand stays"
    assert formgrade.manual_points(graded) == given
    rows = final_rows(batches, graded)
    assert "changed after it was graded by hand: reflection" in rows["raises"]["notes"]
    assert "changed" not in rows["good"]["notes"]
    assert rows["untouched"]["manual"] == "" and "not yet graded by hand" in rows["untouched"]["notes"]
    give(graded, "raises", 1.0)  # looked at again, and scored
    assert formgrade.gather(graded)["changed"] == [] and formgrade.changed_reflections(graded) == {}
