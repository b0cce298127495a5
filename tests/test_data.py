"""helpers.data: generated images, image folders with bad input, and safe archive downloads."""

from __future__ import annotations

import hashlib
import http.server
import io
import tarfile
import threading
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from helpers import data, faces
from helpers.data import (
    SOURCE_CLASSES,
    TARGET_CLASSES,
    download_archive,
    export_image_folder,
    extract_archive,
    inspect_image_folder,
    load_image_folder,
    make_source_task,
    make_sunglasses_vs_hat,
)


# ------------------------------------------------------------------------------- generation
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


# ---------------------------------------------------------------------------- image folders
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


# -------------------------------------------------------------------------------- downloads
def _tar_gz(members: dict[str, bytes], links: dict[str, str] | None = None) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, content in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))
        for name, target in (links or {}).items():
            info = tarfile.TarInfo(name)
            info.type, info.linkname = tarfile.SYMTYPE, target
            tar.addfile(info)
    return buffer.getvalue()


def _zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        for name, content in members.items():
            z.writestr(name, content)
    return buffer.getvalue()


class _Files(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 (http.server's naming)
        self.server.requests.append(self.path)
        body = self.server.files.get(self.path.lstrip("/"))
        if body is None:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Files)
    httpd.files, httpd.requests = {}, []
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    httpd.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    yield httpd
    httpd.shutdown()
    httpd.server_close()


PHOTOS = {"photos/hat/1.jpg": b"one", "photos/sunglasses/2.jpg": b"two"}


@pytest.mark.parametrize("name,build", [("photos.tar.gz", _tar_gz), ("photos.zip", _zip)])
def test_download_checks_hash_extracts_and_caches(server, tmp_path, name, build):
    body = build(PHOTOS)
    server.files[name] = body
    sha = hashlib.sha256(body).hexdigest()
    folder = download_archive(f"{server.url}/{name}", sha, cache_dir=tmp_path)
    assert (folder / "photos" / "hat" / "1.jpg").read_bytes() == b"one"
    again = download_archive(f"{server.url}/{name}", sha, cache_dir=tmp_path)
    assert again == folder and len(server.requests) == 1


def test_download_with_wrong_hash_leaves_nothing(server, tmp_path):
    server.files["photos.zip"] = _zip(PHOTOS)
    with pytest.raises(ValueError, match="expected SHA-256"):
        download_archive(f"{server.url}/photos.zip", "0" * 64, cache_dir=tmp_path)
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []


def test_failed_download_leaves_nothing_and_suggests_offline(server, tmp_path):
    with pytest.raises(OSError, match="offline"):
        download_archive(f"{server.url}/missing.zip", "0" * 64, cache_dir=tmp_path)
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []
    with pytest.raises(ValueError, match="64 hex digits"):
        download_archive(f"{server.url}/x.zip", "abc", cache_dir=tmp_path)


@pytest.mark.parametrize(
    ("archive", "problem"),
    [
        (_tar_gz({"/etc/evil": b"x"}), "absolute path"),
        (_tar_gz({"photos/../../evil": b"x"}), "'..'"),
        (_tar_gz({"photos/a": b"x"}, links={"photos/link": "/etc/passwd"}), "is a link"),
        (_zip({"../evil": b"x"}), "'..'"),
        (_zip({"/abs/evil": b"x"}), "absolute path"),
    ],
)
def test_unsafe_archives_are_refused_whole(tmp_path, archive, problem):
    path = tmp_path / "bad.archive"
    path.write_bytes(archive)
    with pytest.raises(ValueError, match=problem):
        extract_archive(path, tmp_path / "out")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.archive"]


def test_failed_extraction_leaves_no_half_written_folder(tmp_path, monkeypatch):
    path = tmp_path / "ok.zip"
    path.write_bytes(_zip(PHOTOS))

    def boom(self, *args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(zipfile.ZipFile, "extractall", boom)
    with pytest.raises(OSError, match="disk full"):
        extract_archive(path, tmp_path / "out")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ok.zip"]


def _constant_image(rng, size, label):
    return np.full((size, size, 3), label, np.uint8)


def test_generation_chunks_cover_every_index():
    # 600 images from index 5 span three chunks; labels follow the global index.
    images, labels = data._generate(_constant_image, 3, 600, 0, 32, 5, 1, False, "x")
    assert labels[:3].tolist() == [2, 0, 1] and (images[:, 0, 0, 0] == labels).all()


def test_generator_rejects_empty_counts():
    with pytest.raises(ValueError, match="n_images"):
        make_sunglasses_vs_hat(0)


def test_source_attributes_describe_the_same_images():
    images, labels, attributes = make_source_task(28, seed=4, return_attributes=True)
    plain, plain_labels = make_source_task(28, seed=4)
    np.testing.assert_array_equal(images, plain)
    assert attributes.shape == (28, 10) and (labels == plain_labels).all()
    seconds = attributes[:, 9].astype(int)
    assert (seconds >= -1).all() and (seconds != labels).all() and 0 < (seconds >= 0).sum() < 28
    assert (seconds[labels == SOURCE_CLASSES.index("nothing")] == -1).all()
    assert ((attributes[:, :2] > 0.2) & (attributes[:, :2] < 0.8)).all()  # face centres inside the image



def test_course_images_offline_and_from_a_photo_folder(folder):
    x, y, xt, yt, names = data.course_images(6, 4, seed=1)
    assert x.shape == (6, 96, 96, 3) and xt.shape == (4, 96, 96, 3) and names == TARGET_CLASSES
    assert not any(np.array_equal(a, b) for a in x for b in xt)  # test images are drawn apart
    x, y, xt, yt, names = data.course_images(16, 4, photos=folder)
    assert names == TARGET_CLASSES and len(x) == 16 and len(xt) == 4 and x.dtype == np.uint8


def test_rings_need_polar_coordinates():
    from sklearn.linear_model import LogisticRegression

    points, labels = data.make_rings(400)
    cartesian = LogisticRegression().fit(points, labels).score(points, labels)
    polar = LogisticRegression().fit(data.to_polar(points), labels).score(data.to_polar(points), labels)
    assert cartesian < 0.7 and polar > 0.95


def test_target_attributes_and_head_boxes():
    images, labels, attributes = make_sunglasses_vs_hat(6, seed=2, return_attributes=True)
    np.testing.assert_array_equal(images, make_sunglasses_vs_hat(6, seed=2)[0])  # same pictures either way
    boxes = data.head_boxes(attributes)
    assert ((boxes[:, 0] < boxes[:, 1]) & (boxes[:, 2] < boxes[:, 3])).all()
    centres_x = attributes[:, 0] * 96
    assert ((boxes[:, 2] <= centres_x) & (centres_x <= boxes[:, 3])).all()


def test_every_source_accessory_but_nothing_is_worn_in_exactly_one_place():
    grouped = [name for group in faces.SOURCE_GROUPS for name in group]
    assert sorted(grouped) == sorted(set(SOURCE_CLASSES) - {"nothing"})


def test_pick_draws_what_rng_choice_draws():
    # The generator's images, and so the bundled base's pretraining data, depend on this equivalence.
    for seed in range(200):
        ours, numpys = np.random.default_rng(seed), np.random.default_rng(seed)
        for options in (faces.HAT_STYLES, (-1, 1), (-1, 0, 1), (-0.7, 0.7), ["a", "b", "c", "d", "e"]):
            assert faces._pick(ours, options) == numpys.choice(options)
        assert ours.random() == numpys.random()
