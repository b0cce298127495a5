"""What a class handed in: the submissions in a folder, read safely, with their nbgrader metadata restored."""

from __future__ import annotations

import copy
import os
import stat
from dataclasses import dataclass
from pathlib import Path

import nbformat

from grading.protocol import ASSIGNMENT, STUDENT_ID

MAX_SUBMISSION_BYTES = 50 << 20


@dataclass
class Submission:
    student_id: str
    notebook: Path


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


def read_submission(path: Path) -> bytes:
    descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    with os.fdopen(descriptor, "rb") as file:
        return file.read(MAX_SUBMISSION_BYTES + 1)


def readable_notebook(data: bytes) -> tuple[nbformat.NotebookNode | None, str]:
    try:
        return nbformat.reads(data.decode("utf-8"), as_version=4), ""
    except Exception as error:  # anything unreadable: the student's file, not our crash
        return None, f"not a readable notebook ({type(error).__name__}: {str(error)[:200]})"


def restore_metadata(nb: nbformat.NotebookNode, release: nbformat.NotebookNode) -> list[str]:
    """Give every cell of ``nb`` the nbgrader metadata the release gave it; return what was changed.

    A cell whose grade_id the release does not have (or has already given out) loses its nbgrader
    metadata: a student cannot make an answer cell worth 100 points, nor a new graded cell.
    Metadata of any other JSON type (``null``, a list, a number, a ``grade_id`` that is not a
    string) is dropped the same way, and a cell whose whole ``metadata`` is not a table gets an
    empty one.
    """
    released = {
        cell.metadata["nbgrader"]["grade_id"]: cell.metadata["nbgrader"]
        for cell in release.cells
        if "nbgrader" in cell.metadata
    }
    changed, seen = [], set()
    for cell in nb.cells:
        if not isinstance(cell.get("metadata"), dict):
            cell["metadata"] = nbformat.NotebookNode()
            changed.append("a cell's metadata (not a table)")
        if "nbgrader" not in cell.metadata:
            continue
        meta = cell.metadata["nbgrader"]
        grade_id = meta.get("grade_id") if isinstance(meta, dict) else None
        if isinstance(grade_id, str) and grade_id in released and grade_id not in seen:
            seen.add(grade_id)
            if meta != released[grade_id]:
                changed.append(grade_id)
                cell.metadata["nbgrader"] = copy.deepcopy(released[grade_id])
        else:
            changed.append(f"{str(grade_id)[:64]!r} (not in the release)")
            del cell.metadata["nbgrader"]
    return changed + _restore_test_cells(nb, release)


def _restore_test_cells(nb: nbformat.NotebookNode, release: nbformat.NotebookNode) -> list[str]:
    """Put back the release's test cells that ``nb`` lacks, each after the release cell before it.

    nbgrader then restores their source, as for every locked cell; a deleted test cell costs
    nothing (nbgrader's own ``add_missing_cells`` fails on cells whose metadata has no grade_id).
    """
    present = [cell.metadata.get("nbgrader", {}).get("grade_id") for cell in nb.cells]
    restored, anchor = [], -1
    for cell in release.cells:
        meta = cell.metadata.get("nbgrader", {})
        if "grade_id" not in meta:
            continue
        if meta["grade_id"] in present:
            anchor = present.index(meta["grade_id"])
        elif meta.get("grade") and not meta.get("solution"):
            anchor += 1
            nb.cells.insert(anchor, copy.deepcopy(cell))
            present.insert(anchor, meta["grade_id"])
            restored.append(f"{meta['grade_id']} (deleted: restored)")
    return restored
