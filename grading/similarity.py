"""Which submissions share more of their own code and prose than independent work does: a report for the instructor.

    make similarity SUBMISSIONS=folder          # graded/similarity/index.html, readable by the grader only
    python -m grading.similarity SUBMISSIONS [--out graded]

Only each student's own work is compared: the lines of the answer cells that the release does
not have, the cells the student added, and the hand-graded prose (the reflection). The release's
code is gone before comparing, and so is every line that at least half of the class wrote alike
(a class that all wrote ``image_dataset_from_directory(...)`` as told is not flagged).

The comparison is copydetect's (PyPI: winnowed fingerprints of k-grams, the method of MOSS; code is
tokenized first, so renamed variables and moved cells still match). Dolos (npm) compares the same
way with a richer viewer, but it needs Node.js on the grading machine and its packages were not
served by this workplace's npm registry; copydetect installs with the course's other Python
packages and runs offline. Its HTML reports show each pair's shared passages side by side: one
for code, one for prose; ``index.html`` ranks the pairs by the larger of the two similarities.
"""

from __future__ import annotations

import argparse
import copy
import csv
import html
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import nbformat

from grading.protocol import RELEASE, ROOT
from grading.results import private
from grading.submissions import find_submissions, read_submission, readable_notebook, restore_metadata

#: A line written alike by at least this share of the class is shared boilerplate, not anyone's own.
SHARED_SHARE = 0.5


@dataclass(frozen=True)
class Pair:
    """Two students, and how much of each one's own code and prose the other shares (0 to 1, the larger way)."""

    first: str
    second: str
    code: float
    prose: float

    @property
    def score(self) -> float:
        return max(self.code, self.prose)


def _normal(line: str) -> str:
    return " ".join(line.split())


def own_work(nb: nbformat.NotebookNode, release: nbformat.NotebookNode) -> tuple[str, str]:
    """The student's own ``(code, prose)``: answer cells without the release's lines, and added cells.

    Cells with nbgrader metadata that are not answers (instructions, tests) are the release's;
    an answer cell keeps only the lines its release version lacks. The student's metadata is first
    put back as the release has it, as the grader does (a null, a list, a claimed test cell).
    """
    nb = copy.deepcopy(nb)
    restore_metadata(nb, release)
    given = {
        cell.metadata["nbgrader"]["grade_id"]: {_normal(line) for line in cell.source.splitlines()}
        for cell in release.cells
        if "nbgrader" in cell.metadata
    }
    released_text = {_normal(cell.source) for cell in release.cells}
    code, prose = [], []
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        grade_id = meta.get("grade_id")
        if grade_id in given and not meta.get("solution"):
            continue  # the release's own cell: instructions or tests
        if grade_id is None and _normal(cell.source) in released_text:
            continue  # an unmarked release cell, left as it was
        lines = [line for line in cell.source.splitlines() if _normal(line) not in given.get(grade_id, set())]
        text = "\n".join(line for line in lines if line.strip())
        if text:
            (code if cell.cell_type == "code" else prose).append(text)
    return "\n\n".join(code), "\n\n".join(prose)


def without_shared_lines(works: dict[str, str], share: float = SHARED_SHARE) -> dict[str, str]:
    """Each text without the lines that at least ``share`` of all texts contain (compared without spacing)."""
    counts: dict[str, int] = {}
    for text in works.values():
        for line in {_normal(line) for line in text.splitlines() if line.strip()}:
            counts[line] = counts.get(line, 0) + 1
    shared = {line for line, n in counts.items() if len(works) > 2 and n >= share * len(works)}
    return {
        student: "\n".join(line for line in text.splitlines() if _normal(line) not in shared)
        for student, text in works.items()
    }


