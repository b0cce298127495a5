"""The transfer-learning strategies of the lecture, each one call, all measured the same way.

* :func:`pixels_logreg` — no representation at all: logistic regression on raw pixels.
* :func:`scratch_cnn` — learn the representation from the few images you have.
* :func:`feature_extraction` — frozen pretrained base, features computed once, new head.
* :func:`fine_tune` — feature extraction's head first, then the last blocks of the base too,
  at a low learning rate, keeping the best epoch.

Each takes training images (uint8 or float, values 0..255) and labels and returns a
:class:`Trained` whose ``predict`` gives class labels, so the strategy ladder, the notebooks
and the benchmark compare like with like.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np


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

    def accuracy(self, images: np.ndarray, labels: np.ndarray) -> float:
        return float((self.predict(images) == np.asarray(labels)).mean())


def augmenter(seed: int = 0):
    """Random flips, shifts, small rotations and zooms: the augmentation every trained strategy uses.

    Examples
    --------
    >>> augmenter().name
    'augment'
    """
    import keras

    return keras.Sequential([
        keras.layers.RandomFlip("horizontal", seed=seed),
        keras.layers.RandomTranslation(0.08, 0.08, fill_mode="reflect", seed=seed),
        keras.layers.RandomRotation(0.04, fill_mode="reflect", seed=seed),
        keras.layers.RandomZoom(0.1, fill_mode="reflect", seed=seed),
    ], name="augment")


def training_dataset(images: np.ndarray, labels: np.ndarray, *, batch_size: int = 32, augment: bool = True,
                     seed: int = 0):
    """A shuffled, batched ``tf.data`` pipeline, augmented on the fly.

    Examples
    --------
    >>> import numpy as np
    >>> ds = training_dataset(np.zeros((4, 8, 8, 3)), np.array([0, 1, 0, 1]), batch_size=2)
    >>> [tuple(x.shape) for x, _ in ds]
    [(2, 8, 8, 3), (2, 8, 8, 3)]
    """
    import tensorflow as tf

    dataset = tf.data.Dataset.from_tensor_slices((np.asarray(images, np.float32), np.asarray(labels, np.int32)))
    dataset = dataset.shuffle(len(images), seed=seed, reshuffle_each_iteration=True).batch(batch_size)
    if augment:
        layers = augmenter(seed)
        dataset = dataset.map(lambda x, y: (layers(x, training=True), y), num_parallel_calls=tf.data.AUTOTUNE)
    return dataset.prefetch(tf.data.AUTOTUNE)


def _views(mirror: bool) -> tuple[Callable[[np.ndarray], np.ndarray], ...]:
    """How each image is seen: as it is, and with ``mirror`` also as its mirror image."""
    return (lambda x: x, lambda x: np.asarray(x)[:, :, ::-1]) if mirror else (lambda x: x,)


def _keras_predict(model, *, mirror: bool, batch_size: int = 32) -> Callable[[np.ndarray], np.ndarray]:
    """Class labels from a model with logits outputs; ``mirror`` averages with the mirror images' probabilities."""
    import keras

    def probabilities(images: np.ndarray) -> np.ndarray:
        logits = model.predict(images, batch_size=batch_size, verbose=0)
        return keras.ops.convert_to_numpy(keras.ops.softmax(logits, axis=-1))

    def predict(images: np.ndarray) -> np.ndarray:
        images = np.asarray(images, np.float32)
        return sum(probabilities(view(images)) for view in _views(mirror)).argmax(axis=1)

    return predict


