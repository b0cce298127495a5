"""The confined checker: load what the test cells handed in, safely, and run each cell's hidden tests on it.

Started by :func:`grading.hidden_tests.run_outside` as ``python -I`` inside the sandbox, as the
sandbox user, seeing the handed-in values read-only and nothing else of the submission. It loads
them with Keras' ``safe_mode`` and ``allow_pickle=False``, and runs each cell's hidden tests in a
fresh namespace holding the values handed in so far (a later step's value of a name replaces an
earlier one) and the functions of :class:`Checks`. The secret seed reaches it on its standard
input; the verdicts leave on its standard output, after :data:`VERDICT_MARK`.

What the feedback shows of a failed hidden test is the grader's own words: the instructor's
assertion messages and this module's refusals. An error raised by a handed-in value (a model can
raise with the hidden photos' pixels in its message) is named by its type only; its text goes to
the instructor's log. Models are scored on the hidden set in a secret order and in batches of
secret sizes, and must judge each photo alone (:meth:`Checks.judges_each_image_alone`).
"""

from __future__ import annotations

import json
import math
import re
import stat
import sys
import traceback
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from grading.protocol import INDEX

MAX_INDEX_BYTES = 8 << 20

MAX_FILE_BYTES = 64 << 20

MAX_MESSAGE_CHARS = 500

VERDICT_MARK = "HIDDEN-TEST-VERDICTS "

HIDDEN_FILENAME = "<hidden tests of "


#: The hidden test set is scored in batches of these sizes (drawn with the secret seed), in a secret order.
BATCH_SIZES = (16, 64)


#: How many hidden photos are scored alone and among others, to see that each is judged on its own.
INDEPENDENCE_SAMPLE = 16

NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")


class HandInRefused(ValueError):
    """What a cell handed in cannot be read; the message is the grader's own words."""


def _plain_file(path: Path, limit: int) -> Path:
    """``path`` if it is a regular file (not a link) of at most ``limit`` bytes."""
    try:
        info = path.lstat()
    except OSError:
        raise HandInRefused(f"{path.name[:64]} is missing") from None
    if not stat.S_ISREG(info.st_mode) or info.st_size > limit:
        raise HandInRefused(f"{path.name[:64]} is not a plain file of at most {limit >> 20} MB")
    return path


def plain_folder(path: Path) -> bool:
    """Whether ``path`` is a folder itself: not a link to one, nor anything else."""
    try:
        return stat.S_ISDIR(path.lstat().st_mode)
    except OSError:
        return False


def load_hand_in(folder: Path) -> dict[str, Any]:
    """The values one step handed in, loaded without running anything they contain."""
    import keras
    import numpy as np

    import helpers.learning_rates  # noqa: F401  (registers differential_optimizer's optimizers for load_model)

    if not plain_folder(folder):
        raise HandInRefused(f"{folder.name[:64]} is not a folder written by hand_in")
    try:
        index = json.loads(_plain_file(folder / INDEX, MAX_INDEX_BYTES).read_text())
    except ValueError as error:
        raise HandInRefused(f"{INDEX} is not readable JSON") from error
    values = {}
    if not isinstance(index, dict):
        raise HandInRefused(f"{INDEX} is not a table of handed-in names")
    for name, entry in index.items():
        if not NAME.fullmatch(name) or not isinstance(entry, dict):
            raise HandInRefused(f"{name[:64]!r} is not a name that can be handed in")
        kind = entry.get("kind")
        if kind in ("keras", "npy"):
            if entry.get("file") != f"{name}.{kind}":
                raise HandInRefused(f"{name}: not the file hand_in writes")
            path = _plain_file(folder / f"{name}.{kind}", MAX_FILE_BYTES)
            try:
                values[name] = (
                    keras.saving.load_model(path, safe_mode=True)
                    if kind == "keras"
                    else np.load(path, allow_pickle=False)
                )
            except Exception as error:  # the file's own text stays out of the feedback
                print(f"loading {name}: {type(error).__name__}: {error}", file=sys.stderr)
                raise HandInRefused(
                    f"{name} could not be loaded safely ({type(error).__name__[:60]}); "
                    "hand in what the exercise builds with hand_in(...)"
                ) from None
        elif kind == "history":
            values[name] = SimpleNamespace(
                history=dict(entry["value"]["history"]), params=dict(entry["value"]["params"])
            )
        elif kind == "json":
            values[name] = entry.get("value")
        else:
            raise HandInRefused(f"{name}: not a kind of value hand_in writes")
    return values


