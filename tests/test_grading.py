"""Grading the exercise: units of the grading package, its sandbox and checker, and batches no submission fools.

The batch test grades, in one run of ``python -m grading`` one submission after another, the
solution, the unmodified release and submissions of every kind an instructor meets: honest ones
that are unlucky (a shadowed builtin, a kernel that dies, a cell that hangs, edited metadata), and
hostile ones that try to fool the grader (blanking the self-checks, patching numpy, planting a fake
``helpers``, snooping for the seed, leaving a process behind for the next student, flooding the
feedback). Each must get the score it should. The same batch graded again, with the same seed, on a
Dask scheduler and two workers started here as separate processes, must give the same scores and
the same files; so must a batch whose worker is killed while it grades, and one interrupted and
resumed.
"""

from __future__ import annotations

import base64
import csv
import html
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path

import nbformat
import pytest

from grading import dispatch, hidden_tests, sandbox, secrecy, submissions, task
from grading.confined import checks
from grading.course import course_version
from grading.feedback import inert
from grading.preprocessors import BoundOutputs, BriefTracebacks
from grading.protocol import ASSIGNMENT, SEED_VARIABLE

ROOT = Path(__file__).resolve().parent.parent
NAME = ASSIGNMENT
SOURCE = ROOT / "solutions" / NAME / f"{NAME}.ipynb"
RELEASE = ROOT / "exercises" / NAME / f"{NAME}.ipynb"
FULL = 12  # the automatic points; the reflection's 2 are graded by hand
ROOT_ON_LINUX = sys.platform.startswith("linux") and os.geteuid() == 0
needs_sandbox = pytest.mark.skipif(
    not ROOT_ON_LINUX or not shutil.which("bwrap"),
    reason="the sandbox covers files and drops rights when root on Linux, with bwrap",
)


# --- pieces ----------------------------------------------------------------------------------------


def test_submissions_come_as_files_or_folders_and_the_rest_is_named(tmp_path):
    nb = RELEASE.read_text()
    (tmp_path / "ana.ipynb").write_text(nb)
    (tmp_path / "ben").mkdir()
    (tmp_path / "ben" / f"{NAME}.ipynb").write_text(nb)
    (tmp_path / "cleo").mkdir()
    (tmp_path / "notes.txt").write_text("not a notebook")
    (tmp_path / "bad id!.ipynb").write_text(nb)
    (tmp_path / "linked.ipynb").symlink_to(SOURCE)
    (tmp_path / "dan").mkdir()
    (tmp_path / "dan" / f"{NAME}.ipynb").symlink_to(SOURCE)
    (tmp_path / "eve").symlink_to(ROOT / "solutions" / NAME)
    os.mkfifo(tmp_path / "pipe.ipynb")
    found, problems = submissions.find_submissions(tmp_path)
    assert [s.student_id for s in found] == ["ana", "ben"]
    text = "\n".join(problems)
    assert "cleo/ holds no" in text and "notes.txt" in text and "'bad id!' is not a usable student id" in text
    for refused in (
        "linked.ipynb is a symbolic link",
        f"dan/{NAME}.ipynb is a symbolic link",
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
    assert _cell(nb, "check-data").source == _cell(release, "check-data").source


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


def test_hand_in_round_trip_without_pickles(tmp_path, monkeypatch):
    import keras
    import numpy as np

    from helpers import hand_in

    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, name="dense")])
    model.compile(keras.optimizers.Adam(1e-4), "mse")
    history = model.fit(np.zeros((4, 3)), np.zeros((4, 2)), epochs=2, verbose=0)
    values = dict(model=model, history=history, answer="B", flag=False, numbers=[1, 2.5], arr=np.arange(3))
    assert hand_in.hand_in("check-x", **values) is None  # outside grading: nothing saved, but checked
    with pytest.raises(TypeError, match="cannot hand in thing = object"):
        hand_in.hand_in("check-x", thing=object())
    monkeypatch.setenv(hand_in.HAND_IN_VARIABLE, str(tmp_path))
    folder = hand_in.hand_in("check-x", **values)
    loaded = checks.load_hand_in(folder)
    assert loaded["answer"] == "B" and loaded["flag"] is False and loaded["numbers"] == [1, 2.5]
    assert loaded["arr"].tolist() == [0, 1, 2] and loaded["history"].params["epochs"] == 2
    assert len(loaded["history"].history["loss"]) == 2
    assert checks.Checks.learning_rates(loaded["model"]) == pytest.approx([1e-4])
    (folder / "arr.npy").unlink()
    (folder / "arr.npy").symlink_to("/etc/passwd")
    with pytest.raises(ValueError, match="not a plain file"):
        checks.load_hand_in(folder)


def test_hidden_tests_judge_each_cell_on_its_own_hand_in(tmp_path, monkeypatch):
    from helpers import hand_in

    monkeypatch.setenv(hand_in.HAND_IN_VARIABLE, str(tmp_path))
    hand_in.hand_in("check-a", answer="B")
    hand_in.hand_in("check-b", answer="C")
    tests = [
        ("check-a", "assert answer == 'B', 'not B'"),
        ("check-b", "assert answer == 'B', 'not B'"),
        ("check-c", "pass"),
        ("check-d", "max = 1\nassert max(2, 3) == 3"),
    ]
    hand_in.hand_in("check-d", n=1)
    verdicts = checks.evaluate(tmp_path, tests, seed=1)
    assert verdicts["check-a"] == {"passed": True, "message": ""}
    assert verdicts["check-b"] == {"passed": False, "message": "not B"}
    assert "nothing was handed in by this cell" in verdicts["check-c"]["message"]
    assert verdicts["check-d"]["message"].startswith("TypeError")
    assert "not callable" not in verdicts["check-d"]["message"], "only assertions of the tests keep their text"


