"""Hand-grading after make autograde: formgrader gets the class as graded, its scores reach the final table and stay.

On the adversarial batch the session grades once (tests/grading_harness.py): its ``graded/``
folder is copied, gathered into formgrader's course (``make formgrade``), a reflection is scored
in formgrader in Chromium, and one submission is graded again after its reflection changed.
"""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
import time

import pytest
from grading_harness import grade_command

from conftest import ROOT, SHOTS, running_jupyter
from grading import final, formgrade
from grading.protocol import ASSIGNMENT

pytestmark = pytest.mark.slow


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
    """A copy of the serial batch's ``graded/`` folder, so each test changes its own."""
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


def test_a_reflection_scored_in_formgrader_is_in_the_final_table(batches, graded, browser):
    with running_jupyter(["make", "formgrade", f"GRADED={graded}"]) as (url, token):
        with gradebook(graded) as book:
            submission = book.find_submission_notebook(ASSIGNMENT, ASSIGNMENT, "good").id
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        try:
            # formgrader's start page logs in (its grading pages' requests need the cookie), then the reflection
            page.goto(f"{url}/formgrader?token={token}")
            page.wait_for_load_state("networkidle")
            page.goto(f"{url}/formgrader/submissions/{submission}/")
            score = page.locator("input.score#reflection")
            score.wait_for(timeout=60_000)
            score.fill("2")
            score.press("Tab")  # formgrader saves a score when it loses focus
            deadline = time.monotonic() + 30
            while manual_score(graded, "good") != 2 and time.monotonic() < deadline:
                time.sleep(0.5)
            score.scroll_into_view_if_needed()
            page.screenshot(path=SHOTS / "formgrader_reflection.png")
        finally:
            page.close()
    assert manual_score(graded, "good") == 2
    rows = final_rows(batches, graded)
    assert (rows["good"]["automatic"], rows["good"]["manual"], rows["good"]["total"]) == ("15", "2", "17")
    assert rows["untouched"]["manual"] == "" and "not yet graded by hand" in rows["untouched"]["notes"]


def test_regrading_a_changed_submission_keeps_every_score_given_by_hand_and_says_what_changed(batches, graded):
    formgrade.gather(graded)
    given = {"good": 2.0, "messy_but_right": 1.0, "raises": 0.5}
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
    give(graded, "raises", 1.0)  # looked at again, and scored
    assert formgrade.gather(graded)["changed"] == [] and formgrade.changed_reflections(graded) == {}
