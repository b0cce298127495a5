"""Training utilities: early stopping at the best epoch, time budgets, cached features."""

from __future__ import annotations

import time

import keras
import numpy as np
from tqdm.auto import tqdm


def best_epoch_stopping(patience: int = 10, monitor: str = "val_loss") -> keras.callbacks.EarlyStopping:
    """"Train until you overfit, then step back": stop after ``patience`` epochs without progress
    on ``monitor`` and restore the weights of the best epoch.

    Examples
    --------
    >>> best_epoch_stopping(5).restore_best_weights
    True
    """
    mode = "max" if "acc" in monitor else "min"
    return keras.callbacks.EarlyStopping(monitor=monitor, mode=mode, patience=patience,
                                         restore_best_weights=True, start_from_epoch=0)


class TimeBudget(keras.callbacks.Callback):
    """Stop training at the end of the first epoch that finishes after ``seconds``."""

    def __init__(self, seconds: float):
        super().__init__()
        self.seconds = seconds

    def on_train_begin(self, logs=None):
        self.started = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        if time.perf_counter() - self.started > self.seconds:
            self.model.stop_training = True


def extract_features(base: keras.Model, images, *, batch_size: int = 64, progress: bool = True) -> np.ndarray:
    """Run ``images`` through a frozen ``base`` once and return the features as a numpy array.

    Heads trained on these (scikit-learn's logistic regression, an MLP, a decision tree) train in
    seconds, since the expensive convolutional part runs only once per image.

    Parameters
    ----------
    base : keras.Model
        The feature extractor, in inference mode. A base with spatial outputs is average-pooled.
    images : array of shape (n, height, width, 3), or a ``tf.data.Dataset`` of ``(images, labels)``
        Raw images with values 0..255 (the base does its own preprocessing).
    batch_size : int
        Images per forward pass (arrays only).
    progress : bool
        Show a progress bar.

    Returns
    -------
    ndarray of float32, shape (n, n_features)
    """
    batches = _batches(images, batch_size)
    total = len(images) if hasattr(images, "__len__") and not hasattr(images, "element_spec") else None
    features = []
    with tqdm(total=total, desc="extracting features", unit="img", disable=not progress) as bar:
        for batch in batches:
            out = keras.ops.convert_to_numpy(base(batch, training=False))
            if out.ndim == 4:
                out = out.mean(axis=(1, 2))
            features.append(out)
            bar.update(len(out))
    return np.concatenate(features).astype(np.float32)


def _batches(images, batch_size: int):
    if hasattr(images, "element_spec"):  # a tf.data.Dataset of (images, labels) batches
        for batch in images:
            yield batch[0] if isinstance(batch, tuple) else batch
        return
    images = np.asarray(images)
    if images.ndim != 4 or images.shape[-1] != 3:
        raise ValueError(f"images must have shape (n, height, width, 3), got {images.shape}")
    for start in range(0, len(images), batch_size):
        yield images[start:start + batch_size].astype(np.float32)
