"""Where the course is running, so a notebook can say what to expect."""

from __future__ import annotations

import os
import platform
import sys
from importlib import metadata


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
    import keras
    import tensorflow as tf

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
