"""The two generated tasks: sunglasses vs hat (the target) and fourteen other accessories (the source).

Offline (the default), the course draws its own images with :mod:`helpers.faces`: the target
task, people wearing a hat or sunglasses, and a source task for pretraining, people wearing one
of fourteen other accessories. This module holds the rules of both tasks (which accessory is
which class, what may be worn with it) and draws whole datasets, in parallel if asked.

Examples
--------
>>> images, labels = make_sunglasses_vs_hat(4, seed=0)
>>> images.shape, images.dtype, labels.tolist()
((4, 96, 96, 3), dtype('uint8'), [0, 1, 0, 1])
"""

from __future__ import annotations

import contextlib
import functools
import multiprocessing
import os
import sys
from collections.abc import Callable

import numpy as np

from helpers import faces
from helpers.progress import progress_bar

#: Where each draw of a task starts, by what it is for: one experiment's draws never share an image
#: (``draw_seed("test", 3)`` is 30_003), and a seed's training images are the same in every experiment.
DRAW_OFFSETS: dict[str, int] = {
    "folder-test": 10_000,
    "train": 20_000,
    "test": 30_000,
    "validation": 40_000,
    "probe": 50_000,
    "source-train": 60_000,
    "source-test": 61_000,
    "source-head": 70_000,
    "old-head": 80_000,
    "other-task": 90_000,
    "widget-test": 99_000,
}


def draw_seed(purpose: str, seed: int) -> int:
    """The seed of the draw made for ``purpose`` (a key of :data:`DRAW_OFFSETS`) in run ``seed``.

    Examples
    --------
    >>> draw_seed("test", 3)
    30003
    """
    if purpose not in DRAW_OFFSETS:
        raise ValueError(f"purpose must be one of {sorted(DRAW_OFFSETS)}, got {purpose!r}")
    return DRAW_OFFSETS[purpose] + seed


#: Side of the generated square images, in pixels (and so the input size of the bundled base).
IMAGE_SIZE = 96
#: Class names of the target task, in the order ``image_dataset_from_directory`` sorts them.
TARGET_CLASSES: tuple[str, ...] = ("hat", "sunglasses")
#: Class names of the pretraining (source) task: no sunglasses, no hats.
SOURCE_CLASSES: tuple[str, ...] = (
    "bow_tie",
    "clear_glasses",
    "earrings",
    "eye_patch",
    "face_mask",
    "face_paint",
    "full_beard",
    "hair_band",
    "headscarf",
    "headphones",
    "mustache",
    "nothing",
    "scarf",
    "sleep_mask",
)
#: Source accessories by where they are worn; a second accessory always comes from another group.
SOURCE_GROUPS = (
    ("clear_glasses", "eye_patch", "face_paint", "sleep_mask"),
    ("hair_band", "headscarf", "headphones"),
    ("face_mask", "full_beard", "mustache"),
    ("bow_tie", "scarf"),
    ("earrings",),
)


# ------------------------------------------------------------------------------------ the rules
def draw_target(
    rng: np.random.Generator, size: int, label: int, *, camera: str = "daylight", return_mask: bool = False
):
    """A person wearing a hat (``label == 0``) or sunglasses (``label == 1``), and what was drawn.

    A third of hat-wearers also wear clear eyeglasses, and a third of sunglasses-wearers wear a
    band, bow or flower in the hair, so neither "something at the eyes" nor "something on the
    head" alone gives the class away. Returns what :func:`helpers.faces.render_portrait` returns
    (with ``return_mask``, the mask of the hat or the sunglasses, never of the distractor).
    """
    options = {"camera": camera, "return_mask": return_mask}
    if label == 0:
        return faces.render_portrait(rng, size, "hat", "clear_glasses" if rng.random() < 0.35 else None, **options)
    return faces.render_portrait(rng, size, "sunglasses", "hair_band" if rng.random() < 0.35 else None, **options)


def draw_source(rng: np.random.Generator, size: int, label: int) -> tuple[np.ndarray, np.void]:
    """A person wearing ``SOURCE_CLASSES[label]``, and half the time a second accessory.

    The second accessory is worn somewhere else (another of ``SOURCE_GROUPS``): clear glasses
    with a headscarf, a sleep mask with a bow tie. Target photos combine things the same way
    (a hat over clear glasses), and a base that learned one accessory per portrait mistakes the
    combination for whichever part it knows best. The attributes' ``second_accessory`` is the
    second one's label, or -1 for none.
    """
    name = SOURCE_CLASSES[label]
    second = None
    if name != "nothing" and rng.random() < 0.5:
        choices = [n for group in SOURCE_GROUPS if name not in group for n in group]
        second = choices[rng.integers(len(choices))]
    image, attributes = faces.render_portrait(rng, size, name, second)
    attributes["second_accessory"] = SOURCE_CLASSES.index(second) if second else -1
    return image, attributes


# ------------------------------------------------------------------------------------- datasets
Draw = Callable[[np.random.Generator, int, int], tuple]


def _draw_range(args: tuple[Draw, int, int, int, int, int]) -> tuple[np.ndarray, ...]:
    """Draw images ``start..stop-1``: their images, attributes (and masks, if ``draw`` returns them)."""
    draw, n_classes, seed, size, start, stop = args
    drawn = [draw(np.random.default_rng([seed, i]), size, i % n_classes) for i in range(start, stop)]
    return tuple(np.stack(column) for column in zip(*drawn, strict=True))


