"""Importing the course and training on a dataset print nothing on stderr: no TensorFlow notice, no Keras warning."""

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


def stderr_of(code: str) -> str:
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}  # as a student's kernel starts
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    return done.stderr


@pytest.mark.slow
def test_the_course_is_quiet_where_tensorflow_alone_is_not():
    assert "oneDNN custom operations are on" in stderr_of("import tensorflow")  # what there is to silence
    assert "shuffle=True" in stderr_of(FIT_ON_A_DATASET)
    assert stderr_of("import helpers.models" + FIT_ON_A_DATASET) == ""
