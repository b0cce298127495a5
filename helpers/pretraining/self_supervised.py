"""Pretrain a base on the source portraits without their labels, by telling each portrait from all others.

    python -m helpers.pretraining.self_supervised                  # the shipped weights (make pretrain-unlabeled)
    python -m helpers.pretraining.self_supervised --tiny --out /tmp/w   # a seconds-long run that proves the pipeline

The lecture: "you can learn representations from unlabeled data". Nobody labels these
portraits. Each one is shown twice, through two random *views* (another crop, mirrored or not,
other brightness, contrast, saturation and colours), and the network learns to match the two
views of the same portrait among all the views of a batch: contrastive learning, as in SimCLR
(Chen et al., 2020). The labels are free, since we made the views ourselves. To match two views
that differ in crop and colour, the network must describe what stays: shapes, and which parts
a face has and where.

Why this objective: in short trial runs (3,000 to 4,000 portraits, 2 to 4 epochs), rotation
prediction (which way is up?), a denoising autoencoder and this objective all gave features no
better than random ones for the target task (a linear probe near chance); only this one's loss
kept falling steadily, so it got the long run. A portrait's way up is probably given away by its
shoulders alone, and an autoencoder spends its capacity on redrawing backgrounds. The crops are
taken around the middle of the picture, where a portrait's subject is, so that a busy
background does not decide the match alone.

The base is the same ``MobileNetV2(alpha=0.35)`` as the bundled one, trained from scratch on
the same kind of portraits (the source task's generator, its labels thrown away); only the
base is kept, its projection head is not. :func:`helpers.models.load_base` loads it with
``weights="unlabeled"``.
"""

from __future__ import annotations

import helpers.quiet  # noqa: F401  (first: TensorFlow without its import notices)

import argparse
import json
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from helpers.models import ALPHA, UNLABELED_CARD, UNLABELED_WEIGHTS, build_base
from helpers.pretraining.supervised import config_from_arguments, write_card
from helpers.probes import linear_probes
from helpers.tasks import IMAGE_SIZE, make_source_task


@dataclass
class UnlabeledConfig:
    n_images: int = 8_000
    epochs: int = 15
    batch_size: int = 64  # portraits per step; two views each, so 128 views to tell apart
    learning_rate: float = 3e-3
    temperature: float = 0.2
    bn_momentum: float = 0.9
    image_size: int = IMAGE_SIZE
    seed: int = 0

    @classmethod
    def tiny(cls) -> UnlabeledConfig:
        return cls(n_images=64, epochs=1, batch_size=16)


def random_views(images, rng: tf.random.Generator):
    """One random view of every image: a crop around the middle, mirrored or not, colours changed.

    ``images`` is a float batch with values 0..255, square; the views have its shape and range.
    ``rng`` draws the changes, so the same generator state gives the same views.

    Examples
    --------
    >>> random_views(tf.zeros((2, 32, 32, 3)), tf.random.Generator.from_seed(0)).shape
    TensorShape([2, 32, 32, 3])
    """
    n, size = tf.shape(images)[0], images.shape[1]

    def uniform(low, high, shape=None):
        return rng.uniform([n] if shape is None else shape, low, high)

    # a crop of 35-80% of the picture, its centre within the middle half
    area = uniform(0.35, 0.8)
    ratio = tf.exp(uniform(math.log(3 / 4), math.log(4 / 3)))
    height, width = tf.minimum(tf.sqrt(area / ratio), 1.0), tf.minimum(tf.sqrt(area * ratio), 1.0)
    centre_y, centre_x = uniform(0.25, 0.75), uniform(0.25, 0.75)
    top = tf.clip_by_value(centre_y - height / 2, 0.0, 1.0 - height)
    left = tf.clip_by_value(centre_x - width / 2, 0.0, 1.0 - width)
    boxes = tf.stack([top, left, top + height, left + width], axis=1)
    views = tf.image.crop_and_resize(images, boxes, tf.range(n), [size, size]) / 255.0
    mirror = uniform(0.0, 1.0) < 0.5
    views = tf.where(mirror[:, None, None, None], tf.reverse(views, axis=[2]), views)
    # brightness, contrast and saturation of each view, then its colour channels in a random order
    views = views * uniform(0.6, 1.4, [n, 1, 1, 1])
    mean = tf.reduce_mean(views, axis=[1, 2, 3], keepdims=True)
    views = mean + (views - mean) * uniform(0.6, 1.4, [n, 1, 1, 1])
    grey = tf.reduce_sum(views * [0.299, 0.587, 0.114], axis=-1, keepdims=True)
    views = grey + (views - grey) * uniform(0.2, 1.8, [n, 1, 1, 1])
    orders = tf.constant([[0, 1, 2], [0, 2, 1], [1, 0, 2], [1, 2, 0], [2, 0, 1], [2, 1, 0]])
    order = tf.gather(orders, rng.uniform([n], 0, 6, dtype=tf.int32))
    views = tf.gather(views, order, axis=3, batch_dims=1)
    return tf.clip_by_value(views, 0.0, 1.0) * 255.0


