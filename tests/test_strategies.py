"""helpers.strategies: one signature, one registry, one validation split; mirror images predicted alike."""

from __future__ import annotations

import inspect

import keras
import numpy as np
import pytest

from helpers.strategies import (
    STRATEGIES,
    _keras_predict,
    accepts,
    feature_extraction,
    fine_tune,
    scratch_cnn,
    split_validation,
)
from helpers.tasks import make_sunglasses_vs_hat


def test_every_strategy_has_the_one_signature():
    assert list(STRATEGIES) == ["pixels_logreg", "scratch_cnn", "feature_extraction", "fine_tune"]
    for name, strategy in STRATEGIES.items():
        parameters = list(inspect.signature(strategy).parameters.values())
        assert [p.name for p in parameters[:2]] == ["images", "labels"], name
        assert all(p.kind is p.KEYWORD_ONLY for p in parameters[2:]), name
        assert {"validation_split", "seed"} <= {p.name for p in parameters[2:]}, name
    assert accepts("scratch_cnn", "epochs") and accepts(fine_tune, "learning_rate")
    assert not accepts("pixels_logreg", "epochs") and not accepts("feature_extraction", "learning_rate")


def test_the_validation_split_is_stratified_disjoint_and_seeded():
    images = np.arange(40).reshape(40, 1, 1, 1) * np.ones((1, 2, 2, 3))
    labels = np.arange(40) % 2
    x_train, y_train, x_val, y_val = split_validation(images, labels, 0.2, seed=3)
    assert (len(x_train), len(x_val)) == (32, 8) and np.bincount(y_val).tolist() == [4, 4]
    ids = lambda x: set(x[:, 0, 0, 0].astype(int).tolist())  # noqa: E731
    assert not ids(x_train) & ids(x_val) and ids(x_train) | ids(x_val) == set(range(40))
    assert (x_train[:, 0, 0, 0] % 2 == y_train).all()  # labels travel with their images
    again = split_validation(images, labels, 0.2, seed=3)
    other_seed = split_validation(images, labels, 0.2, seed=4)
    assert np.array_equal(again[2], x_val) and not np.array_equal(other_seed[2], x_val)
    assert [len(a) for a in split_validation(images, labels, 0.0)] == [40, 40, 0, 0]


@pytest.mark.parametrize(("split", "message"), [(1.0, "below 1"), (-0.1, "at least 0")])
def test_a_bad_validation_split_says_what_is_allowed(split, message):
    with pytest.raises(ValueError, match=message):
        split_validation(np.zeros((10, 2, 2, 3)), np.arange(10) % 2, split)


def test_strategies_that_pick_epochs_refuse_to_run_without_validation_images():
    images, labels = np.zeros((10, 32, 32, 3)), np.arange(10) % 2
    for strategy in (scratch_cnn, fine_tune):
        with pytest.raises(ValueError, match="picks its best epoch on held-out images"):
            strategy(images, labels, validation_split=0.0)


def test_a_held_out_split_is_scored():
    images, labels = make_sunglasses_vs_hat(20, seed=3)
    all_in = feature_extraction(images, labels, mirror=False)
    held_out = feature_extraction(images, labels, validation_split=0.2, mirror=False)
    assert all_in.validation_accuracy is None and 0 <= held_out.validation_accuracy <= 1


def test_feature_extraction_with_mirror_images_predicts_the_same_for_an_image_and_its_mirror():
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
    keras.utils.set_random_seed(0)
    lopsided = keras.Sequential([keras.Input((32, 32, 3)), keras.layers.Flatten(), keras.layers.Dense(2)])
    images = np.random.default_rng(0).uniform(0, 255, (64, 32, 32, 3)).astype(np.float32)
    plain, both = _keras_predict(lopsided, mirror=False), _keras_predict(lopsided, mirror=True)
    assert (plain(images) != plain(images[:, :, ::-1])).any()  # the model itself is not symmetric
    assert (both(images) == both(images[:, :, ::-1])).all()
    trained = scratch_cnn(
        images[:16], np.arange(16) % 2, validation_split=0.25, learning_rate=1e-3, epochs=1, patience=1
    )
    assert trained.details["mirror"]
