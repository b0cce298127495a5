"""Import TensorFlow as the course runs it: without its import notices, one Keras warning, or a Keras leak.

Every module of ``helpers`` that uses TensorFlow or Keras imports this one first (``import
helpers.quiet``; ruff's import order puts it first); the others, and the package itself, import
no TensorFlow at all, so ``helpers.hand_in`` or a constant costs no TensorFlow import.

TensorFlow's C++ core writes notices to the process's standard error on import (an absl
preamble, "oneDNN custom operations are on", the CPU instructions it was not built for), and the
full build Colab ships adds two on a CPU runtime: "Could not find cuda drivers" on import and
"failed call to cuInit" when it first looks for devices. They say nothing a student can act on,
and a notebook's kernel shows them as red text under the first cell, where a student looks for
errors. This module imports TensorFlow and lists its devices with file descriptor 2 caught, and
passes on anything else TensorFlow writes meanwhile, unchanged.

Keras 3.15 warns that ``shuffle=True`` "will be ignored" whenever ``fit`` gets a
``tf.data.Dataset``, and ``True`` is ``fit``'s own default, so every ``model.fit(dataset)`` a
student writes would print it (the course's datasets shuffle themselves): that warning is off.

TensorFlow's Python logger warns that "calls to <function> triggered tf.function retracing"
when a process calls ``predict`` on several freshly built models, which is what a lecture
comparing models does by design; it goes to standard output in a notebook, among the results.
That one message is filtered out of the ``tensorflow`` logger; every other warning stays.

Keras 3's TensorFlow backend routes each variable's update through ``tf.distribute``'s default
strategy even where there is nothing to distribute over, and that path keeps every training
step's whole graph alive after ``clear_session`` (tensorflow/tensorflow#61791): with it the
optimizer's initialiser functions, about 50 MB for each model of the course's base, and a lecture
that compares a dozen fine-tunings outgrows Binder. Outside a ``tf.distribute`` strategy, the
update runs directly: the same ``update_step`` on the same variables. ``tests/test_quiet.py``
checks that Keras alone still leaks, that the course does not, and that both train to the same
weights.
"""

from __future__ import annotations

import functools
import logging
import os
import re
import sys
import tempfile
import warnings

#: Lines TensorFlow's C++ core writes on import and on its first look for devices, whatever
#: ``TF_CPP_MIN_LOG_LEVEL`` says (tensorflow-cpu 2.21; the full tensorflow 2.20 on Colab's CPU runtime).
TENSORFLOW_IMPORT_NOTICES = re.compile(
    r"All log messages before absl::InitializeLog\(\) is called are written to STDERR"
    r"|\] oneDNN custom operations are on\."
    r"|cpu_feature_guard\.cc:\d+\]"
    r"|^To enable the following instructions: .* rebuild TensorFlow with the appropriate compiler flags\."
    r"|cudart_stub\.cc:\d+\] Could not find cuda drivers on your machine, GPU will not be used\."
    r"|cuda_platform\.cc:\d+\] failed call to cuInit: .*CUDA error"
)


def _import_tensorflow_quietly() -> None:
    """Import TensorFlow and list its devices with file descriptor 2 caught, then pass on what is not a known notice."""
    if "tensorflow" in sys.modules:
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # Python-side INFO and WARNING logs
    sys.stderr.flush()
    original = os.dup(2)
    with tempfile.TemporaryFile() as caught:
        os.dup2(caught.fileno(), 2)
        try:
            import tensorflow

            tensorflow.config.list_physical_devices()  # the full build's cuInit notice comes here, not later
        finally:
            os.dup2(original, 2)
            os.close(original)
            caught.seek(0)
            lines = caught.read().decode(errors="replace").splitlines(keepends=True)
            sys.stderr.write("".join(line for line in lines if not TENSORFLOW_IMPORT_NOTICES.search(line)))
            sys.stderr.flush()


class _NoRetracingNotice(logging.Filter):
    """Drop TensorFlow's "triggered tf.function retracing" warning, keep every other record."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "triggered tf.function retracing" not in record.getMessage()


def _update_without_a_strategy(backend_update_step):
    """``_backend_update_step`` that applies ``update_step`` directly unless a tf.distribute strategy is active."""

    @functools.wraps(backend_update_step)
    def wrapper(self, grads, trainable_variables, learning_rate):
        if tf.distribute.has_strategy():  # a real strategy: Keras's own path, with its all-reduce
            return backend_update_step(self, grads, trainable_variables, learning_rate)
        for grad, variable in zip(grads, trainable_variables, strict=True):
            self.update_step(grad, variable.value if isinstance(variable, keras.Variable) else variable, learning_rate)
        return None

    return wrapper


_import_tensorflow_quietly()
logging.getLogger("tensorflow").addFilter(_NoRetracingNotice())
import keras  # noqa: E402  (after TensorFlow's quiet import)
import tensorflow as tf  # noqa: E402

if not hasattr(keras.optimizers.Optimizer._backend_update_step, "__wrapped__"):  # once, even if reloaded
    keras.optimizers.Optimizer._backend_update_step = _update_without_a_strategy(
        keras.optimizers.Optimizer._backend_update_step
    )
warnings.filterwarnings("ignore", message=r"`shuffle=True` was passed, but will be ignored", category=UserWarning)
