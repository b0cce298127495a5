"""Where the course is running, so a notebook can say what to expect."""

from __future__ import annotations

import helpers.quiet  # noqa: F401  (first: TensorFlow without its import notices)

import ctypes
import gc
import os
import platform
import sys
from importlib import metadata

import keras
import tensorflow as tf


def running_on() -> str:
    """Name the platform: ``"colab"``, ``"binder"`` or ``"local"``.

    Examples
    --------
    >>> running_on() in {"colab", "binder", "local"}
    True
    """
    if "google.colab" in sys.modules:
        return "colab"
    if "BINDER_LAUNCH_HOST" in os.environ or "BINDER_REQUEST" in os.environ:
        return "binder"
    return "local"


def describe_environment() -> dict[str, str]:
    """Versions and hardware that matter for the course, as an ordered mapping.

    Examples
    --------
    >>> info = describe_environment()
    >>> {"python", "tensorflow", "keras", "cpu cores"} <= set(info)
    True
    """
    info = {
        "platform": running_on(),
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "course package": metadata.version("transfer-learning-course"),
        "cpu cores": str(os.cpu_count()),
        "gpus": str(len(tf.config.list_physical_devices("GPU"))),
    }
    return info


def free_memory() -> int:
    """Forget Keras' graphs and models no longer referenced, and hand freed memory back to the system.

    Between experiments in one notebook: ``keras.backend.clear_session()`` alone leaves the freed
    memory inside the process (glibc keeps it for reuse), so the notebook's memory only ever grows;
    on Binder's 1-2 GB that ends in a dead kernel. Returns the process's resident memory afterwards,
    in MB (0 where it cannot be read).

    Examples
    --------
    >>> free_memory() >= 0
    True
    """
    keras.backend.clear_session()
    gc.collect()
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL("libc.so.6").malloc_trim(0)
        except (OSError, AttributeError):  # not glibc (musl, say): nothing to trim
            pass
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 2**20
    except (OSError, ValueError):
        return 0
