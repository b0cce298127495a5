"""The experiments about fine-tuning (lectures 04, 05 and 06): how much to train, at what rates, and what it finds.

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

from helpers.environment import free_memory
from helpers.evidence.claims import Measurement, measures
from helpers.evidence.measuring import LOSS, accuracy_of, seed_images
from helpers.explain import gradcam, peak_inside, share_inside
from helpers.faces import accessory_boxes
from helpers.learning_rates import differential_optimizer
from helpers.models import extract_features, load_base
from helpers.strategies import feature_extraction, fine_tune, split_validation
from helpers.surgery import attach_head, base_blocks, freeze_base, unfreeze_all, unfreeze_last
from helpers.tasks import TARGET_CLASSES, draw_seed, make_sunglasses_vs_hat
from helpers.training import best_epoch, training_dataset


def _head_trained(seed: int, n_train: int, *, epochs: int = 8) -> tuple[keras.Model, np.ndarray, np.ndarray]:
    """The bundled base, frozen, with a new dense head trained on ``n_train`` photos: where fine-tuning starts.

    Returns the model and its training photos and labels. :func:`low_learning_rate` and
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


@dataclass(frozen=True, kw_only=True)
class LowLearningRate(Measurement):
    """What :func:`low_learning_rate` measured."""

    #: test accuracy of the trained head on the frozen base, before fine-tuning
    head_only: float
    #: test accuracy after fine-tuning, by learning rate
    after: dict[float, float]


@measures("low-rate-protects")
def low_learning_rate(
    seed: int = 0, *, n_train: int = 100, n_test: int = 300, n_blocks: int = 6, epochs: int = 4
) -> LowLearningRate:
    """Fine-tuning ``n_blocks`` blocks from the same trained head at a low (1e-4) and a high (1e-2) rate.

    Claims ``low-rate-protects``: test accuracy after fine-tuning at the low rate minus at the high rate.
    """
    model, x_train, y_train = _head_trained(seed, n_train)
    x_test, y_test = make_sunglasses_vs_hat(n_test, seed=draw_seed("test", seed))
    keras.utils.set_random_seed(seed)
    start = model.get_weights()
    head_only = accuracy_of(model, x_test, y_test)
    after = {}
    for rate in (1e-4, 1e-2):
        model.set_weights(start)
        unfreeze_last(model, n_blocks, learning_rate=rate)
        model.fit(training_dataset(x_train, y_train, seed=seed), epochs=epochs, verbose=0, shuffle=False)
        after[rate] = accuracy_of(model, x_test, y_test)
    free_memory()
    return LowLearningRate(
        n_test=n_test, effects={"low-rate-protects": after[1e-4] - after[1e-2]}, head_only=head_only, after=after
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
class StepBack(Measurement):
    """What :func:`step_back` measured."""

    history: dict[str, list[float]]
    #: the epoch (counted from 0) with the lowest validation loss
    best_epoch: int
    test_loss_last_epoch: float
    test_loss_best_epoch: float
    #: seconds the head's training took
    seconds: float


@measures("step-back")
def step_back(
    seed: int = 0,
    *,
    n_train: int = 100,
    n_val: int = 200,
    n_test: int = 500,
    epochs: int = 60,
    learning_rate: float = 3e-3,
) -> StepBack:
    """Train a dense head on frozen features far past its best epoch; then step back to the best one.

    Validation has ``n_val`` images of its own, enough to see its loss rise. Claims
    ``step-back``: test loss at the last epoch minus test loss with the best epoch's weights.
    """
    x_train, y_train, x_test, y_test = seed_images(seed, n_train + n_val, n_test)
    x_fit, y_fit, x_val, y_val = split_validation(x_train, y_train, n_val / (n_train + n_val), seed=seed)
    base = load_base("bundled", pooling="avg")
    f_fit, f_val, f_test = (extract_features(base, x, progress=False) for x in (x_fit, x_val, x_test))
    keras.utils.set_random_seed(seed)
    head = keras.Sequential(
        [keras.Input(f_fit.shape[1:]), keras.layers.Dense(64, activation="relu"), keras.layers.Dense(2)]
    )
    head.compile(keras.optimizers.Adam(learning_rate), LOSS, metrics=["accuracy"])
    snapshots = []
    saver = keras.callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: snapshots.append(head.get_weights()))
    started = time.perf_counter()
    history = head.fit(
        f_fit, y_fit, validation_data=(f_val, y_val), epochs=epochs, batch_size=16, verbose=0, callbacks=[saver]
    ).history
    best = best_epoch(history)
    last_loss = head.evaluate(f_test, y_test, verbose=0)[0]
    head.set_weights(snapshots[best])
    best_loss = head.evaluate(f_test, y_test, verbose=0)[0]
    return StepBack(
        n_test=n_test,
        effects={"step-back": last_loss - best_loss},
        history=history,
        best_epoch=best,
        test_loss_last_epoch=last_loss,
        test_loss_best_epoch=best_loss,
        seconds=time.perf_counter() - started,
    )


