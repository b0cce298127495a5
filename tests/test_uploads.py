"""Students' own photos through the upload widget: the folder it writes, what it refuses, and a lecture on it."""

from __future__ import annotations

import io
import warnings
from datetime import UTC, datetime

import ipywidgets
import nbformat
import numpy as np
import PIL
import pytest
from PIL import Image

from conftest import ROOT
from helpers import uploads
from helpers.image_folders import course_images, inspect_image_folder
from helpers.tasks import TARGET_CLASSES, make_sunglasses_vs_hat
from helpers.uploads import PhotoUploader, safe_name, save_photo
from tools.book import WidgetSafeClient
from tools.colab import in_colab_environment


def encoded(image: np.ndarray | Image.Image, fmt: str = "JPEG", **options) -> bytes:
    image = Image.fromarray(image) if isinstance(image, np.ndarray) else image
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def photo_files(n: int, seed: int = 0, fmt: str = "JPEG") -> dict[str, list[tuple[str, bytes]]]:
    """``n`` generated photos as uploaded files, by class name."""
    images, labels = make_sunglasses_vs_hat(n, seed=seed)
    files = {name: [] for name in TARGET_CLASSES}
    for index, (image, label) in enumerate(zip(images, labels, strict=True)):
        files[TARGET_CLASSES[label]].append((f"IMG_{seed}_{index:04d}.{fmt.lower()}", encoded(image, fmt)))
    return files


def test_a_photo_is_turned_upright_shrunk_and_saved_under_a_safe_name(tmp_path):
    # stored 2000x1000 (landscape), EXIF orientation 6: the camera was turned, the photo is a portrait
    exif = Image.Exif()
    exif[0x0112] = 6
    content = encoded(Image.new("RGB", (2000, 1000), "white"), exif=exif)
    upload = save_photo(tmp_path, "sunglasses", "../../Été à la plage.JPG", content)
    assert upload.status == "saved"
    assert upload.path.parent == tmp_path / "sunglasses"
    assert upload.path.name.startswith("ete-a-la-plage-") and upload.path.suffix == ".jpg"
    with Image.open(upload.path) as saved:
        assert saved.size == (512, 1024)  # upright (portrait) and at most 1024 pixels a side
        assert saved.getexif().get(0x0112) in (None, 1)


@pytest.mark.parametrize("fmt", ["PNG", "WEBP", "GIF"])
def test_web_formats_are_read(tmp_path, fmt):
    image = Image.new("RGBA" if fmt == "PNG" else "RGB", (64, 48), (200, 30, 30))
    upload = save_photo(tmp_path, "hat", f"photo.{fmt.lower()}", encoded(image, fmt))
    assert upload.status == "saved", upload.detail
    with Image.open(upload.path) as saved:
        assert (saved.format, saved.mode, saved.size) == ("JPEG", "RGB", (64, 48))


def test_a_phone_photo_in_heic_is_read_or_refused_with_the_install_that_keeps_pillow(tmp_path):
    """HEIC needs the optional pillow-heif: the course's environment has it, Colab's has not."""
    if not in_colab_environment():
        assert uploads.HEIC, "pip install -e '.[test]' installs pillow-heif (the [heic] extra)"
    upload = save_photo(tmp_path, "hat", "IMG_0001.HEIC", (ROOT / "tests" / "data" / "phone_photo.heic").read_bytes())
    if uploads.HEIC:
        assert upload.status == "saved", upload.detail
        with Image.open(upload.path) as saved:
            assert saved.size == (64, 48)
    else:
        assert (upload.status, upload.detail) == ("refused", uploads.HEIC_MISSING)
        assert f'%pip install pillow-heif "pillow=={PIL.__version__}"' in upload.detail


def test_duplicates_are_skipped_wherever_they_are(tmp_path):
    content = encoded(make_sunglasses_vs_hat(1)[0][0])
    first = save_photo(tmp_path, "hat", "a.jpg", content)
    again = save_photo(tmp_path, "sunglasses", "b.jpg", content)
    assert (first.status, again.status) == ("saved", "duplicate")
    assert again.path == first.path and "hat/" in again.detail
    assert [p.name for p in tmp_path.glob("*/*")] == [first.path.name]


def test_unreadable_and_huge_files_are_refused_by_name(tmp_path, monkeypatch):
    refused = save_photo(tmp_path, "hat", "notes.jpg", b"this is not a photo")
    assert refused.status == "refused" and "not an image" in refused.detail and refused.name == "notes.jpg"
    truncated = encoded(Image.new("RGB", (300, 300), "blue"))[:400]
    assert save_photo(tmp_path, "hat", "cut.jpg", truncated).status == "refused"
    monkeypatch.setattr(uploads, "MAX_BYTES", 1000)
    big = save_photo(
        tmp_path, "hat", "big.png", encoded(np.random.default_rng(0).integers(0, 255, (64, 64, 3), np.uint8), "PNG")
    )
    assert big.status == "refused" and "MB" in big.detail
    monkeypatch.setattr(uploads, "MAX_BYTES", 30 * 2**20)
    monkeypatch.setattr(uploads, "MAX_PIXELS", 100)
    assert "megapixels" in save_photo(tmp_path, "hat", "wide.png", encoded(Image.new("RGB", (20, 20)), "PNG")).detail
    assert not any(tmp_path.rglob("*.jpg"))


