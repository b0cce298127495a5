"""Grading's pieces, each on its own: submissions, metadata, secrets, feedback, hand-ins, the checker, the sandbox."""

from __future__ import annotations

import base64
import html
import os
import shutil
import subprocess
import sys
import tempfile
import zlib
from pathlib import Path

import nbformat
import pytest
from grading_harness import ROOT_ON_LINUX
from grading_submissions import graded_cell

from conftest import ROOT
from grading import dispatch, sandbox, secrecy, submissions, task
from grading.feedback import inert
from grading.preprocessors import BoundOutputs, BriefTracebacks
from grading.protocol import ASSIGNMENT, RELEASE, SEED_VARIABLE, SOURCE

needs_sandbox = pytest.mark.skipif(
    not ROOT_ON_LINUX or not shutil.which("bwrap"),
    reason="the sandbox covers files and drops rights when root on Linux, with bwrap",
)


def test_submissions_come_as_files_or_folders_and_the_rest_is_named(tmp_path):
    nb = RELEASE.read_text()
    (tmp_path / "ana.ipynb").write_text(nb)
    (tmp_path / "ben").mkdir()
    (tmp_path / "ben" / f"{ASSIGNMENT}.ipynb").write_text(nb)
    (tmp_path / "cleo").mkdir()
    (tmp_path / "notes.txt").write_text("not a notebook")
    (tmp_path / "bad id!.ipynb").write_text(nb)
    (tmp_path / "linked.ipynb").symlink_to(SOURCE)
    (tmp_path / "dan").mkdir()
    (tmp_path / "dan" / f"{ASSIGNMENT}.ipynb").symlink_to(SOURCE)
    (tmp_path / "eve").symlink_to(ROOT / "solutions" / ASSIGNMENT)
    os.mkfifo(tmp_path / "pipe.ipynb")
    found, problems = submissions.find_submissions(tmp_path)
    assert [s.student_id for s in found] == ["ana", "ben"]
    text = "\n".join(problems)
    assert "cleo/ holds no" in text and "notes.txt" in text and "'bad id!' is not a usable student id" in text
    for refused in (
        "linked.ipynb is a symbolic link",
        f"dan/{ASSIGNMENT}.ipynb is a symbolic link",
        "eve is a symbolic",
        "pipe.ipynb is not a regular file",
    ):
        assert refused in text, (refused, text)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(SystemExit, match="No submissions in"):
        submissions.find_submissions(empty)
    with pytest.raises(SystemExit, match="is not a folder"):
        submissions.find_submissions(tmp_path / "missing")


def test_the_grading_seed_is_made_once_and_private(tmp_path, monkeypatch):
    monkeypatch.setattr(secrecy, "SEED_FILE", tmp_path / ".grading_seed")
    monkeypatch.delenv(SEED_VARIABLE, raising=False)
    first = secrecy.grading_seed()
    assert secrecy.grading_seed() == first
    assert (tmp_path / ".grading_seed").stat().st_mode & 0o077 == 0
    monkeypatch.setenv(SEED_VARIABLE, "12345")
    assert secrecy.grading_seed() == 12345


def test_nbgrader_metadata_comes_back_from_the_release():
    release = nbformat.read(RELEASE, as_version=4)
    nb = nbformat.read(SOURCE, as_version=4)
    quiz = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "quiz")
    quiz.metadata.nbgrader.update(grade=True, points=100)
    nb.cells.append(
        nbformat.v4.new_code_cell(
            "x = 1",
            metadata={
                "nbgrader": {
                    "grade": True,
                    "solution": False,
                    "grade_id": "my-own-points",
                    "points": 50,
                    "locked": True,
                }
            },
        )
    )
    changed = submissions.restore_metadata(nb, release)
    assert "quiz" in changed and any("my-own-points" in c for c in changed)
    assert quiz.metadata.nbgrader == next(
        c.metadata.nbgrader for c in release.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "quiz"
    )
    assert "nbgrader" not in nb.cells[-1].metadata


def test_nbgrader_metadata_of_any_json_type_is_dropped_or_restored():
    release = nbformat.read(RELEASE, as_version=4)
    nb = nbformat.read(RELEASE, as_version=4)
    odd = [None, ["check-data"], 7, "check-data", {"grade_id": ["check-data"]}, {"grade_id": {"a": [1]}}]
    for value in odd:
        nb.cells.append(nbformat.v4.new_code_cell("x = 1", metadata={"nbgrader": value}))
    nb.cells.append(nbformat.v4.new_code_cell("y = 1"))
    nb.cells[-1]["metadata"] = ["not", "a", "table"]
    changed = submissions.restore_metadata(nb, release)
    assert len(changed) == len(odd) + 1, changed
    assert all("nbgrader" not in c.metadata for c in nb.cells[-len(odd) - 1 :])
    assert nb.cells[-1].metadata == {}


