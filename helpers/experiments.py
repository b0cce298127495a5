"""The experiments behind the lectures' claims: each a function of a seed, run live in a notebook and by the ledger.

Every experiment draws its own training and test images from its seed, trains what it
compares, and returns a dict with ``"effects"`` (claim id -> effect, positive when the claim is
right; see :mod:`helpers.claims`) and whatever else a notebook draws. The test images are never
used to train or to choose anything.
"""

from __future__ import annotations

import helpers.quiet  # noqa: F401  (first: TensorFlow without its import notices)

import functools
import time

import keras
import numpy as np
from sklearn.linear_model import LogisticRegression

from helpers.environment import free_memory
from helpers.explain import gradcam, peak_inside, share_inside
from helpers.faces import accessory_boxes
from helpers.learning_rates import differential_optimizer
from helpers.models import block_features, extract_features, large_cnn, load_base, source_classifier
from helpers.probes import linear_probe, linear_probes
from helpers.segmentation import encoder_maps, fit_decoder, iou, predict_masks
from helpers.strategies import (
    feature_extraction,
    fine_tune,
    pixels_logreg,
    split_validation,
)
from helpers.surgery import (
    attach_head,
    base_blocks,
    freeze_base,
    unfreeze_all,
    unfreeze_last,
)
from helpers.tasks import SOURCE_CLASSES, TARGET_CLASSES, draw_seed, make_source_task, make_sunglasses_vs_hat
from helpers.toy_data import make_rings, to_polar
from helpers.training import best_epoch, training_dataset

LOSS = keras.losses.SparseCategoricalCrossentropy(from_logits=True)


def _images(seed: int, n_train: int, n_test: int, camera: str = "daylight") -> tuple[np.ndarray, ...]:
    """Training and test images of one seed: disjoint draws of the target task."""
    x_train, y_train = make_sunglasses_vs_hat(n_train, seed=draw_seed("train", seed), camera=camera)
    x_test, y_test = make_sunglasses_vs_hat(n_test, seed=draw_seed("test", seed), camera=camera)
    return x_train, y_train, x_test, y_test


def _accuracy(model: keras.Model, images: np.ndarray, labels: np.ndarray) -> float:
    logits = model.predict(np.asarray(images, np.float32), batch_size=50, verbose=0)
    return float((logits.argmax(axis=1) == labels).mean())


def representation(seed: int = 0, *, n_points: int = 600, n_train: int = 100, n_test: int = 500) -> dict:
    """The same linear classifier on a better representation: rings in polar coordinates, photos as features.

    Claims ``polar-separates-rings`` (held-out accuracy on (r, theta) minus on (x, y)) and
    ``features-beat-pixels`` (pretrained features against raw pixels, both with logistic regression).
    """
    points, labels = make_rings(n_points, seed=seed)
    half = n_points // 2
    scores = {}
    for name, features in (("x, y", points), ("r, theta", to_polar(points))):
        classifier = LogisticRegression().fit(features[:half], labels[:half])
        scores[name] = float(classifier.score(features[half:], labels[half:]))
    x_train, y_train, x_test, y_test = _images(seed, n_train, n_test)
    pixels = pixels_logreg(x_train, y_train, seed=seed).accuracy(x_test, y_test)
    features = feature_extraction(x_train, y_train, seed=seed).accuracy(x_test, y_test)
    return {
        "n_test": n_test,
        "effects": {
            "polar-separates-rings": scores["r, theta"] - scores["x, y"],
            "features-beat-pixels": features - pixels,
        },
        "rings": scores,
        "photos": {"pixels": pixels, "pretrained features": features},
    }


