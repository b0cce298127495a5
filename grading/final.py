"""Final grades: each student's automatic, hand-graded and late points, the class's weak steps, and pages to send.

    make grades SUBMISSIONS=folder [ROSTER=lms-export.csv LMS=canvas ROSTER_ID="SIS Login ID"] [TIMES=times.csv]
    python -m grading.final SUBMISSIONS [--graded graded] [--roster FILE --lms canvas|moodle --roster-id COLUMN]

Reads what ``make autograde`` wrote in ``graded/`` (``results/<student_id>.json``), the late policy
(``term.toml``, :mod:`grading.term`) and the submission times, and writes into ``graded/``:

- ``final.csv``: per student, the automatic points, the points given by hand in formgrader
  (``make formgrade``; empty until given), the late penalty and why, and the total;
- ``canvas.csv`` or ``moodle.csv`` with a roster (:mod:`grading.lms`);
- ``missed_cells.csv`` and ``missed_cells.png``: which graded steps the class missed most;
- ``to_students/<id>/``: each student's feedback page, with their final points on top, one folder
  per student to upload to the LMS.
"""

from __future__ import annotations

import argparse
import csv
import html
import sys
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from grading.formgrade import changed_reflections, manual_cells, manual_points
from grading.protocol import ASSIGNMENT, ROOT
from grading.results import load_results, private
from grading.term import TERM_FILE, LatePolicy, load_policy, read_times

TO_STUDENTS = "to_students"


@dataclass
class FinalGrade:
    """One student's points: automatic (hidden tests), by hand, and the late penalty, with the reasons."""

    student_id: str
    automatic: float
    automatic_max: float
    manual: float | None  # None: not graded by hand yet
    manual_max: float
    late_penalty: float = 0.0
    late_note: str = ""
    submitted: datetime | None = None
    problem: str = ""

    @property
    def max_score(self) -> float:
        return self.automatic_max + self.manual_max

    @property
    def total(self) -> float:
        return round(self.automatic + (self.manual or 0.0) - self.late_penalty, 2)

    def row(self) -> dict[str, str]:
        """This grade as a row of ``final.csv``."""
        return {
            "student_id": self.student_id,
            "automatic": f"{self.automatic:g}",
            "manual": "" if self.manual is None else f"{self.manual:g}",
            "late_penalty": f"{self.late_penalty:g}",
            "total": f"{self.total:g}",
            "max_score": f"{self.max_score:g}",
            "submitted": self.submitted.isoformat() if self.submitted else "",
            "notes": "; ".join(
                n
                for n in (
                    self.late_note,
                    "" if self.manual is not None else "not yet graded by hand",
                    self.problem,
                )
                if n
            ),
        }


def final_grades(
    results: list[dict],
    policy: LatePolicy,
    times: dict[str, datetime],
    manual: dict[str, float] | None = None,
    by_hand: dict[str, float] | None = None,
) -> list[FinalGrade]:
    """Each result's final grade: ``manual`` gives hand-graded points per student (missing: not graded yet).

    ``by_hand`` names the cells graded by hand and their points (default: the release's,
    :func:`manual_cells`); their automatic score is not counted.
    """
    by_hand = manual_cells() if by_hand is None else by_hand
    manual, manual_max = manual or {}, sum(by_hand.values())
    grades = []
    for result in results:
        cells = result.get("by_cell", {})
        automatic = sum(float(score) for cell, (score, _) in cells.items() if cell not in by_hand)
        grade = FinalGrade(
            result["student_id"],
            round(automatic, 2),
            float(result["max_score"]) - manual_max,
            manual.get(result["student_id"]),
            manual_max,
            submitted=times.get(result["student_id"]),
            problem=result.get("problem", ""),
        )
        earned = grade.automatic + (grade.manual or 0.0)
        grade.late_penalty, grade.late_note = policy.penalty(grade.submitted, earned, grade.max_score)
        grades.append(grade)
    return grades


def write_final(grades: list[FinalGrade], graded: Path) -> Path:
    """``final.csv``: one row per student (:meth:`FinalGrade.row`)."""
    path = graded / "final.csv"
    rows = [g.row() for g in grades]
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(FinalGrade("", 0, 0, None, 0).row()))
        writer.writeheader()
        writer.writerows(rows)
    return path


def missed_cells(results: list[dict], by_hand: dict[str, float] | None = None) -> list[tuple[str, int, int, float]]:
    """Which graded steps the class missed most: ``(cell, students missing points, students, share missed)``.

    A cell graded by hand is left out (its points are not in the results yet). Sorted by share
    missed, most first.
    """
    by_hand = manual_cells() if by_hand is None else by_hand
    missed: dict[str, list[int]] = {}
    for result in results:
        for cell, (score, most) in result.get("by_cell", {}).items():
            if cell in by_hand:
                continue
            counts = missed.setdefault(cell, [0, 0])
            counts[0] += float(score) < float(most)
            counts[1] += 1
    rows = [(cell, n, total, n / total) for cell, (n, total) in missed.items()]
    return sorted(rows, key=lambda row: (-row[3], row[0]))


