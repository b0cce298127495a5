"""Grading the exercise: units of tools.autograde, its sandbox and outside checks, and batches no submission fools.

The batch test grades, in one run of ``tools.autograde``, the solution, the unmodified release
and submissions of every kind an instructor meets: honest ones that are unlucky (a shadowed
builtin, a kernel that dies, a cell that hangs, edited metadata), and hostile ones that try to
fool the grader (blanking the self-checks, patching numpy, planting a fake ``helpers``,
snooping for the seed, leaving a process behind for the next student, flooding the feedback).
Each must get the score it should; a second batch with the same seed must give the same scores.
"""

from __future__ import annotations

import base64
import csv
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import nbformat
import pytest

from tools import autograde, hidden_tests, sandbox
from tools.preprocessors import BoundOutputs, BriefTracebacks

ROOT = Path(__file__).resolve().parent.parent
NAME = autograde.ASSIGNMENT
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
    found, problems = autograde.find_submissions(tmp_path)
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
    changed = autograde.restore_metadata(nb, release)
    assert "quiz" in changed and any("my-own-points" in c for c in changed)
    assert quiz.metadata.nbgrader == next(
        c.metadata.nbgrader for c in release.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "quiz"
    )
    assert "nbgrader" not in nb.cells[-1].metadata


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
    forms = autograde.secret_forms(seed, hidden)
    clean = "<p>accuracy 97.5%, seed not here 1357924681</p>"
    assert autograde.leaks(clean, forms) == []
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
        assert autograde.leaks(f"<pre>{encoded}</pre>", forms), encoded


def test_feedback_pages_get_a_policy_that_blocks_scripts():
    page = autograde.inert("<html><head><title>x</title></head><body><script>x()</script></body></html>")
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
    loaded = hidden_tests.load_hand_in(folder)
    assert loaded["answer"] == "B" and loaded["flag"] is False and loaded["numbers"] == [1, 2.5]
    assert loaded["arr"].tolist() == [0, 1, 2] and loaded["history"].params["epochs"] == 2
    assert len(loaded["history"].history["loss"]) == 2
    assert hidden_tests.Checks.learning_rates(loaded["model"]) == pytest.approx([1e-4])
    (folder / "arr.npy").unlink()
    (folder / "arr.npy").symlink_to("/etc/passwd")
    with pytest.raises(ValueError, match="not a plain file"):
        hidden_tests.load_hand_in(folder)


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
    verdicts = hidden_tests.evaluate(tmp_path, tests, seed=1)
    assert verdicts["check-a"] == {"passed": True, "message": ""}
    assert verdicts["check-b"] == {"passed": False, "message": "not B"}
    assert "nothing was handed in by this cell" in verdicts["check-c"]["message"]
    assert verdicts["check-d"]["message"].startswith("TypeError")


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
                str(ROOT / "tools" / "hidden_tests.py"),
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
    (folder / "corrupt.ipynb").write_text("{ not json")
    expected["corrupt"] = 0
    (folder / "linked.ipynb").symlink_to(SOURCE)  # refused: never graded, so never shown
    return expected


def grade(folder: Path, seed: int) -> dict:
    out = Path(tempfile.mkdtemp(prefix="graded-"))
    env = dict(os.environ, GRADING_SEED=str(seed))  # tools.autograde finds nbgrader itself
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "tools.autograde",
            str(folder),
            "--out",
            str(out),
            "--cell-timeout",
            "60",
            "--timeout",
            "600",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=4000,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    with open(out / "grades.csv") as f:
        grades = {row["student_id"]: float(row["score"]) for row in csv.DictReader(f)}
    with open(out / "scores_by_cell.csv") as f:
        by_cell = {}
        for row in csv.DictReader(f):
            by_cell.setdefault(row["student_id"], {})[row["cell"]] = float(row["score"])
    return {"out": out, "grades": grades, "by_cell": by_cell, "stdout": done.stdout}


@pytest.fixture(scope="module")
def batches(tmp_path_factory):
    if not ROOT_ON_LINUX or not shutil.which("bwrap"):
        pytest.skip("grading needs bubblewrap, as root on Linux, here")
    folder = tmp_path_factory.mktemp("submissions")
    expected = adversarial_batch(folder)
    seed = secrets.randbelow(10**9) + 10**9
    first, second = grade(folder, seed), grade(folder, seed)
    yield {"expected": expected, "first": first, "second": second, "seed": seed}
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
def test_a_second_batch_with_the_same_seed_gives_the_same_scores(batches):
    assert batches["second"]["by_cell"] == batches["first"]["by_cell"]


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
    forms = autograde.secret_forms(batches["seed"], hidden, "\n".join(c.source for c in release().cells))
    pages = list((batches["first"]["out"] / "feedback").glob("*.html"))
    assert len(pages) == len(batches["expected"]) - 1  # all but the unreadable one
    for page in pages:
        text = page.read_text()
        assert not autograde.leaks(text, forms) and "Feedback withheld" not in text, page.name
        assert "hidden_accuracy(" not in text and "changed_pretrained_layers(" not in text, page.name
    hunter = (batches["first"]["out"] / "feedback" / "hunts_secrets.html").read_text()
    assert "CANDIDATE SEEDS" in hunter and seed not in hunter and "HIDDEN TESTS FOUND False" in hunter


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
