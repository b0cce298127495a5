"""The experiments of lecture 04: fine-tuning, from where it starts to how much of the base it trains.

Each is a function of a seed that returns a :class:`~helpers.evidence.claims.Measurement` with
named results; see :mod:`helpers.evidence.claims` for how the ledger uses them.
"""

from __future__ import annotations

import helpers.quiet  # noqa: F401  (first: TensorFlow without its import notices)

import functools
import time
from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf

from helpers.environment import free_memory
from helpers.evidence.claims import Measurement, measures
from helpers.evidence.measuring import LOSS, accuracy_of, seed_images
from helpers.models import load_base
from helpers.recipe import fine_tune_in_two_phases
from helpers.strategies import feature_extraction, split_validation
from helpers.surgery import attach_head, base_blocks, blocks, freeze_base, unfreeze_last
from helpers.tasks import TARGET_CLASSES, draw_seed, make_sunglasses_vs_hat
from helpers.training import training_dataset


def _head_trained(seed: int, n_train: int, *, epochs: int = 8) -> tuple[keras.Model, np.ndarray, np.ndarray]:
    """The bundled base, frozen, with a new dense head trained on ``n_train`` photos: where fine-tuning starts.

    Returns the model and its training photos and labels. :func:`learning_rate_sweep` and
    :func:`batchnorm_trap` start from the same head, so a notebook that runs both trains it once.
    """
    x_fit, y_fit = make_sunglasses_vs_hat(n_train, seed=draw_seed("train", seed))
    model = freeze_base(attach_head(load_base("bundled"), 2))
    model.set_weights(_head_weights(seed, n_train, epochs))
    model.compile(keras.optimizers.Adam(1e-3), LOSS, metrics=["accuracy"])  # as trained; fine-tuning recompiles
    return model, x_fit, y_fit


@functools.lru_cache(maxsize=1)
def _head_weights(seed: int, n_train: int, epochs: int) -> list[np.ndarray]:
    x_fit, y_fit = make_sunglasses_vs_hat(n_train, seed=draw_seed("train", seed))
    keras.utils.set_random_seed(seed)
    model = freeze_base(attach_head(load_base("bundled"), 2))
    model.compile(keras.optimizers.Adam(1e-3), LOSS, metrics=["accuracy"])
    model.fit(training_dataset(x_fit, y_fit, seed=seed), epochs=epochs, verbose=0, shuffle=False)
    return model.get_weights()


#: The sweep of :func:`learning_rate_sweep`: from very low to ten times Adam's default (1e-3).
RATES = (1e-5, 1e-4, 1e-3, 1e-2)


@dataclass(frozen=True, kw_only=True)
class LearningRateSweep(Measurement):
    """What :func:`learning_rate_sweep` measured."""

    #: test accuracy of the trained head on the frozen base, before fine-tuning
    head_only: float
    #: test accuracy after fine-tuning, by learning rate
    after: dict[float, float]


@measures("low-rate-protects")
def learning_rate_sweep(
    seed: int = 0,
    *,
    n_train: int = 100,
    n_test: int = 300,
    n_blocks: int = 6,
    epochs: int = 4,
    rates: tuple[float, ...] = RATES,
) -> LearningRateSweep:
    """Fine-tuning ``n_blocks`` blocks from the same trained head at each rate of a sweep that includes Adam's default.

    Claims ``low-rate-protects``: test accuracy after fine-tuning at Adam's default rate, 1e-3,
    minus at ten times it. The rates below the default show whether going lower buys anything.
    """
    model, x_train, y_train = _head_trained(seed, n_train)
    x_test, y_test = make_sunglasses_vs_hat(n_test, seed=draw_seed("test", seed))
    keras.utils.set_random_seed(seed)
    start = model.get_weights()
    head_only = accuracy_of(model, x_test, y_test)
    after = {}
    for rate in rates:
        model.set_weights(start)
        unfreeze_last(model, n_blocks, learning_rate=rate)
        model.fit(training_dataset(x_train, y_train, seed=seed), epochs=epochs, verbose=0, shuffle=False)
        after[rate] = accuracy_of(model, x_test, y_test)
    free_memory()
    return LearningRateSweep(
        n_test=n_test, effects={"low-rate-protects": after[1e-3] - after[1e-2]}, head_only=head_only, after=after
    )


@dataclass(frozen=True, kw_only=True)
class HeadFirst(Measurement):
    """What :func:`head_first` measured, for fine-tuning from a trained and from a random head."""

    test_accuracy: dict[str, float]
    #: the norm of the loss's gradient with respect to the unfrozen base's weights, at the first step
    first_gradient_norm: dict[str, float]


