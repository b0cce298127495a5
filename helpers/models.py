"""The course's models: the pretrained base (bundled or ImageNet, same code), its features, and CNNs from scratch.

The base is ``keras.applications.MobileNetV2`` without its top, at width multiplier 0.35 and
96x96 inputs: small enough to train on a laptop CPU, and the layer names students meet online.
Its preprocessing is the model's first layer, so it takes raw images with values in 0..255 and
nobody can forget it or apply it twice.

``python -m helpers.models --cache-imagenet`` downloads the ImageNet weights into Keras' cache
(Binder's build does this, so the online mode needs no download later).
"""

from __future__ import annotations

import helpers.quiet  # noqa: F401  (first: TensorFlow without its import notices)

import argparse
import hashlib
import json
import os
from importlib import resources
from pathlib import Path
from typing import Literal

import keras
import numpy as np
import tensorflow as tf

from helpers.progress import progress_bar
from helpers.surgery import block_outputs
from helpers.tasks import IMAGE_SIZE

ALPHA = 0.35
WEIGHTS_DIR = Path(str(resources.files("helpers") / "weights"))
BUNDLED_WEIGHTS = WEIGHTS_DIR / "mobilenetv2_035_96_source.weights.h5"
BUNDLED_CARD = WEIGHTS_DIR / "mobilenetv2_035_96_source.json"
#: A head for the source task on the bundled base (:func:`helpers.pretraining.supervised.fit_source_head`).
SOURCE_HEAD = WEIGHTS_DIR / "mobilenetv2_035_96_source_head.npz"
SOURCE_HEAD_CARD = WEIGHTS_DIR / "mobilenetv2_035_96_source_head.json"
#: The same base pretrained on the source portraits without their labels (:mod:`helpers.pretraining.self_supervised`).
UNLABELED_WEIGHTS = WEIGHTS_DIR / "mobilenetv2_035_96_unlabeled.weights.h5"
UNLABELED_CARD = WEIGHTS_DIR / "mobilenetv2_035_96_unlabeled.json"

Weights = Literal["bundled", "unlabeled", "imagenet"] | None


def sha256_of(path: str | os.PathLike) -> str:
    """SHA-256 of a file, as hex.

    Examples
    --------
    >>> import tempfile
    >>> path = tempfile.mktemp(); open(path, "wb").close()
    >>> sha256_of(path)[:12]
    'e3b0c44298fc'
    """
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def build_base(
    image_size: int = IMAGE_SIZE,
    *,
    weights: str | None = None,
    pooling: str | None = None,
    bn_momentum: float | None = None,
    name: str = "base",
):
    """MobileNetV2 without its top, preceded by its own preprocessing; no weights loaded but ImageNet's.

    ``bn_momentum`` overrides the BatchNorm momentum (Keras' 0.999 leaves moving statistics
    unsettled after a short pretraining).

    Examples
    --------
    >>> build_base(bn_momentum=0.9).get_layer("bn_Conv1").momentum
    0.9
    """
    inputs = keras.Input((image_size, image_size, 3), name="image")
    # MobileNetV2's preprocess_input, as a layer: [0, 255] -> [-1, 1]
    scaled = keras.layers.Rescaling(1 / 127.5, offset=-1.0, name="preprocess")(inputs)
    net = keras.applications.MobileNetV2(
        input_tensor=scaled,
        input_shape=(image_size, image_size, 3),
        include_top=False,
        weights=weights,
        alpha=ALPHA,
        pooling=pooling,
    )
    base = keras.Model(inputs, net.output, name=name)
    if bn_momentum is not None:
        for layer in base.layers:
            if isinstance(layer, keras.layers.BatchNormalization):
                layer.momentum = bn_momentum
    return base


