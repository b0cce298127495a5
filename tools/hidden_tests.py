"""Run an exercise's hidden tests outside the student's kernel, on what its cells handed in.

In ``solutions/`` an instructor writes hidden tests as nbgrader has them, between
``### BEGIN HIDDEN TESTS`` and ``### END HIDDEN TESTS`` in a test cell. At grading time
(tools/autograde.py) they never reach the student's kernel:

1. :func:`split_hidden_tests` takes them out of the grading copy of the source, so neither the
   kernel nor the gradebook nor the feedback ever holds them;
2. the notebook runs; each test cell's visible part calls :func:`helpers.hand_in.hand_in`,
   which saves the values of that step (the model, the history, the answers);
3. :func:`run_outside` starts a separate, confined Python (tools/sandbox.py) that imports
   nothing from the submission, loads the handed-in values with Keras' ``safe_mode`` and
   ``allow_pickle=False``, and runs each cell's hidden tests in a fresh namespace holding the
   values handed in so far (a later step's value of a name replaces an earlier one) and the
   functions of :data:`CHECKS` below. The secret seed reaches it on its standard input.

A test cell's points are its hidden tests' verdict alone: a cell that was blanked, skipped or
rewritten handed nothing in and earns nothing, and a student's names (``max = ...``) cannot
break a check. So the hidden tests of a cell must check everything its visible asserts check.
"""

from __future__ import annotations

import json
import math
import re
import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from tools import sandbox

HIDDEN_BLOCK = re.compile(
    r"^[ \t]*### BEGIN HIDDEN TESTS[ \t]*\n(.*?)^[ \t]*### END HIDDEN TESTS[ \t]*\n?", re.MULTILINE | re.DOTALL
)
MAX_INDEX_BYTES = 8 << 20
MAX_FILE_BYTES = 64 << 20
MAX_MESSAGE_CHARS = 500
VERDICT_MARK = "HIDDEN-TEST-VERDICTS "
NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")


def is_test_cell(cell) -> bool:
    """Whether ``cell`` is an nbgrader test cell (graded code that is not an answer).

    nbgrader.utils has the same test, but importing it costs the confined checker 4 s.
    """
    meta = cell.metadata.get("nbgrader", {})
    return cell.cell_type == "code" and bool(meta.get("grade")) and not meta.get("solution")


def split_hidden_tests(cells: list) -> dict[str, str]:
    """Take the hidden tests out of the test cells of ``cells`` (changed in place): ``{grade_id: code}``.

    Examples
    --------
    >>> import nbformat
    >>> cell = nbformat.v4.new_code_cell("assert x\\n### BEGIN HIDDEN TESTS\\nassert y\\n### END HIDDEN TESTS\\n")
    >>> cell.metadata["nbgrader"] = {"grade": True, "solution": False, "grade_id": "t", "points": 1}
    >>> split_hidden_tests([cell]), cell.source
    ({'t': 'assert y\\n'}, 'assert x\\n')
    """
    hidden = {}
    for cell in (c for c in cells if is_test_cell(c)):
        meta = cell.metadata["nbgrader"]
        blocks = HIDDEN_BLOCK.findall(cell.source)
        if not blocks:
            raise ValueError(
                f"test cell {meta['grade_id']!r} has no hidden tests. Its points come from its hidden "
                "tests, run outside the student's kernel on what the cell hands in: add a "
                "### BEGIN HIDDEN TESTS / ### END HIDDEN TESTS block that checks what its asserts check."
            )
        hidden[meta["grade_id"]] = "".join(blocks)
        cell.source = HIDDEN_BLOCK.sub("", cell.source)
    return hidden


# --- what the hidden tests run with (inside the confined checker) -------------------------------------


def _plain_file(path: Path, limit: int) -> Path:
    """``path`` if it is a regular file (not a link) of at most ``limit`` bytes."""
    info = path.lstat()
    if not path.is_file() or path.is_symlink() or info.st_size > limit:
        raise ValueError(f"{path.name} is not a plain file of at most {limit >> 20} MB")
    return path


