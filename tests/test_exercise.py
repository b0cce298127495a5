"""The sunglasses-vs-hat exercise: its nbgrader source, its release, and grading a batch of submissions.

The batch test grades, in one run of ``tools.autograde``, the solution three times (full automatic
score, every time), the unmodified release, a plausible wrong answer and six faulty or hostile
submissions, each as a student would hand it in.
"""

from __future__ import annotations

import csv
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import nbformat
import pytest

from tools import autograde

ROOT = Path(__file__).resolve().parent.parent
NAME = autograde.ASSIGNMENT
SOURCE = ROOT / "solutions" / NAME / f"{NAME}.ipynb"
RELEASE = ROOT / "exercises" / NAME / f"{NAME}.ipynb"
MANUAL_POINTS = 2


def nbgrader_env() -> dict[str, str]:
    return dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")


def files_under(folder: Path) -> list[Path]:
    """Files as git sees them: no hidden files or folders (Jupyter's checkpoints, say)."""
    return sorted(p.relative_to(folder) for p in folder.rglob("*")
                  if p.is_file() and not any(part.startswith(".") for part in p.relative_to(folder).parts))


def grade_cells(nb) -> dict[str, dict]:
    return {cell.metadata["nbgrader"]["grade_id"]: cell.metadata["nbgrader"]
            for cell in nb.cells if cell.metadata.get("nbgrader", {}).get("grade")}


