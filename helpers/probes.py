"""Linear probes: how well a representation's features separate a task's classes, fitted on a few photos."""

from __future__ import annotations

import helpers.quiet  # noqa: F401  (first: TensorFlow without its import notices)

import keras
import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from helpers.models import extract_features
from helpers.tasks import TARGET_CLASSES, draw_seed, make_sunglasses_vs_hat


def linear_probe():
    """The course's linear probe: a logistic regression on standardised features, lightly regularised."""
    return make_pipeline(StandardScaler(), LogisticRegression(C=0.1, max_iter=3000))


def linear_probes(
    bases: dict[str, keras.Model | None], n_per_class: tuple[int, ...], *, seed: int = 0, n_test: int = 500
) -> dict[str, dict[int, float]]:
    """Test accuracy of the same linear probe on each base's features of a few target photos: ``{base: {n: accuracy}}``.

    The probe is a logistic regression on standardised, average-pooled features (:func:`linear_probe`;
    as in :func:`helpers.evidence.representations.transferability`), fitted on the first ``n``
    daylight photos of each class for every ``n`` in ``n_per_class``; a base of ``None`` probes the
    raw pixels. Every base sees the same photos.
    """
    x_train, y_train = make_sunglasses_vs_hat(2 * max(n_per_class), seed=draw_seed("train", seed))
    x_test, y_test = make_sunglasses_vs_hat(n_test, seed=draw_seed("test", seed))
    by_class = [np.flatnonzero(y_train == k) for k in range(len(TARGET_CLASSES))]
    accuracy = {}
    for name, base in bases.items():
        if base is None:
            f_train, f_test = (x.reshape(len(x), -1).astype(np.float32) / 255 for x in (x_train, x_test))
        else:
            f_train, f_test = (extract_features(base, x, progress=False) for x in (x_train, x_test))
        accuracy[name] = {}
        for n in n_per_class:
            chosen = np.concatenate([indices[:n] for indices in by_class])
            probe = linear_probe()
            accuracy[name][n] = float(probe.fit(f_train[chosen], y_train[chosen]).score(f_test, y_test))
    return accuracy