def scratch_against_pretrained(seed: int = 0, *, n_train: int = 100, n_test: int = 500, epochs: int = 30) -> dict:
    """A large CNN trained from scratch on ``n_train`` photos learns them by heart; a pretrained base does not need to.

    The CNN (:func:`helpers.models.large_cnn`) trains without augmentation or early stopping, the way a large
    network meets a small data set. Claims ``scratch-overfits`` (its training accuracy minus its
    test accuracy) and ``pretrained-beats-scratch`` (feature extraction's test accuracy minus the
    CNN's).
    """
    x_train, y_train, x_test, y_test = _images(seed, n_train, n_test)
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
    scratch = {"train": _accuracy(cnn, x_train, y_train), "test": _accuracy(cnn, x_test, y_test)}
    extracted = feature_extraction(x_train, y_train, seed=seed)
    pretrained = {"train": extracted.accuracy(x_train, y_train), "test": extracted.accuracy(x_test, y_test)}
    return {
        "n_test": n_test,
        "effects": {
            "scratch-overfits": scratch["train"] - scratch["test"],
            "pretrained-beats-scratch": pretrained["test"] - scratch["test"],
        },
        "scratch": scratch,
        "pretrained": pretrained,
        "history": history,
        "parameters": cnn.count_params(),
    }