def load_base(weights: Weights = "bundled", *, image_size: int = IMAGE_SIZE, pooling: str | None = None):
    """The pretrained convolutional base, ready to take raw images with values in 0..255.

    Parameters
    ----------
    weights : {"bundled", "unlabeled", "imagenet", None}
        ``"bundled"``: the course's own weights, pretrained on the source task and shipped with
        this package (checked against their SHA-256); works offline. ``"unlabeled"``: the
        course's weights pretrained on the same portraits without their labels (contrastive
        learning, :mod:`helpers.pretraining.self_supervised`), shipped and checked the same way.
        ``"imagenet"``: Keras' ImageNet weights, downloaded once into Keras' cache. ``None``:
        random weights.
    image_size : int
        Side of the square input images. The bundled weights are trained at 96; ImageNet
        weights exist for 96, 128, 160, 192 and 224.
    pooling : {None, "avg", "max"}
        ``None`` keeps the spatial feature maps (3x3x1280 at 96x96); ``"avg"`` pools them to a
        1280-vector per image.

    Returns
    -------
    keras.Model
        Named ``"base"``; its first layer after the input is the preprocessing.

    Examples
    --------
    >>> base = load_base(pooling="avg")
    >>> base.output.shape
    (None, 1280)
    """
    if weights not in ("bundled", "unlabeled", "imagenet", None):
        raise ValueError(f"weights must be 'bundled', 'unlabeled', 'imagenet' or None, got {weights!r}")
    if weights == "imagenet":
        try:
            return build_base(image_size, weights="imagenet", pooling=pooling)
        except Exception as exc:
            if isinstance(exc, ValueError) and "input shape" in str(exc).lower():
                raise
            raise OSError(
                f"Could not get the ImageNet weights ({exc}). They are downloaded once from the "
                "internet into Keras' cache (~/.keras/models). Offline, use load_base(weights='bundled')."
            ) from exc
    base = build_base(image_size, pooling=pooling)
    if weights == "bundled":
        base.load_weights(_checked(BUNDLED_WEIGHTS, BUNDLED_CARD))
    elif weights == "unlabeled":
        base.load_weights(
            _checked(UNLABELED_WEIGHTS, UNLABELED_CARD, rebuild="python -m helpers.pretraining.self_supervised")
        )
    return base


def _checked(path: Path, card: Path, *, rebuild: str = "python -m helpers.pretraining.supervised") -> Path:
    """``path``, after checking it and its ``card`` exist and the file has the SHA-256 the card records."""
    for needed in (path, card):
        if not needed.is_file():
            raise FileNotFoundError(
                f"{needed} is missing. Reinstall the course package (pip install -e .), or rebuild it with: {rebuild}"
            )
    expected, actual = json.loads(card.read_text())["sha256"], sha256_of(path)
    if actual != expected:
        raise ValueError(
            f"{path} is damaged: SHA-256 {actual[:12]}... but {card.name} expects {expected[:12]}... "
            f"Reinstall the course package, or rebuild it with: {rebuild}"
        )
    return path


def source_classifier() -> keras.Model:
    """The bundled base with a head for its own source task: logits over ``SOURCE_CLASSES``, from raw images.

    The old model whole, head included: what "instance transfer" reuses when the new classes
    are among the old ones. The head is a logistic regression fitted on the base's features of
    new source portraits (its card says how well it does); pretraining's own heads were not kept.

    Examples
    --------
    >>> source_classifier().output.shape
    (None, 14)
    """
    head = np.load(_checked(SOURCE_HEAD, SOURCE_HEAD_CARD))
    base = load_base("bundled", pooling="avg")
    dense = keras.layers.Dense(head["kernel"].shape[1], name="source_head")
    model = keras.Model(base.input, dense(base.output), name="source_classifier")
    dense.set_weights([head["kernel"], head["bias"]])
    return model


def bundled_card() -> dict:
    """What the bundled weights were trained on and how well: their configuration and accuracy.

    Examples
    --------
    >>> sorted(bundled_card())[:2]
    ['architecture', 'chance_accuracy']
    """
    return json.loads(BUNDLED_CARD.read_text())


def unlabeled_card() -> dict:
    """What the unlabeled weights were trained on (objective, data, epochs, time) and how well they probe.

    Examples
    --------
    >>> unlabeled_card()["objective"][:11]
    'contrastive'
    """
    return json.loads(UNLABELED_CARD.read_text())


