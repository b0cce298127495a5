"""Training a Keras classifier: the augmented input pipeline, fitting with best-epoch stopping, time budgets.

Every strategy and lecture that trains a Keras model goes through these, so they all augment,
stop and step back the same way.
"""

from __future__ import annotations

import helpers.quiet  # noqa: F401  (first: TensorFlow without its import notices)

import time

import keras
import numpy as np
import tensorflow as tf


def augmenter(seed: int = 0) -> keras.Sequential:
    """Random flips, shifts, small rotations and zooms: the augmentation every trained strategy uses.

    Examples
    --------
    >>> augmenter().name
    'augment'
    """
    return keras.Sequential(
        [
            keras.layers.RandomFlip("horizontal", seed=seed),
            keras.layers.RandomTranslation(0.08, 0.08, fill_mode="reflect", seed=seed),
            keras.layers.RandomRotation(0.04, fill_mode="reflect", seed=seed),
            keras.layers.RandomZoom(0.1, fill_mode="reflect", seed=seed),
        ],
        name="augment",
    )


def training_dataset(
    images: np.ndarray, labels: np.ndarray, *, batch_size: int = 32, augment: bool = True, seed: int = 0
) -> tf.data.Dataset:
    """A shuffled, batched ``tf.data`` pipeline, augmented on the fly.

    Examples
    --------
    >>> ds = training_dataset(np.zeros((4, 8, 8, 3)), np.array([0, 1, 0, 1]), batch_size=2)
    >>> [tuple(x.shape) for x, _ in ds]
    [(2, 8, 8, 3), (2, 8, 8, 3)]
    """
    dataset = tf.data.Dataset.from_tensor_slices((np.asarray(images, np.float32), np.asarray(labels, np.int32)))
    dataset = dataset.shuffle(len(images), seed=seed, reshuffle_each_iteration=True).batch(batch_size)
    if augment:
        layers = augmenter(seed)
        dataset = dataset.map(lambda x, y: (layers(x, training=True), y), num_parallel_calls=tf.data.AUTOTUNE)
    return dataset.prefetch(tf.data.AUTOTUNE)


def best_epoch_stopping(patience: int = 10, monitor: str = "val_loss") -> keras.callbacks.EarlyStopping:
    """ "Train until you overfit, then step back": stop after ``patience`` epochs without progress
    on ``monitor`` and restore the weights of the best epoch.

    Examples
    --------
    >>> best_epoch_stopping(5).restore_best_weights
    True
    """
    mode = "max" if "acc" in monitor else "min"
    return keras.callbacks.EarlyStopping(
        monitor=monitor, mode=mode, patience=patience, restore_best_weights=True, start_from_epoch=0
    )


def history_dict(history) -> dict[str, list[float]]:
    """The per-epoch values of a Keras ``History``, or of a dict that already holds them."""
    return dict(history.history) if hasattr(history, "history") else dict(history)


def best_epoch(history, monitor: str = "val_loss") -> int:
    """Index of the best epoch of a Keras history (lowest loss, or highest accuracy): where
    :func:`best_epoch_stopping` steps back to.

    Examples
    --------
    >>> best_epoch({"val_loss": [0.9, 0.4, 0.6]})
    1
    """
    values = history_dict(history)[monitor]
    return int(np.argmax(values) if "acc" in monitor else np.argmin(values))


class TimeBudget(keras.callbacks.Callback):
    """Stop training at the end of the first epoch that finishes after ``seconds``.

    Examples
    --------
    >>> budget = TimeBudget(60)  # model.fit(..., callbacks=[budget]) stops after about a minute
    """

    def __init__(self, seconds: float):
        super().__init__()
        self.seconds = seconds

    def on_train_begin(self, logs=None):
        self.started = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        if time.perf_counter() - self.started > self.seconds:
            self.model.stop_training = True


def fit_classifier(
    model: keras.Model,
    train_images: np.ndarray,
    train_labels: np.ndarray,
    val_images: np.ndarray,
    val_labels: np.ndarray,
    *,
    learning_rate: float,
    epochs: int,
    patience: int,
    batch_size: int = 32,
    seed: int = 0,
    time_budget: float | None = None,
    callbacks=(),
) -> dict[str, list[float]]:
    """Compile ``model`` (Adam, logits loss, accuracy) and fit it, augmented, keeping its best epoch on validation.

    Parameters
    ----------
    model : keras.Model
        A classifier with logits outputs; what is trainable is set before the call.
    train_images, train_labels, val_images, val_labels : arrays
        Raw images (values 0..255) and integer labels; validation picks the epoch, nothing else.
    learning_rate : float
        Adam's learning rate.
    epochs, patience : int
        At most ``epochs``; stop after ``patience`` epochs without a lower validation loss.
    batch_size, seed : int
        Of the training pipeline (:func:`training_dataset`).
    time_budget : float, optional
        Stop after the first epoch that ends past this many seconds (:class:`TimeBudget`).
    callbacks : sequence of keras.callbacks.Callback
        More callbacks, for instance a progress display.

    Returns
    -------
    dict
        The history: one list per metric, one value per epoch run.

    Examples
    --------
    >>> history = fit_classifier(model, x_fit, y_fit, x_val, y_val, learning_rate=1e-4, epochs=20,
    ...                          patience=5)  # doctest: +SKIP
    """
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    stops = [best_epoch_stopping(patience)]
    if time_budget is not None:
        stops.append(TimeBudget(time_budget))
    history = model.fit(
        training_dataset(train_images, train_labels, batch_size=batch_size, seed=seed),
        validation_data=(np.asarray(val_images, np.float32), np.asarray(val_labels)),
        epochs=epochs,
        verbose=0,
        shuffle=False,
        callbacks=[*stops, *callbacks],
    )
    return history.history