def transferability(seed: int = 0, *, n_source: int = 560, n_train: int = 300, n_test: int = 500) -> dict:
    """A linear probe on every block of the bundled base: how much of each task its features already solve.

    The same probe (standardised features, logistic regression) is fitted on the average-pooled
    output of each block, for three tasks: the source task the base was trained on (new
    portraits, 14 accessories), and sunglasses vs hat on daylight photos and on night-camera
    photos, which the base never saw. Each is scored on test images of its own. Claims
    ``later-layers-specific``: the accuracy the second half of the base adds (from the middle
    block to its output) on the source task, minus what it adds on the night camera.
    """
    base = load_base("bundled")
    tasks = {
        "source task (14 accessories)": (
            *make_source_task(n_source, seed=draw_seed("source-train", seed)),
            *make_source_task(n_source, seed=draw_seed("source-test", seed)),
        ),
        "sunglasses vs hat, daylight": _images(seed, n_train, n_test),
        "sunglasses vs hat, night camera": _images(seed, n_train, n_test, "night"),
    }
    accuracy, chance = {}, {}
    for task, (x_train, y_train, x_test, y_test) in tasks.items():
        train, test = block_features(base, x_train), block_features(base, x_test)
        probe = linear_probe()
        accuracy[task] = {block: float(probe.fit(train[block], y_train).score(test[block], y_test)) for block in train}
        chance[task] = float(np.bincount(y_test).max() / len(y_test))
    blocks = list(accuracy["source task (14 accessories)"])
    middle, last = blocks[len(blocks) // 2], blocks[-1]
    added = {task: by_block[last] - by_block[middle] for task, by_block in accuracy.items()}
    free_memory()
    return {
        "n_test": n_test,
        "effects": {
            "later-layers-specific": added["source task (14 accessories)"] - added["sunglasses vs hat, night camera"]
        },
        "probe accuracy": accuracy,
        "chance": chance,
        "middle block": middle,
        "added by the second half": added,
    }


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


def low_learning_rate(
    seed: int = 0, *, n_train: int = 100, n_test: int = 300, n_blocks: int = 6, epochs: int = 4
) -> dict:
    """Fine-tuning ``n_blocks`` blocks from the same trained head at a low (1e-4) and a high (1e-2) rate.

    Claims ``low-rate-protects``: test accuracy after fine-tuning at the low rate minus at the high rate.
    """
    model, x_train, y_train = _head_trained(seed, n_train)
    x_test, y_test = make_sunglasses_vs_hat(n_test, seed=draw_seed("test", seed))
    keras.utils.set_random_seed(seed)
    start = model.get_weights()
    head_only = _accuracy(model, x_test, y_test)
    after = {}
    for rate in (1e-4, 1e-2):
        model.set_weights(start)
        unfreeze_last(model, n_blocks, learning_rate=rate)
        model.fit(training_dataset(x_train, y_train, seed=seed), epochs=epochs, verbose=0, shuffle=False)
        after[rate] = _accuracy(model, x_test, y_test)
    free_memory()
    return {
        "n_test": n_test,
        "effects": {"low-rate-protects": after[1e-4] - after[1e-2]},
        "head only": head_only,
        "after": after,
    }


def batchnorm_trap(
    seed: int = 0, *, n_train: int = 100, n_test: int = 500, batch_size: int = 4, epochs: int = 4
) -> dict:
    """Fine-tuning the last 3 blocks in small batches with BatchNorm frozen, and with its statistics training.

    Claims ``batchnorm-frozen``: test accuracy with frozen BatchNorm (the helpers' default) minus
    with BatchNorm layers training on the small batches of the small target set.
    """
    model, x_train, y_train = _head_trained(seed, n_train)
    x_test, y_test = make_sunglasses_vs_hat(n_test, seed=draw_seed("test", seed))
    start = model.get_weights()
    after, shift = {}, {}
    layer = model.get_layer("block_16_project_BN")
    for train_batchnorm in (False, True):
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
        after[train_batchnorm] = _accuracy(model, x_test, y_test)
        shift[train_batchnorm] = float(np.abs(layer.moving_mean.numpy() - before).max())
    free_memory()
    return {
        "n_test": n_test,
        "effects": {"batchnorm-frozen": after[False] - after[True]},
        "test accuracy": {"frozen": after[False], "training": after[True]},
        "moving-mean shift": {"frozen": shift[False], "training": shift[True]},
    }


def step_back(
    seed: int = 0,
    *,
    n_train: int = 100,
    n_val: int = 200,
    n_test: int = 500,
    epochs: int = 60,
    learning_rate: float = 3e-3,
) -> dict:
    """Train a dense head on frozen features far past its best epoch; then step back to the best one.

    Validation has ``n_val`` images of its own, enough to see its loss rise. Claims
    ``step-back``: test loss at the last epoch minus test loss with the best epoch's weights.
    """
    x_train, y_train, x_test, y_test = _images(seed, n_train + n_val, n_test)
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
    return {
        "n_test": n_test,
        "effects": {"step-back": last_loss - best_loss},
        "history": history,
        "best epoch": best,
        "test loss": {"last epoch": last_loss, "best epoch": best_loss},
        "seconds": time.perf_counter() - started,
    }


def fine_tune_against_extraction(
    seed: int = 0,
    *,
    n_train: int = 300,
    n_test: int = 500,
    camera: str = "night",
    n_blocks: int = 9,
    epochs: int = 20,
) -> dict:
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
    x_train, y_train, x_test, y_test = _images(seed, n_train, n_test, camera)
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
    return {
        "n_test": n_test,
        "effects": {
            "fine-tune-beats-extraction": scores[f"fine-tuning {n_blocks} blocks"] - scores["feature extraction"],
            "fine-tune-everything": scores["fine-tuning every block"] - scores["feature extraction"],
        },
        "test accuracy": scores,
        "seconds": seconds,
        "epochs run": epochs_run,
    }


def feature_heads(seed: int = 0, *, n_train: int = 100, n_test: int = 500, epochs: int = 20) -> dict:
    """A new head on features computed once, against the same kind of head trained through the frozen base.

    Both see the same photos: logistic regression on the pooled features (the base runs once
    per photo), and a Keras dense head on top of the frozen base, trained with augmentation for
    ``epochs`` epochs (the base runs once per photo and epoch). Claims ``features-once-is-fast``:
    seconds of the Keras head's training minus seconds of the logistic regression's, both on
    top of the features' computation.
    """
    x_train, y_train, x_test, y_test = _images(seed, n_train, n_test)
    base = load_base("bundled", pooling="avg")
    started = time.perf_counter()
    f_train = extract_features(base, x_train, progress=False)
    head = LogisticRegression(max_iter=5000).fit(f_train, y_train)
    seconds = {"features once": time.perf_counter() - started}
    accuracy = {"features once": float(head.score(extract_features(base, x_test, progress=False), y_test))}
    keras.utils.set_random_seed(seed)
    model = freeze_base(attach_head(load_base("bundled"), len(TARGET_CLASSES)))
    model.compile(keras.optimizers.Adam(1e-3), LOSS, metrics=["accuracy"])
    started = time.perf_counter()
    history = model.fit(training_dataset(x_train, y_train, seed=seed), epochs=epochs, verbose=0, shuffle=False).history
    seconds["through the base"] = time.perf_counter() - started
    accuracy["through the base"] = _accuracy(model, x_test, y_test)
    free_memory()
    return {
        "n_test": n_test,
        "effects": {"features-once-is-fast": seconds["through the base"] - seconds["features once"]},
        "seconds": seconds,
        "test accuracy": accuracy,
        "history": history,
    }


def gradcam_regions(
    seed: int = 0, *, n_train: int = 100, n_probe: int = 200, layer: str = "block_6_expand_relu"
) -> dict:
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
        name: {
            "peak inside": float(hits[labels == k].mean()),
            "heat share": float(heat_share[labels == k].mean()),
            "area share": float(area_share[labels == k].mean()),
        }
        for k, name in enumerate(TARGET_CLASSES)
    }
    predicted = tuned.predict(probe)
    free_memory()
    return {
        "n_test": n_probe,
        "effects": {"gradcam-finds-accessory": float((hits - area_share).mean())},
        "by class": by_class,
        "images": probe,
        "labels": labels,
        "predicted": predicted,
        "heatmaps": heat,
        "boxes": boxes,
    }


