"""The similarity report: both planted near-copies rank above every pair of students who worked alone.

On a class of seven written here (tests/class_of_students.py): five independent, one who copied
and renamed the variables, one who copied and moved cells and sentences. Only the students' own
work is compared: the release's lines and the lines half the class wrote alike are removed first.
"""

from __future__ import annotations

import nbformat
from class_of_students import ANSWERS, INDEPENDENT, PLANTED, notebook_of

from grading import similarity
from grading.protocol import RELEASE


def test_own_work_leaves_out_the_release_and_keeps_what_the_student_wrote():
    release = nbformat.read(RELEASE, as_version=4)
    code, prose = similarity.own_work(notebook_of("ben"), release)
    assert "loss_fn = keras.losses" in code and "import keras" not in code, "the release's own lines are gone"
    assert "best_epoch_stopping" not in code.split("stopper")[0], "the release's import line in the cell is gone"
    assert prose.startswith("**Question") is False and "My pick was all eighteen blocks" in prose
    assert similarity.own_work(release, release) == ("", ""), "the untouched release is nobody's work"
    shared = similarity.without_shared_lines({"a": "x = 1\ny = 2", "b": "x = 1\nz = 3", "c": "x  =  1\nw = 4"})
    assert shared == {"a": "y = 2", "b": "z = 3", "c": "w = 4"}, "a line most of the class wrote is boilerplate"


def test_both_planted_copies_rank_above_every_independent_pair(tmp_path):
    notebooks = {student: notebook_of(student) for student in ANSWERS}
    pairs = similarity.similarity_report(notebooks, tmp_path / "similarity")
    by_pair = {(p.first, p.second): p for p in pairs}
    independent = [by_pair[(a, b)] for a in INDEPENDENT for b in INDEPENDENT if a < b]
    highest_honest = max(p.score for p in independent)
    for planted in sorted(PLANTED):
        assert by_pair[planted].score > highest_honest, (by_pair[planted], max(independent, key=lambda p: p.score))
    assert {(p.first, p.second) for p in pairs[:2]} == PLANTED
    assert by_pair[("ben", "fay")].code > 0.8, "renamed variables do not hide copied code"
    assert by_pair[("cy", "gus")].prose > 0.8, "moved sentences do not hide copied prose"
    index = (tmp_path / "similarity" / "index.html").read_text()
    assert index.index(">ben<") < index.index(">ana<") and "for the instructor only" in index
    code_report = (tmp_path / "similarity" / "code.html").read_text()
    assert "criterion" in code_report and "loss_fn" in code_report, "the shared passages, side by side"
    assert (tmp_path / "similarity" / "pairs.csv").stat().st_mode & 0o077 == 0, "for the grader's eyes only"
