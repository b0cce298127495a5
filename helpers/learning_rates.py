"""Differential learning rates: the model's layers in consecutive groups, and one optimizer giving each its rate."""

from __future__ import annotations

import helpers.quiet  # noqa: F401  (first: TensorFlow without its import notices)

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


#: The optimizers a group can take: their step is proportional to the rate, so scaling one optimizer's
#: step per group is the same as one optimizer per group (AdamW is not: its weight decay ignores the scale).
GROUP_RATE_OPTIMIZERS = {
    "adam": keras.optimizers.Adam,
    "sgd": keras.optimizers.SGD,
    "rmsprop": keras.optimizers.RMSprop,
}


def _layer_of(variable) -> str:
    """The name of the layer that owns ``variable`` (the first part of its path, in a flat model)."""
    return variable.path.split("/")[0]


def _ungrouped(variables, layer_rates: dict[str, float]) -> list[str]:
    """The paths of ``variables`` whose layer has no rate: they would silently train at the full rate."""
    return sorted(v.path for v in variables if _layer_of(v) not in layer_rates)


def _with_group_rates(optimizer_class: type) -> type:
    """``optimizer_class`` with each layer's step scaled: ``layer_rates`` maps layer names to rate multipliers."""

    @keras.saving.register_keras_serializable(package="helpers", name=f"GroupRates{optimizer_class.__name__}")
    class GroupRates(optimizer_class):
        def __init__(self, *args, layer_rates: dict[str, float] | None = None, **kwargs):
            super().__init__(*args, **kwargs)
            self.layer_rates = dict(layer_rates or {})

        def build(self, variables):
            unknown = _ungrouped(variables, self.layer_rates)
            if unknown:
                raise ValueError(
                    f"{len(unknown)} trainable variables are in no layer group, e.g. {unknown[:3]}: "
                    "build the optimizer again with differential_optimizer after changing what trains"
                )
            super().build(variables)
            self._rate_scales = [self.layer_rates[_layer_of(v)] for v in variables]

        def update_step(self, gradient, variable, learning_rate):
            scale = self._rate_scales[self._get_variable_index(variable)]
            super().update_step(gradient, variable, keras.ops.multiply(learning_rate, scale))

        def get_config(self):
            return {**super().get_config(), "layer_rates": self.layer_rates}

    GroupRates.__name__ = GroupRates.__qualname__ = f"GroupRates{optimizer_class.__name__}"
    return GroupRates


_GROUP_RATES = {name: _with_group_rates(cls) for name, cls in GROUP_RATE_OPTIMIZERS.items()}


def differential_optimizer(
    model: keras.Model,
    learning_rate: float,
    *,
    factor: float = 3.0,
    n_groups: int = 3,
    groups: list[list[str]] | None = None,
    optimizer: str = "adam",
) -> tuple[keras.optimizers.Optimizer, list[tuple[list[str], float]]]:
    """One optimizer whose every earlier layer group steps ``factor`` times smaller.

    The last group (the head) trains at ``learning_rate``, the one before at
    ``learning_rate / factor``, and so on: the lecture's "each earlier layer group 3x-10x slower".
    Keras 3.14 and later have ``keras.optimizers.MultiOptimizer`` (one optimizer per group);
    Colab's Keras 3.13 has not, so this is the optimizer you name with each variable's step
    scaled by its group's rate: for Adam, SGD and RMSprop, whose step is proportional to the
    rate, the same training as one optimizer per group, on every Keras 3 release.
    Groups are keyed on layer names; every group must hold a trainable variable and every
    trainable variable must fall in a group, or a ``ValueError`` says which.

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
    optimizer : {"adam", "sgd", "rmsprop"}
        The Keras optimizer every group steps with.

    Returns
    -------
    optimizer : keras.optimizers.Optimizer
        The named optimizer at ``learning_rate``, each group's step scaled (its ``layer_rates``).
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
    if optimizer not in _GROUP_RATES:
        raise ValueError(f"optimizer must be one of {sorted(_GROUP_RATES)}, got {optimizer!r}")
    groups = groups if groups is not None else layer_groups(model, n_groups)
    layers_with_weights = {_layer_of(v) for v in model.trainable_variables}
    layer_rates = {}
    rates = []
    for index, names in enumerate(groups):
        if not names:
            raise ValueError(f"layer group {index} is empty")
        if not layers_with_weights.intersection(names):
            raise ValueError(
                f"layer group {index} ({', '.join(names[:4])}...) matches no trainable variable: "
                "are those layers frozen, or misnamed? Known layers: use model.summary()"
            )
        scale = 1 / factor ** (len(groups) - 1 - index)
        for name in names:
            if name in layer_rates:
                raise ValueError(f"layer {name} is in two layer groups (the second is group {index})")
            layer_rates[name] = scale
        rates.append((names, learning_rate * scale))
    orphans = _ungrouped(model.trainable_variables, layer_rates)
    if orphans:
        raise ValueError(
            f"{len(orphans)} trainable variables are in no layer group, e.g. {orphans[:3]}; they would "
            "silently train at the full rate. Add their layers to a group, or freeze them."
        )
    return _GROUP_RATES[optimizer](learning_rate=learning_rate, layer_rates=layer_rates), rates


def rates_in_use(model: keras.Model) -> list[float]:
    """The learning rates ``model``'s optimizer really trains at: one per layer group, or per inner optimizer.

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
    if hasattr(optimizer, "layer_rates"):  # differential_optimizer's: one rate, scaled per group
        rate = float(keras.ops.convert_to_numpy(optimizer.learning_rate))
        return [rate * scale for scale in sorted(set(optimizer.layer_rates.values()))]
    inner = getattr(optimizer, "optimizers", None) or [optimizer]  # keras.optimizers.MultiOptimizer (Keras 3.14+)
    return [float(keras.ops.convert_to_numpy(o.learning_rate)) for o in inner]