def load_hand_in(folder: Path) -> dict[str, Any]:
    """The values one step handed in, loaded without running anything they contain."""
    import keras
    import numpy as np

    index = json.loads(_plain_file(folder / "values.json", MAX_INDEX_BYTES).read_text())
    values = {}
    for name, entry in index.items():
        if not NAME.fullmatch(name) or not isinstance(entry, dict):
            raise ValueError(f"{name!r} is not a name that can be handed in")
        kind = entry.get("kind")
        if kind in ("keras", "npy"):
            file = str(entry.get("file", ""))
            if file != f"{name}.{kind}":
                raise ValueError(f"{name}: unexpected file {file!r}")
            path = _plain_file(folder / file, MAX_FILE_BYTES)
            values[name] = (
                keras.saving.load_model(path, safe_mode=True) if kind == "keras" else np.load(path, allow_pickle=False)
            )
        elif kind == "history":
            values[name] = SimpleNamespace(
                history=dict(entry["value"]["history"]), params=dict(entry["value"]["params"])
            )
        elif kind == "json":
            values[name] = entry.get("value")
        else:
            raise ValueError(f"{name}: unknown kind {kind!r}")
    return values


class Checks:
    """The functions every hidden test can call; the only holder of the secret seed."""

    def __init__(self, seed: int):
        self._seed = seed
        self._hidden: dict[int, tuple] = {}
        self._bundled = None

    def hidden_test_set(self, n_images: int = 1000):
        """``(images, labels)``: ``n_images`` new sunglasses-vs-hat photos drawn with the secret seed."""
        if n_images not in self._hidden:
            from helpers.tasks import make_sunglasses_vs_hat

            self._hidden[n_images] = make_sunglasses_vs_hat(n_images, seed=self._seed)
        return self._hidden[n_images]

    @staticmethod
    def predict_logits(model, images, batch_size: int = 50):
        """The model's outputs for ``images``, in inference mode, in small batches (bounded memory)."""
        import keras
        import numpy as np

        return np.concatenate(
            [
                keras.ops.convert_to_numpy(model(images[i : i + batch_size], training=False))
                for i in range(0, len(images), batch_size)
            ]
        )

    def hidden_accuracy(self, model, n_images: int = 1000) -> float:
        """Accuracy of ``model`` on the hidden test set."""
        import numpy as np

        images, labels = self.hidden_test_set(n_images)
        return float(np.mean(np.argmax(self.predict_logits(model, images), axis=1) == labels))

    def bundled_base(self):
        """The course's bundled pretrained base (``helpers.models.load_base("bundled")``)."""
        if self._bundled is None:
            from helpers.models import load_base

            self._bundled = load_base("bundled")
        return self._bundled

    def changed_pretrained_layers(self, model, *, only_frozen: bool = False) -> list[str]:
        """Layers of the bundled base whose weights in ``model`` differ from the bundled ones (or are missing).

        ``only_frozen``: compare only the weights ``model`` does not train (a frozen layer must keep
        its pretrained weights; BatchNorm statistics included).
        """
        import numpy as np

        changed = []
        for layer in self.bundled_base().layers:
            if not layer.weights:
                continue
            try:
                theirs = model.get_layer(layer.name)
            except ValueError:
                changed.append(layer.name)
                continue
            # a layer that trains may change its weights, but never its statistics
            compared = (
                zip(layer.non_trainable_weights, theirs.non_trainable_weights, strict=False)
                if only_frozen and theirs.trainable
                else zip(layer.weights, theirs.weights, strict=False)
            )
            if len(layer.weights) != len(theirs.weights) or not all(
                np.array_equal(a.numpy(), b.numpy()) for a, b in compared
            ):
                changed.append(layer.name)
        return changed

    @staticmethod
    def trainable_blocks(model) -> list[str]:
        """The blocks of ``model`` that have trainable parameters, in order (``helpers.surgery.trainable_summary``)."""
        from helpers.surgery import trainable_summary

        return [name for name, row in trainable_summary(model).items() if row["trainable"]]

    @staticmethod
    def trainable_count(model) -> int:
        """The number of trainable parameters of ``model``."""
        return sum(math.prod(w.shape) for w in model.trainable_weights)

    @staticmethod
    def learning_rates(model) -> list[float]:
        """The learning rates the model's optimizer really uses (every optimizer of a MultiOptimizer)."""
        import keras

        optimizer = model.optimizer
        if optimizer is None:
            raise AssertionError("the model was not compiled: compile it with an optimizer before training")
        inner = getattr(optimizer, "optimizers", None) or [optimizer]
        return [float(keras.ops.convert_to_numpy(o.learning_rate)) for o in inner]

    def namespace(self) -> dict[str, Any]:
        import numpy as np

        names = (
            "hidden_test_set",
            "predict_logits",
            "hidden_accuracy",
            "bundled_base",
            "changed_pretrained_layers",
            "trainable_blocks",
            "trainable_count",
            "learning_rates",
        )
        return {"np": np, **{name: getattr(self, name) for name in names}}


