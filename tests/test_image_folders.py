"""helpers.image_folders: folders of photos, exported, checked, cleaned and loaded, whatever is in them."""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from helpers.image_folders import (
    course_images,
    export_image_folder,
    inspect_image_folder,
    load_image_folder,
    sunglasses_vs_hat_folder,
)
from helpers.tasks import TARGET_CLASSES, make_sunglasses_vs_hat


@pytest.fixture
def folder(tmp_path):
    images, labels = make_sunglasses_vs_hat(20, seed=2)
    return export_image_folder(images, labels, tmp_path / "photos")


def _count(dataset) -> int:
    return sum(int(batch[1].shape[0]) for batch in dataset)


def test_export_and_load_round_trip(folder):
    assert sorted(p.name for p in folder.iterdir()) == list(TARGET_CLASSES)
    assert len(list((folder / "hat").glob("*.jpg"))) == 10
    train, val = load_image_folder(folder, batch_size=8, validation_split=0.2)
    assert train.class_names == list(TARGET_CLASSES)
    assert (_count(train), _count(val)) == (16, 4)
    images, labels = next(iter(train))
    assert images.shape[1:] == (96, 96, 3) and float(images.numpy().max()) > 1.0


def test_export_refuses_a_non_empty_folder(folder):
    images, labels = make_sunglasses_vs_hat(2)
    with pytest.raises(FileExistsError, match="exist_ok=True"):
        export_image_folder(images, labels, folder)
    with pytest.raises(ValueError, match="labels must lie"):
        export_image_folder(images, labels + 5, folder, exist_ok=True)


def _save(path: Path, image: Image.Image, **kw) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, **kw)
    return path


def test_bad_files_are_skipped_or_converted_never_a_tensorflow_error(folder, tmp_path):
    good_jpeg = (folder / "hat" / "00000.jpg").read_bytes()
    (folder / "hat" / "truncated.jpg").write_bytes(good_jpeg[: len(good_jpeg) // 3])
    (folder / "hat" / "notes.txt").write_text("not an image")
    (folder / "hat" / "fake.jpg").write_bytes(b"\x00" * 100)
    rgb = Image.fromarray(make_sunglasses_vs_hat(1)[0][0])
    _save(folder / "hat" / "gray.png", rgb.convert("L"))
    _save(folder / "hat" / "rgba.png", rgb.convert("RGBA"))
    _save(folder / "sunglasses" / "cmyk.jpg", rgb.convert("CMYK"))
    _save(folder / "sunglasses" / "deep.png", Image.fromarray(np.asarray(rgb.convert("L"), np.uint16) * 257))
    _save(folder / "sunglasses" / "photo.webp", rgb)
    _save(folder / "sunglasses" / "huge.png", rgb.resize((4200, 4200)), compress_level=1)
    _save(folder / "sunglasses" / "nested" / "deeper.jpg", rgb)
    (folder / "stray.jpg").write_bytes(good_jpeg)

    report = inspect_image_folder(folder)
    skipped = {path.name: reason for path, reason in report.skipped}
    assert set(skipped) == {"truncated.jpg", "notes.txt", "fake.jpg", "deeper.jpg", "stray.jpg"}
    assert "corrupt or truncated" in skipped["truncated.jpg"]
    assert "not an image" in skipped["notes.txt"]
    assert "nested" in skipped["deeper.jpg"] and "not inside a class folder" in skipped["stray.jpg"]
    converted = {path.name for path, _ in report.converted}
    assert converted == {"cmyk.jpg", "deep.png", "photo.webp", "huge.png"}
    assert report.n_images == 20 + 2 + 4

    with pytest.warns(UserWarning, match="5 files skipped") as record:
        train, val = load_image_folder(folder, batch_size=64, validation_split=0.25, cache_dir=tmp_path / "c")
    assert any("4 images converted" in str(w.message) for w in record)
    assert _count(train) + _count(val) == 26  # every batch decodes


@pytest.mark.parametrize(
    ("layout", "error", "message"),
    [
        ({}, ValueError, "is empty"),
        ({"a.jpg": True}, ValueError, "no class subfolders"),
        ({"hat/a.jpg": True}, ValueError, "single class folder"),
        ({"photos/hat/a.jpg": True, "photos/sunglasses/b.jpg": True}, ValueError, "load .*photos instead"),
        ({"hat/a.jpg": True, "sunglasses/notes.txt": False}, ValueError, "sunglasses has no usable image"),
    ],
)
def test_layout_errors_say_what_to_do(tmp_path, layout, error, message):
    root = tmp_path / "root"
    root.mkdir()
    jpeg = io.BytesIO()
    Image.new("RGB", (8, 8)).save(jpeg, format="JPEG")
    for name, is_image in layout.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(jpeg.getvalue() if is_image else b"text")
    with pytest.raises(error, match=message):
        load_image_folder(root)


def test_missing_folder_and_too_few_images(tmp_path, folder):
    with pytest.raises(FileNotFoundError, match="one subfolder per class"):
        load_image_folder(tmp_path / "nowhere")
    tiny = export_image_folder(*make_sunglasses_vs_hat(2), tmp_path / "tiny")
    with pytest.raises(ValueError, match="Too few images"):
        load_image_folder(tiny)
    with pytest.raises(ValueError, match="validation_split"):
        load_image_folder(folder, validation_split=1.0)


def test_course_images_offline_and_from_a_photo_folder(folder):
    x, y, xt, yt, names = course_images(6, 4, seed=1)
    assert x.shape == (6, 96, 96, 3) and xt.shape == (4, 96, 96, 3) and names == TARGET_CLASSES
    assert not any(np.array_equal(a, b) for a in x for b in xt)  # test images are drawn apart
    x, y, xt, yt, names = course_images(16, 4, photos=folder)
    assert names == TARGET_CLASSES and len(x) == 16 and len(xt) == 4 and x.dtype == np.uint8


def test_two_kernels_making_the_same_course_folder_at_once_both_get_it(tmp_path, monkeypatch):
    """Two notebooks run at once (as the tests run them) may both find the folder missing and both make it."""
    target, replace = tmp_path / "photos", os.replace

    def the_other_kernel_finishes_first(source, destination):
        monkeypatch.setattr(os, "replace", replace)
        sunglasses_vs_hat_folder(6, directory=target)
        replace(source, destination)  # raises: the folder is there, and not empty

    monkeypatch.setattr(os, "replace", the_other_kernel_finishes_first)
    assert sunglasses_vs_hat_folder(6, directory=target) == target
    assert len(list(target.glob("*/*.jpg"))) == 6 and not list(tmp_path.glob(".photos-*")), "no scratch left"
