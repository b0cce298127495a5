"""The term after autograding: late work by the policy, final grades, the LMS's files, the class's weak steps, pages.

On a small graded folder written here (what make autograde writes: results/, feedback/), so these
run in seconds; tests/test_grading_batch.py grades real submissions.
"""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from grading import final, formgrade, lms
from grading.term import LatePolicy, describe, load_policy, parse_time, read_times

DUE = datetime(2027, 3, 5, 23, 59, tzinfo=UTC)
CELLS = {"check-data": [1, 1], "check-head": [3, 3], "check-tune": [0, 3], "reflection": [0, 2]}


def result(student_id: str, **cells: list[float]) -> dict:
    by_cell = {**CELLS, **{k.replace("_", "-"): v for k, v in cells.items()}}
    score = sum(s for c, (s, _) in by_cell.items())
    return {"student_id": student_id, "score": score, "max_score": 9.0, "by_cell": by_cell, "problem": ""}


def graded_folder(tmp_path: Path, results: list[dict]) -> Path:
    graded = tmp_path / "graded"
    (graded / "results").mkdir(parents=True)
    (graded / "feedback").mkdir()
    for r in results:
        (graded / "results" / f"{r['student_id']}.json").write_text(json.dumps(r))
        page = f"<!DOCTYPE html><html><head></head><body><p>feedback of {r['student_id']}</p></body></html>"
        (graded / "feedback" / f"{r['student_id']}.html").write_text(page)
    return graded


def test_late_work_costs_what_the_policy_says_and_nothing_after_the_cutoff_is_kept():
    per_day = LatePolicy(due=DUE, policy="per-day", deduction=10, cutoff=DUE + timedelta(days=7))
    assert per_day.penalty(DUE - timedelta(hours=1), 15, 17) == (0.0, "")
    points, why = per_day.penalty(DUE + timedelta(hours=20), 15, 17)
    assert points == 1.7 and "20 hours after the due date" in why and "1 day x 10%" in why
    assert per_day.penalty(DUE + timedelta(days=1, minutes=1), 15, 17)[0] == 3.4  # a part of a day counts whole
    assert per_day.penalty(DUE + timedelta(days=6), 1, 17)[0] == 1, "never more than was earned"
    points, why = per_day.penalty(DUE + timedelta(days=8), 15, 17)
    assert points == 15 and "after the cut-off" in why
    per_hour = LatePolicy(due=DUE, policy="per-hour", deduction=1)
    assert per_hour.penalty(DUE + timedelta(hours=2, minutes=5), 15, 17)[0] == pytest.approx(0.51)
    none = LatePolicy(due=DUE)
    assert none.penalty(DUE + timedelta(days=3), 15, 17) == (
        0.0,
        "handed in 3 days after the due date (2027-03-05 23:59 UTC): no penalty",
    )
    assert LatePolicy().penalty(DUE, 15, 17) == (0.0, ""), "no due date: nothing is late"
    assert describe(timedelta(days=1, hours=2, minutes=3)) == "1 day 2 hours"


def test_the_term_file_is_read_and_its_mistakes_named(tmp_path):
    term = tmp_path / "term.toml"
    term.write_text(
        '[sunglasses_vs_hat]\ndue = 2027-03-05T23:59:00-05:00\nlate_policy = "per-day"\n'
        "late_deduction_percent = 10\ncutoff = 2027-03-12T23:59:00-05:00\n"
    )
    policy = load_policy(term)
    assert policy.due == datetime(2027, 3, 6, 4, 59, tzinfo=UTC) and policy.policy == "per-day"
    assert load_policy(tmp_path / "absent.toml") == LatePolicy()
    assert load_policy(final.ROOT / "term.toml").due is None, "the course's own term.toml sets no due date"
    term.write_text("[sunglasses_vs_hat]\ndue = 2027-03-05T23:59:00\n")
    with pytest.raises(ValueError, match="date, time and zone"):
        load_policy(term)
    term.write_text('[sunglasses_vs_hat]\nlate_policy = "weekly"\n')
    with pytest.raises(ValueError, match="'weekly'.*per-day"):
        load_policy(term)
    term.write_text("[sunglasses_vs_hat]\nlate_deduction = 10\n")
    with pytest.raises(ValueError, match="unknown settings"):
        load_policy(term)


def test_submission_times_come_from_nbgraders_timestamps_or_the_instructors_file(tmp_path):
    (tmp_path / "ana").mkdir()
    (tmp_path / "ana" / "timestamp.txt").write_text("2027-03-06 01:02:03.456789 UTC\n")
    (tmp_path / "ben" / "sunglasses_vs_hat").mkdir(parents=True)
    (tmp_path / "ben" / "sunglasses_vs_hat" / "timestamp.txt").write_text("2027-03-05 20:00:00 -0500")
    times_file = tmp_path / "times.csv"
    times_file.write_text("student_id,submitted\ncleo,2027-03-04T10:00:00+01:00\nana,2027-03-05 12:00:00 UTC\n")
    times = read_times(tmp_path, times_file)
    assert times == {
        "ana": datetime(2027, 3, 5, 12, 0, tzinfo=UTC),  # the instructor's file wins
        "ben": datetime(2027, 3, 6, 1, 0, tzinfo=UTC),
        "cleo": datetime(2027, 3, 4, 9, 0, tzinfo=UTC),
    }
    assert read_times(tmp_path)["ana"] == datetime(2027, 3, 6, 1, 2, 3, 456789, tzinfo=UTC)
    with pytest.raises(ValueError, match="not a time"):
        parse_time("yesterday-ish")


