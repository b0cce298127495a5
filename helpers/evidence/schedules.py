"""The experiments of lecture 05: how fast each part of the network should learn, and for how long.

Each is a function of a seed that returns a :class:`~helpers.evidence.claims.Measurement` with
named results; see :mod:`helpers.evidence.claims` for how the ledger uses them.
"""

from __future__ import annotations

import helpers.quiet  # noqa: F401  (first: TensorFlow without its import notices)

import functools
import time
from dataclasses import dataclass

import keras

from helpers.environment import free_memory
from helpers.evidence.claims import Measurement, measures
from helpers.evidence.measuring import LOSS, accuracy_of, seed_images
from helpers.learning_rates import differential_optimizer
from helpers.models import load_base
from helpers.strategies import split_validation
from helpers.surgery import attach_head, unfreeze_all
from helpers.tasks import TARGET_CLASSES
from helpers.training import best_epoch, training_dataset

#: The single rates of :func:`differential_rates`' sweep: from very low to the new head's own rate.
SINGLE_RATES = (1e-5, 1e-4, 1e-3, 3e-3)
DIFFERENTIAL = "differential (3e-3 for the head, each earlier group 10x slower)"


@dataclass(frozen=True, kw_only=True)
class DifferentialRates(Measurement):
    """What :func:`differential_rates` measured, each by optimizer."""

    test_accuracy: dict[str, float]
    #: accuracy on validation photos of their own: what picks the best single rate
    validation_accuracy: dict[str, float]
    histories: dict[str, dict[str, list[float]]]
    #: the single rate of the sweep with the best validation accuracy
    best_single: str


@measures("differential-matches-best-single")
def differential_rates(
    seed: int = 0,
    *,
    n_train: int = 300,
    n_val: int = 200,
    n_test: int = 500,
    camera: str = "daylight",
    epochs: int = 6,
    single_rates: tuple[float, ...] = SINGLE_RATES,
) -> DifferentialRates:
    """The whole network and a new head trained ``epochs`` epochs: at each rate of a sweep, or each group its own.

    Every run starts from the same model, the bundled base with a new, untrained head, and
    trains every block (BatchNorm statistics frozen) with Adam: at one rate everywhere, for each
    rate of ``single_rates``, or with :func:`helpers.learning_rates.differential_optimizer` (3e-3
    for the head, each of three earlier groups 10x slower). Claims
    ``differential-matches-best-single``: test accuracy of the differential rates minus that of
    the best single rate, the best chosen as a practitioner would, on ``n_val`` validation photos
    of their own: a search the differential rates do not get.
    """
    x_all, y_all, x_test, y_test = seed_images(seed, n_train + n_val, n_test, camera)
    x_train, y_train, x_val, y_val = split_validation(x_all, y_all, n_val / (n_train + n_val), seed=seed)
    keras.utils.set_random_seed(seed)
    model = unfreeze_all(attach_head(load_base("bundled"), len(TARGET_CLASSES)))
    start = model.get_weights()
    optimizers = {f"one rate, {rate:g}": functools.partial(keras.optimizers.Adam, rate) for rate in single_rates}
    optimizers[DIFFERENTIAL] = lambda: differential_optimizer(model, 3e-3, factor=10.0, n_groups=4)[0]
    scores, validation, histories = {}, {}, {}
    for name, optimizer in optimizers.items():
        model.set_weights(start)
        keras.utils.set_random_seed(seed)
        model.compile(optimizer(), LOSS, metrics=["accuracy"])
        histories[name] = model.fit(
            training_dataset(x_train, y_train, batch_size=16, seed=seed), epochs=epochs, verbose=0, shuffle=False
        ).history
        scores[name] = accuracy_of(model, x_test, y_test)
        validation[name] = accuracy_of(model, x_val, y_val)
        free_memory()  # each compile traces new functions: let the last run's go before the next
    best_single = max((name for name in scores if name != DIFFERENTIAL), key=validation.get)
    return DifferentialRates(
        n_test=n_test,
        effects={"differential-matches-best-single": scores[DIFFERENTIAL] - scores[best_single]},
        test_accuracy=scores,
        validation_accuracy=validation,
        histories=histories,
        best_single=best_single,
    )


@dataclass(frozen=True, kw_only=True)
class StepBack(Measurement):
    """What :func:`step_back` measured."""

    history: dict[str, list[float]]
    #: the epoch (counted from 0) with the lowest validation loss
    best_epoch: int
    test_loss_last_epoch: float
    test_loss_best_epoch: float
    test_accuracy_last_epoch: float
    test_accuracy_best_epoch: float
    #: seconds the fine-tuning took
    seconds: float


@measures("step-back")
def step_back(
    seed: int = 0,
    *,
    n_train: int = 100,
    n_val: int = 200,
    n_test: int = 500,
    camera: str = "night",
    epochs: int = 30,
    learning_rate: float = 3e-3,
) -> StepBack:
    """The whole network fine-tuned with differential rates far past its best epoch, as the lecture says; a step back.

    A new head on the bundled base, every block trained (BatchNorm statistics frozen) with
    :func:`helpers.learning_rates.differential_optimizer` (``learning_rate`` for the head, each of
    three earlier groups 10x slower) for ``epochs`` epochs on ``n_train`` night-camera photos, a
    task hard enough to overfit; the weights of every epoch are kept. Validation has ``n_val``
    photos of its own, enough to see its loss turn. Claims ``step-back``: test loss at the last
    epoch minus test loss with the best validation epoch's weights. Test accuracy at both is
    reported too.
    """
    x_all, y_all, x_test, y_test = seed_images(seed, n_train + n_val, n_test, camera)
    x_fit, y_fit, x_val, y_val = split_validation(x_all, y_all, n_val / (n_train + n_val), seed=seed)
    keras.utils.set_random_seed(seed)
    model = unfreeze_all(attach_head(load_base("bundled"), len(TARGET_CLASSES)))
    optimizer, _ = differential_optimizer(model, learning_rate, factor=10.0, n_groups=4)
    model.compile(optimizer, LOSS, metrics=["accuracy"])
    snapshots = []
    saver = keras.callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: snapshots.append(model.get_weights()))
    started = time.perf_counter()
    history = model.fit(
        training_dataset(x_fit, y_fit, batch_size=16, seed=seed),
        validation_data=(x_val, y_val),
        epochs=epochs,
        verbose=0,
        shuffle=False,
        callbacks=[saver],
    ).history
    seconds = time.perf_counter() - started
    best = best_epoch(history)
    last_loss, last_accuracy = model.evaluate(x_test, y_test, verbose=0)
    model.set_weights(snapshots[best])
    best_loss, best_accuracy = model.evaluate(x_test, y_test, verbose=0)
    free_memory()
    return StepBack(
        n_test=n_test,
        effects={"step-back": last_loss - best_loss},
        history=history,
        best_epoch=best,
        test_loss_last_epoch=last_loss,
        test_loss_best_epoch=best_loss,
        test_accuracy_last_epoch=last_accuracy,
        test_accuracy_best_epoch=best_accuracy,
        seconds=seconds,
    )