def differential_rates(
    seed: int = 0,
    *,
    n_train: int = 300,
    n_test: int = 500,
    camera: str = "daylight",
    epochs: int = 6,
    in_between: bool = False,
) -> dict:
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
    x_train, y_train, x_test, y_test = _images(seed, n_train, n_test, camera)
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
        scores[name] = _accuracy(model, x_test, y_test)
        free_memory()  # each compile traces new functions: let the last run's go before the next
    single = max(scores["one low rate (1e-5)"], scores["one high rate (3e-3)"])
    differential = next(v for k, v in scores.items() if k.startswith("differential"))
    return {
        "n_test": n_test,
        "effects": {"differential-beats-single": differential - single},
        "test accuracy": scores,
        "histories": histories,
    }


def segmentation_transfer(seed: int = 0, *, n_train: int = 100, n_test: int = 200, epochs: int = 60) -> dict:
    """The same small decoder segments hats and sunglasses on the frozen pretrained base and on a random one.

    The masks come from the generator (``make_sunglasses_vs_hat(return_masks=True)``); the base
    was trained to *classify* portraits and never saw a mask. Each decoder
    (:mod:`helpers.segmentation`) trains on ``n_train`` photos and their mirror images and is
    scored on ``n_test`` new photos by intersection over union. Claims
    ``pretrained-encoder-segments``: mean IoU on the pretrained base minus on the random one.
    """
    images, labels, masks = make_sunglasses_vs_hat(n_train, seed=draw_seed("train", seed), return_masks=True)
    x_test, y_test, m_test = make_sunglasses_vs_hat(n_test, seed=draw_seed("test", seed), return_masks=True)
    x_fit, m_fit = np.concatenate([images, images[:, :, ::-1]]), np.concatenate([masks, masks[:, :, ::-1]])
    scores, predicted, histories = {}, {}, {}
    for name, weights in (("pretrained base", "bundled"), ("random base", None)):
        keras.utils.set_random_seed(seed)
        base = load_base(weights)
        decoder, histories[name] = fit_decoder(encoder_maps(base, x_fit), m_fit, epochs=epochs, seed=seed)
        predicted[name] = predict_masks(decoder, encoder_maps(base, x_test), x_test.shape[1])
        scores[name] = iou(predicted[name], m_test)
        free_memory()
    return {
        "n_test": n_test,
        "effects": {
            "pretrained-encoder-segments": float(scores["pretrained base"].mean() - scores["random base"].mean())
        },
        "iou": {
            name: {c: float(s[y_test == k].mean()) for k, c in enumerate(TARGET_CLASSES)} for name, s in scores.items()
        },
        "images": x_test[:8],
        "true masks": m_test[:8],
        "predicted masks": {name: p[:8] for name, p in predicted.items()},
        "histories": histories,
    }


