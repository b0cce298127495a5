"""The experiments about representations (lectures 01, 02, 03 and 07): what pretrained features are worth.

Each is a function of a seed that returns a :class:`~helpers.evidence.claims.Measurement` with
named results; see :mod:`helpers.evidence.claims` for how the ledger uses them.
"""

from __future__ import annotations

import helpers.quiet  # noqa: F401  (first: TensorFlow without its import notices)

import time
from dataclasses import dataclass

import keras
import numpy as np
from sklearn.linear_model import LogisticRegression

from helpers.environment import free_memory
from helpers.evidence.claims import Measurement, measures
from helpers.evidence.measuring import LOSS, accuracy_of, seed_images
from helpers.models import block_features, extract_features, large_cnn, load_base
from helpers.probes import linear_probe, linear_probes
from helpers.recipe import new_head
from helpers.strategies import feature_extraction, pixels_logreg
from helpers.tasks import TARGET_CLASSES, draw_seed, make_source_task, make_sunglasses_vs_hat
from helpers.toy_data import make_rings, to_polar
from helpers.training import training_dataset


@dataclass(frozen=True, kw_only=True)
class Representation(Measurement):
    """What :func:`representation` measured."""

    #: held-out accuracy on the rings, by coordinates: ``"x, y"`` and ``"r, theta"``
    rings: dict[str, float]
    #: test accuracy on the photos: ``"pixels"`` and ``"pretrained features"``
    photos: dict[str, float]


@measures("polar-separates-rings", "features-beat-pixels")
def representation(seed: int = 0, *, n_points: int = 600, n_train: int = 100, n_test: int = 500) -> Representation:
    """The same linear classifier on a better representation: rings in polar coordinates, photos as features.

    Claims ``polar-separates-rings`` (held-out accuracy on (r, theta) minus on (x, y)) and
    ``features-beat-pixels`` (pretrained features against raw pixels, both with logistic regression).
    """
    points, labels = make_rings(n_points, seed=seed)
    half = n_points // 2
    rings = {}
    for name, features in (("x, y", points), ("r, theta", to_polar(points))):
        classifier = LogisticRegression().fit(features[:half], labels[:half])
        rings[name] = float(classifier.score(features[half:], labels[half:]))
    x_train, y_train, x_test, y_test = seed_images(seed, n_train, n_test)
    pixels = pixels_logreg(x_train, y_train, seed=seed).accuracy(x_test, y_test)
    features = feature_extraction(x_train, y_train, seed=seed).accuracy(x_test, y_test)
    return Representation(
        n_test=n_test,
        effects={"polar-separates-rings": rings["r, theta"] - rings["x, y"], "features-beat-pixels": features - pixels},
        rings=rings,
        photos={"pixels": pixels, "pretrained features": features},
    )


@dataclass(frozen=True)
class TrainTest:
    """Accuracy of one model on its own training photos and on new test photos."""

    train: float
    test: float


@dataclass(frozen=True, kw_only=True)
class ScratchAgainstPretrained(Measurement):
    """What :func:`scratch_against_pretrained` measured."""

    scratch: TrainTest
    pretrained: TrainTest
    #: the CNN's training history (validation on photos of their own)
    history: dict[str, list[float]]
    #: the CNN's parameter count
    parameters: int