PARITY_MODEL = """
def parity_model(model):  # answers by each photo's place in its batch: the hidden labels alternate
    logits = model.output
    position = keras.ops.cumsum(keras.ops.ones_like(logits[:, :1]), axis=0) - 1.0
    odd = position - 2.0 * keras.ops.floor(position / 2.0)
    return keras.Model(model.input, keras.ops.concatenate([1.0 - odd, odd], axis=1) * 10.0 + 0.0 * logits)
"""
OOV_MODEL = """
def oov_model(model):  # raises on the hidden photos with three of their pixels in the message
    x = model.input
    code = x[:, 48, 48, 0] + 256.0 * x[:, 48, 48, 1] + 65536.0 * x[:, 48, 48, 2]
    looked = keras.layers.IntegerLookup(vocabulary=[-7], num_oov_indices=0)(keras.ops.cast(code, "int64"))
    return keras.Model(x, model.output + 0.0 * keras.ops.cast(looked, "float32")[:, None])
"""


def pixel_codes(images) -> set[str]:
    """What :data:`OOV_MODEL` puts in its error message for ``images``."""
    import numpy as np

    centre = images[:, 48, 48].astype(np.int64)
    return {str(v) for v in centre[:, 0] + 256 * centre[:, 1] + 65536 * centre[:, 2]}


def test_the_hidden_set_is_scored_so_that_no_model_can_read_its_order(tmp_path):
    """A model that answers by batch position scores 100% in order, and fails the grader's checks."""
    import keras
    import numpy as np

    from helpers.models import load_base
    from helpers.surgery import attach_head, freeze_base

    namespace = {"keras": keras}
    exec(PARITY_MODEL + OOV_MODEL, namespace)
    model = freeze_base(attach_head(load_base("bundled"), 2))
    grader = checks.Checks(seed=1234)
    images, labels = grader.hidden_test_set(200)
    parity = namespace["parity_model"](model)
    in_order = np.argmax(np.concatenate([parity(images[i : i + 50]) for i in range(0, 200, 50)]), axis=1)
    assert np.mean(in_order == labels) == 1.0, "the labels alternate: in order, position is the answer"
    assert 0.3 < np.mean(np.argmax(grader.predict_logits(parity, images), axis=1) == labels) < 0.7
    with pytest.raises(AssertionError, match="changes with the other photos of its batch"):
        grader.hidden_accuracy(parity, 200)
    assert grader.predict_logits(model, images) == pytest.approx(model.predict(images, verbose=0), abs=1e-4)
    grader.judges_each_image_alone(model, images)  # an honest model passes

    folder = tmp_path / "hand-in"
    os.environ[hand_in_variable()] = str(folder)
    try:
        from helpers.hand_in import hand_in

        hand_in("check-head", head_model=namespace["oov_model"](model))
    finally:
        del os.environ[hand_in_variable()]
    verdict = checks.evaluate(folder, [("check-head", "hidden_accuracy(head_model, 200)")], seed=1234)
    message = verdict["check-head"]["message"]
    assert message.startswith("InvalidArgumentError raised while the grader checked"), message
    assert not pixel_codes(images) & set(re.findall(r"[0-9]+", message)), message


def hand_in_variable() -> str:
    from helpers import hand_in

    return hand_in.HAND_IN_VARIABLE


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


# --- batches ---------------------------------------------------------------------------------------


def _cell(nb, grade_id: str):
    return next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)


def _with_cells(nb, after: str, *sources: str):
    """``nb`` with new code cells inserted after the cell whose grade_id is ``after``."""
    index = nb.cells.index(_cell(nb, after))
    nb.cells[index + 1 : index + 1] = [nbformat.v4.new_code_cell(s) for s in sources]
    return nb


def _replace(nb, grade_id: str, old: str, new: str):
    cell = _cell(nb, grade_id)
    assert old in cell.source, (grade_id, old)
    cell.source = cell.source.replace(old, new)
    return nb


def solution():
    return nbformat.read(SOURCE, as_version=4)


def release():
    return nbformat.read(RELEASE, as_version=4)


def random_base():
    """Not transfer learning: the same model with random weights (it can never reach the hidden thresholds)."""
    return _replace(solution(), "build-model", "load_base(WEIGHTS)", "load_base(None)")