def extract_features(base: keras.Model, images, *, batch_size: int = 32, progress: bool = True) -> np.ndarray:
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

    Examples
    --------
    >>> extract_features(load_base("bundled"), np.zeros((3, 96, 96, 3)), progress=False).shape
    (3, 1280)
    """
    outputs = getattr(base, "outputs", None)  # a Sequential model that was never called has none yet
    if outputs and len(outputs[0].shape) == 4:  # spatial maps: average-pooled inside the model, batch by batch
        base = keras.Model(base.input, keras.layers.GlobalAveragePooling2D()(outputs[0]))
    features = model_outputs(base, images, batch_size=batch_size, progress=progress, desc="extracting features")
    return (features.mean(axis=(1, 2)) if features.ndim == 4 else features).astype(np.float32)


def block_features(base: keras.Model, images, *, batch_size: int = 32) -> dict[str, np.ndarray]:
    """Every block's output for ``images``, average-pooled to one vector per image: ``{block: (n, channels)}``.

    One pass through ``base`` gives all of them, so a linear probe can ask of each block how
    much of a task its features already solve (:func:`helpers.evidence.representations.transferability`).

    Examples
    --------
    >>> features = block_features(load_base(None), np.zeros((2, 96, 96, 3)))
    >>> list(features)[:2], features["top"].shape
    (['stem', 'block_1'], (2, 1280))
    """
    ends = block_outputs(base)
    pooled = [keras.layers.GlobalAveragePooling2D()(base.get_layer(name).output) for name in ends.values()]
    outputs = model_outputs(keras.Model(base.input, pooled), images, batch_size=batch_size)
    return dict(zip(ends, outputs, strict=True))


def model_outputs(
    model: keras.Model, images, *, batch_size: int = 32, progress: bool = False, desc: str = ""
) -> np.ndarray | list[np.ndarray]:
    """``model``'s outputs for many ``images``, in inference mode, through Keras' compiled ``predict``.

    ``images`` is an array of shape (n, height, width, 3), or a ``tf.data.Dataset`` of image
    batches or of ``(images, labels)`` batches. Compiled, a CPU runs the base about twice as fast
    as called eagerly batch by batch, with the same memory per batch. A model with several outputs
    gives a list of arrays.
    """
    if hasattr(images, "element_spec"):
        data = images.map(lambda x, *_: x) if isinstance(images.element_spec, tuple) else images
        total = None
    else:
        images = np.asarray(images)
        if images.ndim != 4 or images.shape[-1] != 3:
            raise ValueError(f"images must have shape (n, height, width, 3), got {images.shape}")
        data = tf.data.Dataset.from_tensor_slices(images).batch(batch_size).map(lambda x: tf.cast(x, tf.float32))
        total = len(images)
    with progress_bar(total=total, desc=desc, enabled=progress) as bar:
        count = keras.callbacks.LambdaCallback(
            on_predict_batch_end=lambda batch, logs: bar.update(len(keras.tree.flatten(logs["outputs"])[0]))
        )
        return model.predict(data, verbose=0, callbacks=[count])


def small_cnn(n_classes: int, image_size: int, *, width: int = 32, dropout: float = 0.3) -> keras.Model:
    """A plain CNN for training from scratch: a strided 5x5 stem, then four conv blocks.

    Examples
    --------
    >>> small_cnn(2, 96).output_shape
    (None, 2)
    """
    layers = [
        keras.Input((image_size, image_size, 3)),
        keras.layers.Rescaling(1 / 255),
        keras.layers.Conv2D(width, 5, strides=2, padding="same", activation="relu", name="stem"),
    ]
    for i, filters in enumerate((width, width * 2, width * 4, width * 4)):
        layers += [
            keras.layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"conv{i + 1}"),
            keras.layers.BatchNormalization(name=f"bn{i + 1}"),
            keras.layers.ReLU(),
            keras.layers.MaxPooling2D(),
        ]
    layers += [
        keras.layers.GlobalAveragePooling2D(),
        keras.layers.Dropout(dropout),
        keras.layers.Dense(n_classes, name="logits"),
    ]
    return keras.Sequential(layers, name="scratch_cnn")


def large_cnn(image_size: int, n_classes: int = 2) -> keras.Model:
    """A plain CNN with millions of parameters (most in its dense layer), no BatchNorm, no dropout.

    Millions of parameters for a hundred photos: what the lecture warns about, at a size a
    laptop trains in seconds.
    """
    return keras.Sequential(
        [
            keras.Input((image_size, image_size, 3)),
            keras.layers.Rescaling(1 / 255),
            keras.layers.Conv2D(32, 3, activation="relu"),
            keras.layers.MaxPooling2D(),
            keras.layers.Conv2D(64, 3, activation="relu"),
            keras.layers.MaxPooling2D(),
            keras.layers.Flatten(),
            keras.layers.Dense(256, activation="relu"),
            keras.layers.Dense(n_classes),
        ],
        name="large_cnn",
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m helpers.models", description=__doc__.split("\n\n")[0])
    parser.add_argument("--cache-imagenet", action="store_true", help="download the ImageNet weights now")
    args = parser.parse_args(argv)
    if args.cache_imagenet:
        load_base("imagenet")
        print("ImageNet weights cached.")
    else:
        parser.print_help()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
