"""Pretrain the bundled base on the source task, the way ImageNet models are pretrained for you.

    python -m helpers.pretraining.supervised                 # the bundled weights (under an hour on 2 cores)
    python -m helpers.pretraining.supervised --tiny --out /tmp/w   # a seconds-long run that proves the pipeline
    python -m helpers.pretraining.supervised --source-head-only    # refit only the source head (fit_source_head)

Draws ``--n-images`` portraits of the source task (fourteen accessories, no sunglasses, no hats),
trains ``MobileNetV2(alpha=0.35)`` from scratch on them, checks inference-mode accuracy on a
held-out set drawn with another seed, and writes the base's weights (without the heads) plus a
JSON card with the configuration, the accuracy and the SHA-256.

The main objective is the accessory (fourteen classes). Half the portraits wear a second
accessory somewhere else (clear glasses with a headscarf), and a second head names it (or
"none"): a base that must see both learns a detector for each part of the face instead of one
guess per portrait, which is what the target's combinations (a hat over clear glasses) need.
That one change made feature extraction on the target task clearly better (the ladder,
``make bench``, measures it). Runs differ even with every seed set, most likely because
TensorFlow's multithreaded CPU kernels do not sum in a fixed order.
Since the generator knows everything it drew, four more side objectives come for free and speed
up learning from scratch a lot: where the face is (centre, size, tilt: a dense signal from the
first step on), the hair style, the hair colour (which makes the base tell hair from whatever
covers it) and the expression. Only the base is kept; all heads are thrown away, as an ImageNet
head would be.

Source accuracy (on the first accessory) is lower than it was with one accessory per portrait,
by design: when two are worn, which one is "first" is a coin toss.

A random half of every training batch is mirrored (with the face's position and tilt), so the
base cannot simply learn its portraits by heart.

BatchNorm momentum is lowered to 0.9 while training: with Keras' 0.999 the moving statistics
are still far from the data's after a short run, and inference-mode accuracy stays at chance.
"""

from __future__ import annotations

import helpers.quiet  # noqa: F401  (first: TensorFlow without its import notices)

import argparse
import json
import platform
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf
from sklearn.linear_model import LogisticRegression

from helpers import faces
from helpers.models import (
    ALPHA,
    BUNDLED_CARD,
    BUNDLED_WEIGHTS,
    SOURCE_HEAD,
    SOURCE_HEAD_CARD,
    build_base,
    extract_features,
    sha256_of,
)
from helpers.tasks import DRAW_OFFSETS, IMAGE_SIZE, SOURCE_CLASSES, make_source_task

#: The attributes whose values are regression targets of the "geometry" head, in this order.
GEOMETRY = ("face_x", "face_y", "face_half_width", "tilt")


@dataclass
class PretrainConfig:
    n_images: int = 30_000
    n_validation: int = 2_000
    epochs: int = 11
    batch_size: int = 32
    learning_rate: float = 1e-3
    bn_momentum: float = 0.9
    image_size: int = IMAGE_SIZE
    seed: int = 0

    @classmethod
    def tiny(cls) -> PretrainConfig:
        return cls(n_images=96, n_validation=44, epochs=1, batch_size=32)