def test_a_decompression_bomb_is_refused_quietly(tmp_path):
    bomb = encoded(Image.new("1", (10_000, 10_000)), "PNG")  # 100 megapixels in a few kilobytes
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        upload = save_photo(tmp_path, "hat", "bomb.png", bomb)
    assert upload.status == "refused" and "10000x10000 pixels" in upload.detail
    assert [str(w.message) for w in caught] == []


@pytest.mark.parametrize("name", ["", "../hat", ".hidden", "a/b"])
def test_class_names_that_are_not_folder_names_are_refused(tmp_path, name):
    with pytest.raises(ValueError, match="cannot be a folder name"):
        PhotoUploader(tmp_path, classes=(name, "hat"))


def test_safe_names_stay_inside_the_class_folder():
    assert safe_name("../../etc/passwd") == "passwd"
    assert safe_name("C:\\Users\\me\\IMG 0001.HEIC") == "img-0001"


#: Colab's ipywidgets: its FileUpload holds a dict by file name, where 8 holds a tuple
IPYWIDGETS_7 = int(ipywidgets.__version__.split(".")[0]) < 8


def browser_sends(upload, files: list[tuple[str, bytes]]) -> None:
    """Set ``upload`` (a ``FileUpload``) as its browser side does when ``files`` are chosen, in ipywidgets 8 or 7."""
    if IPYWIDGETS_7:  # metadata and data, then the counter that makes the value a dict by name
        upload.metadata = [{"name": name, "type": "image/jpeg", "size": len(content)} for name, content in files]
        upload.data = [content for _, content in files]
        upload._counter += 1
    else:  # the value itself: a tuple of dicts
        upload.value = tuple(
            {
                "name": name,
                "type": "image/jpeg",
                "size": len(content),
                "content": memoryview(content),
                "last_modified": datetime.now(UTC),
            }
            for name, content in files
        )


def test_the_widget_saves_what_is_uploaded_and_shows_it_per_class(tmp_path):
    uploader = PhotoUploader(tmp_path / "photos")
    files = photo_files(8)
    for name in TARGET_CLASSES:
        uploader.class_choice.value = name
        browser_sends(uploader.upload, files[name] + [("broken.jpg", b"\xff\xd8 not really")])
        assert uploader.upload.value == ({} if IPYWIDGETS_7 else ())  # emptied, ready for the next class
        assert "broken.jpg: refused" in uploader.message.value
    assert uploader.counts() == {name: len(files[name]) for name in TARGET_CLASSES}
    rows = uploader.grid.children
    assert [len(row.children) - 1 for row in rows] == [len(files[name]) for name in TARGET_CLASSES]
    assert rows[0].children[0].value.startswith(f"<b>{TARGET_CLASSES[0]}</b>: {len(files[TARGET_CLASSES[0]])} photos")
    again = uploader.add(files["hat"][:2], "sunglasses")
    assert [u.status for u in again] == ["duplicate", "duplicate"]


def test_the_course_loads_the_uploaded_folder_unchanged(tmp_path):
    uploader = PhotoUploader(tmp_path / "photos")
    for name, files in photo_files(40, seed=1).items():
        uploader.add(files, name)
    report = inspect_image_folder(uploader.folder)
    assert report.skipped == [] and report.converted == []
    x_train, y_train, x_test, y_test, names = course_images(30, 10, photos=uploader.folder)
    assert names == TARGET_CLASSES and x_train.shape[1:] == (96, 96, 3) and len(x_train) + len(x_test) == 40


@pytest.mark.slow
def test_a_lecture_runs_on_the_uploaded_folder(tmp_path):
    """Lecture 3's opening (its results first) with ``PHOTOS`` set to the folder the widget wrote."""
    uploader = PhotoUploader(tmp_path / "photos")
    for name, files in photo_files(120, seed=2).items():
        uploader.add(files, name)
    nb = nbformat.read(ROOT / "lectures" / "03_feature_extraction.ipynb", as_version=4)
    settings = next(i for i, cell in enumerate(nb.cells) if cell.source.startswith("# Offline by default"))
    nb.cells[settings].source = nb.cells[settings].source.replace("PHOTOS = None", f"PHOTOS = {str(uploader.folder)!r}")
    assert str(uploader.folder) in nb.cells[settings].source
    first_result = next(i for i, cell in enumerate(nb.cells) if "course_images(" in cell.source)
    nb.cells = nb.cells[: first_result + 2]  # the features, then the heads trained on them
    WidgetSafeClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": tmp_path}}).execute()
    outputs = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.outputs]
    assert [o for o in outputs if o.output_type == "error"] == []
    printed = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    assert "features:" in printed and "logistic regression" in printed