def test_deleted_test_cells_come_back_where_they_were():
    release = nbformat.read(RELEASE, as_version=4)
    nb = nbformat.read(RELEASE, as_version=4)
    ids = [c.metadata.get("nbgrader", {}).get("grade_id") for c in nb.cells]
    nb.cells = [
        c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") not in ("check-data", "check-tune")
    ]
    changed = submissions.restore_metadata(nb, release)
    assert changed == ["check-data (deleted: restored)", "check-tune (deleted: restored)"]
    assert [c.metadata.get("nbgrader", {}).get("grade_id") for c in nb.cells] == ids
    assert graded_cell(nb, "check-data").source == graded_cell(release, "check-data").source


def test_feedback_links_that_run_code_are_made_inert():
    page = inert(
        '<html><head></head><body><a href="javascript:alert(1)">a</a><a href=" jav&#x61;script:x">b</a>'
        "<a href='vbscript:x'>c</a><a href=data:text/html,hi>d</a><a href=\"https://keras.io\">keras</a>"
        '<img src="data:image/png;base64,iVBOR"></body></html>'
    )
    assert page.count('href="#"') == 4 and 'href="https://keras.io"' in page, page
    assert 'src="data:image/png;base64,iVBOR"' in page
    assert "javascript" not in page.lower() and "vbscript" not in page.lower()


def test_feedback_tracebacks_keep_the_error_and_drop_the_code():
    test_cell = nbformat.v4.new_code_cell(
        "assert x", metadata={"nbgrader": {"grade": True, "solution": False, "grade_id": "t", "points": 1}}
    )
    student_cell = nbformat.v4.new_code_cell("1 / 0")
    for cell, name, value in ((test_cell, "AssertionError", "accuracy 0.5"), (student_cell, "ZeroDivisionError", "")):
        cell.outputs = [
            nbformat.v4.new_output(
                "error", ename=name, evalue=value, traceback=["----> 1 assert x", "secret line", name]
            )
        ]
    nb, _ = BriefTracebacks()(nbformat.v4.new_notebook(cells=[test_cell, student_cell]), {})
    assert nb.cells[0].outputs[0].traceback == ["AssertionError: accuracy 0.5"]
    assert len(nb.cells[1].outputs[0].traceback) == 3, "a student's own cell keeps its traceback"


def test_outputs_are_bounded_in_characters_and_only_inert_kinds_are_kept():
    flood = nbformat.v4.new_output("stream", name="stdout", text="x" * 20_000_000)
    script = nbformat.v4.new_output(
        "display_data", data={"text/html": "<script>alert(1)</script>", "application/javascript": "alert(2)"}
    )
    image = nbformat.v4.new_output("display_data", data={"image/png": "iVBOR", "text/plain": "<Figure>"})
    cell = nbformat.v4.new_code_cell("print(...)")
    cell.outputs = [flood, script, image]
    nb, _ = BoundOutputs()(nbformat.v4.new_notebook(cells=[cell]), {})
    flood, script, image = nb.cells[0].outputs
    assert len(flood.text) < 11_000 and "characters cut by the grader" in flood.text
    assert dict(script.data) == {
        "text/plain": "[output of kind application/javascript, text/html left out by the grader]"
    }
    assert set(image.data) == {"image/png", "text/plain"}
    many = nbformat.v4.new_code_cell("")
    many.outputs = [nbformat.v4.new_output("stream", name="stdout", text="y" * 9_000) for _ in range(2_000)]
    nb, _ = BoundOutputs()(nbformat.v4.new_notebook(cells=[many]), {})
    assert sum(len(o.text) for o in nb.cells[0].outputs) < 8_100_000
    assert "the notebook reached the grader's limit" in nb.cells[0].outputs[-1].text


def test_feedback_is_checked_for_the_seed_and_hidden_tests_in_every_encoding():
    seed, hidden = 1357924680, {"check-head": "assert hidden_accuracy(head_model) >= 0.85, 'hidden test set'\n"}
    forms = secrecy.secret_forms(seed, hidden)
    clean = "<p>accuracy 97.5%, seed not here 1357924681</p>"
    assert secrecy.leaks(clean, forms) == []
    for encoded in (
        str(seed),
        str(seed)[::-1],
        base64.b64encode(str(seed).encode()).decode(),
        base64.b64encode(b"xy" + str(seed).encode()).decode(),
        "&#49;357924680",
        base64.b64encode(hidden["check-head"].encode()).decode(),
        base64.urlsafe_b64encode(b"z" + hidden["check-head"].encode()).decode(),
        hidden["check-head"].strip(),
    ):
        assert secrecy.leaks(f"<pre>{encoded}</pre>", forms), encoded
    for printed in (  # as a kernel's output shows on the page: escaped
        hidden["check-head"].encode().hex(),
        str(seed).encode().hex(),
        repr(base64.b85encode(zlib.compress(hidden["check-head"].encode()))),
        "x=" + base64.b85encode(b"ab" + str(seed).encode()).decode(),
        base64.b64encode(zlib.compress(str(seed).encode())).decode(),
    ):
        assert secrecy.leaks(f"<html><body><pre>{html.escape(printed)}</pre></body></html>", forms), printed