def pretrain(config: PretrainConfig, out_dir: str | Path, *, n_jobs: int = -1, verbose: int = 2) -> dict:
    """Train the base on the source task; write ``<name>.weights.h5`` and ``<name>.json`` to ``out_dir``.

    Returns the card written beside the weights.

    Examples
    --------
    >>> card = pretrain(PretrainConfig.tiny(), "/tmp/weights", verbose=0)  # doctest: +SKIP
    """
    keras.utils.set_random_seed(config.seed)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    draw = dict(image_size=config.image_size, n_jobs=n_jobs, progress=verbose > 0, return_attributes=True)
    x_train, y_train, a_train = make_source_task(config.n_images, seed=config.seed, **draw)
    x_val, y_val, a_val = make_source_task(config.n_validation, seed=config.seed + 1, **draw)
    drawn = time.perf_counter()

    base = build_base(config.image_size, bn_momentum=config.bn_momentum)
    pooled = keras.layers.GlobalAveragePooling2D(name="pool")(base.output)
    pooled = keras.layers.Dropout(0.2, name="dropout")(pooled)
    # Where the face is needs the spatial map, squeezed to a few channels first.
    spatial = keras.layers.Conv2D(32, 1, activation="relu", name="squeeze")(base.output)
    spatial = keras.layers.Flatten(name="flatten")(spatial)
    outputs = {
        "accessory": keras.layers.Dense(len(SOURCE_CLASSES), name="accessory")(pooled),
        "second": keras.layers.Dense(len(SOURCE_CLASSES) + 1, name="second")(pooled),  # class 0: none
        "hair_style": keras.layers.Dense(len(faces.HAIR_STYLES), name="hair_style")(pooled),
        "expression": keras.layers.Dense(len(faces.EXPRESSIONS), name="expression")(pooled),
        "hair_colour": keras.layers.Dense(3, name="hair_colour")(pooled),
        "geometry": keras.layers.Dense(4, name="geometry")(spatial),
    }
    model = keras.Model(base.input, outputs, name="source_model")
    steps = config.epochs * int(np.ceil(config.n_images / config.batch_size))
    schedule = keras.optimizers.schedules.CosineDecay(config.learning_rate, decay_steps=max(steps, 1))
    classify = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    model.compile(
        optimizer=keras.optimizers.Adam(schedule),
        loss={
            "accessory": classify,
            "second": classify,
            "hair_style": classify,
            "expression": classify,
            "geometry": "mse",
            "hair_colour": "mse",
        },
        loss_weights={
            "accessory": 1.0,
            "second": 1.0,
            "hair_style": 0.3,
            "expression": 0.3,
            "geometry": 1.0,
            "hair_colour": 3.0,
        },
        metrics={"accessory": "accuracy"},
    )
    a_train, a_val = _columns(a_train), _columns(a_val)
    centre, spread = a_train["geometry"].mean(axis=0), a_train["geometry"].std(axis=0) + 1e-6
    history = model.fit(
        _mirrored_batches(x_train, y_train, a_train, centre, spread, config),
        validation_data=_batches(x_val, y_val, a_val, centre, spread, config.batch_size),
        epochs=config.epochs,
        shuffle=False,
        verbose=verbose,
    )  # the batches are shuffled
    trained = time.perf_counter()
    # Inference mode (moving BatchNorm statistics), which is how the base is used afterwards.
    predictions = model.predict(x_val, batch_size=256, verbose=0)["accessory"].argmax(axis=1)
    accuracy = float((predictions == y_val).mean())

    weights = out_dir / BUNDLED_WEIGHTS.name
    base.save_weights(weights)
    card = {
        "architecture": f"keras.applications.MobileNetV2(alpha={ALPHA}, include_top=False)",
        "input": f"{config.image_size}x{config.image_size}x3, values 0..255 (preprocessing inside the model)",
        "source_task": {
            "classes": list(SOURCE_CLASSES),
            "generator": "helpers.tasks.make_source_task",
            "side_objectives": ["second accessory", "face geometry", "hair style", "hair colour", "expression"],
        },
        "config": asdict(config),
        "source_validation_accuracy": round(accuracy, 4),
        "chance_accuracy": round(1 / len(SOURCE_CLASSES), 4),
        "train_accuracy_last_epoch": round(float(history.history["accessory_accuracy"][-1]), 4),
        # The curve a lecture draws (in training mode, so below the inference-mode accuracy above).
        "history": {
            key: [round(float(v), 4) for v in history.history[key]]
            for key in ("accessory_accuracy", "val_accessory_accuracy")
            if key in history.history
        },
        "seconds": {"drawing": round(drawn - started, 1), "training": round(trained - drawn, 1)},
    }
    return write_card(card, weights, out_dir / BUNDLED_CARD.name)


def write_card(card: dict, weights: Path, path: Path) -> dict:
    """``card`` completed with the versions that trained ``weights`` and their SHA-256, written to ``path`` as JSON."""
    card = {
        **card,
        "versions": {
            "keras": keras.__version__,
            "backend": keras.backend.backend(),
            "python": platform.python_version(),
        },
        "sha256": sha256_of(weights),
    }
    path.write_text(json.dumps(card, indent=2) + "\n")
    return card


def config_from_arguments(parser: argparse.ArgumentParser, defaults, tiny, argv: list[str] | None):
    """Parse ``argv`` with one ``--option`` per field of the dataclass ``defaults`` (and ``--tiny``, ``--out``).

    Returns the parsed arguments and the configuration: ``tiny`` (or ``defaults``) with every
    option given on the command line put in.
    """
    parser.add_argument("--tiny", action="store_true", help="a seconds-long run that proves the pipeline")
    for name, value in asdict(defaults).items():
        parser.add_argument(f"--{name.replace('_', '-')}", type=type(value), default=None)
    args = parser.parse_args(argv)
    config = tiny if args.tiny else defaults
    for name in asdict(config):
        if getattr(args, name) is not None:
            setattr(config, name, getattr(args, name))
    return args, config


def _columns(attributes: np.ndarray) -> dict[str, np.ndarray]:
    """The attributes the heads learn, by name, as float32 columns a ``tf.data`` pipeline can slice."""
    return {
        "geometry": np.stack([attributes[name] for name in GEOMETRY], axis=1).astype(np.float32),
        "hair_style": attributes["hair_style"].astype(np.int32),
        "expression": attributes["expression"].astype(np.int32),
        "hair_colour": attributes["hair_colour"].astype(np.float32),
        "second_accessory": attributes["second_accessory"].astype(np.int32),
    }


