"""Plots for the course. Every function draws on a given matplotlib ``Axes`` (or a new one),
returns it, and works headless."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def _axes(ax=None, figsize=(6, 4)):
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=figsize)
    return ax


def image_grid(images: np.ndarray, labels: Sequence[int] | None = None, *, class_names: Sequence[str] = (),
               predictions: Sequence[int] | None = None, columns: int = 8, ax=None, title: str | None = None):
    """Show images in a grid, with their labels; with ``predictions``, mistakes are framed in red.

    Parameters
    ----------
    images : array of shape (n, height, width, 3), values 0..255
    labels : sequence of int, optional
        True classes, written under each image.
    class_names : sequence of str
        Names for the labels.
    predictions : sequence of int, optional
        Predicted classes: a wrong one is written in red with a red frame.
    columns : int
        Images per row.
    ax : matplotlib Axes, optional
        Where to draw (a new figure if ``None``).
    title : str, optional

    Returns
    -------
    matplotlib Axes

    Examples
    --------
    >>> import matplotlib; matplotlib.use("Agg")
    >>> from helpers.data import make_sunglasses_vs_hat, TARGET_CLASSES
    >>> x, y = make_sunglasses_vs_hat(8)
    >>> ax = image_grid(x, y, class_names=TARGET_CLASSES, columns=4)
    """
    images = np.asarray(images)
    if images.ndim != 4 or images.shape[-1] not in (1, 3):
        raise ValueError(f"images must have shape (n, height, width, 3), got {images.shape}")
    n, h, w, _ = images.shape
    rows = int(np.ceil(n / columns))
    pad = max(2, h // 16)
    label_space = (h // 4) if labels is not None else 0
    cell_h, cell_w = h + pad + label_space, w + pad
    canvas = np.full((rows * cell_h, columns * cell_w, 3), 255, np.uint8)
    ax = _axes(ax, figsize=(columns * 1.2, rows * 1.2 * cell_h / cell_w))
    names = list(class_names)

    def name(i):
        return names[i] if i < len(names) else str(i)

    wrong = []
    for k in range(n):
        r, c = divmod(k, columns)
        y0, x0 = r * cell_h, c * cell_w
        canvas[y0:y0 + h, x0:x0 + w] = images[k].astype(np.uint8)
        if predictions is not None and labels is not None and predictions[k] != labels[k]:
            wrong.append(k)
            canvas[y0:y0 + h, x0:x0 + 2] = canvas[y0:y0 + h, x0 + w - 2:x0 + w] = (220, 30, 30)
            canvas[y0:y0 + 2, x0:x0 + w] = canvas[y0 + h - 2:y0 + h, x0:x0 + w] = (220, 30, 30)
    ax.imshow(canvas, interpolation="nearest")
    if labels is not None:
        for k in range(n):
            r, c = divmod(k, columns)
            text = name(labels[k])
            if predictions is not None:
                text = f"{name(predictions[k])}" if k in wrong else text
            ax.text(c * cell_w + w / 2, r * cell_h + h + label_space * 0.55, text, ha="center", va="center",
                    fontsize=7, color="#d01c1c" if k in wrong else "black")
    ax.set_axis_off()
    if title:
        ax.set_title(title)
    return ax