def pixels_logreg(images: np.ndarray, labels: np.ndarray, *, cs: tuple[float, ...] = (1e-4, 1e-3, 1e-2, 1e-1),
                  seed: int = 0) -> Trained:
    """Logistic regression on raw pixels, its regularisation chosen by 5-fold cross-validation.

    Examples
    --------
    >>> from helpers.data import make_sunglasses_vs_hat
    >>> x, y = make_sunglasses_vs_hat(20, image_size=32)
    >>> pixels_logreg(x, y).name
    'pixels_logreg'
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GridSearchCV, StratifiedKFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    start = time.perf_counter()
    flat = np.asarray(images, np.float32).reshape(len(images), -1) / 255
    # The dual problem is small when there are far more pixels than images: liblinear solves it fast.
    pipeline = make_pipeline(StandardScaler(), LogisticRegression(solver="liblinear", dual=True, max_iter=5000))
    folds = StratifiedKFold(n_splits=min(5, int(np.bincount(labels).min())), shuffle=True, random_state=seed)
    model = GridSearchCV(pipeline, {"logisticregression__C": list(cs)}, cv=folds).fit(flat, labels)
    seconds = time.perf_counter() - start
    return Trained("pixels_logreg", lambda x: model.predict(np.asarray(x, np.float32).reshape(len(x), -1) / 255),
                   seconds, details={"C": float(model.best_params_["logisticregression__C"])})


def small_cnn(n_classes: int, image_size: int, *, width: int = 32, dropout: float = 0.3):
    """A plain CNN for training from scratch: a strided 5x5 stem, then four conv blocks.

    Examples
    --------
    >>> small_cnn(2, 96).output_shape
    (None, 2)
    """
    import keras

    layers = [keras.Input((image_size, image_size, 3)), keras.layers.Rescaling(1 / 255),
              keras.layers.Conv2D(width, 5, strides=2, padding="same", activation="relu", name="stem")]
    for i, filters in enumerate((width, width * 2, width * 4, width * 4)):
        layers += [keras.layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"conv{i + 1}"),
                   keras.layers.BatchNormalization(name=f"bn{i + 1}"), keras.layers.ReLU(),
                   keras.layers.MaxPooling2D()]
    layers += [keras.layers.GlobalAveragePooling2D(), keras.layers.Dropout(dropout),
               keras.layers.Dense(n_classes, name="logits")]
    return keras.Sequential(layers, name="scratch_cnn")


def _fit(model, train_images, train_labels, val_images, val_labels, *, learning_rate: float, epochs: int,
         patience: int, batch_size: int, seed: int, time_budget: float | None = None, callbacks=()):
    import keras

    from helpers.training import TimeBudget, best_epoch_stopping

    model.compile(optimizer=keras.optimizers.Adam(learning_rate),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    stops = [best_epoch_stopping(patience)]
    if time_budget is not None:
        stops.append(TimeBudget(time_budget))
    history = model.fit(training_dataset(train_images, train_labels, batch_size=batch_size, seed=seed),
                        validation_data=(np.asarray(val_images, np.float32), np.asarray(val_labels)),
                        epochs=epochs, verbose=0, shuffle=False, callbacks=[*stops, *callbacks])
    return history.history


def scratch_cnn(train_images: np.ndarray, train_labels: np.ndarray, val_images: np.ndarray, val_labels: np.ndarray,
                *, learning_rates: tuple[float, ...] = (3e-4, 1e-3, 3e-3), epochs: int = 300, patience: int = 40,
                time_budget: float | None = None, batch_size: int = 16, seed: int = 0, mirror: bool = True,
                callbacks=()) -> Trained:
    """Train :func:`small_cnn` from scratch at each learning rate; keep the best on validation.

    Same augmentation, early stopping (best epoch restored) and prediction as :func:`fine_tune`.
    ``time_budget`` caps each learning rate's run, in seconds.

    Examples
    --------
    >>> trained = scratch_cnn(x_train, y_train, x_val, y_val, time_budget=60)  # doctest: +SKIP
    """
    import keras

    start = time.perf_counter()
    best = None
    for lr in learning_rates:
        keras.utils.set_random_seed(seed)
        model = small_cnn(int(np.max(train_labels)) + 1, train_images.shape[1])
        history = _fit(model, train_images, train_labels, val_images, val_labels, learning_rate=lr, epochs=epochs,
                       patience=patience, batch_size=batch_size, seed=seed, time_budget=time_budget,
                       callbacks=callbacks)
        score = max(history["val_accuracy"]), -min(history["val_loss"])
        if best is None or score > best[0]:
            best = score, lr, model, history
    (_, lr, model, history) = best
    return Trained("scratch_cnn", _keras_predict(model, mirror=mirror), time.perf_counter() - start, history,
                   {"learning_rate": lr, "epochs_run": len(history["loss"]), "mirror": mirror}, model)


def feature_extraction(images: np.ndarray, labels: np.ndarray, *, base=None, c: float = 1.0,
                       mirror: bool = True) -> Trained:
    """Frozen pretrained base, features computed once, logistic-regression head.

    ``base`` defaults to the bundled base with average pooling. With ``mirror`` (the default),
    the features of every image's mirror image are computed too: the head trains on both (twice
    the examples, for one more pass through the base) and predicts with the average of its two
    probabilities. This is augmentation that works with features computed once; on the course
    data it adds about two points of accuracy at N = 100.

    Examples
    --------
    >>> from helpers.data import make_sunglasses_vs_hat
    >>> x, y = make_sunglasses_vs_hat(20)
    >>> feature_extraction(x, y).accuracy(x, y) > 0.5
    True
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from helpers.models import load_base
    from helpers.training import extract_features

    base = base if base is not None else load_base("bundled", pooling="avg")
    views = _views(mirror)
    start = time.perf_counter()
    features = [extract_features(base, view(images), progress=False) for view in views]
    head = make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=5000))
    head.fit(np.concatenate(features), np.tile(np.asarray(labels), len(views)))
    seconds = time.perf_counter() - start

    def predict(x: np.ndarray) -> np.ndarray:
        probabilities = sum(head.predict_proba(extract_features(base, view(x), progress=False)) for view in views)
        return head.classes_[np.argmax(probabilities, axis=1)]

    return Trained("feature_extraction", predict, seconds, details={"C": c, "mirror": mirror}, model=head)