def _targets(labels, attributes: dict, centre, spread) -> dict:
    """The six objectives of one batch, from the labels and the attribute columns."""
    return {
        "accessory": labels,
        "hair_style": attributes["hair_style"],
        "expression": attributes["expression"],
        "geometry": (attributes["geometry"] - centre) / spread,
        "hair_colour": attributes["hair_colour"],
        "second": attributes["second_accessory"] + 1,
    }  # -1 (none) becomes class 0


def _batches(images, labels, attributes: dict, centre, spread, batch_size: int):
    dataset = tf.data.Dataset.from_tensor_slices((images, labels, attributes)).batch(batch_size)
    return dataset.map(lambda x, y, a: (x, _targets(y, a, centre, spread))).prefetch(tf.data.AUTOTUNE)


def _mirrored_batches(images, labels, attributes: dict, centre, spread, config: PretrainConfig):
    """Shuffled training batches in which a random half of the portraits are mirrored.

    Every label survives a mirror image except where the face is: its centre moves from x to
    1 - x and its tilt changes sign, so the geometry targets are mirrored with the pixels.
    Without this, the base learns its portraits by heart instead of features that carry over.
    """
    sign, shift = np.ones(len(GEOMETRY), np.float32), np.zeros(len(GEOMETRY), np.float32)
    sign[[GEOMETRY.index("face_x"), GEOMETRY.index("tilt")]] = -1  # x centre and tilt change sign
    shift[GEOMETRY.index("face_x")] = 1  # ... and x becomes 1 - x
    images, labels = tf.constant(images), tf.constant(labels)
    attributes = {name: tf.constant(column) for name, column in attributes.items()}

    def batch(indices):
        x = tf.gather(images, indices)
        a = {name: tf.gather(column, indices) for name, column in attributes.items()}
        flip = tf.random.uniform(tf.shape(indices), seed=config.seed) < 0.5
        x = tf.where(flip[:, None, None, None], tf.reverse(x, axis=[2]), x)
        a["geometry"] = tf.where(flip[:, None], shift + sign * a["geometry"], a["geometry"])
        return x, _targets(tf.gather(labels, indices), a, centre, spread)

    order = tf.data.Dataset.range(len(labels)).shuffle(len(labels), seed=config.seed, reshuffle_each_iteration=True)
    return order.batch(config.batch_size).map(batch).prefetch(tf.data.AUTOTUNE)


def fit_source_head(
    weights_dir: str | Path, *, n_per_class: int = 200, seed: int = DRAW_OFFSETS["source-head"]
) -> dict:
    """Fit a head for the source task on the base in ``weights_dir``; write it and its card there.

    Pretraining throws its heads away, as an ImageNet model's head is thrown away when its base
    is reused. To show the case where the old head is worth keeping (new classes that are among
    the old ones), this fits one again: a logistic regression over the 14 source classes on the
    base's pooled features of ``14 * n_per_class`` new source portraits, scored on as many
    others. Writes ``SOURCE_HEAD`` (kernel and bias of a dense layer) and ``SOURCE_HEAD_CARD``.
    """
    weights_dir = Path(weights_dir)
    base = build_base(pooling="avg")
    base.load_weights(weights_dir / BUNDLED_WEIGHTS.name)
    n = n_per_class * len(SOURCE_CLASSES)
    x_fit, y_fit = make_source_task(n, seed=seed, n_jobs=-1)
    x_test, y_test = make_source_task(n, seed=seed + 1, n_jobs=-1)
    head = LogisticRegression(C=0.1, max_iter=5000).fit(extract_features(base, x_fit, progress=False), y_fit)
    accuracy = float(head.score(extract_features(base, x_test, progress=False), y_test))
    path = weights_dir / SOURCE_HEAD.name
    np.savez(path, kernel=head.coef_.T.astype(np.float32), bias=head.intercept_.astype(np.float32))
    card = {
        "what": "a dense head naming the source accessory, fitted on the bundled base's pooled features",
        "fitted_by": "helpers.pretraining.supervised.fit_source_head (logistic regression, C=0.1)",
        "n_images": n,
        "seed": seed,
        "source_test_accuracy": round(accuracy, 4),
        "chance_accuracy": round(1 / len(SOURCE_CLASSES), 4),
        "sha256": sha256_of(path),
    }
    (weights_dir / SOURCE_HEAD_CARD.name).write_text(json.dumps(card, indent=2) + "\n")
    return card


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m helpers.pretraining.supervised", description="Pretrain the bundled base on the source task."
    )
    parser.add_argument("--out", default=str(BUNDLED_WEIGHTS.parent), help="folder for the weights and card")
    parser.add_argument("--source-head-only", action="store_true", help="only fit the source head on the base in --out")
    args, config = config_from_arguments(parser, PretrainConfig(), PretrainConfig.tiny(), argv)
    if not args.source_head_only:
        card = pretrain(config, args.out)
        print(json.dumps({k: card[k] for k in ("source_validation_accuracy", "seconds", "sha256")}, indent=2))
    head = fit_source_head(args.out, n_per_class=4 if args.tiny else 200)
    print(json.dumps({k: head[k] for k in ("source_test_accuracy", "sha256")}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
