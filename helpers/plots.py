"""The course's plots: images, training curves, kernels, feature maps, embeddings, heatmaps and measurements.

Every function draws on a given matplotlib ``Axes`` (or a new one), returns it, and works headless.
"""

from __future__ import annotations

import helpers.quiet  # noqa: F401  (first: TensorFlow without its import notices)

from collections.abc import Sequence

import keras
import matplotlib
import matplotlib.pyplot as plt
import numpy as np
from sklearn.decomposition import PCA
from sklearn.manifold import TSNE
from sklearn.metrics import ConfusionMatrixDisplay
from sklearn.preprocessing import StandardScaler

from helpers.surgery import cut
from helpers.training import best_epoch, history_dict


def _axes(ax=None, figsize=(6, 4)):
    if ax is None:
        _, ax = plt.subplots(figsize=figsize)
    return ax


def image_grid(
    images: np.ndarray,
    labels: Sequence[int] | None = None,
    *,
    class_names: Sequence[str] = (),
    predictions: Sequence[int] | None = None,
    confidences: Sequence[float] | None = None,
    columns: int = 8,
    ax=None,
    title: str | None = None,
):
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
    confidences : sequence of float, optional
        The model's probability for each prediction, written after it (``sunglasses 97%``).
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
    >>> from helpers.tasks import make_sunglasses_vs_hat, TARGET_CLASSES
    >>> x, y = make_sunglasses_vs_hat(8)
    >>> ax = image_grid(x, y, class_names=TARGET_CLASSES, columns=4)
    """
    images = np.asarray(images)
    if images.ndim != 4 or images.shape[-1] not in (1, 3):
        raise ValueError(f"images must have shape (n, height, width, 3), got {images.shape}")
    n, h, w, _ = images.shape
    if confidences is not None and (predictions is None or len(confidences) != n):
        raise ValueError(
            f"confidences need predictions and one value per image ({n}), got "
            f"{None if confidences is None else len(confidences)}"
        )
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
        canvas[y0 : y0 + h, x0 : x0 + w] = images[k].astype(np.uint8)
        if predictions is not None and labels is not None and predictions[k] != labels[k]:
            wrong.append(k)
            canvas[y0 : y0 + h, x0 : x0 + 2] = canvas[y0 : y0 + h, x0 + w - 2 : x0 + w] = (220, 30, 30)
            canvas[y0 : y0 + 2, x0 : x0 + w] = canvas[y0 + h - 2 : y0 + h, x0 : x0 + w] = (220, 30, 30)
    ax.imshow(canvas, interpolation="nearest")
    if labels is not None:
        for k in range(n):
            r, c = divmod(k, columns)
            text = name(labels[k])
            if predictions is not None:
                text = f"{name(predictions[k])}" if k in wrong else text
            if confidences is not None:
                text = f"{name(predictions[k])} {float(confidences[k]):.0%}"
            ax.text(
                c * cell_w + w / 2,
                r * cell_h + h + label_space * 0.55,
                text,
                ha="center",
                va="center",
                fontsize=7,
                color="#d01c1c" if k in wrong else "black",
            )
    ax.set_axis_off()
    if title:
        ax.set_title(title)
    return ax


def training_curves(histories: dict, *, metric: str = "accuracy", ax=None, mark_best: bool = True):
    """Training (dashed) and validation (solid) curves of several runs, best epochs marked.

    ``histories`` maps a run's name to a Keras ``History`` or its ``.history`` dict.

    Examples
    --------
    >>> import matplotlib; matplotlib.use("Agg")
    >>> h = {"accuracy": [0.6, 0.8], "val_accuracy": [0.6, 0.7], "loss": [1, .5], "val_loss": [1, .7]}
    >>> ax = training_curves({"run": h})
    """
    ax = _axes(ax)
    for k, (name, history) in enumerate(histories.items()):
        h = history_dict(history)
        colour = f"C{k}"
        epochs = np.arange(1, len(h[metric]) + 1)
        ax.plot(epochs, h[metric], "--", color=colour, alpha=0.6, label=f"{name} (train)")
        if f"val_{metric}" in h:
            ax.plot(epochs, h[f"val_{metric}"], "-", color=colour, label=f"{name} (validation)")
            if mark_best and "val_loss" in h:
                best = best_epoch(h)
                ax.axvline(best + 1, color=colour, ls=":", lw=1)
                ax.plot(
                    best + 1, h[f"val_{metric}"][best], "*", color=colour, ms=12, label=f"{name}: best epoch {best + 1}"
                )
    ax.set(xlabel="epoch", ylabel=metric)
    ax.legend(fontsize=9)
    ax.grid(alpha=0.3)
    return ax


def phase_curves(phases: dict, *, metric: str = "accuracy", ax=None):
    """Training (dashed) and validation (solid) curves of consecutive phases of one model, on one epoch axis.

    ``phases`` maps each phase's name to its Keras ``History`` (or ``.history`` dict), in the
    order they ran; each phase's curves continue where the last one ended, a dotted line marks
    where it starts, and the best validation epoch of each phase is starred.

    Examples
    --------
    >>> import matplotlib; matplotlib.use("Agg")
    >>> head = {"accuracy": [0.6, 0.8], "val_accuracy": [0.6, 0.7], "val_loss": [1, .7]}
    >>> tune = {"accuracy": [0.9, 0.95], "val_accuracy": [0.75, 0.8], "val_loss": [.6, .5]}
    >>> ax = phase_curves({"new head": head, "fine-tuning": tune})
    >>> [round(x) for x in ax.lines[3].get_xdata()]  # fine-tuning's training curve starts at epoch 3
    [3, 4]
    """
    ax = _axes(ax)
    start = 0
    for k, (name, history) in enumerate(phases.items()):
        h = history_dict(history)
        colour = f"C{k}"
        epochs = np.arange(start + 1, start + len(h[metric]) + 1)
        ax.plot(epochs, h[metric], "--", color=colour, alpha=0.6, label=f"{name} (train)")
        if f"val_{metric}" in h:
            ax.plot(epochs, h[f"val_{metric}"], "-", color=colour, label=f"{name} (validation)")
            if "val_loss" in h:
                best = best_epoch(h)
                ax.plot(
                    epochs[best],
                    h[f"val_{metric}"][best],
                    "*",
                    color=colour,
                    ms=12,
                    label=f"{name}: best epoch {epochs[best]}",
                )
        if start:
            ax.axvline(start + 0.5, color="grey", ls=":", lw=1)
            ax.annotate(
                f"{name} starts",
                (start + 0.5, 1),
                xycoords=("data", "axes fraction"),
                xytext=(3, -12),
                textcoords="offset points",
                fontsize=8,
                color="grey",
            )
        start += len(h[metric])
    ax.set(xlabel="epoch (all phases)", ylabel=metric)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return ax


def conv_kernels(kernels, *, max_kernels: int = 32, columns: int = 8, ax=None, title: str | None = None):
    """The kernels of a convolution (a layer, or an array ``(h, w, in, out)``), each as a small image.

    Three-channel kernels are shown in colour, others as the mean over input channels.

    Examples
    --------
    >>> import matplotlib; matplotlib.use("Agg")
    >>> import numpy as np
    >>> ax = conv_kernels(np.random.default_rng(0).normal(size=(3, 3, 3, 8)))
    """
    weights = kernels.get_weights()[0] if hasattr(kernels, "get_weights") else np.asarray(kernels)
    if weights.ndim != 4:
        raise ValueError(f"expected a conv layer or kernels of shape (h, w, in, out), got {weights.shape}")
    weights = weights[..., :max_kernels]
    tiles = np.moveaxis(weights, -1, 0)  # (out, h, w, in)
    tiles = tiles if tiles.shape[-1] == 3 else np.repeat(tiles.mean(axis=-1, keepdims=True), 3, axis=-1)
    low, high = tiles.min(axis=(1, 2, 3), keepdims=True), tiles.max(axis=(1, 2, 3), keepdims=True)
    tiles = ((tiles - low) / (high - low + 1e-12) * 255).astype(np.uint8)
    tiles = np.repeat(np.repeat(tiles, 8, axis=1), 8, axis=2)
    return image_grid(tiles, columns=columns, ax=ax, title=title)


def feature_maps(model, image, layer: str, *, channels: int = 16, columns: int = 8, ax=None):
    """The first ``channels`` feature maps of ``layer`` for one image (raw, values 0..255).

    Examples
    --------
    >>> import matplotlib; matplotlib.use("Agg")
    >>> from helpers.models import load_base
    >>> import numpy as np
    >>> ax = feature_maps(load_base(None), np.zeros((96, 96, 3)), "Conv1_relu", channels=4)
    """
    probe = cut(model, at=layer)
    if len(probe.output.shape) != 4:
        raise ValueError(f"layer {layer!r} outputs shape {probe.output.shape}, not feature maps")
    maps = keras.ops.convert_to_numpy(probe(np.asarray(image, np.float32)[None], training=False))[0]
    maps = np.moveaxis(maps[..., :channels], -1, 0)
    low, high = maps.min(axis=(1, 2), keepdims=True), maps.max(axis=(1, 2), keepdims=True)
    grey = ((maps - low) / (high - low + 1e-12) * 255).astype(np.uint8)
    scale = max(1, 48 // grey.shape[1])
    grey = np.repeat(np.repeat(grey, scale, axis=1), scale, axis=2)
    title = f"{layer}\n{maps.shape[1]}x{maps.shape[2]} maps, first {len(maps)} channels"  # 2 lines: grids side by side
    return image_grid(np.repeat(grey[..., None], 3, axis=-1), columns=columns, ax=ax, title=title)


def confusion_matrix(y_true, y_pred, class_names: Sequence[str] = (), *, ax=None):
    """Confusion matrix with counts, via scikit-learn's ``ConfusionMatrixDisplay``.

    Examples
    --------
    >>> import matplotlib; matplotlib.use("Agg")
    >>> ax = confusion_matrix([0, 1, 1], [0, 1, 0], ["hat", "sunglasses"])
    """
    ax = _axes(ax, figsize=(4, 4))
    labels = list(range(len(class_names))) if class_names else None
    ConfusionMatrixDisplay.from_predictions(
        y_true, y_pred, labels=labels, display_labels=list(class_names) or None, ax=ax, colorbar=False, cmap="Blues"
    )
    return ax


def embedding(
    features,
    labels,
    class_names: Sequence[str] = (),
    *,
    method: str = "pca",
    ax=None,
    title: str | None = None,
    seed: int = 0,
):
    """Features projected to 2-D (``"pca"`` or ``"tsne"``), one colour per class.

    Examples
    --------
    >>> import matplotlib; matplotlib.use("Agg")
    >>> import numpy as np
    >>> ax = embedding(np.random.default_rng(0).normal(size=(20, 5)), np.arange(20) % 2)
    """
    features = np.asarray(features, np.float32).reshape(len(features), -1)
    scaled = StandardScaler().fit_transform(features)
    if method == "pca":
        points = PCA(n_components=2, random_state=seed).fit_transform(scaled)
    elif method == "tsne":
        points = TSNE(n_components=2, random_state=seed, perplexity=min(30, len(features) - 1)).fit_transform(scaled)
    else:
        raise ValueError(f"method must be 'pca' or 'tsne', got {method!r}")
    ax = _axes(ax, figsize=(4.5, 4))
    labels = np.asarray(labels)
    for label in np.unique(labels):
        name = class_names[label] if label < len(class_names) else str(label)
        ax.scatter(*points[labels == label].T, s=12, alpha=0.7, label=name)
    ax.set(xticks=[], yticks=[], title=title or f"{method.upper()} of {features.shape[1]} features")
    ax.legend(fontsize=8)
    return ax


def heatmap_overlay(
    images,
    heatmaps,
    *,
    columns: int = 4,
    alpha: float = 0.45,
    ax=None,
    title: str | None = None,
    labels: Sequence[str] | None = None,
):
    """Images with a heatmap (Grad-CAM or saliency, values 0..1) laid over each.

    Examples
    --------
    >>> import matplotlib; matplotlib.use("Agg")
    >>> import numpy as np
    >>> ax = heatmap_overlay(np.zeros((2, 8, 8, 3)), np.ones((2, 8, 8)) / 2)
    """
    images = np.asarray(images, np.float32).reshape((-1, *np.shape(images)[-3:]))
    heatmaps = np.asarray(heatmaps).reshape((-1, *images.shape[1:3]))
    colours = matplotlib.colormaps["jet"](heatmaps)[..., :3] * 255
    blended = ((1 - alpha) * images + alpha * colours).clip(0, 255).astype(np.uint8)
    rows = -(-len(blended) // columns)
    # Heatmaps are read in detail, so their tiles are drawn larger than image_grid's thumbnails.
    ax = _axes(ax, figsize=(2.2 * min(columns, len(blended)), 2.3 * rows))
    ax = image_grid(blended, columns=min(columns, len(blended)), ax=ax, title=title)
    if labels is not None:
        h, w = images.shape[1:3]
        pad = max(2, h // 16)
        for k, text in enumerate(labels):
            r, c = divmod(k, min(columns, len(blended)))
            ax.text(
                c * (w + pad) + 3,
                r * (h + pad) + 10,
                text,
                color="white",
                fontsize=7,
                bbox={"facecolor": "black", "alpha": 0.5, "pad": 1},
            )
    return ax


def decision_boundary(classifier, points, labels, *, ax=None, resolution: int = 200, title: str | None = None):
    """Regions a fitted 2-D classifier assigns to each class, with the data on top.

    Examples
    --------
    >>> import matplotlib; matplotlib.use("Agg")
    >>> from sklearn.linear_model import LogisticRegression
    >>> from helpers.toy_data import make_rings
    >>> x, y = make_rings(100)
    >>> ax = decision_boundary(LogisticRegression().fit(x, y), x, y)
    """
    points, labels = np.asarray(points, np.float64), np.asarray(labels)
    if points.ndim != 2 or points.shape[1] != 2:
        raise ValueError(f"decision_boundary needs 2-D points of shape (n, 2), got {points.shape}")
    ax = _axes(ax, figsize=(4, 4))
    margin = 0.1 * (points.max(axis=0) - points.min(axis=0))
    low, high = points.min(axis=0) - margin, points.max(axis=0) + margin
    xx, yy = np.meshgrid(np.linspace(low[0], high[0], resolution), np.linspace(low[1], high[1], resolution))
    regions = np.asarray(classifier.predict(np.c_[xx.ravel(), yy.ravel()])).reshape(xx.shape)
    ax.contourf(xx, yy, regions, alpha=0.25, cmap="coolwarm", levels=np.arange(labels.max() + 2) - 0.5)
    ax.scatter(points[:, 0], points[:, 1], c=labels, cmap="coolwarm", s=12, edgecolors="k", linewidths=0.3)
    if title:
        ax.set_title(title)
    return ax


def params_vs_speed(rows: Sequence[dict], *, ax=None):
    """Parameters against images per second, one labelled point per architecture.

    Each row has ``name``, ``params`` and ``images_per_s``.

    Examples
    --------
    >>> import matplotlib; matplotlib.use("Agg")
    >>> ax = params_vs_speed([{"name": "VGG16", "params": 1.3e8, "images_per_s": 4}])
    """
    ax = _axes(ax, figsize=(5, 3.5))
    for row in rows:
        ax.scatter(row["params"], row["images_per_s"], s=40)
        ax.annotate(row["name"], (row["params"], row["images_per_s"]), textcoords="offset points", xytext=(5, 5))
    ax.set(xscale="log", yscale="log", xlabel="parameters", ylabel="images per second (this CPU)")
    ax.grid(alpha=0.3, which="both")
    return ax


def block_probes(accuracy: dict[str, dict[str, float]], chance: dict[str, float] | None = None, *, ax=None):
    """Linear-probe accuracy of every block, one line per task, with each task's chance level dashed.

    ``accuracy`` maps a task to ``{block: accuracy}`` (:func:`helpers.evidence.representations.transferability`).

    Examples
    --------
    >>> import matplotlib; matplotlib.use("Agg")
    >>> ax = block_probes({"a": {"stem": 0.5, "top": 0.9}}, {"a": 0.5})
    """
    ax = _axes(ax, figsize=(9, 3.8))
    for k, (task, by_block) in enumerate(accuracy.items()):
        ax.plot(range(len(by_block)), [100 * v for v in by_block.values()], "o-", color=f"C{k}", ms=4, label=task)
        if chance and task in chance:
            ax.axhline(100 * chance[task], color=f"C{k}", ls="--", lw=1, alpha=0.6)
    blocks = list(next(iter(accuracy.values())))
    ax.set_xticks(range(len(blocks)), [b.replace("block_", "") for b in blocks])
    ax.set(xlabel="block of the base (input -> output)", ylabel="probe test accuracy (%)", ylim=(0, 100))
    ax.legend(fontsize=8, loc="lower right")
    ax.grid(alpha=0.3)
    return ax


def probe_curves(accuracy: dict[str, dict[int, float]], *, chance: float = 0.5, ax=None):
    """Linear-probe test accuracy against labelled photos per class, one line per representation.

    ``accuracy`` maps a representation to ``{photos per class: accuracy}``
    (:func:`helpers.probes.linear_probes`); chance is dashed.

    Examples
    --------
    >>> import matplotlib; matplotlib.use("Agg")
    >>> ax = probe_curves({"features": {2: 0.7, 10: 0.9}, "pixels": {2: 0.5, 10: 0.55}})
    """
    ax = _axes(ax, figsize=(7, 4))
    for k, (name, by_n) in enumerate(accuracy.items()):
        ax.plot(list(by_n), [100 * v for v in by_n.values()], "o-", color=f"C{k}", label=name)
    shots = sorted({n for by_n in accuracy.values() for n in by_n})
    ax.axhline(100 * chance, color="grey", ls="--", lw=1, label="chance")
    ax.set_xscale("log")
    ax.set_xticks(shots, [str(n) for n in shots])
    ax.minorticks_off()  # no "4x10^1" between the photo counts
    ax.set(xlabel="labelled photos per class", ylabel="probe test accuracy (%)", ylim=(40, 100))
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=2)  # below: never on the curves
    ax.grid(alpha=0.3)
    return ax