def _generate(
    draw: Draw,
    n_classes: int,
    n_images: int,
    *,
    seed: int,
    image_size: int,
    start: int,
    n_jobs: int,
    progress: bool,
    return_attributes: bool,
    what: str,
):
    """``(images, labels)``, and the attributes too, for images ``start .. start + n_images - 1``."""
    if n_images < 1:
        raise ValueError(f"n_images must be at least 1, got {n_images}")
    if image_size < 32:
        raise ValueError(f"image_size must be at least 32 pixels, got {image_size}")
    chunk = 256
    jobs = [
        (draw, n_classes, seed, image_size, a, min(a + chunk, start + n_images))
        for a in range(start, start + n_images, chunk)
    ]
    labels = (np.arange(start, start + n_images) % n_classes).astype(np.int32)
    parts = []
    with progress_bar(total=n_images, desc=what, enabled=progress) as bar, contextlib.ExitStack() as stack:
        if n_jobs == 1 or len(jobs) == 1:
            results = map(_draw_range, jobs)
        else:
            workers = os.cpu_count() if n_jobs == -1 else n_jobs
            # fork is fast and safe on Linux; elsewhere (macOS, Windows) the platform's default start method
            context = multiprocessing.get_context("fork" if sys.platform == "linux" else None)
            results = stack.enter_context(context.Pool(workers)).imap(_draw_range, jobs)
        for part in results:
            parts.append(part)
            bar.update(len(part[0]))
    images, attributes, *masks = (np.concatenate(column) for column in zip(*parts, strict=True))
    return (images, labels, *([attributes] if return_attributes else []), *masks)


def make_sunglasses_vs_hat(
    n_images: int,
    *,
    seed: int = 0,
    image_size: int = IMAGE_SIZE,
    start: int = 0,
    n_jobs: int = 1,
    progress: bool = False,
    return_attributes: bool = False,
    camera: str = "daylight",
    return_masks: bool = False,
):
    """Generate the target task: people wearing a hat (label 0) or sunglasses (label 1).

    Image ``i`` depends only on ``(seed, i)``, so any slice can be drawn again alone, and
    classes alternate, so every even-sized prefix is balanced.

    Parameters
    ----------
    n_images : int
        How many images to draw.
    seed : int
        Seed of the whole set: different seeds give disjoint, independent sets.
    image_size : int
        Side of the square images, in pixels.
    start : int
        Index of the first image (``start=100`` continues a set of 100).
    n_jobs : int
        Worker processes; ``-1`` uses every core.
    progress : bool
        Show a progress bar.
    return_attributes : bool
        Also return what was drawn, for instance where the head is.
    camera : {"daylight", "night"}
        How the photos are taken. ``"daylight"`` is the camera of the source task, on which the
        bundled base was pretrained; ``"night"`` takes the same scenes as dim, noisy, green
        monochrome pictures: a *shifted domain*, where the pretrained features fit less well and
        fine-tuning has something to adapt to.
    return_masks : bool
        Also return, for each image, the pixels where its hat or sunglasses show: the labels of a
        segmentation task, from the generator's own drawing.

    Returns
    -------
    images : ndarray of uint8, shape (n_images, image_size, image_size, 3)
    labels : ndarray of int32, shape (n_images,)
        Indices into ``TARGET_CLASSES``.
    attributes : structured ndarray of ``helpers.faces.PORTRAIT_ATTRIBUTES``, shape (n_images,)
        Only with ``return_attributes=True``; read by name: ``attributes["face_x"]``.
    masks : ndarray of bool, shape (n_images, image_size, image_size)
        Only with ``return_masks=True``: where the hat or the sunglasses are (always last).

    Examples
    --------
    >>> x, y = make_sunglasses_vs_hat(2, seed=1)
    >>> [TARGET_CLASSES[i] for i in y]
    ['hat', 'sunglasses']
    >>> x, y, attributes = make_sunglasses_vs_hat(2, return_attributes=True)
    >>> attributes["face_half_width"].shape
    (2,)
    >>> night, _ = make_sunglasses_vs_hat(2, camera="night")  # the same scenes, another camera
    >>> bool((night[..., 1] >= night[..., 0]).all())  # green monochrome
    True
    """
    if camera not in faces.CAMERAS:
        raise ValueError(f"camera must be one of {faces.CAMERAS}, got {camera!r}")
    return _generate(
        functools.partial(draw_target, camera=camera, return_mask=return_masks),
        len(TARGET_CLASSES),
        n_images,
        seed=seed,
        image_size=image_size,
        start=start,
        n_jobs=n_jobs,
        progress=progress,
        return_attributes=return_attributes,
        what="drawing sunglasses vs hat",
    )


def make_source_task(
    n_images: int,
    *,
    seed: int = 0,
    image_size: int = IMAGE_SIZE,
    start: int = 0,
    n_jobs: int = 1,
    progress: bool = False,
    return_attributes: bool = False,
):
    """Generate the pretraining task: which of ``SOURCE_CLASSES`` a person wears.

    A "nearby objective for which it is easy to generate labels": the same kind of portraits as
    the target task, with fourteen other accessories and neither sunglasses nor hats. Parameters
    and returns are those of :func:`make_sunglasses_vs_hat`; labels index ``SOURCE_CLASSES``.
    Half the portraits (none of the ``"nothing"`` class) wear a second accessory too, from
    another part of the body (the attributes' ``second_accessory``); ``labels`` is always the first.

    Examples
    --------
    >>> x, y = make_source_task(3, seed=0)
    >>> [SOURCE_CLASSES[i] for i in y]
    ['bow_tie', 'clear_glasses', 'earrings']
    """
    return _generate(
        draw_source,
        len(SOURCE_CLASSES),
        n_images,
        seed=seed,
        image_size=image_size,
        start=start,
        n_jobs=n_jobs,
        progress=progress,
        return_attributes=return_attributes,
        what="drawing source task",
    )