class Checks:
    """The functions every hidden test can call; the only holder of the secret seed."""

    def __init__(self, seed: int):
        self._seed = seed
        self._hidden: dict[tuple[int, str], tuple] = {}
        self._bundled = None

    def hidden_test_set(self, n_images: int = 1000, camera: str = "daylight"):
        """``(images, labels)``: ``n_images`` new sunglasses-vs-hat photos by ``camera``, drawn with the secret seed."""
        if (n_images, camera) not in self._hidden:
            from helpers.tasks import make_sunglasses_vs_hat

            # the night set's scenes are not the daylight set's: a seed of their own
            seed = self._seed if camera == "daylight" else self._seed + 1
            self._hidden[n_images, camera] = make_sunglasses_vs_hat(n_images, seed=seed, camera=camera)
        return self._hidden[n_images, camera]

    def predict_logits(self, model, images):
        """The model's outputs for ``images``, in inference mode, scored in an order and in batches it cannot know.

        The order and the batch sizes (:data:`BATCH_SIZES`) are drawn with the secret seed, so a
        model that answers by an image's place in its batch, or in the set, learns nothing from it.
        """
        import keras
        import numpy as np

        rng = np.random.default_rng([self._seed, len(images), 1])
        order = rng.permutation(len(images))
        logits, start = None, 0
        while start < len(images):
            chunk = order[start : start + int(rng.integers(BATCH_SIZES[0], BATCH_SIZES[1] + 1))]
            out = keras.ops.convert_to_numpy(model(images[chunk], training=False))
            if logits is None:
                logits = np.zeros((len(images), *out.shape[1:]), dtype=out.dtype)
            logits[chunk] = out
            start += len(chunk)
        return logits

    def judges_each_image_alone(self, model, images) -> None:
        """Fail unless ``model`` gives a photo the same outputs alone and among other photos.

        A model that reads the other photos of its batch (their order, their mean) could score by
        what the batch holds instead of by the photo: :data:`INDEPENDENCE_SAMPLE` photos are
        scored one by one and then together, in a shuffled batch, and must agree.
        """
        import keras
        import numpy as np

        rng = np.random.default_rng([self._seed, len(images), 2])
        sample = images[rng.choice(len(images), INDEPENDENCE_SAMPLE, replace=False)]
        alone = np.concatenate(
            [keras.ops.convert_to_numpy(model(sample[i : i + 1], training=False)) for i in range(len(sample))]
        )
        shuffle = rng.permutation(len(sample))
        together = np.empty_like(alone)
        together[shuffle] = keras.ops.convert_to_numpy(model(sample[shuffle], training=False))
        if alone.shape != together.shape or not np.allclose(alone, together, rtol=1e-3, atol=1e-3):
            raise AssertionError(
                "the model's output for a photo changes with the other photos of its batch: "
                "a classifier must judge each photo on its own"
            )

    def hidden_accuracy(self, model, n_images: int = 1000, camera: str = "daylight") -> float:
        """Accuracy of ``model`` on the hidden photos of ``camera`` (a model judging photos by their batch fails)."""
        import numpy as np

        images, labels = self.hidden_test_set(n_images, camera)
        self.judges_each_image_alone(model, images)
        return float(np.mean(np.argmax(self.predict_logits(model, images), axis=1) == labels))

    def bundled_base(self):
        """The course's bundled pretrained base (``helpers.models.load_base("bundled")``)."""
        if self._bundled is None:
            from helpers.models import load_base

            self._bundled = load_base("bundled")
        return self._bundled

    def changed_pretrained_layers(self, model, *, only_frozen: bool = False) -> list[str]:
        """Layers of the bundled base whose weights in ``model`` differ (``helpers.surgery.changed_layers``)."""
        from helpers.surgery import changed_layers

        return changed_layers(model, self.bundled_base(), only_frozen=only_frozen)

    @staticmethod
    def trainable_blocks(model) -> list[str]:
        """The blocks of ``model`` that have trainable parameters, in order (``helpers.surgery.trainable_blocks``)."""
        from helpers.surgery import trainable_blocks

        return trainable_blocks(model)

    @staticmethod
    def trainable_count(model) -> int:
        """The number of trainable parameters of ``model``."""
        return sum(math.prod(w.shape) for w in model.trainable_weights)

    @staticmethod
    def learning_rates(model) -> list[float]:
        """The learning rates the model's optimizer really uses (``helpers.learning_rates.rates_in_use``)."""
        from helpers.learning_rates import rates_in_use

        if model.optimizer is None:  # said here: only the grader's own frames keep their words in the feedback
            raise AssertionError("the model was not compiled: compile it with an optimizer before training")
        return rates_in_use(model)

    def namespace(self) -> dict[str, Any]:
        import numpy as np

        names = (
            "hidden_test_set",
            "predict_logits",
            "judges_each_image_alone",
            "hidden_accuracy",
            "bundled_base",
            "changed_pretrained_layers",
            "trainable_blocks",
            "trainable_count",
            "learning_rates",
        )
        return {"np": np, **{name: getattr(self, name) for name in names}}


