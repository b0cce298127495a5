"""helpers.tasks and helpers.faces: the generated tasks, reproducible, diverse, and drawn by their rules."""

from __future__ import annotations

import numpy as np
import pytest

from helpers import faces, tasks
from helpers.tasks import SOURCE_CLASSES, SOURCE_GROUPS, TARGET_CLASSES, make_source_task, make_sunglasses_vs_hat


def test_target_images_are_deterministic_by_seed_and_index():
    a, labels = make_sunglasses_vs_hat(6, seed=3)
    b, _ = make_sunglasses_vs_hat(6, seed=3)
    tail, tail_labels = make_sunglasses_vs_hat(2, seed=3, start=4)
    other, _ = make_sunglasses_vs_hat(6, seed=4)
    assert a.shape == (6, 96, 96, 3) and a.dtype == np.uint8
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a[4:], tail)
    assert labels.tolist() == [0, 1, 0, 1, 0, 1] and tail_labels.tolist() == [0, 1]
    assert not np.array_equal(a, other)


def test_parallel_generation_matches_serial():
    serial, _ = make_source_task(300, seed=1, image_size=48)
    parallel, _ = make_source_task(300, seed=1, image_size=48, n_jobs=2)
    np.testing.assert_array_equal(serial, parallel)


def test_source_task_has_ten_or_more_classes_and_none_of_the_target():
    _, labels = make_source_task(2 * len(SOURCE_CLASSES))
    assert len(SOURCE_CLASSES) >= 10
    assert np.bincount(labels).tolist() == [2] * len(SOURCE_CLASSES)
    assert not {"sunglasses", "hat"} & set(SOURCE_CLASSES)


def test_image_size_is_configurable_and_checked():
    images, _ = make_sunglasses_vs_hat(2, image_size=64)
    assert images.shape == (2, 64, 64, 3)
    with pytest.raises(ValueError, match="image_size"):
        make_sunglasses_vs_hat(2, image_size=8)


def test_images_are_diverse():
    images, _ = make_sunglasses_vs_hat(64, seed=5)
    means = images.reshape(64, -1, 3).mean(axis=1)
    assert means.std(axis=0).min() > 15  # colours vary a lot from image to image
    assert len({im.tobytes() for im in images}) == 64


def test_colour_does_not_give_the_class_away():
    images, labels = make_sunglasses_vs_hat(600, seed=7, image_size=48, n_jobs=2)
    per_image = images.reshape(len(images), -1, 3).mean(axis=1)
    gap = np.abs(per_image[labels == 0].mean(axis=0) - per_image[labels == 1].mean(axis=0))
    spread = per_image.std(axis=0)
    assert (gap < 0.15 * spread).all(), (gap, spread)


def _constant_image(rng, size, label):
    return np.full((size, size, 3), label, np.uint8), np.zeros((), faces.PORTRAIT_ATTRIBUTES)[()]


def test_generation_chunks_cover_every_index():
    # 600 images from index 5 span three chunks; labels follow the global index.
    images, labels = tasks._generate(
        _constant_image,
        3,
        600,
        seed=0,
        image_size=32,
        start=5,
        n_jobs=1,
        progress=False,
        return_attributes=False,
        what="x",
    )
    assert labels[:3].tolist() == [2, 0, 1] and (images[:, 0, 0, 0] == labels).all()


def test_generator_rejects_empty_counts():
    with pytest.raises(ValueError, match="n_images"):
        make_sunglasses_vs_hat(0)


def test_source_attributes_describe_the_same_images():
    images, labels, attributes = make_source_task(28, seed=4, return_attributes=True)
    plain, plain_labels = make_source_task(28, seed=4)
    np.testing.assert_array_equal(images, plain)
    assert attributes.shape == (28,) and attributes.dtype == faces.PORTRAIT_ATTRIBUTES
    assert (labels == plain_labels).all()
    seconds = attributes["second_accessory"].astype(int)
    assert (seconds >= -1).all() and (seconds != labels).all() and 0 < (seconds >= 0).sum() < 28
    assert (seconds[labels == SOURCE_CLASSES.index("nothing")] == -1).all()
    for centre in (attributes["face_x"], attributes["face_y"]):
        assert ((centre > 0.2) & (centre < 0.8)).all()  # face centres inside the image


def test_target_attributes_and_head_boxes():
    images, labels, attributes = make_sunglasses_vs_hat(6, seed=2, return_attributes=True)
    np.testing.assert_array_equal(images, make_sunglasses_vs_hat(6, seed=2)[0])  # same pictures either way
    assert (attributes["second_accessory"] == -1).all()  # the target task has no second accessory
    boxes = faces.head_boxes(attributes, 96)
    assert ((boxes[:, 0] < boxes[:, 1]) & (boxes[:, 2] < boxes[:, 3])).all()
    centres_x = attributes["face_x"] * 96
    assert ((boxes[:, 2] <= centres_x) & (centres_x <= boxes[:, 3])).all()


def test_every_source_accessory_but_nothing_is_worn_in_exactly_one_place():
    grouped = [name for group in SOURCE_GROUPS for name in group]
    assert sorted(grouped) == sorted(set(SOURCE_CLASSES) - {"nothing"})


def test_pick_draws_what_rng_choice_draws():
    # The generator's images, and so the bundled base's pretraining data, depend on this equivalence.
    for seed in range(200):
        ours, numpys = np.random.default_rng(seed), np.random.default_rng(seed)
        for options in (faces.HAT_STYLES, (-1, 1), (-1, 0, 1), (-0.7, 0.7), ["a", "b", "c", "d", "e"]):
            assert faces._pick(ours, options) == numpys.choice(options)
        assert ours.random() == numpys.random()


