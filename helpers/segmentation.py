"""A classifier's base reused for segmentation: its feature maps at several scales, a small decoder, IoU.

The lecture: "you can train a network for classification and use it for segmentation". The
pretrained base stays frozen and gives feature maps at four resolutions (the layers the
TensorFlow segmentation tutorial takes from MobileNetV2); a small U-Net-style decoder upsamples
the coarsest, joins each finer map on the way up, and predicts one logit per pixel at a quarter
of the input's side. Since the base is frozen, its maps are computed once, as in feature extraction.

Examples
--------
>>> from helpers.models import load_base
>>> maps = encoder_maps(load_base(None), np.zeros((2, 96, 96, 3)))
>>> [m.shape[1] for m in maps]
[24, 12, 6, 3]
>>> decoder([m.shape for m in maps]).output.shape
(None, 24, 24, 1)
"""

from __future__ import annotations

import helpers.quiet  # noqa: F401  (first: TensorFlow without its import notices)

import keras
import numpy as np
import tensorflow as tf

from helpers.models import model_outputs
from helpers.surgery import get_layer

#: Feature maps the decoder reads, finest first: 24x24, 12x12, 6x6 and 3x3 at 96x96 inputs.
SKIP_LAYERS = ("block_3_expand_relu", "block_6_expand_relu", "block_13_expand_relu", "block_16_project")


def encoder_maps(
    base: keras.Model, images, *, layers: tuple[str, ...] = SKIP_LAYERS, batch_size: int = 32
) -> list[np.ndarray]:
    """The frozen base's feature maps at ``layers`` for ``images`` (values 0..255), one array per layer."""
    encoder = keras.Model(base.input, [get_layer(base, name).output for name in layers])
    maps = model_outputs(encoder, images, batch_size=batch_size)
    return maps if isinstance(maps, list) else [maps]  # predict gives one array for one layer


def decoder(shapes, *, width: int = 32) -> keras.Model:
    """A small U-Net decoder: from the coarsest map up, upsample x2, join the next finer map, convolve.

    ``shapes`` are the maps' shapes, finest first; the output is one logit per pixel of the finest.
    """
    inputs = [keras.Input(tuple(shape[1:]), name=f"map_{k}") for k, shape in enumerate(shapes)]
    x = keras.layers.Conv2D(width, 1, activation="relu")(inputs[-1])
    for skip in reversed(inputs[:-1]):
        x = keras.layers.UpSampling2D(interpolation="bilinear")(x)
        x = keras.layers.Concatenate()([x, keras.layers.Conv2D(width, 1, activation="relu")(skip)])
        x = keras.layers.Conv2D(width, 3, padding="same", activation="relu")(x)
    return keras.Model(inputs, keras.layers.Conv2D(1, 1, name="mask_logits")(x), name="decoder")


def _dice_and_crossentropy(target, logits):
    """Cross-entropy per pixel plus a soft Dice loss: a thin pair of lenses counts as much as a large hat."""
    probability = keras.ops.sigmoid(logits)
    overlap = keras.ops.sum(target * probability, axis=(1, 2, 3))
    total = keras.ops.sum(target + probability, axis=(1, 2, 3))
    dice = 1 - (2 * overlap + 1) / (total + 1)
    crossentropy = keras.ops.mean(keras.losses.binary_crossentropy(target, logits, from_logits=True), axis=(1, 2))
    return crossentropy + dice


def fit_decoder(
    maps: list[np.ndarray], masks: np.ndarray, *, epochs: int = 60, learning_rate: float = 2e-3, seed: int = 0
) -> tuple[keras.Model, dict]:
    """Train a :func:`decoder` on precomputed ``maps`` to predict ``masks`` (bool, at the images' size).

    The masks are average-pooled to the decoder's output size, so its targets are the share of
    each cell the accessory covers. Returns the decoder and its training history.
    """
    keras.utils.set_random_seed(seed)
    model = decoder([m.shape for m in maps])
    side = model.output.shape[1]
    factor = masks.shape[1] // side
    targets = masks.reshape(len(masks), side, factor, side, factor).mean(axis=(2, 4))[..., None].astype(np.float32)
    model.compile(keras.optimizers.Adam(learning_rate), _dice_and_crossentropy)
    history = model.fit(maps, targets, epochs=epochs, batch_size=16, verbose=0, shuffle=True).history
    return model, history


def predict_masks(model: keras.Model, maps: list[np.ndarray], size: int) -> np.ndarray:
    """Masks predicted by a fitted decoder, upsampled to ``size`` x ``size`` pixels (bool)."""
    # Called directly, batch by batch: predict() would trace a new function for every new decoder.
    logits = np.concatenate(
        [np.asarray(model([m[i : i + 64] for m in maps], training=False)) for i in range(0, len(maps[0]), 64)]
    )
    return tf.image.resize(logits, (size, size), method="bilinear").numpy()[..., 0] > 0


def iou(predicted: np.ndarray, true: np.ndarray) -> np.ndarray:
    """Intersection over union of each predicted mask with its true mask (1 where both are empty).

    Examples
    --------
    >>> a = np.zeros((1, 4, 4), bool); a[0, :2] = True
    >>> b = np.zeros((1, 4, 4), bool); b[0, 1:3] = True
    >>> iou(a, b).round(3).tolist()
    [0.333]
    """
    predicted, true = np.asarray(predicted, bool), np.asarray(true, bool)
    union = (predicted | true).sum(axis=(1, 2))
    return np.where(union > 0, (predicted & true).sum(axis=(1, 2)) / np.maximum(union, 1), 1.0)