def compare(works: dict[str, str], suffix: str, report: Path) -> dict[tuple[str, str], float]:
    """copydetect on one text per student: each pair's similarity (the larger way), and its HTML report."""
    from copydetect import CopyDetector

    with tempfile.TemporaryDirectory() as scratch:
        files = {}
        for student, text in works.items():
            path = Path(scratch) / f"{student}{suffix}"
            path.write_text(text + "\n")
            files[str(path)] = student
        detector = CopyDetector(
            extensions=[suffix.lstrip(".")],
            noise_t=12 if suffix == ".py" else 25,  # shorter for code: the answers are a few lines each
            guarantee_t=12 if suffix == ".py" else 25,
            display_t=0.3,
            disable_filtering=suffix != ".py",  # prose as written: its lexer would drop every word
            autoopen=False,
            silent=True,
            out_file=str(report),
        )
        for path in files:
            detector.add_file(path)
        detector.run()
        similarity = {}
        compared = len(detector.similarity_matrix) > 0  # empty when no file had enough tokens to compare
        for i, test in enumerate(detector.test_files if compared else []):
            for j, ref in enumerate(detector.ref_files):
                if test == ref:
                    continue
                pair = tuple(sorted((files[test], files[ref])))
                value = float(max(detector.similarity_matrix[i, j]))
                similarity[pair] = max(similarity.get(pair, 0.0), value, 0.0)
        if detector.get_copied_code_list():
            detector.generate_html_report()
    return similarity


def similarity_report(notebooks: dict[str, nbformat.NotebookNode], out: Path) -> list[Pair]:
    """Compare every pair of students' own work; write ``out/`` (index, code and prose reports, CSV)."""
    release = nbformat.read(RELEASE, as_version=4)
    own = {student: own_work(nb, release) for student, nb in notebooks.items()}
    out.mkdir(parents=True, exist_ok=True)
    code = compare(without_shared_lines({s: c for s, (c, _) in own.items()}), ".py", out / "code.html")
    prose = compare(without_shared_lines({s: p for s, (_, p) in own.items()}), ".md", out / "prose.html")
    students = sorted(notebooks)
    pairs = [
        Pair(a, b, code.get((a, b), 0.0), prose.get((a, b), 0.0))
        for i, a in enumerate(students)
        for b in students[i + 1 :]
    ]
    pairs.sort(key=lambda p: (-p.score, p.first, p.second))
    with open(out / "pairs.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["first", "second", "code_similarity", "prose_similarity"])
        writer.writerows([p.first, p.second, f"{p.code:.3f}", f"{p.prose:.3f}"] for p in pairs)
    (out / "index.html").write_text(_index(pairs, out))
    private(out)
    return pairs


def _index(pairs: list[Pair], out: Path) -> str:
    reports = " ".join(
        f'<a href="{name}.html">the {name} report</a>' for name in ("code", "prose") if (out / f"{name}.html").exists()
    )
    rows = "".join(
        f"<tr><td>{html.escape(p.first)}</td><td>{html.escape(p.second)}</td>"
        f"<td>{p.code:.0%}</td><td>{p.prose:.0%}</td></tr>"
        for p in pairs
    )
    return (
        "<!DOCTYPE html><meta charset='utf-8'><title>Similarity across the class</title>"
        "<h1>Similarity across the class (for the instructor only)</h1>"
        "<p>Each pair of students, ranked by how much of one's own code or prose the other shares. Shared "
        f"passages, side by side: {reports or 'no pair shares enough to show'}. A high rank is a reason to "
        "read both notebooks, not a verdict.</p>"
        "<table border=1 cellpadding=4><tr><th>student</th><th>student</th><th>code shared</th>"
        f"<th>prose shared</th></tr>{rows}</table>"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m grading.similarity", description=__doc__.split("\n\n")[0])
    parser.add_argument("submissions", type=Path, help="the folder of submissions make autograde graded")
    parser.add_argument("--out", type=Path, default=ROOT / "graded", help="where similarity/ goes (the grader's)")
    args = parser.parse_args(argv)
    submissions, problems = find_submissions(args.submissions)
    notebooks = {}
    for submission in submissions:
        nb, problem = readable_notebook(read_submission(submission.notebook))
        if nb is None:
            problems.append(f"{submission.student_id}: {problem}: left out")
        else:
            notebooks[submission.student_id] = nb
    for line in problems:
        print(line)
    pairs = similarity_report(notebooks, args.out / "similarity")
    print(f"{'first':<20}{'second':<20}{'code':>6}{'prose':>7}")
    for pair in pairs[:10]:
        print(f"{pair.first:<20}{pair.second:<20}{pair.code:>6.0%}{pair.prose:>7.0%}")
    print(f"wrote {args.out / 'similarity' / 'index.html'} (for you only: never send it to students)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