def test_the_target_rules_decide_the_accessory_not_the_drawing():
    # Hat-wearers wear a hat, sunglasses-wearers sunglasses; the distractors are the other part.
    assert TARGET_CLASSES == ("hat", "sunglasses")
    assert set(SOURCE_CLASSES) <= set(faces.ACCESSORIES) and not faces.UNDER_HAIR - set(SOURCE_CLASSES)
    with pytest.raises(ValueError, match="unknown accessory 'crown'"):
        faces.render_portrait(np.random.default_rng(0), 48, "crown")


def test_the_night_camera_shoots_the_same_scenes_and_leaves_daylight_alone():
    day, labels, attributes = make_sunglasses_vs_hat(6, seed=4, return_attributes=True)
    night, night_labels, night_attributes = make_sunglasses_vs_hat(6, seed=4, camera="night", return_attributes=True)
    assert (labels == night_labels).all() and (attributes == night_attributes).all()  # the same people, posed alike
    assert (night[..., 1] >= night[..., 0]).all() and night.mean() < 0.6 * day.mean()  # dim green monochrome
    np.testing.assert_array_equal(day, make_sunglasses_vs_hat(6, seed=4)[0])
    with pytest.raises(ValueError, match="camera must be one of"):
        make_sunglasses_vs_hat(2, camera="infrared")


def test_accessory_boxes_hold_the_accessory_and_follow_the_face():
    _, labels, attributes = make_sunglasses_vs_hat(40, seed=8, return_attributes=True)
    names = [TARGET_CLASSES[label] for label in labels]
    boxes = faces.accessory_boxes(attributes, names, 96)
    area = (boxes[:, 1] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 2]) / 96**2
    lenses, hats = labels == TARGET_CLASSES.index("sunglasses"), labels == TARGET_CLASSES.index("hat")
    assert area[lenses].max() < 0.3 < area[hats].mean()  # lenses are small, a hat's crown and brim are not
    eyes_y = attributes["face_y"] * 96
    assert ((boxes[lenses, 0] < eyes_y[lenses]) & (eyes_y[lenses] < boxes[lenses, 1])).all()
    half_width = attributes["face_half_width"] * 96
    assert (boxes[hats, 1] < eyes_y[hats] + half_width[hats]).all()  # above the chin, even tilted
    assert (boxes[hats, 0] < boxes[lenses, 0].min()).all()  # and starts higher than any lenses' box
    level = attributes.copy()
    level["tilt"] = 0
    hat_boxes, eye_boxes = (faces.accessory_boxes(level, [name] * len(level), 96) for name in ("hat", "sunglasses"))
    assert (hat_boxes[:, 1] <= eye_boxes[:, 0]).all()  # a heatmap on the bare eyes is not one on the hat
    with pytest.raises(ValueError, match="no region for accessory 'scarf'"):
        faces.accessory_boxes(attributes[:1], ["scarf"], 96)


def test_masks_leave_the_images_as_they_were():
    for camera in faces.CAMERAS:
        images, labels = make_sunglasses_vs_hat(12, seed=4, camera=camera)
        again, labels_again, attributes, masks = make_sunglasses_vs_hat(
            12, seed=4, camera=camera, return_attributes=True, return_masks=True
        )
        assert np.array_equal(images, again) and np.array_equal(labels, labels_again)
        assert masks.shape == images.shape[:3] and masks.dtype == bool and len(attributes) == 12


@pytest.mark.parametrize("seed", range(6))
def test_a_mask_covers_the_drawn_accessory_and_nothing_else(monkeypatch, seed):
    """Draw the same portrait again with the accessory in one flat colour, then in another, and no camera.

    The pixels that change between the two are the accessory's; those it covers at least half
    of are its mask (the image is drawn at twice the size and reduced, so edges are mixed).
    """
    _, _, mask = tasks.draw_target(np.random.default_rng([seed, 7]), 96, seed % 2, return_mask=True)
    polygon, line = faces.Canvas.polygon, faces.Canvas.line
    monkeypatch.setattr(faces, "_photograph", lambda image, rng: np.asarray(image.convert("RGB")))

    def flat(colour):
        def flat_polygon(canvas, points, fill, outline=None, width=0.0):
            worn = canvas.mask_ink == 255
            polygon(canvas, points, colour if worn else fill, colour if worn and outline else outline, width)

        def flat_line(canvas, points, fill, width):
            line(canvas, points, colour if canvas.mask_ink == 255 else fill, width)

        monkeypatch.setattr(faces.Canvas, "polygon", flat_polygon)
        monkeypatch.setattr(faces.Canvas, "line", flat_line)
        return tasks.draw_target(np.random.default_rng([seed, 7]), 96, seed % 2, return_mask=True)

    magenta, _, same_mask = flat((255, 0, 255, 255))
    green, _, _ = flat((0, 255, 0, 255))
    assert np.array_equal(mask, same_mask) and mask.sum() > 20
    change = np.abs(magenta.astype(int) - green.astype(int)).max(axis=-1)  # 255 x the accessory's coverage
    assert not (mask & (change < 100)).any(), "the mask holds pixels the accessory does not cover"
    assert not (~mask & (change > 155)).any(), "the accessory covers pixels outside the mask"