def contrastive_loss(first, second, temperature: float = 0.2):
    """SimCLR's loss (NT-Xent) for two views of a batch: each view must pick its twin among all the others.

    ``first[i]`` and ``second[i]`` embed two views of portrait ``i``. Returns the mean
    cross-entropy and the share of views whose most similar other view is their twin.
    """
    embeddings = tf.math.l2_normalize(tf.concat([first, second], axis=0), axis=1)
    n = tf.shape(first)[0]
    similarity = tf.matmul(embeddings, embeddings, transpose_b=True) / temperature
    similarity -= 1e9 * tf.eye(2 * n)  # a view is not its own twin
    twins = tf.concat([tf.range(n, 2 * n), tf.range(n)], axis=0)
    loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(twins, similarity))
    found = tf.reduce_mean(tf.cast(tf.argmax(similarity, axis=1, output_type=tf.int32) == twins, tf.float32))
    return loss, found


class ContrastiveLearner(keras.Model):
    """A base and a small projection head, trained by :func:`contrastive_loss` on pairs of :func:`random_views`."""

    def __init__(self, base: keras.Model, *, temperature: float = 0.2, seed: int = 0, **kwargs):
        super().__init__(**kwargs)
        self.base = base
        self.rng = tf.random.Generator.from_seed(seed)
        self.projection = keras.Sequential(
            [keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(256, activation="relu"), keras.layers.Dense(64)],
            name="projection",
        )
        self.temperature = temperature
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.found_tracker = keras.metrics.Mean(name="twin_found")

    @property
    def metrics(self):
        return [self.loss_tracker, self.found_tracker]

    def call(self, images, training: bool = False):
        return self.projection(self.base(images, training=training), training=training)

    def train_step(self, images):
        views = tf.concat([random_views(images, self.rng), random_views(images, self.rng)], axis=0)
        with tf.GradientTape() as tape:
            first, second = tf.split(self(views, training=True), 2)
            loss, found = contrastive_loss(first, second, self.temperature)
        gradients = tape.gradient(loss, self.trainable_variables)
        self.optimizer.apply_gradients(zip(gradients, self.trainable_variables, strict=True))
        self.loss_tracker.update_state(loss)
        self.found_tracker.update_state(found)
        return {metric.name: metric.result() for metric in self.metrics}