TRAINED_HEAD = "trained head, then fine-tuning"
RANDOM_HEAD = "random head, fine-tuned at once"


def _base_gradient_norm(model: keras.Model, images: np.ndarray, labels: np.ndarray, *, batch_size: int = 25) -> float:
    """The global norm of the loss's gradient with respect to the trainable weights outside the head, as a first
    step of fine-tuning would see it: its mean over the batches of ``images``."""
    weights = [w for layer in model.layers if not layer.name.startswith("head") for w in layer.trainable_weights]
    norms = []
    for start in range(0, len(images), batch_size):
        batch = slice(start, start + batch_size)
        with tf.GradientTape() as tape:
            loss = LOSS(labels[batch], model(images[batch].astype(np.float32), training=True))
        norms.append(float(tf.linalg.global_norm(tape.gradient(loss, weights))))
    return float(np.mean(norms))


@measures("train-head-first")
def head_first(
    seed: int = 0,
    *,
    n_train: int = 100,
    n_test: int = 300,
    n_blocks: int = 6,
    head_epochs: int = 8,
    epochs: int = 4,
    learning_rate: float = 1e-4,
) -> HeadFirst:
    """Fine-tuning from a head trained on the frozen base, against fine-tuning a random head at once, same budget.

    Both train the last ``n_blocks`` blocks with the head at ``learning_rate``. The trained head
    first learns ``head_epochs`` epochs on the frozen base (:func:`_head_trained`), then fine-tunes
    ``epochs`` epochs; the random head fine-tunes ``head_epochs + epochs`` epochs from the start.
    The gradient reaching the base at the first step of fine-tuning is measured on every batch
    of 25 training photos a first step could see, and averaged. Claims ``train-head-first``: the
    random head's gradient norm over the trained head's, minus 1. Both runs' test accuracy is
    returned too.
    """
    trained, x_train, y_train = _head_trained(seed, n_train, epochs=head_epochs)
    x_test, y_test = make_sunglasses_vs_hat(n_test, seed=draw_seed("test", seed))
    keras.utils.set_random_seed(seed)
    untrained = freeze_base(attach_head(load_base("bundled"), len(TARGET_CLASSES)))
    untrained.compile(keras.optimizers.Adam(learning_rate), LOSS, metrics=["accuracy"])
    accuracy, gradient = {}, {}
    for name, model, n_epochs in ((TRAINED_HEAD, trained, epochs), (RANDOM_HEAD, untrained, head_epochs + epochs)):
        unfreeze_last(model, n_blocks, learning_rate=learning_rate)
        keras.utils.set_random_seed(seed)  # the same dropout for both
        gradient[name] = _base_gradient_norm(model, x_train, y_train)
        keras.utils.set_random_seed(seed)
        model.fit(training_dataset(x_train, y_train, seed=seed), epochs=n_epochs, verbose=0, shuffle=False)
        accuracy[name] = accuracy_of(model, x_test, y_test)
    free_memory()
    return HeadFirst(
        n_test=n_test,
        effects={"train-head-first": gradient[RANDOM_HEAD] / gradient[TRAINED_HEAD] - 1},
        test_accuracy=accuracy,
        first_gradient_norm=gradient,
    )


@dataclass(frozen=True, kw_only=True)
class BatchnormTrap(Measurement):
    """What :func:`batchnorm_trap` measured."""

    #: test accuracy with BatchNorm ``"frozen"`` and ``"training"``
    test_accuracy: dict[str, float]
    #: the largest change of one moving mean of the last BatchNorm layer, the same two ways
    moving_mean_shift: dict[str, float]


@measures("batchnorm-frozen")
def batchnorm_trap(
    seed: int = 0, *, n_train: int = 100, n_test: int = 500, batch_size: int = 4, epochs: int = 4
) -> BatchnormTrap:
    """Fine-tuning the last 3 blocks in small batches with BatchNorm frozen, and with its statistics training.

    Claims ``batchnorm-frozen``: test accuracy with frozen BatchNorm (the helpers' default) minus
    with BatchNorm layers training on the small batches of the small target set.
    """
    model, x_train, y_train = _head_trained(seed, n_train)
    x_test, y_test = make_sunglasses_vs_hat(n_test, seed=draw_seed("test", seed))
    start = model.get_weights()
    after, shift = {}, {}
    layer = model.get_layer("block_16_project_BN")
    for name, train_batchnorm in (("frozen", False), ("training", True)):
        model.set_weights(start)
        before = layer.moving_mean.numpy().copy()
        keras.utils.set_random_seed(seed)
        unfreeze_last(model, 3, learning_rate=1e-4, train_batchnorm=train_batchnorm)
        model.fit(
            training_dataset(x_train, y_train, batch_size=batch_size, seed=seed),
            epochs=epochs,
            verbose=0,
            shuffle=False,
        )
        after[name] = accuracy_of(model, x_test, y_test)
        shift[name] = float(np.abs(layer.moving_mean.numpy() - before).max())
    free_memory()
    return BatchnormTrap(
        n_test=n_test,
        effects={"batchnorm-frozen": after["frozen"] - after["training"]},
        test_accuracy=after,
        moving_mean_shift=shift,
    )