def test_final_grades_add_the_hand_graded_points_and_take_off_the_late_ones():
    policy = LatePolicy(due=DUE, policy="per-day", deduction=10)
    results = [result("ana"), result("ben", check_tune=[3, 3])]
    times = {"ben": DUE + timedelta(hours=3)}
    ana, ben = final.final_grades(results, policy, times, manual={"ben": 2.0}, by_hand={"reflection": 2.0})
    assert (ana.automatic, ana.automatic_max, ana.manual, ana.total, ana.max_score) == (4, 7, None, 4, 9)
    assert ana.row()["notes"] == "not yet graded by hand" and ana.row()["manual"] == ""
    assert (ben.automatic, ben.manual, ben.late_penalty, ben.total) == (7, 2.0, 0.9, 8.1)
    assert "3 hours after the due date" in ben.row()["notes"] and ben.row()["submitted"].startswith("2027-03-06")
    assert formgrade.manual_cells() == {"reflection": 2.0}, "the release's hand-graded cell"


def test_canvas_and_moodle_files_have_their_documented_columns_and_missing_students_are_named(tmp_path, capsys):
    graded = graded_folder(tmp_path, [result("ana"), result("ben"), result("zed")])
    canvas_roster = tmp_path / "canvas-export.csv"
    canvas_roster.write_text(
        "Student,ID,SIS User ID,SIS Login ID,Section,Sunglasses vs hat (4321),Quiz 1 (99)\n"
        "    Points Possible,,,,,17,10\n"
        '"Lee, Ana",101,S101,ana,CS109B,,8\n'
        '"Roe, Ben",102,S102,ben,CS109B,,7\n'
        '"Poe, Cy",103,S103,cy,CS109B,,9\n'
    )
    assert (
        final.main(
            [str(tmp_path / "none"), "--graded", str(graded), "--roster", str(canvas_roster)]
            + ["--lms", "canvas", "--roster-id", "SIS Login ID"]
        )
        == 0
    )
    said = capsys.readouterr().out
    assert "graded but not in the roster (left out of the LMS file): zed" in said
    assert "in the roster with no submission (grade left empty): Poe, Cy (cy)" in said
    with open(graded / "canvas.csv", newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "Sunglasses vs hat (4321)"]
    assert rows[1:] == [
        ["Lee, Ana", "101", "S101", "ana", "CS109B", "4"],
        ["Roe, Ben", "102", "S102", "ben", "CS109B", "4"],
        ["Poe, Cy", "103", "S103", "cy", "CS109B", ""],
    ]
    moodle_roster = tmp_path / "moodle-export.csv"
    moodle_roster.write_text(
        "First name,Last name,ID number,Institution,Department,Email address\n"
        "Ana,Lee,101,,,ana@example.edu\nBen,Roe,102,,,ben@example.edu\n"
    )
    roster = lms.read_roster(moodle_roster, "Email address")
    grades = final.final_grades([result("ana@example.edu")], LatePolicy(), {})
    path, report = lms.write("moodle", [g.row() for g in grades], roster, graded)
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["First name", "Last name", "ID number", "Email address", "Sunglasses vs hat", "Feedback"]
    assert rows[1] == ["Ana", "Lee", "101", "ana@example.edu", "4", "not yet graded by hand"]
    assert rows[2] == ["Ben", "Roe", "102", "ben@example.edu", "", ""]
    assert report[0] == "in the roster with no submission (grade left empty): Ben Roe (ben@example.edu)"
    with pytest.raises(SystemExit, match="no column 'SIS Login ID'"):
        lms.read_roster(moodle_roster, "SIS Login ID")


def test_the_class_summary_names_the_steps_missed_most_and_pages_go_to_one_folder_each(tmp_path):
    results = [result("ana"), result("ben", check_tune=[3, 3]), result("cy", check_head=[0, 3])]
    graded = graded_folder(tmp_path, results)
    assert final.main([str(tmp_path / "none"), "--graded", str(graded)]) == 0
    with open(graded / "missed_cells.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [(r["cell"], r["students_missing_points"]) for r in rows] == [
        ("check-tune", "2"),
        ("check-head", "1"),
        ("check-data", "0"),
    ], "most missed first; the hand-graded reflection left out"
    assert (graded / "missed_cells.png").stat().st_size > 1000
    page = (graded / "to_students" / "cy" / "sunglasses_vs_hat_feedback.html").read_text()
    assert page.index('id="final-grade"') < page.index("feedback of cy") and "Total: 1 of 9" in page
    with open(graded / "final.csv", newline="") as f:
        assert [r["total"] for r in csv.DictReader(f)] == ["4", "7", "1"]
    assert (graded / "final.csv").stat().st_mode & 0o077 == 0, "grades stay readable by the grader only"