@dataclass(frozen=True, kw_only=True)
class FineTuneAgainstExtraction(Measurement):
    """What :func:`fine_tune_against_extraction` measured, each by way of training."""

    test_accuracy: dict[str, float]
    seconds: dict[str, float]
    epochs_run: dict[str, int]


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
    the blocks that must adapt reach far down: the last 3 blocks alone gained too little over
    feature extraction to measure, so the default is the later half of the base (9 of its 18
    blocks). Each fine-tuning runs at most ``epochs`` epochs and keeps its best on the validation
    photos; measured on 60 of them the validation loss is too noisy to pick out gains after 20
    (and a cap keeps the lecture inside its time). Claims ``fine-tune-beats-extraction``: test accuracy
    of fine-tuning the last blocks minus that of feature extraction, on the same images; and
    ``fine-tune-everything``: test accuracy of fine-tuning every block, starting from the
    pretrained weights, minus that of feature extraction.
    """
    x_train, y_train, x_test, y_test = seed_images(seed, n_train, n_test, camera)
    n_all = len(base_blocks(attach_head(load_base(None), 2)))
    runs = {
        "feature extraction": lambda: feature_extraction(x_train, y_train, seed=seed),
        f"fine-tuning {n_blocks} blocks": lambda: fine_tune(
            x_train, y_train, seed=seed, n_blocks=n_blocks, epochs=epochs
        ),
        "fine-tuning every block": lambda: fine_tune(x_train, y_train, seed=seed, n_blocks=n_all, epochs=epochs),
    }
    scores, seconds, epochs_run = {}, {}, {}
    for name, run in runs.items():
        trained = run()
        scores[name], seconds[name] = trained.accuracy(x_test, y_test), trained.seconds
        epochs_run[name] = trained.details.get("epochs_run", 0)
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


@dataclass(frozen=True)
class Regions:
    """Where one class's Grad-CAM heat fell, as shares over the probe photos of that class."""

    #: photos whose hottest pixel lies in the accessory's box
    peak_inside: float
    #: the heat inside the box, over all the heat
    heat_share: float
    #: the box's share of the image: how often a heatmap pointing at random would hit it
    area_share: float


@dataclass(frozen=True, kw_only=True)
class GradcamRegions(Measurement):
    """What :func:`gradcam_regions` measured, and the probe photos with their heatmaps."""

    by_class: dict[str, Regions]
    images: np.ndarray
    labels: np.ndarray
    predicted: np.ndarray
    heatmaps: np.ndarray
    #: each photo's accessory box: top, bottom, left, right
    boxes: np.ndarray