def _message(error: BaseException) -> str:
    """What the feedback says of a failed hidden test: the grader's own words only.

    An assertion of the instructor's hidden tests or of :class:`Checks`, or a refusal of what was
    handed in, keeps its message. Anything else was raised by (or through) the handed-in values:
    a model can raise with the hidden photos' pixels in its message, so the feedback names the
    error's type only, and its text goes to the instructor's log (the checker's standard error).
    """
    if isinstance(error, HandInRefused) or (isinstance(error, AssertionError) and _raised_by_grader(error)):
        return (str(error).strip() or "a hidden test failed")[:MAX_MESSAGE_CHARS]
    print("".join(traceback.format_exception(error))[-4000:], file=sys.stderr)
    return (
        f"{type(error).__name__[:60]} raised while the grader checked what this cell handed in "
        "(your instructor's log has the details)"
    )


def _raised_by_grader(error: BaseException) -> bool:
    """Whether ``error`` was raised by a hidden test's own code or by this module (not from a handed-in value)."""
    frame = error.__traceback__
    while frame is not None and frame.tb_next is not None:
        frame = frame.tb_next
    filename = frame.tb_frame.f_code.co_filename if frame is not None else ""
    return filename.startswith(HIDDEN_FILENAME) or filename == __file__


def evaluate(hand_in_dir: Path, tests: list[tuple[str, str]], seed: int) -> dict[str, dict]:
    """Run each cell's hidden tests (``(grade_id, code)``, in notebook order) on the handed-in values."""
    checks = Checks(seed)
    values: dict[str, Any] = {}
    verdicts = {}
    for grade_id, code in tests:
        folder = hand_in_dir / grade_id
        if not (folder / INDEX).exists():
            verdicts[grade_id] = {
                "passed": False,
                "message": "nothing was handed in by this cell: it did not run "
                "to its hand_in(...) line (did it, or a cell before it, fail or not run?)",
            }
            continue
        try:
            values.update(load_hand_in(folder))
            namespace = {**values, **checks.namespace()}
            exec(compile(code, f"{HIDDEN_FILENAME}{grade_id}>", "exec"), namespace)  # the instructor's code
            verdicts[grade_id] = {"passed": True, "message": ""}
        except Exception as error:  # any failure of a hidden test is that cell's verdict, not a crash
            verdicts[grade_id] = {"passed": False, "message": _message(error)}
    return verdicts


def main() -> None:
    """Read the job (``hand_in``, ``tests``, ``seed``) on stdin; print the verdicts after :data:`VERDICT_MARK`."""
    job = json.loads(sys.stdin.read())
    verdicts = evaluate(Path(job["hand_in"]), [tuple(t) for t in job["tests"]], int(job["seed"]))
    print(VERDICT_MARK + json.dumps(verdicts), flush=True)