def test_release_is_exactly_what_nbgrader_generates(tmp_path):
    shutil.copytree(ROOT / "solutions", tmp_path / "solutions")
    shutil.copy(ROOT / "nbgrader_config.py", tmp_path)
    done = subprocess.run([sys.executable, "-m", "nbgrader", "generate_assignment", NAME, "--force"], cwd=tmp_path,
                          env=nbgrader_env(), capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    made, kept = files_under(tmp_path / "exercises"), files_under(ROOT / "exercises")
    assert made == kept, "exercises/ differs from what `make release` makes: run make release"
    for path in made:
        assert (tmp_path / "exercises" / path).read_bytes() == (ROOT / "exercises" / path).read_bytes(), (
            f"exercises/{path} is out of date: run make release")


def test_source_notebook_is_a_well_formed_nbgrader_assignment():
    nb = nbformat.read(SOURCE, as_version=4)
    ids = [cell.metadata["nbgrader"]["grade_id"] for cell in nb.cells if "nbgrader" in cell.metadata]
    assert len(ids) == len(set(ids)), "grade_id values must be unique"
    graded = grade_cells(nb)
    assert all(meta.get("points", 0) > 0 for meta in graded.values())
    tests = {k: m for k, m in graded.items() if not m["solution"]}
    assert all(m["locked"] for m in tests.values()), "test cells must be locked"
    manual = [k for k, m in graded.items() if m["solution"]]
    assert manual == ["reflection"] and graded["reflection"]["points"] == MANUAL_POINTS
    seeded = [cell for cell in nb.cells if "GRADING_SEED" in cell.source]
    assert seeded and all(autograde.SEED_LINE.search(cell.source) for cell in seeded)
    assert all("### BEGIN HIDDEN TESTS" in cell.source for cell in seeded), "the seed belongs in hidden tests"


def test_release_holds_no_solution_hidden_test_or_seed():
    source = nbformat.read(SOURCE, as_version=4)
    secrets_ = {"### BEGIN HIDDEN TESTS", "GRADING_SEED", "_hidden_accuracy", "### BEGIN SOLUTION",
                *autograde.SEED_LINE.findall("\n".join(c.source for c in source.cells))[0][1:2]}
    outside = []  # what the instructions say anyway is not a leak
    for cell in source.cells:  # every line of every solution
        if "### BEGIN SOLUTION" in cell.source:
            before, rest = cell.source.split("### BEGIN SOLUTION", 1)
            body, after = rest.split("### END SOLUTION", 1)
            secrets_.update(line.strip() for line in body.splitlines() if len(line.strip()) > 12)
            outside += [before, after]
        else:
            outside.append(cell.source)
    secrets_ = {s for s in secrets_ if not any(s in text for text in outside)}
    for path in (ROOT / "exercises").rglob("*"):
        if path.is_file():
            leaked = sorted(s for s in secrets_ if s in path.read_text())
            assert not leaked, f"{path.relative_to(ROOT)} gives away: {leaked[:3]}"
    released = grade_cells(nbformat.read(RELEASE, as_version=4))
    assert released.keys() == grade_cells(source).keys()


# --- tools.autograde, piece by piece ---------------------------------------------------------------

def test_submissions_come_as_files_or_folders_and_the_rest_is_named(tmp_path):
    nb = RELEASE.read_text()
    (tmp_path / "ana.ipynb").write_text(nb)
    (tmp_path / "ben").mkdir()
    (tmp_path / "ben" / f"{NAME}.ipynb").write_text(nb)
    (tmp_path / "cleo").mkdir()
    (tmp_path / "notes.txt").write_text("not a notebook")
    (tmp_path / "bad id!.ipynb").write_text(nb)
    found, problems = autograde.find_submissions(tmp_path)
    assert [s.student_id for s in found] == ["ana", "ben"]
    assert any("cleo/ holds no" in p for p in problems)
    assert any("notes.txt" in p for p in problems)
    assert any("'bad id!' is not a usable student id" in p for p in problems)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(SystemExit, match="No submissions in"):
        autograde.find_submissions(empty)
    with pytest.raises(SystemExit, match="is not a folder"):
        autograde.find_submissions(tmp_path / "missing")


def test_the_grading_seed_is_made_once_and_private(tmp_path, monkeypatch):
    monkeypatch.setattr(autograde, "SEED_FILE", tmp_path / ".grading_seed")
    monkeypatch.delenv(autograde.SEED_VARIABLE, raising=False)
    first = autograde.grading_seed()
    assert autograde.grading_seed() == first
    assert (tmp_path / ".grading_seed").stat().st_mode & 0o077 == 0
    monkeypatch.setenv(autograde.SEED_VARIABLE, "12345")
    assert autograde.grading_seed() == 12345


def test_feedback_tracebacks_keep_the_error_and_drop_the_code():
    test_cell = nbformat.v4.new_code_cell("assert x\n### BEGIN HIDDEN TESTS\nassert secret", metadata={
        "nbgrader": {"grade": True, "solution": False, "grade_id": "t", "points": 1}})
    student_cell = nbformat.v4.new_code_cell("1 / 0")
    for cell, name, value in ((test_cell, "AssertionError", "accuracy 0.5"), (student_cell, "ZeroDivisionError", "")):
        cell.outputs = [nbformat.v4.new_output("error", ename=name, evalue=value,
                                               traceback=["----> 1 assert x", "### BEGIN HIDDEN TESTS", name])]
    nb, _ = autograde.BriefTracebacks()(nbformat.v4.new_notebook(cells=[test_cell, student_cell]), {})
    assert nb.cells[0].outputs[0].traceback == ["AssertionError: accuracy 0.5"]
    assert len(nb.cells[1].outputs[0].traceback) == 3, "a student's own cell keeps its traceback"


@pytest.mark.skipif(not sys.platform.startswith("linux") or os.geteuid() != 0,
                    reason="the sandbox hides files and drops rights only when the grader is root on Linux")
def test_sandboxed_code_cannot_read_the_graders_secrets():
    tmp_path = Path(tempfile.mkdtemp(prefix="sandbox-test-"))  # pytest's own folders are private to root
    secret_dir, secret_file, visible = tmp_path / "course", tmp_path / "seed", tmp_path / "public.txt"
    secret_dir.mkdir()
    (secret_dir / "gradebook.db").write_text("grades")
    for path, text in ((secret_file, "42"), (visible, "hello")):
        path.write_text(text)
    for path in (secret_dir, secret_file, visible, secret_dir / "gradebook.db"):
        path.chmod(0o755 if path.is_dir() else 0o644)  # readable by anyone: only the cover protects the secrets
    (tmp_path / "scratch").mkdir()
    for folder in (tmp_path, tmp_path / "scratch"):
        folder.chmod(0o711)
    env = dict(os.environ, COURSE_SANDBOX_DIR=str(tmp_path / "scratch"),
               COURSE_SANDBOX_HIDE=os.pathsep.join([str(secret_dir), str(secret_file)]))
    probe = subprocess.run([sys.executable, str(ROOT / "tools" / "sandbox_kernel.py"), "--probe",
                            str(secret_dir), str(secret_dir / "gradebook.db"), str(secret_file), str(visible)],
                           env=env, capture_output=True, text=True)
    assert probe.returncode == 0, probe.stderr[-2000:]
    report = json.loads(probe.stdout.splitlines()[-1])
    assert report["uid"] != 0 and "covered" in report["isolation"]
    assert report["readable"] == [str(visible)]
    assert (secret_dir / "gradebook.db").read_text() == "grades", "covered for the kernel only, not for the grader"
    shutil.rmtree(tmp_path)


# --- one batch, graded as an instructor would ------------------------------------------------------

def _with_cells(nb, after: str, *sources: str):
    """``nb`` with new code cells inserted after the cell whose grade_id is ``after``."""
    index = next(i for i, c in enumerate(nb.cells) if c.metadata.get("nbgrader", {}).get("grade_id") == after)
    nb.cells[index + 1:index + 1] = [nbformat.v4.new_code_cell(s) for s in sources]
    return nb


def _replace(nb, grade_id: str, old: str, new: str):
    cell = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)
    assert old in cell.source
    cell.source = cell.source.replace(old, new)
    return nb


