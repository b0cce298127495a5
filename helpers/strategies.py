"""The transfer-learning strategies of the lecture: one signature, one registry, all measured the same way.

* :func:`pixels_logreg` — no representation at all: logistic regression on raw pixels.
* :func:`scratch_cnn` — learn the representation from the few images you have.
* :func:`feature_extraction` — frozen pretrained base, features computed once, new head.
* :func:`fine_tune` — feature extraction's head first, then the last blocks of the base too,
  at a low learning rate, keeping the best epoch.

Every strategy is called the same way::

    trained = strategy(images, labels, validation_split=0.2, seed=0, **options)

with training images (uint8 or float, values 0..255) and their labels. The validation split is
made inside, by :func:`split_validation`, the same way for all of them; what a strategy does
with it is its own: the two that train a network pick their best epoch on it (and need one),
the two that do not pick anything on it and, by default, hold nothing out. Each returns a
:class:`Trained` whose ``predict`` gives class labels, so the strategy ladder, the playground
and the notebooks compare like with like. :data:`STRATEGIES` maps each name to its function.

Examples
--------
>>> list(STRATEGIES)
['pixels_logreg', 'scratch_cnn', 'feature_extraction', 'fine_tune']
>>> accepts("fine_tune", "epochs"), accepts("feature_extraction", "epochs")
(True, False)
"""

from __future__ import annotations

import helpers.quiet  # noqa: F401  (first: TensorFlow without its import notices)

import inspect
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import keras
import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, StratifiedKFold, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from helpers.models import extract_features, load_base, small_cnn
from helpers.surgery import attach_head, cut, freeze_base, head_from_logistic_regression, unfreeze_last
from helpers.training import fit_classifier


@dataclass
class Trained:
    """A trained classifier and what its training did."""

    name: str
    predict: Callable[[np.ndarray], np.ndarray]
    seconds: float
    history: dict[str, list[float]] = field(default_factory=dict)
    details: dict = field(default_factory=dict)
    #: what was trained: the Keras model, or the scikit-learn head of feature extraction
    model: object = None
    #: accuracy on the images ``validation_split`` held out (``None`` when none were)
    validation_accuracy: float | None = None

    def accuracy(self, images: np.ndarray, labels: np.ndarray) -> float:
        return float((self.predict(images) == np.asarray(labels)).mean())


def split_validation(
    images: np.ndarray, labels: np.ndarray, validation_split: float, *, seed: int = 0
) -> tuple[np.ndarray, ...]:
    """Hold out a stratified ``validation_split`` of the images (at least two): the one split every strategy uses.

    Returns ``train_images, train_labels, val_images, val_labels``; with ``validation_split=0``
    everything is for training and the validation arrays are empty.

    Examples
    --------
    >>> x, y = np.zeros((10, 4, 4, 3)), np.arange(10) % 2
    >>> [len(a) for a in split_validation(x, y, 0.2)]
    [8, 8, 2, 2]
    >>> np.bincount(split_validation(x, y, 0.2)[3]).tolist()  # one of each class
    [1, 1]
    """
    images, labels = np.asarray(images), np.asarray(labels)
    if len(images) != len(labels):
        raise ValueError(f"{len(images)} images but {len(labels)} labels")
    if not 0 <= validation_split < 1:
        raise ValueError(f"validation_split must be at least 0 and below 1, got {validation_split}")
    if validation_split == 0:
        return images, labels, images[:0], labels[:0]
    n_val = max(2, math.floor(len(images) * validation_split + 1e-9))
    if len(images) - n_val < 2:
        raise ValueError(
            f"{len(images)} images are too few to hold out {n_val} for validation and still "
            "train on two: add images or lower validation_split"
        )
    counts = np.bincount(labels)
    stratify = labels if counts[counts > 0].min() >= 2 and n_val >= np.count_nonzero(counts) else None
    x_train, x_val, y_train, y_val = train_test_split(
        images, labels, test_size=n_val, random_state=seed, stratify=stratify
    )
    return x_train, y_train, x_val, y_val


def accepts(strategy: str | Callable, option: str) -> bool:
    """Whether a strategy (its name in :data:`STRATEGIES`, or the function) takes the keyword ``option``."""
    function = STRATEGIES[strategy] if isinstance(strategy, str) else strategy
    return option in inspect.signature(function).parameters


def _validated(trained: Trained, val_images: np.ndarray, val_labels: np.ndarray) -> Trained:
    if len(val_images):
        trained.validation_accuracy = trained.accuracy(val_images, val_labels)
    return trained


def _needs_validation(name: str, validation_split: float) -> None:
    if not 0 < validation_split < 1:
        raise ValueError(
            f"{name} picks its best epoch on held-out images: validation_split must be strictly "
            f"between 0 and 1, got {validation_split}"
        )