@measures("scratch-overfits", "pretrained-beats-scratch")
def scratch_against_pretrained(
    seed: int = 0, *, n_train: int = 100, n_test: int = 500, epochs: int = 30
) -> ScratchAgainstPretrained:
    """A large CNN trained from scratch on ``n_train`` photos learns them by heart; a pretrained base does not need to.

    The CNN (:func:`helpers.models.large_cnn`) trains without augmentation or early stopping, the way a large
    network meets a small data set. Claims ``scratch-overfits`` (its training accuracy minus its
    test accuracy) and ``pretrained-beats-scratch`` (feature extraction's test accuracy minus the
    CNN's).
    """
    x_train, y_train, x_test, y_test = seed_images(seed, n_train, n_test)
    # New images for the validation curve only: the test images stay unseen until the end.
    x_val, y_val = make_sunglasses_vs_hat(200, seed=draw_seed("validation", seed))
    keras.utils.set_random_seed(seed)
    cnn = large_cnn(x_train.shape[1])
    cnn.compile(keras.optimizers.Adam(1e-3), LOSS, metrics=["accuracy"])
    history = cnn.fit(
        x_train.astype(np.float32),
        y_train,
        validation_data=(x_val.astype(np.float32), y_val),
        epochs=epochs,
        batch_size=16,
        verbose=0,
    ).history
    scratch = TrainTest(accuracy_of(cnn, x_train, y_train), accuracy_of(cnn, x_test, y_test))
    extracted = feature_extraction(x_train, y_train, seed=seed)
    pretrained = TrainTest(extracted.accuracy(x_train, y_train), extracted.accuracy(x_test, y_test))
    return ScratchAgainstPretrained(
        n_test=n_test,
        effects={
            "scratch-overfits": scratch.train - scratch.test,
            "pretrained-beats-scratch": pretrained.test - scratch.test,
        },
        scratch=scratch,
        pretrained=pretrained,
        history=history,
        parameters=cnn.count_params(),
    )


@dataclass(frozen=True, kw_only=True)
class Transferability(Measurement):
    """What :func:`transferability` measured."""

    #: probe test accuracy by task, then by block
    probe_accuracy: dict[str, dict[str, float]]
    #: the accuracy of always naming the most common class, by task
    chance: dict[str, float]
    middle_block: str
    #: of the probe's gain from the base's first block to its output, the share the second half adds
    #: (middle block to output), by task: a scale common to tasks of any chance level
    share_from_second_half: dict[str, float]


SOURCE_TASK = "source task (14 accessories)"
NIGHT_TASK = "sunglasses vs hat, night camera"


