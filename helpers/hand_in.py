"""Hand in what a graded step of an exercise produced, for the grader's checks outside your kernel.

Each self-check cell of the exercise starts with a call such as::

    hand_in("check-head", model=model, history=history_head)

When your instructor grades, this saves those values in a folder the grader reads after your
notebook has run; the grader's own checks (the hidden tests) then run in a separate process, on
the saved values, and decide the cell's points. Nothing of the grader runs in your notebook, so
nothing you name or change in it can break (or fool) them. Outside grading, ``hand_in`` only
checks that the values can be handed in, and saves nothing.

What can be handed in: Keras models (saved as ``.keras`` files, loaded back with Keras'
``safe_mode``), the ``History`` that ``fit`` returns, numpy arrays and tensors (``.npy`` files,
no pickles), and plain values (``str``, ``bool``, ``int``, ``float``, ``None``, and lists,
tuples and string-keyed dicts of them).
"""

from __future__ import annotations

import json
import math
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

#: Set by the grader in the grading kernel's environment: where ``hand_in`` saves (``grading/``).
HAND_IN_VARIABLE = "COURSE_HAND_IN_DIR"
#: The index of one step's hand-in: ``{name: {"kind": ..., "file" or "value": ...}}``.
INDEX = "values.json"
STEP_NAME_CHARACTERS = set("abcdefghijklmnopqrstuvwxyz0123456789-_")


def _plain(value: Any, name: str) -> Any:
    """``value`` as JSON-ready data, or a TypeError naming what cannot be handed in."""
    if value is None or isinstance(value, str | bool):
        return value
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        value = float(value)
        return value if math.isfinite(value) else str(value)
    if isinstance(value, list | tuple):
        return [_plain(item, f"{name}[{index}]") for index, item in enumerate(value)]
    if isinstance(value, dict) and all(isinstance(key, str) for key in value):
        return {key: _plain(item, f"{name}[{key!r}]") for key, item in value.items()}
    raise TypeError(
        f"hand_in cannot hand in {name} = {type(value).__name__}: pass a Keras model, a History, "
        "an array, or str/bool/int/float values (and lists or dicts of them)"
    )


def _keras():
    """Keras, if this process has imported it (a value can only be a Keras object then): no import of ours."""
    return sys.modules.get("keras")


def _kind(value: Any, name: str) -> str:
    keras = _keras()
    if keras is not None and isinstance(value, keras.Model):
        return "keras"
    if keras is not None and isinstance(value, keras.callbacks.History):
        return "history"
    if isinstance(value, np.ndarray) or (hasattr(value, "shape") and hasattr(value, "dtype")):
        return "npy"
    _plain(value, name)
    return "json"


def grading() -> bool:
    """Whether this notebook is being graded (the grader sets where hand-ins go).

    Examples
    --------
    >>> grading()
    False
    """
    return bool(os.environ.get(HAND_IN_VARIABLE))


def hand_in(step: str, **values: Any) -> Path | None:
    """Hand in ``values`` as the result of the graded ``step``; return the folder (``None`` outside grading).

    Parameters
    ----------
    step : str
        The graded cell's id (``"check-head"``): lower-case letters, digits, ``-`` and ``_``.
    **values
        What the grader's checks of that step read, by name.

    Raises
    ------
    TypeError
        For a value that cannot be handed in (the message names it).

    Examples
    --------
    >>> hand_in("check-quiz", answer="B", keep_head=False) is None  # outside grading: nothing saved
    True
    """
    if not step or not set(step) <= STEP_NAME_CHARACTERS:
        raise ValueError(f"step must be a graded cell's id (letters, digits, - and _), got {step!r}")
    kinds = {name: _kind(value, name) for name, value in values.items()}
    if not grading():
        return None
    root = Path(os.environ[HAND_IN_VARIABLE])
    root.mkdir(parents=True, exist_ok=True)
    # Written beside its place and renamed when complete: a step is handed in whole or not at all.
    staging = Path(tempfile.mkdtemp(prefix=f".{step}-", dir=root))
    index = {}
    for name, value in values.items():
        kind = kinds[name]
        if kind == "keras":
            value.save(staging / f"{name}.keras")
            index[name] = {"kind": kind, "file": f"{name}.keras"}
        elif kind == "history":
            index[name] = {
                "kind": kind,
                "value": {"history": _plain(value.history, name), "params": _plain(dict(value.params), name)},
            }
        elif kind == "npy":
            keras = _keras()
            array = keras.ops.convert_to_numpy(value) if keras is not None else value  # tensors of any backend
            np.save(staging / f"{name}.npy", np.asarray(array), allow_pickle=False)
            index[name] = {"kind": kind, "file": f"{name}.npy"}
        else:
            index[name] = {"kind": kind, "value": _plain(value, name)}
    (staging / INDEX).write_text(json.dumps(index))
    target = root / step
    if target.exists():
        shutil.rmtree(target)
    staging.rename(target)
    return target
