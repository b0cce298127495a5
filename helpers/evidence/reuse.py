"""The experiments about reusing a trained network beyond a new classifier (lecture 07): its old head, its encoder.

Each is a function of a seed that returns a :class:`~helpers.evidence.claims.Measurement` with
named results; see :mod:`helpers.evidence.claims` for how the ledger uses them.
"""

from __future__ import annotations

import helpers.quiet  # noqa: F401  (first: TensorFlow without its import notices)

from dataclasses import dataclass

import keras
import numpy as np
from sklearn.linear_model import LogisticRegression

from helpers.environment import free_memory
from helpers.evidence.claims import Measurement, measures
from helpers.models import extract_features, load_base, source_classifier
from helpers.segmentation import encoder_maps, fit_decoder, iou, predict_masks
from helpers.tasks import SOURCE_CLASSES, TARGET_CLASSES, draw_seed, make_source_task, make_sunglasses_vs_hat


@dataclass(frozen=True, kw_only=True)
class SegmentationTransfer(Measurement):
    """What :func:`segmentation_transfer` measured, and a few test photos with their masks."""

    #: mean IoU by base, then by class
    iou: dict[str, dict[str, float]]
    images: np.ndarray
    true_masks: np.ndarray
    #: the first test photos' masks as each base's decoder predicts them
    predicted_masks: dict[str, np.ndarray]
    histories: dict[str, dict[str, list[float]]]


@measures("pretrained-encoder-segments")
def segmentation_transfer(
    seed: int = 0, *, n_train: int = 100, n_test: int = 200, epochs: int = 60
) -> SegmentationTransfer:
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
    return SegmentationTransfer(
        n_test=n_test,
        effects={"pretrained-encoder-segments": float(scores["pretrained base"].mean() - scores["random base"].mean())},
        iou={
            name: {c: float(s[y_test == k].mean()) for k, c in enumerate(TARGET_CLASSES)} for name, s in scores.items()
        },
        images=x_test[:8],
        true_masks=m_test[:8],
        predicted_masks={name: p[:8] for name, p in predicted.items()},
        histories=histories,
    )


@dataclass(frozen=True, kw_only=True)
class OldHead(Measurement):
    """What :func:`old_head` measured, and what the old head calls classes it never knew."""

    test_accuracy: dict[str, float]
    #: the new head's test accuracy by photos per class: where it overtakes the old head
    new_head_curve: dict[int, float]
    #: the new head's training photos
    photos: np.ndarray
    #: for each target class, how many of its photos the old head gave each source class
    old_head_calls: dict[str, np.ndarray]


#: The photos per class of :func:`old_head`'s curve.
CURVE_SIZES = (1, 2, 5, 10, 20, 50)


@measures("old-head-reused")
def old_head(
    seed: int = 0,
    *,
    classes: tuple[str, str] = ("bow_tie", "scarf"),
    n_per_class: int = 5,
    n_test: int = 400,
    curve: tuple[int, ...] = CURVE_SIZES,
) -> OldHead:
    """Two of the source task's own classes as a new task: the old head, untrained, against a new head on a few photos.

    The old head (:func:`helpers.models.source_classifier`) decides between the two classes'
    logits and never sees a photo of the new task; the new head is a logistic regression on the
    base's features of ``n_per_class`` photos per class. Both are scored on the same ``n_test``
    new photos. The new head is also trained on each number of photos per class in ``curve``,
    scored on the same test photos: where it overtakes the old head. Then the old head meets
    photos of classes it never knew (sunglasses, hats): what it calls them is returned too.
    Claims ``old-head-reused``: the old head's test accuracy minus the new head's at
    ``n_per_class``.
    """
    wanted = [SOURCE_CLASSES.index(name) for name in classes]
    per_draw = len(SOURCE_CLASSES)  # the source task cycles through its classes
    most = max(n_per_class, *curve)
    images, labels = make_source_task(per_draw * (most + n_test // 2), seed=draw_seed("old-head", seed))
    keep = np.isin(labels, wanted)
    images, labels = images[keep], (labels[keep] == wanted[1]).astype(int)  # 0: classes[0], 1: classes[1]
    by_class = [np.flatnonzero(labels == k) for k in (0, 1)]

    def first(n: int) -> np.ndarray:
        return np.r_[by_class[0][:n], by_class[1][:n]]

    test = np.setdiff1d(np.arange(len(labels)), first(most))  # one test set for every point of the curve
    classifier = source_classifier()
    logits = classifier.predict(images[test].astype(np.float32), batch_size=64, verbose=0)
    old = float((logits[:, wanted].argmax(axis=1) == labels[test]).mean())
    features = extract_features(load_base("bundled", pooling="avg"), images, progress=False)

    def new_head(n: int) -> float:
        head = LogisticRegression(C=0.1, max_iter=5000).fit(features[first(n)], labels[first(n)])
        return float(head.score(features[test], labels[test]))

    new = new_head(n_per_class)
    x_other, y_other = make_sunglasses_vs_hat(100, seed=draw_seed("other-task", seed))
    called = classifier.predict(x_other.astype(np.float32), batch_size=64, verbose=0).argmax(axis=1)
    free_memory()
    return OldHead(
        n_test=len(test),
        effects={"old-head-reused": old - new},
        test_accuracy={"old head, no training": old, f"new head, {2 * n_per_class} photos": new},
        new_head_curve={n: new_head(n) for n in curve},
        photos=images[first(n_per_class)],
        old_head_calls={
            name: np.bincount(called[y_other == k], minlength=len(SOURCE_CLASSES))
            for k, name in enumerate(TARGET_CLASSES)
        },
    )
