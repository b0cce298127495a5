"""helpers.training: the augmented pipeline, best-epoch stopping and stepping back, time budgets."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from helpers.training import TimeBudget, best_epoch, best_epoch_stopping, fit_classifier, training_dataset

RNG = np.random.default_rng(1)
LOSS = keras.losses.SparseCategoricalCrossentropy(from_logits=True)


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


def test_best_epoch_reads_a_history_or_its_dict():
    assert best_epoch({"val_loss": [0.9, 0.4, 0.6]}) == 1
    assert best_epoch({"val_accuracy": [0.5, 0.7, 0.9]}, monitor="val_accuracy") == 2


def test_training_dataset_augments_but_keeps_labels_and_shapes():
    images = RNG.integers(0, 256, (6, 16, 16, 3)).astype("float32")
    labels = np.arange(6) % 2
    ((batch, batch_labels),) = list(training_dataset(images, labels, batch_size=6))
    assert batch.shape == (6, 16, 16, 3) and sorted(batch_labels.numpy().tolist()) == sorted(labels.tolist())
    assert not np.allclose(np.sort(batch.numpy().ravel()), np.sort(images.ravel()))  # augmented
    ((plain, _),) = list(training_dataset(images, labels, batch_size=6, augment=False))
    assert np.allclose(np.sort(plain.numpy().ravel()), np.sort(images.ravel()))


def test_fit_classifier_compiles_and_keeps_the_best_epoch():
    keras.utils.set_random_seed(0)
    images = RNG.integers(0, 256, (8, 16, 16, 3)).astype("float32")
    labels = np.arange(8) % 2
    net = keras.Sequential([keras.Input((16, 16, 3)), keras.layers.Flatten(), keras.layers.Dense(2)])
    history = fit_classifier(
        net, images, labels, images, 1 - labels, learning_rate=1e-2, epochs=20, patience=2, batch_size=4
    )
    assert len(history["loss"]) < 20 and set(history) >= {"accuracy", "val_accuracy", "val_loss"}
    best = best_epoch(history)
    assert net.evaluate(images, 1 - labels, verbose=0)[0] == pytest.approx(history["val_loss"][best], rel=1e-3)