def test_feedback_pages_get_a_policy_that_blocks_scripts():
    page = inert("<html><head><title>x</title></head><body><script>x()</script></body></html>")
    head = page[: page.index("<title>")]
    assert "Content-Security-Policy" in head and "default-src 'none'" in head and "script-src" not in head


@needs_sandbox
def test_sandboxed_code_cannot_read_the_graders_secrets():
    tmp_path = Path(tempfile.mkdtemp(prefix="sandbox-test-"))
    secret_dir, secret_file, visible = tmp_path / "course", tmp_path / "seed", Path("/etc/hostname")
    secret_dir.mkdir()
    (secret_dir / "gradebook.db").write_text("grades")
    secret_file.write_text("42")
    for path in (tmp_path, secret_dir, secret_file, secret_dir / "gradebook.db"):
        path.chmod(0o755 if path.is_dir() else 0o644)  # readable by anyone: only the cover protects the secrets
    try:
        report = sandbox.probe(
            [
                str(secret_dir / "gradebook.db"),
                str(secret_file),
                str(ROOT / ".git" / "HEAD"),
                str(ROOT / "grading" / "confined" / "checks.py"),
                str(visible),
            ],
            scratch=tmp_path,
            hide=(secret_dir,),
        )
        assert report["uid"] != 0 and report["pid"] < 10, report  # another user, its own PID namespace
        assert report["readable"] == [str(visible)]
        assert (secret_dir / "gradebook.db").read_text() == "grades", "covered for the sandbox only"
    finally:
        shutil.rmtree(tmp_path)


@needs_sandbox
def test_sandboxed_code_has_no_network_and_leaves_no_process(tmp_path):
    tmp_path.chmod(0o755)
    home = sandbox.make_home(tmp_path / "home")
    code = (
        "import socket, subprocess, sys\n"
        "subprocess.Popen(['sleep', '300'], start_new_session=True)\n"
        "try:\n    socket.create_connection(('127.0.0.1', 22), timeout=2); print('connected')\n"
        "except OSError as e:\n    print('no network', e.errno)\n"
    )
    command, _ = sandbox.confined([sys.executable, "-c", code], home=home)
    done = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert "no network" in done.stdout, done.stdout + done.stderr
    leftover = subprocess.run(["pgrep", "-f", "^sleep 300$"], capture_output=True, text=True)
    assert leftover.stdout == "", "a process outlived its sandbox"


def test_a_local_cluster_has_a_worker_per_core_with_1_3_gb_each(monkeypatch):
    import psutil

    cores = len(os.sched_getaffinity(0))
    for free_gb, expected in ((64, cores), (2.7, min(cores, 2)), (0.5, 1)):
        memory = psutil.virtual_memory()._replace(available=int(free_gb * 2**30))
        monkeypatch.setattr(psutil, "virtual_memory", lambda memory=memory: memory)
        workers, why = dispatch.local_workers()
        assert workers == expected and f"{cores} cores" in why, (free_gb, workers, why)


def test_the_seed_travels_to_workers_unseen():
    from dask.base import tokenize

    seed = secrecy.Secret(1357924680)
    job = task.GradingJob("ana", b"{}", seed, "version", None, 900.0)
    for shown in (repr(seed), str(seed), f"{seed}", repr(job), str(job), tokenize(seed), tokenize(job)):
        assert "1357924680" not in shown and "0864297531" not in shown, shown
    assert tokenize(secrecy.Secret(1)) == tokenize(secrecy.Secret(2)), "the token says nothing of the value"
    import pickle

    assert pickle.loads(pickle.dumps(job)).seed.value == 1357924680


def test_test_cells_are_the_ones_nbgrader_calls_graded_code_that_is_not_an_answer():
    from nbgrader.utils import is_grade, is_solution

    from grading.hidden_tests import is_test_cell

    cells = nbformat.read(SOURCE, as_version=4).cells
    assert [is_test_cell(c) for c in cells] == [
        c.cell_type == "code" and is_grade(c) and not is_solution(c) for c in cells
    ]
    assert sum(map(is_test_cell, cells)) == 7
