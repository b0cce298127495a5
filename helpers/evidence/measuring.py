"""What every experiment shares: its seed's photos, the loss it trains with, and accuracy on test images.

Every experiment draws its own training and test images from its seed; the test images are
never used to train or to choose anything.
"""

from __future__ import annotations

import helpers.quiet  # noqa: F401  (first: TensorFlow without its import notices)

import keras
import numpy as np

from helpers.tasks import draw_seed, make_sunglasses_vs_hat

LOSS = keras.losses.SparseCategoricalCrossentropy(from_logits=True)


def seed_images(seed: int, n_train: int, n_test: int, camera: str = "daylight") -> tuple[np.ndarray, ...]:
    """Training and test images of one seed: disjoint draws of the target task."""
    x_train, y_train = make_sunglasses_vs_hat(n_train, seed=draw_seed("train", seed), camera=camera)
    x_test, y_test = make_sunglasses_vs_hat(n_test, seed=draw_seed("test", seed), camera=camera)
    return x_train, y_train, x_test, y_test


def accuracy_of(model: keras.Model, images: np.ndarray, labels: np.ndarray) -> float:
    """The share of ``images`` whose largest logit is their label."""
    logits = model.predict(np.asarray(images, np.float32), batch_size=50, verbose=0)
    return float((logits.argmax(axis=1) == labels).mean())