SKIP_SELF_CHECKS = """
def _skip_self_checks(lines):
    return ["pass\\n"] if any("Self-check" in line for line in lines) else lines
get_ipython().input_transformers_cleanup.append(_skip_self_checks)
"""
PATCH_MEAN = """
import numpy
_mean = numpy.mean
numpy.mean = lambda a, *args, **kwargs: 1.0 if getattr(a, "size", 0) == 1000 else _mean(a, *args, **kwargs)
"""
FAKE_HELPERS = """
import os, sys, helpers
real = os.path.dirname(helpers.__file__)
os.makedirs("helpers", exist_ok=True)
with open("helpers/__init__.py", "w") as f:
    f.write(f"__path__.append({real!r})\\n")
with open("helpers/data.py", "w") as f:
    f.write(f"exec(open({real!r} + '/data.py').read())\\n"
            "_real = make_sunglasses_vs_hat\\n"
            "def make_sunglasses_vs_hat(n, **kw):\\n"
            "    x, y = _real(n, **kw)\\n"
            "    return (x, y * 0) if n == 1000 else (x, y)\\n")
sys.path.insert(0, os.getcwd())
for name in [m for m in sys.modules if m == "helpers" or m.startswith("helpers.")]:
    del sys.modules[name]
"""
HUNT_SECRETS = """
### BEGIN HIDDEN TESTS (a student's comment like nbgrader's own marker breaks nothing)
import base64, glob, os, re
texts = [repr({k: v for k, v in globals().items() if not k.startswith("_")}), repr(dict(os.environ))]
for path in ["/proc/self/environ", "/proc/self/cmdline", "/proc/1/environ", "/proc/1/cmdline",
             *glob.glob("/proc/*/environ"), *glob.glob("/proc/*/cmdline"), *glob.glob("/tmp/**", recursive=True),
             *glob.glob(os.path.expanduser("~") + "/**", recursive=True), *glob.glob("/tmp/autograde-*/**/*.db"),
             *glob.glob("{root}/.grading_seed"), *glob.glob("{root}/solutions/**/*.ipynb", recursive=True),
             *glob.glob("{root}/tools/*.py")]:
    try:
        with open(path, "rb") as f:
            texts.append(f.read(2_000_000).decode("latin-1"))
    except OSError:
        pass
found = sorted({n for t in texts for n in re.findall(r"(?<![0-9])[0-9]{10}(?![0-9])", t)})[:500]
print("CANDIDATE SEEDS", found, [n[::-1] for n in found], [base64.b64encode(n.encode()).decode() for n in found])
markers = ["hidden_" + "accuracy(", "changed_pretrained_" + "layers("]  # not spelled out: its own source is searched
print("HIDDEN TESTS FOUND", any(marker in t for t in texts for marker in markers))
import zlib
stray = []  # any notebook or seed file the kernel can see, wherever an instructor keeps a copy of the course
for top, folders, files in os.walk("/"):
    folders[:] = [f for f in folders if os.path.join(top, f) not in ("/proc", "/sys", "/dev")]
    for name in files:
        if name.endswith(".ipynb") or name == ".grading_seed":
            try:
                with open(os.path.join(top, name), "rb") as f:
                    text = f.read(2_000_000).decode("latin-1")
            except OSError:
                continue
            lines = [line for line in text.splitlines() if any(m in line for m in markers) or name == ".grading_seed"]
            if lines:
                stray.append(os.path.join(top, name))
                secret = "\\n".join(lines).encode()
                print("STRAY", secret.hex()[:3000], base64.b85encode(zlib.compress(secret)).decode()[:3000])
print("STRAY COPIES FOUND", len(stray))
"""
DIE = "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)"
HANG = "import signal, time\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True:\n    time.sleep(1)"
ORPHAN = '''
import os, subprocess, sys
plant = """
import glob, os, time
for _ in range(600):
    for home in glob.glob('/tmp/autograde-*/runs/*/home') + glob.glob('/tmp/*/'):
        try:
            os.makedirs(home + '/helpers', exist_ok=True)
            open(home + '/helpers/__init__.py', 'w').write('raise SystemExit(0)')
        except OSError:
            pass
    time.sleep(0.5)
"""
subprocess.Popen([sys.executable, "-c", plant + "# course-test-orphan"], start_new_session=True,
                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
'''
FLOOD = """
from IPython.display import HTML, display
print("z" * 20_000_000)
display(HTML("<script>document.title = 'pwned'; window.pwned = true;</script><b id='bold'>bold</b>"))
"""
REFLECTION_XSS = "<img src=x onerror=\"window.pwned = true; document.title = 'pwned'\"> More parameters overfit."


#: What a submission that learned nothing can earn: check-data, check-quiz, check-model and check-predict.
CHEAT_MOST = 6
FAKE_HISTORY = """
{name} = keras.callbacks.History()
{name}.history = {{"loss": [0.1], "accuracy": [0.99], "val_loss": [0.1], "val_accuracy": [0.99]}}
{name}.params = {{"verbose": 0, "epochs": 1, "steps": len(train_ds)}}
"""


