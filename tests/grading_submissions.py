"""The submissions the grading tests grade: the solution, the release, and every kind an instructor meets.

Honest ones that are unlucky (a shadowed builtin, a kernel that dies, a cell that hangs, edited or
odd metadata, a deleted test cell), and hostile ones that try to fool the grader (blanking the
self-checks, patching numpy, planting a fake ``helpers``, hunting for the seed and for copies of
the course, leaving a process behind for the next student, flooding the feedback, a model that
answers by batch position, an error that carries the hidden photos' pixels, a forged log, a
linked hand-in folder), among a class of seven (tests/class_of_students.py) whose whole term the
grading tests follow. :func:`adversarial_batch` writes them all with the score each should get.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
from class_of_students import notebook_of

from conftest import ROOT
from grading.protocol import RELEASE, SOURCE

FULL = 15  # the automatic points; the reflection's 2 are graded by hand


#: Students of the class who also meet an odd case: a messy notebook, a test cell claiming 100 points,
#: a shadowed builtin, a flood of output and a script in the reflection.
MESSY_BUT_RIGHT, CLAIMS_POINTS, SHADOWS_BUILTINS, FLOODS_FEEDBACK = "ana", "ben", "cy", "dee"


#: What a submission that learned nothing can earn: check-data, check-quiz, check-model and check-predict.
CHEAT_MOST = 6


def graded_cell(nb, grade_id: str):
    return next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)


def with_cells(nb, after: str, *sources: str):
    """``nb`` with new code cells inserted after the cell whose grade_id is ``after``."""
    index = nb.cells.index(graded_cell(nb, after))
    nb.cells[index + 1 : index + 1] = [nbformat.v4.new_code_cell(s) for s in sources]
    return nb


def replace(nb, grade_id: str, old: str, new: str):
    cell = graded_cell(nb, grade_id)
    assert old in cell.source, (grade_id, old)
    cell.source = cell.source.replace(old, new)
    return nb


def solution():
    return nbformat.read(SOURCE, as_version=4)


def release():
    return nbformat.read(RELEASE, as_version=4)


def no_night_learning(nb):
    """``nb`` with its night-camera step on a random base, for one epoch: never near its line (and quick)."""
    replace(nb, "night-head", "load_base(WEIGHTS)", "load_base(None)")
    return replace(nb, "night-choice", "epochs=10", "epochs=1")


def random_base():
    """Not transfer learning: the model with random weights, one epoch a phase (it can never reach the hidden lines)."""
    nb = no_night_learning(replace(solution(), "build-model", "load_base(WEIGHTS)", "load_base(None)"))
    replace(nb, "train-head", "epochs=8", "epochs=1")
    return replace(nb, "fine-tune", "epochs=15", "epochs=1")


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
    """What :data:`OOV_MODEL` puts in its error message for ``images`` (of 5 digits or more: a dark pixel's
    code, such as ``0``, is in any page)."""
    import numpy as np

    centre = images[:, 48, 48].astype(np.int64)
    return {str(v) for v in centre[:, 0] + 256 * centre[:, 1] + 65536 * centre[:, 2] if v >= 10_000}


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
    nb = replace(
        no_night_learning(solution()),
        "train-head",
        "history_head = model.fit(train_ds, validation_data=val_ds, epochs=8, verbose=0)",
        FAKE_HISTORY.format(name="history_head")
        + PARITY_MODEL
        + OOV_MODEL
        + "head = model\nmodel = oov_model(head)\n"
        + compile_.format(rate="HEAD_LR"),
    )
    replace(nb, "train-head", "head_accuracy = model.evaluate(val_ds, verbose=0)[1]", "head_accuracy = 0.99")
    replace(
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
    return replace(nb, "fine-tune", "tuned_accuracy = model.evaluate(val_ds, verbose=0)[1]", "tuned_accuracy = 0.99")


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


def messy_but_right(nb):
    """``nb`` with odd nbgrader metadata (null, a list as grade_id), a deleted test cell, a cell
    that rewrites every file the kernel holds open, and a javascript: link in markdown."""
    nb = with_cells(nb, "settings", FORGE_LOG)
    nb.cells = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") != "check-data"]
    index = nb.cells.index(graded_cell(nb, "quiz"))
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
    expect("skips_self_checks", with_cells(release(), "settings", SKIP_SELF_CHECKS), 0)
    expect("patches_mean", with_cells(random_base(), "settings", PATCH_MEAN), CHEAT_MOST)
    expect("fake_helpers", with_cells(random_base(), "settings", FAKE_HELPERS), CHEAT_MOST)
    hunter = with_cells(random_base(), "settings", HUNT_SECRETS.replace("{root}", str(ROOT)))
    expect("hunts_secrets", hunter, CHEAT_MOST)
    expect("dies_after_head", with_cells(solution(), "check-head", DIE), 8)
    expect("hangs_after_head", with_cells(solution(), "check-head", HANG), 8)
    expect("orphan", with_cells(release(), "settings", ORPHAN), 0)
    # graded while the orphan's process would still be planting a fake helpers (which exits the kernel)
    expect("orphan_victim", random_base(), CHEAT_MOST)
    # The class (tests/class_of_students.py), four of them also meeting an odd case that must cost nothing.
    expect(MESSY_BUT_RIGHT, messy_but_right(notebook_of(MESSY_BUT_RIGHT)), FULL)
    claims = notebook_of(CLAIMS_POINTS)
    graded_cell(claims, "quiz").metadata.nbgrader.update(grade=True, points=100)
    expect(CLAIMS_POINTS, claims, FULL)
    expect(SHADOWS_BUILTINS, with_cells(notebook_of(SHADOWS_BUILTINS), "settings", "max = 0.5  # an honest name"), FULL)
    flood = with_cells(notebook_of(FLOODS_FEEDBACK), "check-tune", FLOOD)
    replace(flood, "reflection", "I went with", f"{REFLECTION_XSS} I went with")
    expect(FLOODS_FEEDBACK, flood, FULL)
    expect("eve", notebook_of("eve"), FULL - 3)  # three blocks at night: below the night line on every seed
    expect("fay", notebook_of("fay"), FULL)
    expect("gus", notebook_of("gus"), FULL - 1)  # the predict cell moved after its self-check: that check fails
    expect("raises", with_cells(release(), "settings", "raise RuntimeError('oops')"), 0)
    edited = replace(
        release(),
        "quiz",
        "# YOUR CODE HERE\nraise NotImplementedError()",
        'PRETRAINED_MODEL = "A"\nKEEP_ORIGINAL_HEAD = True',
    )
    expect(
        "edits_tests",
        replace(
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
    expect("cheats_without_learning", cheater(), 5)  # data, quiz, model; its predict cell fails (the head raises)
    links = with_cells(release(), "settings", LINK_HAND_IN)
    expect("links_hand_in", links, 0)
    (folder / "corrupt.ipynb").write_text("{ not json")
    expected["corrupt"] = 0
    (folder / "linked.ipynb").symlink_to(SOURCE)  # refused: never graded, so never shown
    return expected
