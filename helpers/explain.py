"""What the model looks at: gradient saliency and Grad-CAM."""

from __future__ import annotations

import helpers.quiet  # noqa: F401  (first: TensorFlow without its import notices)

import keras
import numpy as np
import tensorflow as tf

from helpers.surgery import get_layer


def _as_batch(images) -> np.ndarray:
    images = np.asarray(images, np.float32)
    if images.ndim == 3:
        images = images[None]
    if images.ndim != 4 or images.shape[-1] != 3:
        raise ValueError(f"images must have shape (height, width, 3) or (n, height, width, 3), got {images.shape}")
    return images


def last_conv_layer(model: keras.Model) -> str:
    """Name of the last layer of ``model`` whose output is a 4-D feature map.

    Examples
    --------
    >>> from helpers.models import load_base
    >>> last_conv_layer(load_base(None))
    'out_relu'
    """
    for layer in reversed(model.layers):
        shape = getattr(layer, "output", None) is not None and layer.output.shape
        if shape and len(shape) == 4 and not isinstance(layer, keras.layers.InputLayer):
            return layer.name
    raise ValueError(
        f"Model {model.name!r} has no convolutional layer (no layer with a 4-D output), so Grad-CAM "
        "has no feature map to look at. Use saliency() instead, or a convolutional model."
    )


def _in_batches(function, images: np.ndarray, batch_size: int) -> np.ndarray:
    # Gradients keep every activation of the batch alive: small batches keep memory low.
    return np.concatenate([function(images[i : i + batch_size]) for i in range(0, len(images), batch_size)])


def saliency(model: keras.Model, images, class_index: int | None = None, *, batch_size: int = 16) -> np.ndarray:
    """Gradient saliency: how much each pixel moves the class score, shape ``(n, height, width)`` in 0..1.

    ``class_index`` defaults to each image's predicted class; images go through in batches of
    ``batch_size``.

    Examples
    --------
    >>> from helpers.models import load_base
    >>> from helpers.surgery import attach_head
    >>> import numpy as np
    >>> saliency(attach_head(load_base(None), 2), np.zeros((96, 96, 3))).shape
    (1, 96, 96)
    """

    def one_batch(batch):
        batch = tf.convert_to_tensor(batch)
        with tf.GradientTape() as tape:
            tape.watch(batch)
            scores = model(batch, training=False)
            chosen = tf.argmax(scores, axis=1) if class_index is None else tf.fill([len(batch)], class_index)
            picked = tf.gather(scores, chosen, axis=1, batch_dims=1)
        return tf.reduce_max(tf.abs(tape.gradient(picked, batch)), axis=-1).numpy()

    grads = _in_batches(one_batch, _as_batch(images), batch_size)
    return grads / (grads.max(axis=(1, 2), keepdims=True) + 1e-12)


def gradcam(
    model: keras.Model, images, class_index: int | None = None, layer: str | None = None, *, batch_size: int = 16
) -> np.ndarray:
    """Grad-CAM heatmaps at the input's size, shape ``(n, height, width)`` in 0..1.

    Parameters
    ----------
    model : keras.Model
        A flat model (see :func:`helpers.surgery.attach_head`), so its last convolutional layer can be
        wired to its input.
    images : array of shape (n, height, width, 3) or (height, width, 3), values 0..255
    class_index : int, optional
        Class to explain (default: each image's predicted class).
    layer : str, optional
        Convolutional layer to explain (default: the last one).
    batch_size : int
        Images per gradient computation (memory grows with it).

    Examples
    --------
    >>> from helpers.models import load_base
    >>> from helpers.surgery import attach_head
    >>> import numpy as np
    >>> gradcam(attach_head(load_base("bundled"), 2), np.zeros((2, 96, 96, 3))).shape
    (2, 96, 96)
    """
    batch = _as_batch(images)
    name = layer or last_conv_layer(model)
    feature_layer = get_layer(model, name)
    if len(feature_layer.output.shape) != 4:
        raise ValueError(f"Layer {name!r} outputs shape {feature_layer.output.shape}, not a 4-D feature map.")
    probe = keras.Model(model.input, [feature_layer.output, model.output])

    def one_batch(images):
        with tf.GradientTape() as tape:
            maps, scores = probe(images, training=False)
            chosen = tf.argmax(scores, axis=1) if class_index is None else tf.fill([len(images)], class_index)
            picked = tf.gather(scores, chosen, axis=1, batch_dims=1)
        weights = tf.reduce_mean(tape.gradient(picked, maps), axis=(1, 2), keepdims=True)
        cam = tf.nn.relu(tf.reduce_sum(weights * maps, axis=-1))[..., None]
        return tf.image.resize(cam, images.shape[1:3], method="bilinear")[..., 0].numpy()

    cam = _in_batches(one_batch, batch, batch_size)
    return cam / (cam.max(axis=(1, 2), keepdims=True) + 1e-12)


def share_inside(heatmaps: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """Fraction of each heatmap's total inside its box ``(top, bottom, left, right)``.

    Compare with the box's share of the image area: a model that looks where the box is puts
    much more of its heat there than the area alone would.

    Examples
    --------
    >>> heat = np.zeros((1, 4, 4))
    >>> heat[0, :2, :2] = 1
    >>> share_inside(heat, np.array([[0, 2, 0, 4]])).round(3).tolist()
    [1.0]
    """
    heatmaps = np.asarray(heatmaps, np.float64)
    inside = np.array([h[t:b, left:right].sum() for h, (t, b, left, right) in zip(heatmaps, boxes, strict=True)])
    return inside / np.maximum(heatmaps.sum(axis=(1, 2)), 1e-12)


def peak_inside(heatmaps: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """Whether each heatmap's hottest pixel lies inside its box ``(top, bottom, left, right)``: the "pointing game".

    The place a reader's eye goes to on a heatmap. A heatmap that pointed at random would hit a
    box as often as the box's share of the image area.

    Examples
    --------
    >>> heat = np.zeros((2, 4, 4))
    >>> heat[0, 1, 1] = heat[1, 3, 3] = 1
    >>> peak_inside(heat, np.array([[0, 2, 0, 2], [0, 2, 0, 2]])).tolist()
    [True, False]
    """
    heatmaps = np.asarray(heatmaps)
    rows, columns = np.unravel_index(heatmaps.reshape(len(heatmaps), -1).argmax(axis=1), heatmaps.shape[1:])
    top, bottom, left, right = np.asarray(boxes).T
    return (top <= rows) & (rows < bottom) & (left <= columns) & (columns < right)