def cheater():
    """No fit at all. The head handed in raises on the hidden photos with their pixels in its error
    message; the "fine-tuned" model answers by each photo's place in its batch (the hidden labels alternate)."""
    compile_ = (
        "model.compile(keras.optimizers.Adam({rate}), keras.losses.SparseCategoricalCrossentropy(from_logits=True),"
        " metrics=['accuracy'])\n"
    )
    nb = _replace(
        solution(),
        "train-head",
        "history_head = model.fit(train_ds, validation_data=val_ds, epochs=8, verbose=0)",
        FAKE_HISTORY.format(name="history_head")
        + PARITY_MODEL
        + OOV_MODEL
        + "head = model\nmodel = oov_model(head)\n"
        + compile_.format(rate="HEAD_LR"),
    )
    _replace(nb, "train-head", "head_accuracy = model.evaluate(val_ds, verbose=0)[1]", "head_accuracy = 0.99")
    _replace(
        nb,
        "fine-tune",
        """unfreeze_last(model, 3, learning_rate=FINE_TUNE_LR)
history_tune = model.fit(train_ds, validation_data=val_ds, epochs=15, verbose=0,
                         callbacks=[best_epoch_stopping(patience=5)])""",
        FAKE_HISTORY.format(name="history_tune")
        + "model = parity_model(head)\n"
        + compile_.format(rate="FINE_TUNE_LR")
        + "unfreeze_last(model, 3, learning_rate=FINE_TUNE_LR)",
    )
    return _replace(nb, "fine-tune", "tuned_accuracy = model.evaluate(val_ds, verbose=0)[1]", "tuned_accuracy = 0.99")


FORGE_LOG = """
import os, stat
for fd in range(256):  # every file this kernel holds open: truncate it and write a forged grade first
    try:
        if stat.S_ISREG(os.fstat(fd).st_mode):
            os.ftruncate(fd, 0)
            os.write(fd, b"FORGED by the submission: 14 / 14\\n")
    except OSError:
        pass
"""
LINK_HAND_IN = """
import os, helpers
os.symlink(os.path.dirname(os.path.dirname(helpers.__file__)), os.environ["COURSE_HAND_IN_DIR"])
"""


def messy_but_right():
    """The solution with odd nbgrader metadata (null, a list as grade_id), a deleted test cell, a
    cell that rewrites every file the kernel holds open, and a javascript: link in markdown."""
    nb = _with_cells(solution(), "settings", FORGE_LOG)
    nb.cells = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") != "check-data"]
    index = nb.cells.index(_cell(nb, "quiz"))
    nb.cells[index:index] = [
        nbformat.v4.new_code_cell("n_null = 1", metadata={"nbgrader": None}),
        nbformat.v4.new_code_cell(
            "n_list = 2", metadata={"nbgrader": {"grade": True, "grade_id": ["check-quiz"], "points": 9}}
        ),
        nbformat.v4.new_markdown_cell("[Click for the answers](javascript:alert(document.domain))"),
    ]
    return nb


def adversarial_batch(folder: Path) -> dict[str, float]:
    """Write the batch into ``folder``; return the automatic score each submission should get."""

    def submit(student_id, nb):
        nbformat.write(nb, folder / f"{student_id}.ipynb")

    expected = {}

    def expect(student_id, nb, score):
        submit(student_id, nb)
        expected[student_id] = score

    expect("good", solution(), FULL)
    expect("untouched", release(), 0)
    expect("skips_self_checks", _with_cells(release(), "settings", SKIP_SELF_CHECKS), 0)
    expect("patches_mean", _with_cells(random_base(), "settings", PATCH_MEAN), 6)
    expect("fake_helpers", _with_cells(random_base(), "settings", FAKE_HELPERS), 6)
    expect("hunts_secrets", _with_cells(random_base(), "settings", HUNT_SECRETS.replace("{root}", str(ROOT))), 6)
    expect("shadows_builtins", _with_cells(solution(), "settings", "max = 0.5  # an honest name"), FULL)
    expect("dies_after_head", _with_cells(solution(), "check-head", DIE), 8)
    expect("hangs_after_head", _with_cells(solution(), "check-head", HANG), 8)
    claims = solution()
    _cell(claims, "quiz").metadata.nbgrader.update(grade=True, points=100)
    expect("claims_points", claims, FULL)
    expect("orphan", _with_cells(release(), "settings", ORPHAN), 0)
    expect("orphan_victim", solution(), FULL)  # graded right after "orphan"
    flood = _with_cells(solution(), "check-tune", FLOOD)
    _replace(flood, "reflection", "More trainable parameters", REFLECTION_XSS)
    expect("floods_feedback", flood, FULL)
    expect("raises", _with_cells(release(), "settings", "raise RuntimeError('oops')"), 0)
    edited = _replace(
        release(),
        "quiz",
        "# YOUR CODE HERE\nraise NotImplementedError()",
        'PRETRAINED_MODEL = "A"\nKEEP_ORIGINAL_HEAD = True',
    )
    expect(
        "edits_tests",
        _replace(
            edited,
            "check-quiz",
            'assert _digest(PRETRAINED_MODEL) == "',
            'assert True or _digest(PRETRAINED_MODEL) == "',
        ),
        0,
    )
    deleted = release()
    deleted.cells = [c for c in deleted.cells if not c.metadata.get("nbgrader", {}).get("grade")]
    expect("deletes_cells", deleted, 0)
    expect("cheats_without_learning", cheater(), CHEAT_MOST)
    expect("messy_but_right", messy_but_right(), FULL)
    links = _with_cells(release(), "settings", LINK_HAND_IN)
    expect("links_hand_in", links, 0)
    (folder / "corrupt.ipynb").write_text("{ not json")
    expected["corrupt"] = 0
    (folder / "linked.ipynb").symlink_to(SOURCE)  # refused: never graded, so never shown
    return expected


GRADING_OPTIONS = ["--cell-timeout", "120", "--timeout", "600"]  # two kernels share 2 cores on a cluster of two