SNOOP = '''
import glob, os
targets = [os.path.expanduser("~root/.bash_history"), "/root", "{root}/.grading_seed",
           "{root}/solutions/sunglasses_vs_hat/sunglasses_vs_hat.ipynb", "{root}/.git/HEAD",
           f"/proc/{{os.getppid()}}/cwd/gradebook.db", *glob.glob("/tmp/autograde-*/course/gradebook.db"),
           *glob.glob("/tmp/autograde-*/course/solutions/*/*.ipynb"), "{folder}/good.ipynb"]
found = [key for key in os.environ if "GRADING" in key]
for path in targets:
    try:
        with open(path, "rb") as f:
            found.append(path if f.read(1) else None)
    except OSError:
        print("blocked", path)
print("FOUND", [f for f in found if f])
'''


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    folder = tmp_path_factory.mktemp("submissions")
    solution, release = nbformat.read(SOURCE, as_version=4), nbformat.read(RELEASE, as_version=4)

    def submit(student_id, nb):
        nbformat.write(nb, folder / f"{student_id}.ipynb")

    for student_id in ("good", "good_again", "good_third"):
        submit(student_id, solution)
    submit("untouched", release)
    # a plausible mistake: a head for ImageNet's 1000 classes instead of our two
    submit("wrong_head", _replace(nbformat.read(SOURCE, as_version=4), "build-model",
                                  "attach_head(load_base(WEIGHTS), len(class_names))",
                                  "attach_head(load_base(WEIGHTS), 1000)"))
    submit("raises", _with_cells(nbformat.read(RELEASE, as_version=4), "settings", "raise RuntimeError('oops')"))
    submit("forever", _with_cells(nbformat.read(RELEASE, as_version=4), "settings", "while True:\n    pass"))
    edited = _replace(nbformat.read(RELEASE, as_version=4), "quiz", "# YOUR CODE HERE\nraise NotImplementedError()",
                      'PRETRAINED_MODEL = "A"\nKEEP_ORIGINAL_HEAD = True')
    submit("edits_tests", _replace(edited, "check-quiz", 'assert _digest(PRETRAINED_MODEL) == "',
                                   'assert True or _digest(PRETRAINED_MODEL) == "'))
    deleted = nbformat.read(RELEASE, as_version=4)
    deleted.cells = [c for c in deleted.cells if not c.metadata.get("nbgrader", {}).get("grade")]
    submit("deletes_cells", deleted)
    submit("huge_output", _with_cells(nbformat.read(RELEASE, as_version=4), "settings",
                                      "for i in range(300_000):\n    print('spam', i)"))
    snoop = SNOOP.format(root=ROOT, folder=folder)
    submit("snoops", _with_cells(nbformat.read(RELEASE, as_version=4), "settings", snoop))
    (folder / "corrupt.ipynb").write_text("{ not json")
    out = tmp_path_factory.mktemp("graded")
    seed = secrets.randbelow(10**9) + 10**9
    env = dict(os.environ, GRADING_SEED=str(seed))  # tools.autograde finds nbgrader itself
    done = subprocess.run([sys.executable, "-m", "tools.autograde", str(folder), "--out", str(out),
                           "--cell-timeout", "60", "--timeout", "600"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=3000)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    with open(out / "grades.csv") as f:
        grades = {row["student_id"]: row for row in csv.DictReader(f)}
    with open(out / "scores_by_cell.csv") as f:
        by_cell = {}
        for row in csv.DictReader(f):
            by_cell.setdefault(row["student_id"], {})[row["cell"]] = float(row["score"])
    return {"out": out, "grades": grades, "by_cell": by_cell, "seed": seed, "stdout": done.stdout}


def _score(batch, student_id) -> float:
    return float(batch["grades"][student_id]["score"])


def test_the_solution_gets_every_automatic_point_every_time(batch):
    max_score = float(batch["grades"]["good"]["max_score"])
    assert max_score == 14
    assert [_score(batch, s) for s in ("good", "good_again", "good_third")] == [max_score - MANUAL_POINTS] * 3, (
        batch["by_cell"].get("good"))


def test_the_unmodified_release_scores_nothing(batch):
    assert _score(batch, "untouched") == 0


def test_a_wrong_head_loses_the_points_of_the_tests_it_fails(batch):
    cells = batch["by_cell"]["wrong_head"]
    # 1000 outputs fail the model's and the predictions' checks; the steps before it keep their points
    assert cells["check-model"] == cells["check-predict"] == 0, cells
    assert cells["check-data"] == 1 and cells["check-quiz"] == 2, cells
    assert 0 < _score(batch, "wrong_head") < _score(batch, "good")


def test_faulty_and_hostile_submissions_get_nothing_and_spoil_nothing(batch):
    for student_id in ("raises", "forever", "edits_tests", "deletes_cells", "huge_output", "snoops", "corrupt"):
        assert _score(batch, student_id) == 0, (student_id, batch["by_cell"].get(student_id))
    assert "corrupt" in batch["stdout"] and "not a readable notebook" in batch["stdout"]
    assert len(batch["grades"]) == 12


def test_edited_and_deleted_test_cells_are_restored_before_grading(batch):
    for student_id in ("edits_tests", "deletes_cells"):
        assert set(batch["by_cell"][student_id]) == set(batch["by_cell"]["good"]), student_id
    html = (batch["out"] / "feedback" / "edits_tests.html").read_text()
    assert "assert True or" not in html and "not the best choice" in html


def test_a_snooping_submission_reads_none_of_the_graders_secrets(batch):
    html = (batch["out"] / "feedback" / "snoops.html").read_text()
    assert "FOUND []" in html, html[html.find("FOUND"):html.find("FOUND") + 300]
    assert html.count("blocked") >= 7


def test_feedback_shows_no_hidden_test_and_no_seed(batch):
    pages = list((batch["out"] / "feedback").glob("*.html"))
    assert len(pages) >= 10
    for page in pages:
        text = page.read_text()
        assert str(batch["seed"]) not in text and "BEGIN HIDDEN TESTS" not in text and "_hidden_x" not in text
    huge = (batch["out"] / "feedback" / "huge_output.html").read_text()
    assert "spam 299999" not in huge and len(huge) < 2_000_000