def train_contrastive(
    images: np.ndarray,
    *,
    epochs: int,
    batch_size: int = 64,
    learning_rate: float = 3e-3,
    temperature: float = 0.2,
    bn_momentum: float | None = 0.9,
    base: keras.Model | None = None,
    seed: int = 0,
    callbacks=(),
    verbose: int = 0,
) -> tuple[keras.Model, dict]:
    """Train a fresh base to find each portrait's twin view among a batch's views, without labels: ``(base, history)``.

    Parameters
    ----------
    images : array of shape (n, size, size, 3)
        Portraits, values 0..255.
    epochs, batch_size, learning_rate : training settings; ``batch_size`` portraits make
        ``2 * batch_size`` views per step, and a bigger batch makes the task harder.
    temperature : float
        How sharply the loss separates similar views (SimCLR's tau).
    bn_momentum : float or None
        BatchNorm momentum while training (Keras' 0.999 leaves the statistics unsettled in a short run).
    base : keras.Model, optional
        The network to train, from images (values 0..255) to feature maps; by default a fresh
        MobileNetV2 like the bundled base (:func:`helpers.models.build_base`) with ``bn_momentum``.

    Returns
    -------
    base : keras.Model
        The trained base, ready for :func:`helpers.models.extract_features`.
    history : dict
        ``loss`` and ``twin_found`` (the share of views whose nearest view was their twin) per epoch.
    """
    images = np.asarray(images)
    if images.ndim != 4 or images.shape[1] != images.shape[2] or len(images) < 2 * batch_size:
        raise ValueError(
            f"images must be square, of shape (n, size, size, 3), with n at least 2 * batch_size = "
            f"{2 * batch_size}; got {images.shape}"
        )
    keras.utils.set_random_seed(seed)
    base = base if base is not None else build_base(images.shape[1], bn_momentum=bn_momentum)
    learner = ContrastiveLearner(base, temperature=temperature, seed=seed)
    steps = epochs * (len(images) // batch_size)
    learner.compile(keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(learning_rate, max(steps, 1))))
    batches = (
        tf.data.Dataset.from_tensor_slices(images.astype(np.float32))
        .shuffle(len(images), seed=seed, reshuffle_each_iteration=True)
        .batch(batch_size, drop_remainder=True)  # every step compares the same number of views
        .prefetch(tf.data.AUTOTUNE)
    )
    history = learner.fit(batches, epochs=epochs, shuffle=False, callbacks=list(callbacks), verbose=verbose)
    return base, history.history


def pretrain_unlabeled(config: UnlabeledConfig, out_dir: str | Path, *, n_jobs: int = -1, verbose: int = 2) -> dict:
    """Train the base by contrastive learning on unlabeled source portraits; write its weights and card to ``out_dir``.

    Returns the card: objective, data, configuration, the training curve, seconds, the
    linear-probe accuracy on the target task at 10 photos per class, and the SHA-256.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    draw = dict(image_size=config.image_size, n_jobs=n_jobs, progress=verbose > 0)
    images, _ = make_source_task(config.n_images, seed=config.seed, **draw)  # the labels are thrown away
    drawn = time.perf_counter()
    base, history = train_contrastive(
        images,
        epochs=config.epochs,
        batch_size=config.batch_size,
        learning_rate=config.learning_rate,
        temperature=config.temperature,
        bn_momentum=config.bn_momentum,
        seed=config.seed,
        verbose=verbose,
    )
    trained = time.perf_counter()
    weights = out_dir / UNLABELED_WEIGHTS.name
    base.save_weights(weights)
    card = {
        "architecture": f"keras.applications.MobileNetV2(alpha={ALPHA}, include_top=False)",
        "input": f"{config.image_size}x{config.image_size}x3, values 0..255 (preprocessing inside the model)",
        "objective": "contrastive (SimCLR's NT-Xent): find the other view of the same portrait among a batch's views",
        "data": "source-task portraits (helpers.tasks.make_source_task) with their labels thrown away",
        "config": asdict(config),
        # the share of views whose nearest other view was their twin, in the last epoch, and by chance
        "twin_found_last_epoch": round(float(history["twin_found"][-1]), 4),
        "chance_twin_found": round(1 / (2 * config.batch_size - 1), 4),
        "history": {key: [round(float(v), 4) for v in history[key]] for key in ("loss", "twin_found")},
        # Inference mode, after training: what feature extraction on this base gets on the target task.
        "target_probe_accuracy": {
            "what": "logistic regression on pooled features of 10 daylight photos per class, 500 test photos, seed 0",
            "this base": round(linear_probes({"this base": base}, (10,))["this base"][10], 4),
        },
        "seconds": {"drawing": round(drawn - started, 1), "training": round(trained - drawn, 1)},
    }
    return write_card(card, weights, out_dir / UNLABELED_CARD.name)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m helpers.pretraining.self_supervised", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--out", default=str(UNLABELED_WEIGHTS.parent), help="folder for the weights and card")
    args, config = config_from_arguments(parser, UnlabeledConfig(), UnlabeledConfig.tiny(), argv)
    card = pretrain_unlabeled(config, args.out)
    shown = ("twin_found_last_epoch", "target_probe_accuracy", "seconds", "sha256")
    print(json.dumps({k: card[k] for k in shown}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