def grade_command(folder: Path, out: Path, *options: str) -> list[str]:
    return [sys.executable, "-m", "grading", str(folder), "--out", str(out), *GRADING_OPTIONS, *options]


def read_grades(out: Path) -> tuple[dict[str, float], dict[str, dict[str, float]]]:
    with open(out / "grades.csv") as f:
        grades = {row["student_id"]: float(row["score"]) for row in csv.DictReader(f)}
    with open(out / "scores_by_cell.csv") as f:
        by_cell = {}
        for row in csv.DictReader(f):
            by_cell.setdefault(row["student_id"], {})[row["cell"]] = float(row["score"])
    return grades, by_cell


def grade(folder: Path, seed: int, *options: str) -> dict:
    out = Path(tempfile.mkdtemp(prefix="graded-"))
    env = dict(os.environ, GRADING_SEED=str(seed))  # grading finds nbgrader itself
    done = subprocess.run(
        grade_command(folder, out, *options), cwd=ROOT, env=env, capture_output=True, text=True, timeout=4000
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    grades, by_cell = read_grades(out)
    return {"out": out, "grades": grades, "by_cell": by_cell, "stdout": done.stdout}


def files_in(out: Path) -> set[str]:
    return {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()}


class DaskCluster:
    """A Dask scheduler and two workers (each under a nanny, which restarts it) on loopback, as separate processes.

    They are started the way README tells instructors to start them on their machines, with the
    scheduler told to give up on a submission after its second dead worker.
    """

    def __init__(self, folder: Path, workers: int = 2):
        scheduler_file, self.logs = folder / "scheduler.json", []
        env = dict(
            os.environ,
            PYTHONPATH=str(ROOT),
            DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES="1",
            PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        )
        env.pop("GRADING_SEED", None)
        dask = [sys.executable, "-m", "dask"]
        self.processes = [
            subprocess.Popen(
                [*dask, "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard"]
                + ["--scheduler-file", str(scheduler_file)],
                cwd=ROOT,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=self.log(folder / "scheduler.log"),
                start_new_session=True,
            )
        ]
        deadline = time.monotonic() + 60
        while not scheduler_file.exists():
            assert time.monotonic() < deadline, (folder / "scheduler.log").read_text()
            time.sleep(0.2)
        self.address = json.loads(scheduler_file.read_text())["address"]
        for number in range(workers):
            self.processes.append(
                subprocess.Popen(
                    [*dask, "worker", self.address, "--host", "127.0.0.1", "--nworkers", "1", "--nthreads", "1"]
                    + ["--nanny", "--memory-limit", "0", "--no-dashboard", "--name", f"grader-{number}"],
                    cwd=ROOT,
                    env=env,
                    stdout=subprocess.DEVNULL,
                    stderr=self.log(folder / f"worker-{number}.log"),
                    start_new_session=True,
                )
            )
        self.wait_for_workers(workers)

    def log(self, path: Path):
        self.logs.append(open(path, "w"))  # noqa: SIM115 (closed with the cluster)
        return self.logs[-1]

    def info(self) -> dict:
        """The scheduler's view: ``{"workers": {address: {...}}, ...}``."""
        from distributed import Client

        with Client(self.address, timeout="30s") as client:
            return client.scheduler_info(n_workers=-1)

    def pid(self, worker: str) -> int:
        """The process id of the worker at ``worker`` (the nanny's child, which runs the tasks)."""
        from distributed import Client

        with Client(self.address, timeout="30s") as client:
            return client.run(os.getpid, workers=[worker])[worker]

    def running(self) -> dict[str, list[str]]:
        """The task keys each worker is executing now (not those the scheduler has only sent it)."""
        from distributed import Client

        def executing(dask_worker) -> list[str]:  # local, so that it travels by value, not by this module's name
            return [str(task.key) for task in dask_worker.state.executing]

        with Client(self.address, timeout="30s") as client:
            return client.run(executing)

    def wait_for_workers(self, count: int, *, gone: str = "", timeout: float = 120) -> None:
        """Until ``count`` workers are up, and the worker at ``gone`` is not among them."""
        deadline = time.monotonic() + timeout
        while len(workers := self.info()["workers"]) < count or gone in workers:
            assert time.monotonic() < deadline, f"{count} workers did not join in {timeout} s"
            time.sleep(1)

    def close(self) -> None:
        for process in reversed(self.processes):
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        for log in self.logs:
            log.close()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    if not ROOT_ON_LINUX or not shutil.which("bwrap"):
        pytest.skip("grading needs bubblewrap, as root on Linux, here")
    running = DaskCluster(tmp_path_factory.mktemp("dask"))
    yield running
    running.close()


def plant_stray_copies(seed: int) -> list[Path]:
    """Copies of the course (its solutions and the seed) where instructors keep them, readable by anyone.

    One beside this checkout (another clone), one in /opt: no deny-list of covered places knows them.
    """
    copies = []
    for place in (ROOT.parent, Path("/opt")):
        copy = Path(tempfile.mkdtemp(prefix="stray-course-", dir=place))
        shutil.copytree(ROOT / "solutions", copy / "solutions")
        (copy / ".grading_seed").write_text(f"{seed}\n")
        for path in [copy, *copy.rglob("*")]:
            path.chmod(0o755 if path.is_dir() else 0o644)
        copies.append(copy)
    return copies


@pytest.fixture(scope="module")
def batches(tmp_path_factory, cluster):
    if not ROOT_ON_LINUX or not shutil.which("bwrap"):
        pytest.skip("grading needs bubblewrap, as root on Linux, here")
    folder = tmp_path_factory.mktemp("submissions")
    expected = adversarial_batch(folder)
    seed = secrets.randbelow(10**9) + 10**9
    copies = plant_stray_copies(seed)
    try:
        first = grade(folder, seed, "--jobs", "1")
        second = grade(folder, seed, "--scheduler", cluster.address)
    finally:
        for copy in copies:
            shutil.rmtree(copy)
    yield {"expected": expected, "first": first, "second": second, "seed": seed, "folder": folder}
    for batch in (first, second):
        shutil.rmtree(batch["out"], ignore_errors=True)


@pytest.mark.slow
def test_every_submission_gets_the_score_it_should(batches):
    got = batches["first"]["grades"]
    wrong = {s: (got.get(s), should) for s, should in batches["expected"].items() if got.get(s) != should}
    assert not wrong, {s: (v, batches["first"]["by_cell"].get(s)) for s, v in wrong.items()}
    assert "linked" not in got and "linked.ipynb is a symbolic link: refused" in batches["first"]["stdout"]
    assert "corrupt" in batches["first"]["stdout"] and "not a readable notebook" in batches["first"]["stdout"]


@pytest.mark.slow
def test_the_batch_graded_on_a_dask_cluster_gets_the_same_scores_and_files(batches):
    assert batches["second"]["by_cell"] == batches["first"]["by_cell"]
    assert batches["second"]["grades"] == batches["first"]["grades"]
    assert files_in(batches["second"]["out"]) == files_in(batches["first"]["out"])
    assert "to grade on the Dask cluster at tcp://127.0.0.1" in batches["second"]["stdout"]
    workers = {json.loads(p.read_text())["worker"] for p in (batches["second"]["out"] / "results").glob("*.json")}
    assert len(workers) == 2, f"both workers grade: {workers}"


@pytest.mark.slow
def test_points_before_a_dead_or_hung_kernel_are_kept_and_explained(batches):
    for student_id, says in (("dies_after_head", "the kernel died"), ("hangs_after_head", "time limit")):
        cells = batches["first"]["by_cell"][student_id]
        assert cells["check-head"] == 3 and cells["check-tune"] == 0, cells
        page = (batches["first"]["out"] / "feedback" / f"{student_id}.html").read_text()
        assert says in page and "this cell did not run" in page, student_id


@pytest.mark.slow
def test_honest_names_cost_nothing_and_the_self_check_still_says_what_it_saw(batches):
    page = (batches["first"]["out"] / "feedback" / "shadows_builtins.html").read_text()
    assert "Your self-check said: TypeError" in page and "Grader's check: passed" in page


@pytest.mark.slow
def test_the_seed_and_hidden_tests_never_reach_a_kernel_nor_a_feedback_page(batches):
    seed = str(batches["seed"])
    hidden = hidden_tests.split_hidden_tests(solution().cells)
    forms = secrecy.secret_forms(batches["seed"], hidden, "\n".join(c.source for c in release().cells))
    for batch in ("first", "second"):  # in this process, and on every worker of the cluster
        pages = list((batches[batch]["out"] / "feedback").glob("*.html"))
        assert len(pages) == len(batches["expected"]) - 1  # all but the unreadable one
        for page in pages:
            text = page.read_text()
            assert not secrecy.leaks(text, forms) and "Feedback withheld" not in text, page.name
            assert "hidden_accuracy(" not in text and "changed_pretrained_layers(" not in text, page.name
        hunter = (batches[batch]["out"] / "feedback" / "hunts_secrets.html").read_text()
        assert "CANDIDATE SEEDS" in hunter and seed not in hunter and "HIDDEN TESTS FOUND False" in hunter, batch
        assert "STRAY COPIES FOUND 0" in hunter, "copies of the course outside the checkout stay out of sight"


@pytest.mark.slow
def test_a_model_that_learned_nothing_earns_nothing_and_its_errors_carry_no_hidden_pixels(batches):
    from helpers.tasks import make_sunglasses_vs_hat

    codes = pixel_codes(make_sunglasses_vs_hat(1000, seed=batches["seed"])[0])
    for batch in ("first", "second"):
        cells = batches[batch]["by_cell"]["cheats_without_learning"]
        assert cells["check-head"] == 0 and cells["check-tune"] == 0 and sum(cells.values()) <= CHEAT_MOST, cells
        out = batches[batch]["out"]
        page = (out / "feedback" / "cheats_without_learning.html").read_text()
        assert "InvalidArgumentError raised while the grader checked" in page, "the head's error, by its type only"
        assert "changes with the other photos of its batch" in page, "the batch-position model is caught"
        assert "found OOV values" in (out / "logs" / "cheats_without_learning.txt").read_text(), "details: the log"
        for path in (out / "feedback").glob("*.html"):
            text = re.sub(r"data:image/[^\"']+", "", html.unescape(path.read_text()))
            assert not codes & set(re.findall(r"[0-9]+", text)), f"{path.name} shows pixels of the hidden photos"


@pytest.mark.slow
def test_odd_metadata_a_deleted_cell_a_forged_log_and_a_linked_hand_in(batches):
    out = batches["first"]["out"]
    assert batches["first"]["by_cell"]["messy_but_right"] == batches["first"]["by_cell"]["good"]
    log = (out / "logs" / "messy_but_right.txt").read_text()
    assert log.startswith("Graded by "), log[:300]
    kernel = log.index("--- written by the submission's kernel")
    assert "FORGED" in log[kernel:] and "FORGED" not in log[:kernel], "the kernel writes only its own section"
    assert "check-data (deleted: restored)" in log
    page = (out / "feedback" / "messy_but_right.html").read_text()
    assert "Click for the answers" in page
    assert not re.search(r"""(href|src)\s*=\s*["']?\s*(javascript|vbscript):""", page, re.IGNORECASE)
    linked = (out / "feedback" / "links_hand_in.html").read_text()
    assert "the hand-in folder was replaced by a link or a file: refused" in linked


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


@pytest.mark.slow
def test_no_process_outlives_its_submission(batches):
    leftover = subprocess.run(["pgrep", "-f", "course-test-orphan"], capture_output=True, text=True)
    assert leftover.stdout == "", f"processes of a graded submission still run: {leftover.stdout}"


@pytest.mark.slow
def test_feedback_is_bounded_and_inert_and_grades_are_private(batches):
    out = batches["first"]["out"]
    page = out / "feedback" / "floods_feedback.html"
    assert page.stat().st_size < 3_000_000
    text = page.read_text()
    where = text.find("<script>document.title")
    assert where < 0, f"the student's script output is on the page: {text[max(0, where - 400) : where + 100]!r}"
    assert not re.search(r"<img[^>]*onerror", text), "the reflection's <img onerror> is shown as text, not a tag"
    for path in [out, *out.rglob("*")]:
        assert path.stat().st_mode & 0o077 == 0, f"{path} is readable by others"
    chromium = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
    if not chromium.exists():
        if os.environ.get("COURSE_REQUIRE_BROWSER") == "1":
            pytest.fail(f"browser required, but no Chromium at {chromium}")
        return
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(chromium), headless=True, args=["--no-sandbox", "--disable-background-networking"]
        )
        try:
            view = browser.new_page()
            view.goto(page.as_uri())
            view.wait_for_timeout(1000)
            assert view.evaluate("window.pwned === undefined") and view.title() != "pwned"
            assert "Grader's check: passed" in view.inner_text("body")
        finally:
            browser.close()