@measures("gradcam-finds-accessory")
def gradcam_regions(
    seed: int = 0, *, n_train: int = 100, n_probe: int = 200, layer: str = "block_6_expand_relu"
) -> GradcamRegions:
    """Where Grad-CAM points, against where the deciding accessory was drawn.

    A fine-tuned model (:func:`helpers.strategies.fine_tune`) is explained at ``layer``, a 12x12
    map at 96x96 inputs (the last map, 3x3, is too coarse to localise anything), on new photos
    whose geometry the generator recorded. For each photo: whether the heatmap's hottest pixel
    lies in the box of its accessory (the lenses, or the hat's crown and brim), against that
    box's share of the image (how often a heatmap pointing at random would hit it). Claims
    ``gradcam-finds-accessory``: the mean of hit minus area share. The share of the whole heat
    inside the box is reported too.
    """
    x_train, y_train = make_sunglasses_vs_hat(n_train, seed=draw_seed("train", seed))
    probe, labels, attributes = make_sunglasses_vs_hat(n_probe, seed=draw_seed("probe", seed), return_attributes=True)
    tuned = fine_tune(x_train, y_train, seed=seed)
    heat = gradcam(tuned.model, probe, layer=layer)
    boxes = accessory_boxes(attributes, [TARGET_CLASSES[label] for label in labels], probe.shape[1])
    hits = peak_inside(heat, boxes)
    heat_share = share_inside(heat, boxes)
    area_share = (boxes[:, 1] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 2]) / probe.shape[1] ** 2
    by_class = {
        name: Regions(
            float(hits[labels == k].mean()),
            float(heat_share[labels == k].mean()),
            float(area_share[labels == k].mean()),
        )
        for k, name in enumerate(TARGET_CLASSES)
    }
    predicted = tuned.predict(probe)
    free_memory()
    return GradcamRegions(
        n_test=n_probe,
        effects={"gradcam-finds-accessory": float((hits - area_share).mean())},
        by_class=by_class,
        images=probe,
        labels=labels,
        predicted=predicted,
        heatmaps=heat,
        boxes=boxes,
    )


@dataclass(frozen=True, kw_only=True)
class DifferentialRates(Measurement):
    """What :func:`differential_rates` measured, each by optimizer."""

    test_accuracy: dict[str, float]
    histories: dict[str, dict[str, list[float]]]


@measures("differential-beats-single")
def differential_rates(
    seed: int = 0,
    *,
    n_train: int = 300,
    n_test: int = 500,
    camera: str = "daylight",
    epochs: int = 6,
    in_between: bool = False,
) -> DifferentialRates:
    """Fine-tuning the whole network and a new head for ``epochs`` epochs: one rate everywhere, or each group its own.

    Every run starts from the same model, the bundled base with a new, untrained head, and
    trains every block (BatchNorm statistics frozen) with Adam: at one low rate everywhere
    (1e-5: kind to the base, slow for the head), at one high rate everywhere (3e-3: right for a
    new head, hard on the base), or with :func:`helpers.learning_rates.differential_optimizer`
    (3e-3 for the head, each of three earlier groups 10x slower). With ``in_between``, a single
    rate in between (1e-4) runs last, for comparison: it changes no effect. Claims
    ``differential-beats-single``: test accuracy of the differential rates minus the better of
    the low and the high single rate.
    """
    x_train, y_train, x_test, y_test = seed_images(seed, n_train, n_test, camera)
    keras.utils.set_random_seed(seed)
    model = unfreeze_all(attach_head(load_base("bundled"), len(TARGET_CLASSES)))
    start = model.get_weights()
    optimizers = {
        "one low rate (1e-5)": lambda: keras.optimizers.Adam(1e-5),
        "one high rate (3e-3)": lambda: keras.optimizers.Adam(3e-3),
        "differential (3e-3 for the head, each earlier group 10x slower)": lambda: differential_optimizer(
            model, 3e-3, factor=10.0, n_groups=4
        )[0],
    }
    if in_between:
        optimizers["one rate in between (1e-4)"] = lambda: keras.optimizers.Adam(1e-4)
    scores, histories = {}, {}
    for name, optimizer in optimizers.items():
        model.set_weights(start)
        keras.utils.set_random_seed(seed)
        model.compile(optimizer(), LOSS, metrics=["accuracy"])
        histories[name] = model.fit(
            training_dataset(x_train, y_train, batch_size=16, seed=seed), epochs=epochs, verbose=0, shuffle=False
        ).history
        scores[name] = accuracy_of(model, x_test, y_test)
        free_memory()  # each compile traces new functions: let the last run's go before the next
    single = max(scores["one low rate (1e-5)"], scores["one high rate (3e-3)"])
    differential = next(v for k, v in scores.items() if k.startswith("differential"))
    return DifferentialRates(
        n_test=n_test,
        effects={"differential-beats-single": differential - single},
        test_accuracy=scores,
        histories=histories,
    )
