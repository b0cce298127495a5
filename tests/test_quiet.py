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
    # Keras 3.15 warns that fit's shuffle=True is ignored on a dataset; Colab's Keras 3.13 (and 3.14) does not.
    import keras

    newer = tuple(int(part) for part in keras.__version__.split(".")[:2]) >= (3, 15)
    assert ("shuffle=True" in stderr_of(FIT_ON_A_DATASET)) == newer
    assert stderr_of("import helpers.models" + FIT_ON_A_DATASET) == ""


@pytest.mark.slow
def test_no_retracing_warning_where_tensorflow_alone_prints_one():
    assert "triggered tf.function retracing" in output_of(PREDICT_ON_NEW_MODELS)
    assert output_of("import helpers.quiet" + PREDICT_ON_NEW_MODELS) == ""


#: Fit two new models one after the other, forgetting the first; print, after each, how many functions and
#: function graphs TensorFlow still holds and the trained weights' sum (the same seeds: the same weights).
FIT_TWO_NEW_MODELS = """
import gc, keras, numpy as np
from tensorflow.python.eager import context
from tensorflow.python.framework.func_graph import FuncGraph
x, y = np.random.default_rng(0).normal(size=(32, 8)), np.arange(32) % 2
for _ in range(2):
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(16), keras.layers.Dense(2)])
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(x, y, batch_size=8, epochs=2, verbose=0, shuffle=False)
    trained = sum(float(np.abs(w).sum()) for w in model.get_weights())
    del model
    keras.backend.clear_session(); gc.collect()
    graphs = sum(isinstance(o, FuncGraph) for o in gc.get_objects())
    print(len(context.context().list_function_names()), graphs, trained)
"""


@pytest.mark.slow
def test_a_forgotten_model_leaves_nothing_behind_where_keras_alone_does_and_trains_the_same():
    def runs(code: str) -> list[tuple[int, int, float]]:
        rows = [line.split() for line in _run(code).stdout.splitlines()]
        return [(int(functions), int(graphs), float(trained)) for functions, graphs, trained in rows]

    (functions_1, graphs_1, trained), (functions_2, graphs_2, _) = runs(FIT_TWO_NEW_MODELS)
    assert functions_2 > functions_1 and graphs_2 > graphs_1, "Keras no longer leaks: helpers.quiet's fix can go"
    (course_functions_1, course_graphs_1, course_trained), (course_functions_2, course_graphs_2, _) = runs(
        "import helpers.quiet" + FIT_TWO_NEW_MODELS
    )
    assert course_functions_2 == course_functions_1 and course_graphs_2 == course_graphs_1 == 0
    assert course_trained == pytest.approx(trained, rel=1e-5)
