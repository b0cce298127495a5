"""Grades an LMS imports: Canvas's gradebook CSV and Moodle's grade import CSV, matched to the LMS's own roster.

The roster is the LMS's own export of the class: Canvas's gradebook export (*Grades* ->
*Export*), or Moodle's grade export as a CSV (*Grades* -> *Export* -> *Plain text file*). One of
its columns holds the ids the course's submissions are named by (``--roster-id``: for example
``SIS Login ID`` in Canvas, ``Email address`` or ``ID number`` in Moodle). Every student graded
but absent from the roster, and every roster student with no submission, is reported by name.

- **Canvas** (Gradebook *Import*): the columns ``Student``, ``ID``, ``SIS User ID``, ``SIS Login
  ID``, ``Section`` (Canvas matches students by them), then one column per assignment. A column
  named ``<title> (<Canvas assignment id>)`` updates that assignment; a new name makes a new one.
- **Moodle** (*Grades* -> *Import* -> *CSV file*): a column that identifies each user (mapped
  on import to email, username or ID number), a column of grades (mapped to the grade item) and
  an optional feedback column (mapped to its feedback).
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

TITLE = "Sunglasses vs hat"
CANVAS_IDENTITY = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
FORMATS = {"canvas": "canvas.csv", "moodle": "moodle.csv"}


def read_roster(path: Path, id_column: str) -> dict[str, dict[str, str]]:
    """The roster's rows by the course's student id (the values of ``id_column``).

    Canvas's "Points Possible" row and rows with an empty id are skipped; a repeated id is an error.
    """
    with open(path, newline="", encoding="utf-8-sig") as f:
        rows = list(csv.DictReader(f))
    if not rows or id_column not in rows[0]:
        columns = sorted(rows[0]) if rows else []
        raise SystemExit(f"{path} has no column {id_column!r} (its columns: {columns}): name another --roster-id")
    roster: dict[str, dict[str, str]] = {}
    for row in rows:
        student_id = (row.get(id_column) or "").strip()
        if not student_id or (row.get("Student") or "").strip() == "Points Possible":
            continue
        if student_id in roster:
            raise SystemExit(f"{path}: {id_column} {student_id!r} is on two rows; one student, one row")
        roster[student_id] = row
    return roster


def display_name(row: dict[str, str]) -> str:
    """A student's name as the roster gives it (Canvas: ``Student``; Moodle: first and last name)."""
    if row.get("Student"):
        return row["Student"].strip()
    return " ".join(row.get(k, "").strip() for k in ("First name", "Last name") if row.get(k)).strip() or "(no name)"


def folder_name(row: dict[str, str], lms: str) -> str:
    """A student's folder in ``to_students/``: the name and the LMS's id, safe as a file name."""
    lms_id = row.get("ID") if lms == "canvas" else row.get("ID number") or row.get("Email address")
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", f"{display_name(row)}_{lms_id or ''}").strip("_")
    return name or "student"


def grade_column(roster: dict[str, dict[str, str]]) -> str:
    """The roster's column for this assignment (``Sunglasses vs hat (123)`` in Canvas), else :data:`TITLE`."""
    for column in next(iter(roster.values()), {}):
        if re.fullmatch(rf"{re.escape(TITLE)}( \(\d+\))?", column.strip(), flags=re.IGNORECASE):
            return column
    return TITLE


def reconcile(grades: list[dict[str, str]], roster: dict[str, dict[str, str]]) -> tuple[dict, list[str]]:
    """The grades (rows of ``final.csv``) by student id, and a line for each student on one side only,
    or not yet graded by hand."""
    by_id = {g["student_id"]: g for g in grades}
    report = [
        f"graded but not in the roster (left out of the LMS file): {student_id}"
        for student_id in sorted(set(by_id) - set(roster))
    ]
    report += [
        f"in the roster with no submission (grade left empty): {display_name(roster[s])} ({s})"
        for s in sorted(set(roster) - set(by_id))
    ]
    waiting = sorted(s for s in set(by_id) & set(roster) if by_id[s]["manual"] == "")
    if waiting:
        report.append(f"not yet graded by hand (their total counts 0 for it): {', '.join(waiting)}")
    return by_id, report


def write(
    lms: str, grades: list[dict[str, str]], roster: dict[str, dict[str, str]], out: Path
) -> tuple[Path, list[str]]:
    """Write ``canvas.csv`` or ``moodle.csv`` into ``out`` from ``grades`` (rows of ``final.csv``).

    Returns the file's path and the report (:func:`reconcile`).
    """
    if lms not in FORMATS:
        raise ValueError(f"lms = {lms!r}: use one of {sorted(FORMATS)}")
    by_id, report = reconcile(grades, roster)
    column = grade_column(roster)
    path = out / FORMATS[lms]
    first = next(iter(roster.values()), {})
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        if lms == "canvas":
            missing = [c for c in CANVAS_IDENTITY if c not in first]
            if missing:
                raise SystemExit(f"the roster lacks Canvas's columns {missing}: export it from Canvas's gradebook")
            writer.writerow([*CANVAS_IDENTITY, column])
            for student_id, row in roster.items():
                grade = by_id.get(student_id)
                writer.writerow([row[c] for c in CANVAS_IDENTITY] + [grade["total"] if grade else ""])
        else:
            names = [c for c in ("First name", "Last name") if c in first]
            ids = [c for c in ("ID number", "Email address", "Username") if c in first]
            if not ids:
                raise SystemExit("the roster has none of Moodle's user columns (ID number, Email address, Username)")
            writer.writerow([*names, *ids, column, "Feedback"])
            for student_id, row in roster.items():
                grade = by_id.get(student_id)
                points = [grade["total"], grade["notes"]] if grade else ["", ""]
                writer.writerow([row[c] for c in names + ids] + points)
    return path, report