@pytest.mark.slow
def test_the_solution_hands_in_every_graded_step(batches):
    assert batches["first"]["by_cell"]["good"] == {
        "check-data": 1,
        "check-head": 3,
        "check-model": 2,
        "check-predict": 1,
        "check-quiz": 2,
        "check-tune": 3,
        "reflection": 0,
    }


# --- a class on a cluster: workers that die, batches that stop -----------------------------------


def copy_submissions(batches, folder: Path, students: list[str]) -> Path:
    folder.mkdir()
    for student_id in students:
        shutil.copy(batches["folder"] / f"{student_id}.ipynb", folder / f"{student_id}.ipynb")
    return folder


@pytest.mark.slow
def test_a_worker_killed_while_grading_loses_nothing(batches, cluster, tmp_path):
    """A real SIGKILL to the worker grading ``good``: it is graded again elsewhere, to the same score.

    The worker grading ``untouched`` is killed twice: that submission is reported as failed, with the reason.
    """
    folder = copy_submissions(batches, tmp_path / "submissions", ["good", "untouched", "raises", "corrupt"])
    out = tmp_path / "out"
    grading = subprocess.Popen(
        grade_command(folder, out, "--scheduler", cluster.address),
        cwd=ROOT,
        env=dict(os.environ, GRADING_SEED=str(batches["seed"])),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    killed: dict[str, list[int]] = {"good": [], "untouched": []}
    wanted = {"good": 1, "untouched": 2}
    dead: set[str] = set()
    deadline = time.monotonic() + 1500
    try:
        while any(len(killed[s]) < wanted[s] for s in wanted) and grading.poll() is None:
            assert time.monotonic() < deadline
            for address, keys in cluster.running().items():
                student_id = next(
                    (
                        s
                        for s in wanted
                        if len(killed[s]) < wanted[s] and any(k.startswith(f"grade-{s}-") for k in keys)
                    ),
                    None,
                )
                if student_id is None or address in dead:
                    continue
                time.sleep(20)  # well inside its grading: its kernel runs the notebook
                pid = cluster.pid(address)
                os.kill(pid, signal.SIGKILL)
                killed[student_id].append(pid)
                dead.add(address)
                cluster.wait_for_workers(2, gone=address)  # the nanny starts a new worker in its place
                break
            time.sleep(1)
        stdout, _ = grading.communicate(timeout=1500)
    finally:
        if grading.poll() is None:
            grading.kill()
    assert grading.returncode == 0, stdout[-3000:]
    assert len(killed["good"]) == 1 and len(killed["untouched"]) == 2, killed
    grades, by_cell = read_grades(out)
    for student_id in ("good", "raises", "corrupt"):
        assert by_cell.get(student_id) == batches["first"]["by_cell"].get(student_id), student_id
        assert grades[student_id] == batches["first"]["grades"][student_id], student_id
    good = json.loads((out / "results" / "good.json").read_text())
    assert int(good["worker"].rsplit(":", 1)[1]) not in killed["good"]
    untouched = json.loads((out / "results" / "untouched.json").read_text())
    assert (
        untouched["failed"]
        and grades["untouched"] == 0
        and "stopped twice by the death of its worker" in untouched["problem"]
    )
    assert "untouched" in stdout and "stopped twice by the death of its worker" in stdout
    assert not grading_processes(), "the killed workers' nbgrader runs, sandboxes and kernels die with them"


def grading_processes(wait: float = 30) -> list[str]:
    """The processes of a grading still running (nbgrader, bwrap, a sandboxed kernel), after ``wait`` s at most."""
    deadline = time.monotonic() + wait
    while True:
        found = [
            line
            for pattern in ("nbgrader autograde", "^/usr/bin/bwrap ", "ipykernel_launcher -f .*connection.json")
            for line in subprocess.run(["pgrep", "-af", pattern], capture_output=True, text=True).stdout.splitlines()
        ]
        if not found or time.monotonic() > deadline:
            return found
        time.sleep(1)


@pytest.mark.slow
def test_an_interrupted_batch_resumes_without_grading_anything_twice(batches, tmp_path):
    """Ctrl-C (SIGINT to the whole process group, as a terminal sends it) on a local cluster, then the same command."""
    students = ["raises", "untouched", "deletes_cells", "edits_tests", "corrupt"]
    folder = copy_submissions(batches, tmp_path / "submissions", students)
    out = tmp_path / "out"
    env = dict(os.environ, GRADING_SEED=str(batches["seed"]))
    first = subprocess.Popen(
        grade_command(folder, out, "--jobs", "2"),
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    deadline = time.monotonic() + 600
    while len(list((out / "results").glob("*.json"))) < 2:
        assert time.monotonic() < deadline and first.poll() is None, first.communicate()[0][-3000:]
        time.sleep(0.5)
    os.killpg(first.pid, signal.SIGINT)
    stdout, _ = first.communicate(timeout=120)
    assert first.returncode == 130, stdout[-3000:]
    assert "run the same command again" in stdout
    saved = {p.stem: p.read_bytes() for p in (out / "results").glob("*.json")}
    assert 2 <= len(saved) < len(students), sorted(saved)
    grades, _ = read_grades(out)
    assert set(grades) == set(saved), "the tables hold what is graded, at any moment"

    second = subprocess.run(
        grade_command(folder, out, "--jobs", "2"), cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-3000:]
    assert f"{len(students) - len(saved)} to grade" in second.stdout and f"{len(saved)} already graded" in second.stdout
    for student_id, content in saved.items():
        assert (out / "results" / f"{student_id}.json").read_bytes() == content, f"{student_id} graded twice"
    grades, by_cell = read_grades(out)
    assert set(grades) == set(students)
    assert by_cell == {s: batches["first"]["by_cell"][s] for s in students if s in batches["first"]["by_cell"]}
    assert grades == {s: batches["first"]["grades"][s] for s in students}

    third = subprocess.run(
        grade_command(folder, out, "--jobs", "1", "--student", "corrupt"),
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert third.returncode == 0 and "1 to grade" in third.stdout, third.stdout[-3000:]
    regraded = {p.stem for p in (out / "results").glob("*.json") if p.read_bytes() != saved.get(p.stem)}
    assert "corrupt" in regraded and regraded <= {"corrupt", *(set(students) - set(saved))}
    assert not grading_processes(), "an interrupted batch leaves no grading behind"


def test_make_starts_a_grading_scheduler_and_workers_that_join_it(tmp_path):
    """``make grading-scheduler`` and ``make grading-worker``, as README tells instructors to run them."""
    scheduler_file = tmp_path / "scheduler.json"
    started = []
    try:
        started.append(
            subprocess.Popen(
                ["make", "-s", "grading-scheduler"]
                + [f"DASK_ARGS=--host 127.0.0.1 --port 0 --no-dashboard --scheduler-file {scheduler_file}"],
                cwd=ROOT,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
        )
        deadline = time.monotonic() + 120
        while not scheduler_file.exists():
            assert time.monotonic() < deadline, "the scheduler did not start"
            time.sleep(0.5)
        address = json.loads(scheduler_file.read_text())["address"]
        started.append(
            subprocess.Popen(
                ["make", "-s", "grading-worker", f"SCHEDULER={address}", "DASK_ARGS=--host 127.0.0.1 --no-dashboard"],
                cwd=ROOT,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
        )
        from distributed import Client

        expected, _ = dispatch.local_workers()
        with Client(address, timeout="60s") as client:
            client.wait_for_workers(expected, timeout=120)
            assert set(client.nthreads().values()) == {1}, "one thread a worker: one grading at a time"
            assert client.run_on_scheduler(dispatch.allowed_failures) == 1
            versions = client.run(lambda: __import__("grading.course").course.course_version())
            assert set(versions.values()) == {course_version()}, "the workers grade this checkout"
    finally:
        for process in reversed(started):
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=60)
    usage = subprocess.run(["make", "-s", "grading-worker"], cwd=ROOT, capture_output=True, text=True)
    assert usage.returncode == 2 and "usage: make grading-worker SCHEDULER=" in usage.stdout