@measures("later-layers-specific")
def transferability(seed: int = 0, *, n_source: int = 560, n_train: int = 300, n_test: int = 500) -> Transferability:
    """A linear probe on every block of the bundled base: how much of each task its features already solve.

    The same probe (standardised features, logistic regression) is fitted on the average-pooled
    output of each block, for three tasks: the source task the base was trained on (new
    portraits, 14 accessories), and sunglasses vs hat on daylight photos and on night-camera
    photos, which the base never saw. Each is scored on test images of its own. Claims
    ``later-layers-specific``: of the accuracy the probe gains from the base's first block to its
    output, the share the second half adds (from the middle block on), on the source task minus
    on the night camera. A share puts the 14-class task (chance 7%) and the two-class tasks
    (chance 50%) on one scale.
    """
    base = load_base("bundled")
    tasks = {
        SOURCE_TASK: (
            *make_source_task(n_source, seed=draw_seed("source-train", seed)),
            *make_source_task(n_source, seed=draw_seed("source-test", seed)),
        ),
        "sunglasses vs hat, daylight": seed_images(seed, n_train, n_test),
        NIGHT_TASK: seed_images(seed, n_train, n_test, "night"),
    }
    accuracy, chance = {}, {}
    for task, (x_train, y_train, x_test, y_test) in tasks.items():
        train, test = block_features(base, x_train), block_features(base, x_test)
        probe = linear_probe()
        accuracy[task] = {block: float(probe.fit(train[block], y_train).score(test[block], y_test)) for block in train}
        chance[task] = float(np.bincount(y_test).max() / len(y_test))
    blocks = list(accuracy[SOURCE_TASK])
    first, middle, last = blocks[0], blocks[len(blocks) // 2], blocks[-1]
    share = {t: (by[last] - by[middle]) / (by[last] - by[first]) for t, by in accuracy.items()}
    free_memory()
    return Transferability(
        n_test=n_test,
        effects={"later-layers-specific": share[SOURCE_TASK] - share[NIGHT_TASK]},
        probe_accuracy=accuracy,
        chance=chance,
        middle_block=middle,
        share_from_second_half=share,
    )


@dataclass(frozen=True, kw_only=True)
class FeatureHeads(Measurement):
    """What :func:`feature_heads` measured."""

    #: seconds to train each head, features included: ``"features once"`` and ``"through the base"``
    seconds: dict[str, float]
    test_accuracy: dict[str, float]
    #: the Keras head's training history
    history: dict[str, list[float]]


@measures("features-once-is-fast")
def feature_heads(seed: int = 0, *, n_train: int = 100, n_test: int = 500, epochs: int = 20) -> FeatureHeads:
    """A new head on features computed once, against the same kind of head trained through the frozen base.

    Both see the same photos: logistic regression on the pooled features (the base runs once
    per photo), and a Keras dense head on top of the frozen base (:func:`helpers.recipe.new_head`,
    compiled at Adam's default rate), trained with augmentation for
    ``epochs`` epochs (the base runs once per photo and epoch). Claims ``features-once-is-fast``:
    seconds of the Keras head's training minus seconds of the logistic regression's, both on
    top of the features' computation.
    """
    x_train, y_train, x_test, y_test = seed_images(seed, n_train, n_test)
    base = load_base("bundled", pooling="avg")
    started = time.perf_counter()
    f_train = extract_features(base, x_train, progress=False)
    head = LogisticRegression(max_iter=5000).fit(f_train, y_train)
    seconds = {"features once": time.perf_counter() - started}
    accuracy = {"features once": float(head.score(extract_features(base, x_test, progress=False), y_test))}
    keras.utils.set_random_seed(seed)
    model = new_head(load_base("bundled"), len(TARGET_CLASSES))  # lecture 03's page: helpers.recipe
    started = time.perf_counter()
    history = model.fit(training_dataset(x_train, y_train, seed=seed), epochs=epochs, verbose=0, shuffle=False).history
    seconds["through the base"] = time.perf_counter() - started
    accuracy["through the base"] = accuracy_of(model, x_test, y_test)
    free_memory()
    return FeatureHeads(
        n_test=n_test,
        effects={"features-once-is-fast": seconds["through the base"] - seconds["features once"]},
        seconds=seconds,
        test_accuracy=accuracy,
        history=history,
    )


@dataclass(frozen=True, kw_only=True)
class UnlabeledRepresentations(Measurement):
    """What :func:`unlabeled_representations` measured."""

    #: probe test accuracy by representation, then by photos per class
    probe_accuracy: dict[str, dict[int, float]]


@measures("unlabeled-beats-random")
def unlabeled_representations(
    seed: int = 0, *, n_per_class: tuple[int, ...] = (2, 5, 10, 25, 50), n_test: int = 500
) -> UnlabeledRepresentations:
    """What pretraining without labels is worth: the same linear probe on four representations of a few photos.

    The representations: the base pretrained on the source portraits without their labels
    (contrastive learning, :mod:`helpers.pretraining.self_supervised`), the bundled base
    pretrained with them, a base with random weights, and the raw pixels. Claims
    ``unlabeled-beats-random``: probe accuracy on the unlabeled base minus on the random base,
    at 10 photos per class.
    """
    keras.utils.set_random_seed(seed)  # the random base differs from seed to seed
    bases = {
        "pretrained without labels": load_base("unlabeled"),
        "pretrained with labels": load_base("bundled"),
        "random weights": load_base(None),
        "pixels": None,
    }
    accuracy = linear_probes(bases, n_per_class, seed=seed, n_test=n_test)
    free_memory()
    return UnlabeledRepresentations(
        n_test=n_test,
        effects={"unlabeled-beats-random": accuracy["pretrained without labels"][10] - accuracy["random weights"][10]},
        probe_accuracy=accuracy,
    )
