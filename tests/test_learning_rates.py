"""helpers.learning_rates: layer groups, and each earlier group training factor times slower."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from helpers.learning_rates import differential_optimizer, layer_groups
from helpers.models import load_base
from helpers.surgery import attach_head, unfreeze_last

RNG = np.random.default_rng(1)
IMAGES = RNG.integers(0, 256, (8, 96, 96, 3)).astype("float32")
LABELS = np.arange(8) % 2
LOSS = keras.losses.SparseCategoricalCrossentropy(from_logits=True)


@pytest.fixture
def model():
    keras.utils.set_random_seed(0)
    return unfreeze_last(attach_head(load_base("bundled"), 2, dropout=0.0), 4)


def test_layer_groups_split_the_trainable_blocks_earliest_first(model):
    groups = layer_groups(model, 3)
    assert groups[-1] == ["head_logits"]
    assert groups[0][0] == "block_14_expand" and groups[1][-1] == "Conv_1"
    with pytest.raises(ValueError, match="at most 5"):
        layer_groups(model, 6)


def test_each_earlier_group_steps_factor_times_smaller(model):
    optimizer, rates = differential_optimizer(model, 0.1, factor=3.0, optimizer="sgd")
    assert [rate for _, rate in rates] == pytest.approx([0.1 / 9, 0.1 / 3, 0.1])
    model.compile(optimizer, LOSS)
    before = {v.path: v.numpy().copy() for v in model.trainable_variables}
    with tf.GradientTape() as tape:
        loss = LOSS(LABELS, model(IMAGES, training=True))
    grads = dict(
        zip([v.path for v in model.trainable_variables], tape.gradient(loss, model.trainable_variables), strict=True)
    )
    model.train_on_batch(IMAGES, LABELS)
    measured = []
    for names, _ in rates:
        steps = [
            (before[p] - v.numpy(), grads[p].numpy())
            for p, v in ((v.path, v) for v in model.trainable_variables)
            if p.split("/")[0] in names
        ]
        step = sum(float((d * g).sum()) for d, g in steps) / sum(float((g * g).sum()) for _, g in steps)
        measured.append(step)
    assert measured == pytest.approx([0.1 / 9, 0.1 / 3, 0.1], rel=0.05)  # SGD: step = rate x gradient
    assert measured[1] / measured[0] == pytest.approx(3, rel=0.05)


def test_adam_scaled_per_group_trains_as_one_adam_per_group(model):
    """Keras 3.14 brought ``MultiOptimizer`` (an optimizer per group); Colab's Keras 3.13 has none.

    ``differential_optimizer`` scales one Adam's step per group instead, on both: three steps of it
    equal three steps of a separate Adam for each group, applied by hand.
    """
    keras_version = tuple(int(part) for part in keras.version().split(".")[:2])
    assert hasattr(keras.optimizers, "MultiOptimizer") == (keras_version >= (3, 14))
    start = model.get_weights()
    optimizer, rates = differential_optimizer(model, 1e-2, factor=10.0)
    model.compile(optimizer, LOSS)
    for _ in range(3):
        model.train_on_batch(IMAGES, LABELS)
    paths = [v.path for v in model.trainable_variables]
    scaled = {
        v.path: v.numpy() - first
        for v, first in zip(model.trainable_variables, trainable_start(model, start), strict=True)
    }

    model.set_weights(start)
    variables = model.trainable_variables
    per_group = [
        ([v for v in variables if v.path.split("/")[0] in names], keras.optimizers.Adam(rate)) for names, rate in rates
    ]
    for _ in range(3):
        with tf.GradientTape() as tape:
            loss = LOSS(LABELS, model(IMAGES, training=True))
        grads = dict(zip(paths, tape.gradient(loss, variables), strict=True))
        for group, adam in per_group:
            adam.apply_gradients([(grads[v.path], v) for v in group])
    by_hand = {v.path: v.numpy() - first for v, first in zip(variables, trainable_start(model, start), strict=True)}
    for names, rate in rates:  # each group moved as its own Adam moved it: same steps, to float noise
        group = [p for p in paths if p.split("/")[0] in names]
        ours = np.concatenate([scaled[p].ravel() for p in group])
        theirs = np.concatenate([by_hand[p].ravel() for p in group])
        assert np.linalg.norm(ours - theirs) < 0.02 * np.linalg.norm(theirs), f"group at {rate:g}"
        assert np.abs(theirs).max() == pytest.approx(3 * rate, rel=0.2)  # Adam: about the rate each step


def trainable_start(model, start):
    """The start weights of ``model``'s trainable variables, from ``model.get_weights()``'s list."""
    index = {id(v): i for i, v in enumerate(model.weights)}
    return [start[index[id(v)]] for v in model.trainable_variables]


def test_differential_model_saves_and_loads(model, tmp_path):
    optimizer, _ = differential_optimizer(model, 1e-3, factor=5.0)
    model.compile(optimizer, LOSS)
    model.train_on_batch(IMAGES, LABELS)
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    assert type(loaded.optimizer).__name__ == "GroupRatesAdam"
    assert loaded.optimizer.layer_rates == optimizer.layer_rates
    np.testing.assert_allclose(loaded.predict(IMAGES, verbose=0), model.predict(IMAGES, verbose=0), atol=1e-5)


def test_groups_that_match_nothing_or_leave_variables_out_are_loud(model):
    with pytest.raises(ValueError, match="matches no trainable variable"):
        differential_optimizer(model, 1e-3, groups=[["block_1_expand"], ["head_logits"]])
    with pytest.raises(ValueError, match="in no layer group"):
        differential_optimizer(model, 1e-3, groups=[["block_16_project"], ["head_logits"]])
    with pytest.raises(ValueError, match="factor"):
        differential_optimizer(model, 1e-3, factor=0.5)
    with pytest.raises(ValueError, match="optimizer must be one of"):
        differential_optimizer(model, 1e-3, optimizer="adamw")


def test_an_optimizer_built_for_other_layers_refuses_to_train(model):
    optimizer, _ = differential_optimizer(model, 1e-3)
    unfreeze_last(model, 6)  # two more blocks train: they are in no group
    model.compile(optimizer, LOSS)
    with pytest.raises(ValueError, match="in no layer group"):
        model.train_on_batch(IMAGES, LABELS)
