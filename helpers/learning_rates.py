"""Differential learning rates: the model's layers in consecutive groups, and one optimizer giving each its rate."""

from __future__ import annotations

import helpers.quiet  # noqa: F401  (first: TensorFlow without its import notices)

import re

import keras
import numpy as np

from helpers.surgery import base_blocks, blocks


def layer_groups(model: keras.Model, n_groups: int = 3, *, trainable_only: bool = True) -> list[list[str]]:
    """Split the blocks of ``model`` into ``n_groups`` consecutive groups of layer names, earliest first.

    The head is always a group of its own (the last); the trainable blocks of the base are spread
    over the other ``n_groups - 1`` groups as evenly as possible.

    Examples
    --------
    >>> from helpers.models import load_base
    >>> from helpers.surgery import attach_head, unfreeze_last
    >>> model = unfreeze_last(attach_head(load_base(None), 2), 4)
    >>> [len(g) for g in layer_groups(model, 3)]  # layers with trainable weights per group
    [6, 4, 1]
    """
    if n_groups < 1:
        raise ValueError(f"n_groups must be at least 1, got {n_groups}")
    in_base = set(base_blocks(model))
    groups = blocks(model)

    def keep(layer):
        return bool(layer.trainable_weights) if trainable_only else bool(layer.weights)

    head = [layer.name for name, layers in groups.items() if name not in in_base for layer in layers if keep(layer)]
    base = [[layer.name for layer in layers if keep(layer)] for name, layers in groups.items() if name in in_base]
    base = [names for names in base if names]
    if n_groups == 1:
        return [[name for names in base for name in names] + head]
    if len(base) < n_groups - 1:
        raise ValueError(
            f"Cannot split {len(base)} trainable base blocks into {n_groups - 1} groups; unfreeze "
            f"more blocks or ask for fewer groups (at most {len(base) + 1})."
        )
    bounds = np.linspace(0, len(base), n_groups, dtype=int)
    split = [[name for names in base[a:b] for name in names] for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
    return [*split, head] if head else split


def differential_optimizer(
    model: keras.Model,
    learning_rate: float,
    *,
    factor: float = 3.0,
    n_groups: int = 3,
    groups: list[list[str]] | None = None,
    optimizer: str = "adam",
):
    """A ``keras.optimizers.MultiOptimizer`` giving each earlier layer group a ``factor`` times smaller rate.

    The last group (the head) trains at ``learning_rate``, the one before at
    ``learning_rate / factor``, and so on: the lecture's "each earlier layer group 3x-10x slower".
    Groups are keyed on layer names; every pattern must match a trainable variable and every
    trainable variable must fall in a group, or a ``ValueError`` says which (a pattern that
    matches nothing would otherwise silently train at the default rate).

    Parameters
    ----------
    model : keras.Model
        A flat model (see :func:`helpers.surgery.attach_head`), with its trainable layers set.
    learning_rate : float
        Rate of the last group.
    factor : float
        Ratio between consecutive groups; the lecture suggests 3 to 10.
    n_groups : int
        Number of groups when ``groups`` is not given (see :func:`layer_groups`).
    groups : list of lists of layer names, optional
        Explicit groups, earliest first.
    optimizer : str
        Name of the Keras optimizer used in every group (``"adam"``, ``"sgd"``, ...).

    Returns
    -------
    optimizer : keras.optimizers.MultiOptimizer
    rates : list of (group names, learning rate)
        What each group gets, earliest first.

    Examples
    --------
    >>> from helpers.models import load_base
    >>> from helpers.surgery import attach_head, unfreeze_last
    >>> model = unfreeze_last(attach_head(load_base(None), 2), 4)
    >>> optimizer, rates = differential_optimizer(model, 1e-3, factor=10)
    >>> [f"{rate:.0e}" for _, rate in rates]
    ['1e-05', '1e-04', '1e-03']
    """
    if factor < 1:
        raise ValueError(f"factor must be at least 1 (earlier groups train slower), got {factor}")
    groups = groups if groups is not None else layer_groups(model, n_groups)
    variables = {v.path: v for v in model.trainable_variables}
    owner = {}
    rates = []
    opt_map = keras.optimizers.OptimizerMap(
        default_optimizer=keras.optimizers.get({"class_name": optimizer, "config": {"learning_rate": 0.0}})
    )
    for index, names in enumerate(groups):
        if not names:
            raise ValueError(f"layer group {index} is empty")
        rate = learning_rate / factor ** (len(groups) - 1 - index)
        pattern = "(" + "|".join(re.escape(name) for name in names) + ")/.*"
        matched = [path for path in variables if re.fullmatch(pattern, path)]
        if not matched:
            raise ValueError(
                f"layer group {index} ({', '.join(names[:4])}...) matches no trainable variable: "
                "are those layers frozen, or misnamed? Known layers: use model.summary()"
            )
        for path in matched:
            if path in owner:
                raise ValueError(f"variable {path} is in layer groups {owner[path]} and {index}")
            owner[path] = index
        opt_map[pattern] = keras.optimizers.get({"class_name": optimizer, "config": {"learning_rate": rate}})
        rates.append((names, rate))
    orphans = sorted(set(variables) - set(owner))
    if orphans:
        raise ValueError(
            f"{len(orphans)} trainable variables are in no layer group, e.g. {orphans[:3]}; they would "
            "silently train at the default rate. Add their layers to a group, or freeze them."
        )
    return keras.optimizers.MultiOptimizer(opt_map), rates


def rates_in_use(model: keras.Model) -> list[float]:
    """The learning rates ``model``'s optimizer really trains at: one per optimizer of a MultiOptimizer.

    Raises an ``AssertionError`` that says what to do if ``model`` was never compiled.

    Examples
    --------
    >>> from helpers.models import load_base
    >>> from helpers.surgery import attach_head, unfreeze_last
    >>> model = attach_head(load_base(None), 2)
    >>> model.compile(keras.optimizers.Adam(1e-3), "sparse_categorical_crossentropy")
    >>> [f"{rate:.0e}" for rate in rates_in_use(unfreeze_last(model, 3, learning_rate=1e-4))]
    ['1e-04']
    """
    optimizer = model.optimizer
    if optimizer is None:
        raise AssertionError("the model was not compiled: compile it with an optimizer before training")
    inner = getattr(optimizer, "optimizers", None) or [optimizer]
    return [float(keras.ops.convert_to_numpy(o.learning_rate)) for o in inner]