def plot_missed(rows: list[tuple[str, int, int, float]], ax=None):
    """A bar per graded step: the share of the class that missed some of its points. Returns the Axes."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(6, 0.4 * len(rows) + 1.2))
    cells = [row[0] for row in rows][::-1]
    shares = [100 * row[3] for row in rows][::-1]
    ax.barh(cells, shares, color="tab:red")
    for y, row in enumerate(rows[::-1]):
        ax.text(min(100 * row[3] + 1, 90), y, f"{row[1]} of {row[2]}", va="center", fontsize=9)
    ax.set_xlim(0, 100)
    ax.set_xlabel("students who missed some of the step's points (%)")
    ax.set_title("Which steps the class missed")
    return ax


def write_missed(results: list[dict], graded: Path) -> list[tuple[str, int, int, float]]:
    """``missed_cells.csv`` and ``missed_cells.png``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = missed_cells(results)
    with open(graded / "missed_cells.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["cell", "students_missing_points", "students", "share_missed"])
        writer.writerows([cell, n, total, f"{share:.3f}"] for cell, n, total, share in rows)
    if rows:
        ax = plot_missed(rows)
        ax.figure.tight_layout()
        ax.figure.savefig(graded / "missed_cells.png", dpi=120)
        plt.close(ax.figure)
    return rows


def summary_box(grade: FinalGrade) -> str:
    """The final points at the top of a student's page, as HTML (every value escaped)."""
    manual = "not graded yet" if grade.manual is None else f"{grade.manual:g} of {grade.manual_max:g}"
    lines = [
        f"Automatic points (hidden tests): {grade.automatic:g} of {grade.automatic_max:g}",
        f"Points graded by hand (the reflection): {manual}",
    ]
    if grade.late_note:
        lines.append(f"Late: {grade.late_note} (-{grade.late_penalty:g})")
    lines.append(f"Total: {grade.total:g} of {grade.max_score:g}")
    items = "".join(f"<li>{html.escape(line)}</li>" for line in lines)
    style = "border:2px solid #444;padding:0.5em 1em;margin:1em"
    return f'<section id="final-grade" style="{style}"><ul>{items}</ul></section>'


def write_to_students(grades: list[FinalGrade], graded: Path, names: dict[str, str] | None = None) -> list[Path]:
    """``to_students/<name>/<assignment>_feedback.html``: each feedback page with the final points on top.

    ``names`` maps a student id to the folder name the LMS wants (by default the id itself).
    """
    names = names or {}
    written = []
    for grade in grades:
        page = graded / "feedback" / f"{grade.student_id}.html"
        text = page.read_text() if page.exists() else "<!DOCTYPE html><title>Feedback</title><body></body>"
        marker = text.find("<body")
        cut = text.find(">", marker) + 1 if marker >= 0 else 0
        folder = graded / TO_STUDENTS / names.get(grade.student_id, grade.student_id)
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / f"{ASSIGNMENT}_feedback.html"
        target.write_text(text[:cut] + summary_box(grade) + text[cut:])
        written.append(target)
    return written


def main(argv: list[str] | None = None) -> int:
    from grading import lms

    parser = argparse.ArgumentParser(prog="python -m grading.final", description=__doc__.split("\n\n")[0])
    parser.add_argument("submissions", type=Path, help="the folder make autograde graded (for timestamp.txt files)")
    parser.add_argument("--graded", type=Path, default=ROOT / "graded", help="what make autograde wrote")
    parser.add_argument("--term", type=Path, default=TERM_FILE, help="the due date and late policy")
    parser.add_argument("--times", type=Path, help="a CSV of student_id,submitted (over timestamp.txt files)")
    parser.add_argument("--roster", type=Path, help="the LMS's export of the class (its gradebook or grades CSV)")
    parser.add_argument("--lms", choices=sorted(lms.FORMATS), help="which LMS the roster comes from")
    parser.add_argument("--roster-id", help="the roster's column that holds the course's student ids")
    args = parser.parse_args(argv)
    if args.roster and not (args.lms and args.roster_id):
        parser.error("--roster needs --lms and --roster-id (the roster's column holding the course's student ids)")
    results = load_results(args.graded)
    policy, times = load_policy(args.term), read_times(args.submissions, args.times)
    grades = final_grades(results, policy, times, manual=manual_points(args.graded))
    by_id = {grade.student_id: grade for grade in grades}
    for student_id, cells in changed_reflections(args.graded).items():
        if student_id in by_id:
            note = f"changed after it was graded by hand: {', '.join(cells)}"
            by_id[student_id].problem = "; ".join(filter(None, [by_id[student_id].problem, note]))
    print(f"wrote {write_final(grades, args.graded)}")
    names = {}
    if args.roster:
        roster = lms.read_roster(args.roster, args.roster_id)
        path, report = lms.write(args.lms, [g.row() for g in grades], roster, args.graded)
        print(f"wrote {path}")
        for line in report:
            print(line)
        names = {student_id: lms.folder_name(row, args.lms) for student_id, row in roster.items()}
    rows = write_missed(results, args.graded)
    missed = [row for row in rows if row[1]]
    print("Steps the class missed most:" if missed else "No graded step was missed by anyone.")
    for cell, n, total, _ in missed[:5]:
        print(f"  {cell:<16} {n} of {total} students")
    print(f"wrote {len(write_to_students(grades, args.graded, names))} pages to {args.graded / TO_STUDENTS}")
    private(args.graded)
    return 0


if __name__ == "__main__":
    sys.exit(main())