@dataclass(frozen=True, kw_only=True)
class FineTuneAgainstExtraction(Measurement):
    """What :func:`fine_tune_against_extraction` measured, each by way of training."""

    test_accuracy: dict[str, float]
    seconds: dict[str, float]
    #: epochs of phase 2 before early stopping
    epochs_run: dict[str, int]


def _two_phases(x_train, y_train, *, seed: int, n_blocks: int, epochs: int) -> tuple[keras.Model, float, int]:
    """The page's recipe (:func:`helpers.recipe.fine_tune_in_two_phases`) on the bundled base, its last
    ``n_blocks`` blocks trained in phase 2, 20% of the photos kept to pick the epoch: model, seconds, epochs."""
    x_fit, y_fit, x_val, y_val = split_validation(x_train, y_train, 0.2, seed=seed)
    keras.utils.set_random_seed(seed)
    base = load_base("bundled")
    first_trained_layer = blocks(base)[base_blocks(base)[-n_blocks]][0].name
    started = time.perf_counter()
    model, history = fine_tune_in_two_phases(
        base,
        training_dataset(x_fit, y_fit, batch_size=16, seed=seed),
        (x_val.astype(np.float32), y_val),
        n_classes=len(TARGET_CLASSES),
        first_trained_layer=first_trained_layer,
        epochs=epochs,
    )
    return model, time.perf_counter() - started, len(history["loss"])


@measures("fine-tune-beats-extraction", "fine-tune-everything")
def fine_tune_against_extraction(
    seed: int = 0,
    *,
    n_train: int = 300,
    n_test: int = 500,
    camera: str = "night",
    n_blocks: int = 9,
    epochs: int = 20,
) -> FineTuneAgainstExtraction:
    """Feature extraction, fine-tuning the last ``n_blocks`` blocks, and fine-tuning every block, on a shifted domain.

    The photos are taken by another camera than the source task's (``camera="night"``, see
    :func:`helpers.tasks.make_sunglasses_vs_hat`), so the pretrained features fit less well and
    fine-tuning has something to adapt to. The night camera changes the pixels themselves, so
    the blocks that must adapt reach far down: the default is the later half of the base (9 of
    its 18 blocks). Both fine-tunings are lecture 04's recipe on the page,
    :func:`helpers.recipe.fine_tune_in_two_phases`: 10 epochs of the head alone, then at most
    ``epochs`` epochs of the head and the blocks, keeping the best on the validation photos (a
    cap keeps the lecture inside its time). Feature extraction is
    :func:`helpers.strategies.feature_extraction` on all the training photos. Claims
    ``fine-tune-beats-extraction``: test accuracy of fine-tuning the last blocks minus that of
    feature extraction, on the same images; and ``fine-tune-everything``: test accuracy of
    fine-tuning every block, starting from the pretrained weights, minus that of feature extraction.
    """
    x_train, y_train, x_test, y_test = seed_images(seed, n_train, n_test, camera)
    extracted = feature_extraction(x_train, y_train, seed=seed)
    scores = {"feature extraction": extracted.accuracy(x_test, y_test)}
    seconds, epochs_run = {"feature extraction": extracted.seconds}, {"feature extraction": 0}
    n_all = len(base_blocks(load_base(None)))
    for name, blocks_trained in ((f"fine-tuning {n_blocks} blocks", n_blocks), ("fine-tuning every block", n_all)):
        model, seconds[name], epochs_run[name] = _two_phases(
            x_train, y_train, seed=seed, n_blocks=blocks_trained, epochs=epochs
        )
        scores[name] = accuracy_of(model, x_test, y_test)
        free_memory()
    return FineTuneAgainstExtraction(
        n_test=n_test,
        effects={
            "fine-tune-beats-extraction": scores[f"fine-tuning {n_blocks} blocks"] - scores["feature extraction"],
            "fine-tune-everything": scores["fine-tuning every block"] - scores["feature extraction"],
        },
        test_accuracy=scores,
        seconds=seconds,
        epochs_run=epochs_run,
    )
