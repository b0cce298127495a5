"""The experiment of lecture 06: where Grad-CAM points, against where the generator drew the deciding accessory.

It is a function of a seed that returns a :class:`~helpers.evidence.claims.Measurement` with
named results; see :mod:`helpers.evidence.claims` for how the ledger uses them.
"""

from __future__ import annotations

import helpers.quiet  # noqa: F401  (first: TensorFlow without its import notices)

from dataclasses import dataclass

import numpy as np

from helpers.environment import free_memory
from helpers.evidence.claims import Measurement, measures
from helpers.explain import gradcam, peak_inside, share_inside
from helpers.faces import accessory_boxes
from helpers.strategies import fine_tune
from helpers.tasks import TARGET_CLASSES, draw_seed, make_sunglasses_vs_hat


@dataclass(frozen=True)
class Regions:
    """Where one class's Grad-CAM heat fell, as shares over the probe photos of that class."""

    #: photos whose hottest pixel lies in the accessory's box
    peak_inside: float
    #: the heat inside the box, over all the heat
    heat_share: float
    #: the box's share of the image: how often a heatmap pointing at random would hit it
    area_share: float
    #: photos whose hottest pixel lies on the eyes (the lenses' region, with or without sunglasses)
    peak_on_eyes: float
    #: the eyes' region's share of the image
    eyes_area_share: float


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
    #: each photo's eyes' box (the region the lenses cover when worn)
    eye_boxes: np.ndarray


@measures("gradcam-finds-accessory")
def gradcam_regions(
    seed: int = 0, *, n_train: int = 100, n_probe: int = 200, layer: str = "block_6_expand_relu"
) -> GradcamRegions:
    """Where Grad-CAM points, against where the deciding accessory was drawn.

    A fine-tuned model (:func:`helpers.strategies.fine_tune`) is explained at ``layer``, a 12x12
    map at 96x96 inputs (the last map, 3x3, is too coarse to localise anything), on new photos
    whose geometry the generator recorded. For each photo: whether the heatmap's hottest pixel
    lies in the box of its accessory (the lenses, or the hat's crown and brim above the eye line:
    :data:`helpers.faces.ACCESSORY_REGIONS`), against that box's share of the image (how often a
    heatmap pointing at random would hit it). Claims ``gradcam-finds-accessory``: the mean of hit
    minus area share. Also reported: the share of the whole heat inside the box, and for each
    class how often the hottest pixel lies on the eyes, where a hat photo has no sunglasses.
    """
    x_train, y_train = make_sunglasses_vs_hat(n_train, seed=draw_seed("train", seed))
    probe, labels, attributes = make_sunglasses_vs_hat(n_probe, seed=draw_seed("probe", seed), return_attributes=True)
    tuned = fine_tune(x_train, y_train, seed=seed)
    heat = gradcam(tuned.model, probe, layer=layer)
    size = probe.shape[1]
    boxes = accessory_boxes(attributes, [TARGET_CLASSES[label] for label in labels], size)
    eye_boxes = accessory_boxes(attributes, ["sunglasses"] * len(labels), size)  # the lenses' region is the eyes'
    hits, on_eyes = peak_inside(heat, boxes), peak_inside(heat, eye_boxes)
    heat_share = share_inside(heat, boxes)
    area_share, eyes_area = ((b[:, 1] - b[:, 0]) * (b[:, 3] - b[:, 2]) / size**2 for b in (boxes, eye_boxes))
    by_class = {
        name: Regions(
            *(float(values[labels == k].mean()) for values in (hits, heat_share, area_share, on_eyes, eyes_area))
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
        eye_boxes=eye_boxes,
    )