def _views(mirror: bool) -> tuple[Callable[[np.ndarray], np.ndarray], ...]:
    """How each image is seen: as it is, and with ``mirror`` also as its mirror image."""
    return (lambda x: x, lambda x: np.asarray(x)[:, :, ::-1]) if mirror else (lambda x: x,)


def _keras_predict(model: keras.Model, *, mirror: bool, batch_size: int = 32) -> Callable[[np.ndarray], np.ndarray]:
    """Class labels from a model with logits outputs; ``mirror`` averages with the mirror images' probabilities."""

    def probabilities(images: np.ndarray) -> np.ndarray:
        logits = model.predict(images, batch_size=batch_size, verbose=0)
        return keras.ops.convert_to_numpy(keras.ops.softmax(logits, axis=-1))

    def predict(images: np.ndarray) -> np.ndarray:
        images = np.asarray(images, np.float32)
        return sum(probabilities(view(images)) for view in _views(mirror)).argmax(axis=1)

    return predict


def pixels_logreg(
    images: np.ndarray,
    labels: np.ndarray,
    *,
    validation_split: float = 0.0,
    seed: int = 0,
    cs: tuple[float, ...] = (1e-4, 1e-3, 1e-2, 1e-1),
) -> Trained:
    """Logistic regression on raw pixels, its regularisation chosen by 5-fold cross-validation.

    Cross-validation needs no held-out images, so by default all of them train.

    Examples
    --------
    >>> from helpers.tasks import make_sunglasses_vs_hat
    >>> x, y = make_sunglasses_vs_hat(20, image_size=32)
    >>> pixels_logreg(x, y).name
    'pixels_logreg'
    """
    x_train, y_train, x_val, y_val = split_validation(images, labels, validation_split, seed=seed)
    start = time.perf_counter()
    flat = np.asarray(x_train, np.float32).reshape(len(x_train), -1) / 255
    # The dual problem is small when there are far more pixels than images: liblinear solves it fast.
    pipeline = make_pipeline(StandardScaler(), LogisticRegression(solver="liblinear", dual=True, max_iter=5000))
    folds = StratifiedKFold(n_splits=min(5, int(np.bincount(y_train).min())), shuffle=True, random_state=seed)
    model = GridSearchCV(pipeline, {"logisticregression__C": list(cs)}, cv=folds).fit(flat, y_train)
    seconds = time.perf_counter() - start
    trained = Trained(
        "pixels_logreg",
        lambda x: model.predict(np.asarray(x, np.float32).reshape(len(x), -1) / 255),
        seconds,
        details={"C": float(model.best_params_["logisticregression__C"])},
        model=model,
    )
    return _validated(trained, x_val, y_val)


def scratch_cnn(
    images: np.ndarray,
    labels: np.ndarray,
    *,
    validation_split: float = 0.2,
    seed: int = 0,
    learning_rate: float | tuple[float, ...] = (3e-4, 1e-3, 3e-3),
    epochs: int = 300,
    patience: int = 40,
    time_budget: float | None = None,
    batch_size: int = 16,
    mirror: bool = True,
    callbacks=(),
) -> Trained:
    """Train :func:`helpers.models.small_cnn` from scratch; with several learning rates, keep the best on validation.

    Same augmentation, early stopping (best epoch restored) and prediction as :func:`fine_tune`.
    ``time_budget`` caps each learning rate's run, in seconds.

    Examples
    --------
    >>> trained = scratch_cnn(images, labels, learning_rate=1e-3, time_budget=60)  # doctest: +SKIP
    """
    _needs_validation("scratch_cnn", validation_split)
    x_train, y_train, x_val, y_val = split_validation(images, labels, validation_split, seed=seed)
    rates = learning_rate if isinstance(learning_rate, tuple | list) else (learning_rate,)
    start = time.perf_counter()
    best = None
    for rate in rates:
        keras.utils.set_random_seed(seed)
        model = small_cnn(int(np.max(labels)) + 1, x_train.shape[1])
        history = fit_classifier(
            model,
            x_train,
            y_train,
            x_val,
            y_val,
            learning_rate=rate,
            epochs=epochs,
            patience=patience,
            batch_size=batch_size,
            seed=seed,
            time_budget=time_budget,
            callbacks=callbacks,
        )
        score = max(history["val_accuracy"]), -min(history["val_loss"])
        if best is None or score > best[0]:
            best = score, rate, model, history
    (_, rate, model, history) = best
    trained = Trained(
        "scratch_cnn",
        _keras_predict(model, mirror=mirror),
        time.perf_counter() - start,
        history,
        {"learning_rate": rate, "epochs_run": len(history["loss"]), "mirror": mirror},
        model,
    )
    return _validated(trained, x_val, y_val)


