"""helpers.training: differential learning rates, best-epoch stopping, cached features."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from helpers.models import load_base
from helpers.surgery import attach_head, unfreeze_last
from helpers.training import (
    TimeBudget,
    best_epoch_stopping,
    differential_optimizer,
    extract_features,
    layer_groups,
)

RNG = np.random.default_rng(1)
IMAGES = RNG.integers(0, 256, (8, 96, 96, 3)).astype("float32")
LABELS = np.arange(8) % 2
LOSS = keras.losses.SparseCategoricalCrossentropy(from_logits=True)


@pytest.fixture(scope="module")
def base():
    return load_base("bundled")


@pytest.fixture
def model(base):
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
    grads = dict(zip([v.path for v in model.trainable_variables],
                     tape.gradient(loss, model.trainable_variables), strict=True))
    model.train_on_batch(IMAGES, LABELS)
    measured = []
    for names, _ in rates:
        steps = [(before[p] - v.numpy(), grads[p].numpy()) for p, v in
                 ((v.path, v) for v in model.trainable_variables) if p.split("/")[0] in names]
        step = sum(float((d * g).sum()) for d, g in steps) / sum(float((g * g).sum()) for _, g in steps)
        measured.append(step)
    assert measured == pytest.approx([0.1 / 9, 0.1 / 3, 0.1], rel=0.05)  # SGD: step = rate x gradient
    assert measured[1] / measured[0] == pytest.approx(3, rel=0.05)


def test_differential_model_saves_and_loads(model, tmp_path):
    optimizer, _ = differential_optimizer(model, 1e-3, factor=5.0)
    model.compile(optimizer, LOSS)
    model.train_on_batch(IMAGES, LABELS)
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    assert isinstance(loaded.optimizer, keras.optimizers.MultiOptimizer)
    np.testing.assert_allclose(loaded.predict(IMAGES, verbose=0), model.predict(IMAGES, verbose=0), atol=1e-5)


def test_groups_that_match_nothing_or_leave_variables_out_are_loud(model):
    with pytest.raises(ValueError, match="matches no trainable variable"):
        differential_optimizer(model, 1e-3, groups=[["block_1_expand"], ["head_logits"]])
    with pytest.raises(ValueError, match="in no layer group"):
        differential_optimizer(model, 1e-3, groups=[["block_16_project"], ["head_logits"]])
    with pytest.raises(ValueError, match="factor"):
        differential_optimizer(model, 1e-3, factor=0.5)


def test_best_epoch_is_restored():
    keras.utils.set_random_seed(0)
    x = RNG.normal(size=(64, 4)).astype("float32")
    y = (x[:, 0] > 0).astype("int32")
    net = keras.Sequential([keras.Input((4,)), keras.layers.Dense(64, activation="relu"), keras.layers.Dense(2)])
    net.compile(keras.optimizers.Adam(0.05), LOSS)
    # Validation labels are flipped, so validation loss rises as training goes well: epoch 0 is best.
    stop = best_epoch_stopping(patience=3)
    history = net.fit(x, y, validation_data=(x, 1 - y), epochs=30, verbose=0, callbacks=[stop])
    best = int(np.argmin(history.history["val_loss"]))
    assert len(history.history["loss"]) == best + 4
    assert net.evaluate(x, 1 - y, verbose=0) == pytest.approx(history.history["val_loss"][best], rel=1e-4)


def test_time_budget_stops_training():
    net = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    net.compile("sgd", LOSS)
    history = net.fit(np.zeros((8, 4)), np.zeros(8), epochs=50, verbose=0, callbacks=[TimeBudget(0.0)])
    assert len(history.history["loss"]) == 1


def test_extract_features_from_arrays_and_datasets(base):
    pooled = extract_features(base, IMAGES, batch_size=3, progress=False)
    assert pooled.shape == (8, 1280) and pooled.dtype == np.float32
    dataset = tf.data.Dataset.from_tensor_slices((IMAGES, LABELS)).batch(4)
    np.testing.assert_allclose(extract_features(base, dataset, progress=False), pooled, atol=1e-4)
    with pytest.raises(ValueError, match=r"\(n, height, width, 3\)"):
        extract_features(base, IMAGES[..., 0])


def test_feature_extraction_with_mirror_images_predicts_the_same_for_an_image_and_its_mirror():
    from helpers.data import make_sunglasses_vs_hat
    from helpers.strategies import feature_extraction

    images, labels = make_sunglasses_vs_hat(40, seed=3)
    mirrored = images[:, :, ::-1]
    # Pixels as features: a base that knows left from right, so mirroring can change its answers.
    lopsided = keras.Sequential([keras.Input((96, 96, 3)), keras.layers.AveragePooling2D(8), keras.layers.Flatten()])
    plain = feature_extraction(images[:16], labels[:16], base=lopsided, mirror=False)
    both = feature_extraction(images[:16], labels[:16], base=lopsided)
    assert both.details["mirror"] and not plain.details["mirror"]
    assert (plain.predict(images) != plain.predict(mirrored)).any()
    assert (both.predict(images) == both.predict(mirrored)).all()  # symmetric by construction


def test_keras_strategies_with_mirror_images_predict_the_same_for_an_image_and_its_mirror():
    from helpers.strategies import _keras_predict, scratch_cnn

    keras.utils.set_random_seed(0)
    lopsided = keras.Sequential([keras.Input((32, 32, 3)), keras.layers.Flatten(), keras.layers.Dense(2)])
    images = np.random.default_rng(0).uniform(0, 255, (64, 32, 32, 3)).astype(np.float32)
    plain, both = _keras_predict(lopsided, mirror=False), _keras_predict(lopsided, mirror=True)
    assert (plain(images) != plain(images[:, :, ::-1])).any()  # the model itself is not symmetric
    assert (both(images) == both(images[:, :, ::-1])).all()
    trained = scratch_cnn(images[:12], np.arange(12) % 2, images[12:16], np.arange(4) % 2,
                          learning_rates=(1e-3,), epochs=1, patience=1)
    assert trained.details["mirror"]
