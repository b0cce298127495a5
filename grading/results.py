"""The instructor's ``graded/`` folder: results saved as they arrive, checked for secrets, the tables kept whole."""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from grading.feedback import MAX_FEEDBACK_BYTES, inert
from grading.protocol import RELEASE
from grading.secrecy import leaks
from grading.submissions import Submission
from grading.task import GradingJob


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


def load_results(graded: Path) -> list[dict]:
    """The results ``make autograde`` saved in ``graded/results/``, by student id (make formgrade and make grades)."""
    folder = graded / "results"
    if not folder.is_dir():
        raise SystemExit(f"{graded} holds no results/: run make autograde SUBMISSIONS=... first")
    return [json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))]


class Results:
    """``<out>``: each result saved as it arrives, checked for the grader's secrets, and the tables kept whole."""

    def __init__(self, out: Path, submissions: list[Submission], forms: dict[str, str]) -> None:
        self.out, self.forms = out, forms
        self.order = [s.student_id for s in submissions]
        for folder in ("logs", "feedback", "results", "autograded"):
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
        self._keep_autograded(student_id, result.pop("autograded", None))
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

    def _keep_autograded(self, student_id: str, notebook: str | None) -> None:
        """``autograded/<student_id>.ipynb``, for make formgrade; not kept if it holds a grader's secret."""
        path = self.out / "autograded" / f"{student_id}.ipynb"
        if notebook is None or leaks(notebook, self.forms):
            path.unlink(missing_ok=True)
        else:
            path.write_text(notebook)

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