def feature_extraction(
    images: np.ndarray,
    labels: np.ndarray,
    *,
    validation_split: float = 0.0,
    seed: int = 0,
    base: keras.Model | None = None,
    c: float = 1.0,
    mirror: bool = True,
) -> Trained:
    """Frozen pretrained base, features computed once, logistic-regression head.

    ``base`` defaults to the bundled base with average pooling. With ``mirror`` (the default),
    the features of every image's mirror image are computed too: the head trains on both (twice
    the examples, for one more pass through the base) and predicts with the average of its two
    probabilities. This is augmentation that works with features computed once. Nothing is
    chosen on validation images, so by default all of them train.

    Examples
    --------
    >>> from helpers.tasks import make_sunglasses_vs_hat
    >>> x, y = make_sunglasses_vs_hat(20)
    >>> feature_extraction(x, y).accuracy(x, y) > 0.5
    True
    """
    x_train, y_train, x_val, y_val = split_validation(images, labels, validation_split, seed=seed)
    base = base if base is not None else load_base("bundled", pooling="avg")
    views = _views(mirror)
    start = time.perf_counter()
    features = [extract_features(base, view(x_train), progress=False) for view in views]
    head = make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=5000))
    head.fit(np.concatenate(features), np.tile(np.asarray(y_train), len(views)))
    seconds = time.perf_counter() - start

    def predict(x: np.ndarray) -> np.ndarray:
        probabilities = sum(head.predict_proba(extract_features(base, view(x), progress=False)) for view in views)
        return head.classes_[np.argmax(probabilities, axis=1)]

    trained = Trained("feature_extraction", predict, seconds, details={"C": c, "mirror": mirror}, model=head)
    return _validated(trained, x_val, y_val)


def model_with_fitted_head(
    base: keras.Model, images: np.ndarray, labels: np.ndarray, *, n_classes: int, c: float = 0.1, mirror: bool = True
) -> tuple[keras.Model, Trained]:
    """``base`` with a new head whose weights are a logistic regression fitted on its frozen features.

    Where fine-tuning starts: the head is already good, so the first steps of fine-tuning do
    not send large gradients into the base. Returns the frozen model and the
    :func:`feature_extraction` run that fitted the head.
    """
    model = freeze_base(attach_head(base, n_classes))
    head = feature_extraction(images, labels, base=cut(model, at="head_pool"), c=c, mirror=mirror)
    head_from_logistic_regression(model.get_layer("head_logits"), head.model)
    return model, head


def fine_tune(
    images: np.ndarray,
    labels: np.ndarray,
    *,
    validation_split: float = 0.2,
    seed: int = 0,
    base: keras.Model | None = None,
    n_blocks: int = 3,
    c: float = 0.1,
    epochs: int = 60,
    learning_rate: float = 1e-4,
    patience: int = 10,
    batch_size: int = 16,
    mirror: bool = True,
    callbacks=(),
) -> Trained:
    """Feature extraction first, then the last ``n_blocks`` blocks of the base too, at a low learning rate.

    The new head is fitted on the frozen base's features of the training images by
    :func:`feature_extraction` (logistic regression with inverse regularisation ``c``, in
    seconds) and put into the Keras head with :func:`helpers.surgery.head_from_logistic_regression`;
    then the last blocks and the head train together with augmentation, keeping the best epoch on
    the validation images ("train until you overfit, then step back"). BatchNorm statistics stay
    frozen. With ``mirror`` (the default), the head sees mirror images too and ``predict``
    averages the class probabilities of each image and its mirror image.

    Examples
    --------
    >>> trained = fine_tune(images, labels, n_blocks=3)  # doctest: +SKIP
    >>> trained.accuracy(test_images, test_labels)  # doctest: +SKIP
    """
    _needs_validation("fine_tune", validation_split)
    x_train, y_train, x_val, y_val = split_validation(images, labels, validation_split, seed=seed)
    keras.utils.set_random_seed(seed)
    base = base if base is not None else load_base("bundled")
    start = time.perf_counter()
    model, head = model_with_fitted_head(base, x_train, y_train, n_classes=int(np.max(labels)) + 1, c=c, mirror=mirror)
    unfreeze_last(model, n_blocks)
    history = fit_classifier(
        model,
        x_train,
        y_train,
        x_val,
        y_val,
        learning_rate=learning_rate,
        epochs=epochs,
        patience=patience,
        batch_size=batch_size,
        seed=seed,
        callbacks=callbacks,
    )
    trained = Trained(
        "fine_tune",
        _keras_predict(model, mirror=mirror),
        time.perf_counter() - start,
        history,
        {
            "n_blocks": n_blocks,
            "c": c,
            "head_seconds": round(head.seconds, 2),
            "epochs_run": len(history["loss"]),
            "mirror": mirror,
        },
        model,
    )
    return _validated(trained, x_val, y_val)


#: Every strategy by name, in the ladder's order: from no representation to a tuned pretrained one.
STRATEGIES: dict[str, Callable[..., Trained]] = {
    "pixels_logreg": pixels_logreg,
    "scratch_cnn": scratch_cnn,
    "feature_extraction": feature_extraction,
    "fine_tune": fine_tune,
}