def _message(error: BaseException) -> str:
    text = str(error).strip() or "a hidden test failed"
    text = text if isinstance(error, AssertionError) else f"{type(error).__name__}: {text}"
    return text[:MAX_MESSAGE_CHARS]


def evaluate(hand_in_dir: Path, tests: list[tuple[str, str]], seed: int) -> dict[str, dict]:
    """Run each cell's hidden tests (``(grade_id, code)``, in notebook order) on the handed-in values."""
    checks = Checks(seed)
    values: dict[str, Any] = {}
    verdicts = {}
    for grade_id, code in tests:
        folder = hand_in_dir / grade_id
        if not (folder / "values.json").is_file():
            verdicts[grade_id] = {
                "passed": False,
                "message": "nothing was handed in by this cell: it did not run "
                "to its hand_in(...) line (did it, or a cell before it, fail or not run?)",
            }
            continue
        try:
            values.update(load_hand_in(folder))
            namespace = {**values, **checks.namespace()}
            exec(compile(code, f"<hidden tests of {grade_id}>", "exec"), namespace)  # the instructor's code
            verdicts[grade_id] = {"passed": True, "message": ""}
        except Exception as error:  # any failure of a hidden test is that cell's verdict, not a crash
            verdicts[grade_id] = {"passed": False, "message": _message(error)}
    return verdicts


# --- the grader's side ------------------------------------------------------------------------------

BOOT = f"""
import json, sys
sys.path.insert(0, {str(sandbox.ROOT)!r})
from pathlib import Path
from tools.hidden_tests import evaluate, VERDICT_MARK
job = json.loads(sys.stdin.read())
verdicts = evaluate(Path(job["hand_in"]), [tuple(t) for t in job["tests"]], int(job["seed"]))
print(VERDICT_MARK + json.dumps(verdicts), flush=True)
"""


def run_outside(
    hand_in_dir: Path, tests: list[tuple[str, str]], seed: int, *, scratch: Path, timeout: float = 600
) -> tuple[dict[str, dict], str]:
    """Run the hidden tests in a confined Python of their own; return the verdicts and what it printed.

    ``python -I`` (no current folder, user site or ``PYTHON*`` variables on ``sys.path``), as the
    sandbox user, seeing the handed-in values read-only and nothing else of the submission.
    """
    home = sandbox.make_home(scratch / "checker-home")
    try:
        readable = (sandbox.ROOT / "tools", hand_in_dir) if hand_in_dir.is_dir() else (sandbox.ROOT / "tools",)
        command, _ = sandbox.confined([sys.executable, "-I", "-c", BOOT], home=home, readable=readable)
        job = json.dumps({"hand_in": str(hand_in_dir), "tests": tests, "seed": seed})
        done = subprocess.run(command, input=job, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return _every_cell_failed(tests, f"the grader's checks ran past {timeout:.0f} s"), ""
    finally:
        shutil.rmtree(home, ignore_errors=True)
    for line in reversed(done.stdout.splitlines()):
        if line.startswith(VERDICT_MARK):
            return json.loads(line[len(VERDICT_MARK) :]), done.stderr
    return (
        _every_cell_failed(tests, f"the grader's checks could not run (exit {done.returncode})"),
        done.stdout[-3000:] + done.stderr[-3000:],
    )


def _every_cell_failed(tests: list[tuple[str, str]], message: str) -> dict[str, dict]:
    return {grade_id: {"passed": False, "message": message} for grade_id, _ in tests}