def old_head(
    seed: int = 0, *, classes: tuple[str, str] = ("bow_tie", "scarf"), n_per_class: int = 5, n_test: int = 400
) -> dict:
    """Two of the source task's own classes as a new task: the old head, untrained, against a new head on a few photos.

    The old head (:func:`helpers.models.source_classifier`) decides between the two classes'
    logits and never sees a photo of the new task; the new head is a logistic regression on the
    base's features of ``n_per_class`` photos per class. Both are scored on the same ``n_test``
    new photos. Then the old head meets photos of classes it never knew (sunglasses, hats): what
    it calls them is returned too. Claims ``old-head-reused``: the old head's test accuracy minus
    the new head's.
    """
    wanted = [SOURCE_CLASSES.index(name) for name in classes]
    per_draw = len(SOURCE_CLASSES)  # the source task cycles through its classes
    images, labels = make_source_task(per_draw * (n_per_class + n_test // 2), seed=draw_seed("old-head", seed))
    keep = np.isin(labels, wanted)
    images, labels = images[keep], (labels[keep] == wanted[1]).astype(int)  # 0: classes[0], 1: classes[1]
    train = np.r_[np.flatnonzero(labels == 0)[:n_per_class], np.flatnonzero(labels == 1)[:n_per_class]]
    test = np.setdiff1d(np.arange(len(labels)), train)
    classifier = source_classifier()
    logits = classifier.predict(images[test].astype(np.float32), batch_size=64, verbose=0)
    old = float((logits[:, wanted].argmax(axis=1) == labels[test]).mean())
    base = load_base("bundled", pooling="avg")
    head = LogisticRegression(C=0.1, max_iter=5000).fit(
        extract_features(base, images[train], progress=False), labels[train]
    )
    new = float(head.score(extract_features(base, images[test], progress=False), labels[test]))
    x_other, y_other = make_sunglasses_vs_hat(100, seed=draw_seed("other-task", seed))
    called = classifier.predict(x_other.astype(np.float32), batch_size=64, verbose=0).argmax(axis=1)
    free_memory()
    return {
        "n_test": len(test),
        "effects": {"old-head-reused": old - new},
        "test accuracy": {"old head, no training": old, f"new head, {2 * n_per_class} photos": new},
        "photos": images[train],
        "what the old head calls new classes": {
            name: np.bincount(called[y_other == k], minlength=len(SOURCE_CLASSES))
            for k, name in enumerate(TARGET_CLASSES)
        },
    }


def unlabeled_representations(
    seed: int = 0, *, n_per_class: tuple[int, ...] = (2, 5, 10, 25, 50), n_test: int = 500
) -> dict:
    """What pretraining without labels is worth: the same linear probe on four representations of a few photos.

    The representations: the base pretrained on the source portraits without their labels
    (contrastive learning, :mod:`helpers.self_supervised`), the bundled base pretrained with
    them, a base with random weights, and the raw pixels. Claims ``unlabeled-beats-random``:
    probe accuracy on the unlabeled base minus on the random base, at 10 photos per class.
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
    return {
        "n_test": n_test,
        "effects": {
            "unlabeled-beats-random": accuracy["pretrained without labels"][10] - accuracy["random weights"][10]
        },
        "probe accuracy": accuracy,
    }