def fine_tune(train_images: np.ndarray, train_labels: np.ndarray, val_images: np.ndarray, val_labels: np.ndarray,
              *, base=None, n_blocks: int = 3, c: float = 0.1, epochs: int = 60, learning_rate: float = 1e-4,
              patience: int = 10, batch_size: int = 16, seed: int = 0, mirror: bool = True, callbacks=()) -> Trained:
    """Feature extraction first, then the last ``n_blocks`` blocks of the base too, at a low learning rate.

    The new head is fitted on the frozen base's features by :func:`feature_extraction` (logistic
    regression with inverse regularisation ``c``, in seconds) and put into the Keras head with
    :func:`helpers.surgery.head_from_logistic_regression`; then the last blocks and the head train
    together with augmentation, keeping the best epoch on the validation set ("train until you
    overfit, then step back"). BatchNorm statistics stay frozen. With ``mirror`` (the default),
    the head sees mirror images too and ``predict`` averages the class probabilities of each
    image and its mirror image, as :func:`feature_extraction` does.

    Examples
    --------
    >>> trained = fine_tune(x_train, y_train, x_val, y_val, n_blocks=3)  # doctest: +SKIP
    >>> trained.accuracy(x_test, y_test)  # doctest: +SKIP
    """
    import keras

    from helpers.models import load_base
    from helpers.surgery import attach_head, cut, freeze_base, head_from_logistic_regression, unfreeze_last

    keras.utils.set_random_seed(seed)
    base = base if base is not None else load_base("bundled")
    start = time.perf_counter()
    model = freeze_base(attach_head(base, int(np.max(train_labels)) + 1))
    head = feature_extraction(train_images, train_labels, base=cut(model, at="head_pool"), c=c, mirror=mirror)
    head_from_logistic_regression(model.get_layer("head_logits"), head.model)
    unfreeze_last(model, n_blocks)
    history = _fit(model, train_images, train_labels, val_images, val_labels, learning_rate=learning_rate,
                   epochs=epochs, patience=patience, batch_size=batch_size, seed=seed, callbacks=callbacks)
    return Trained("fine_tune", _keras_predict(model, mirror=mirror), time.perf_counter() - start, history,
                   {"n_blocks": n_blocks, "c": c, "head_seconds": round(head.seconds, 2),
                    "epochs_run": len(history["loss"]), "mirror": mirror}, model)
