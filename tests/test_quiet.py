"""Importing the course and training on a dataset print nothing: no TensorFlow notice, no Keras warning, and no
retracing warning among a notebook's results."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from conftest import ROOT

FIT_ON_A_DATASET = """
import keras, numpy as np, tensorflow as tf
model = keras.Sequential([keras.layers.Dense(2)])
model.compile("adam", "mse")
data = tf.data.Dataset.from_tensor_slices((np.zeros((4, 3)), np.zeros((4, 2)))).batch(2)
model.fit(data, epochs=1, verbose=0)
"""


#: A lecture comparing models calls predict on one new model after another.
PREDICT_ON_NEW_MODELS = """
import keras, numpy as np
for _ in range(7):
    keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)]).predict(np.zeros((4, 3)), verbose=0)
"""


def _run(code: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}  # as a student's kernel starts
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True)


def stderr_of(code: str) -> str:
    return _run(code).stderr


def output_of(code: str) -> str:
    """What ``code`` prints, standard output and error together."""
    done = _run(code)
    return done.stdout + done.stderr


@pytest.mark.slow
def test_the_course_is_quiet_where_tensorflow_alone_is_not():
    assert "oneDNN custom operations are on" in stderr_of("import tensorflow")  # what there is to silence
    assert "shuffle=True" in stderr_of(FIT_ON_A_DATASET)
    assert stderr_of("import helpers.models" + FIT_ON_A_DATASET) == ""


@pytest.mark.slow
def test_no_retracing_warning_where_tensorflow_alone_prints_one():
    assert "triggered tf.function retracing" in output_of(PREDICT_ON_NEW_MODELS)
    assert output_of("import helpers.quiet" + PREDICT_ON_NEW_MODELS) == ""


#: Fit two new models one after the other, forgetting the first; print how many functions TensorFlow
#: holds after each, and whether the second model trained (its weights moved).
FIT_TWO_NEW_MODELS = """
import gc, keras, numpy as np
from tensorflow.python.eager import context
x, y = np.random.default_rng(0).normal(size=(32, 8)), np.arange(32) % 2
for _ in range(2):
    model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(16), keras.layers.Dense(2)])
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    before = model.get_weights()[0].copy()
    model.fit(x, y, batch_size=8, epochs=2, verbose=0)
    moved = bool(np.abs(model.get_weights()[0] - before).max() > 0)
    del model
    keras.backend.clear_session(); gc.collect()
    print(len(context.context().list_function_names()), moved)
"""


@pytest.mark.slow
def test_a_forgotten_model_leaves_no_functions_behind_where_keras_alone_does():
    def counts(code: str) -> list[tuple[int, str]]:
        lines = _run(code).stdout.split()
        return [(int(n), moved) for n, moved in zip(lines[::2], lines[1::2], strict=True)]

    (alone_first, _), (alone_second, _) = counts(FIT_TWO_NEW_MODELS)
    assert alone_second > alone_first, "Keras no longer leaks: helpers.quiet's work-around can go"
    (first, moved_first), (second, moved_second) = counts("import helpers.quiet" + FIT_TWO_NEW_MODELS)
    assert second == first and moved_first == moved_second == "True"
