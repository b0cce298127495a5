"""Two-dimensional toy data: points whose classes a change of representation makes easy."""

from __future__ import annotations

import numpy as np


def make_rings(n_points: int = 400, *, seed: int = 0, noise: float = 0.12) -> tuple[np.ndarray, np.ndarray]:
    """Two concentric rings: hard for a linear classifier on (x, y), easy on (r, theta).

    Returns ``points`` (float, shape ``(n_points, 2)``) and ``labels`` (0: inner ring, 1: outer).

    Examples
    --------
    >>> points, labels = make_rings(10)
    >>> points.shape, labels.tolist()[:4]
    ((10, 2), [0, 1, 0, 1])
    """
    rng = np.random.default_rng(seed)
    labels = np.arange(n_points) % 2
    radius = np.where(labels == 0, 1.0, 2.0) + rng.normal(0, noise, n_points)
    angle = rng.uniform(-np.pi, np.pi, n_points)
    return np.stack([radius * np.cos(angle), radius * np.sin(angle)], axis=1), labels


def to_polar(points: np.ndarray) -> np.ndarray:
    """(x, y) -> (r, theta): the representation that makes the rings linearly separable."""
    points = np.asarray(points, np.float64)
    return np.stack([np.hypot(points[:, 0], points[:, 1]), np.arctan2(points[:, 1], points[:, 0])], axis=1)
