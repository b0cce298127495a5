"""Your own photos, uploaded from the browser, written into the class-folder layout the course reads.

On Binder or Colab a student has no folder of labelled photos, only a laptop or phone with some
pictures on it. :class:`PhotoUploader` is an upload button per class (ipywidgets ``FileUpload``)
that hands each file to :func:`save_photo`: the photo is decoded (JPEG, PNG, WebP, GIF, BMP, TIFF,
and HEIC/HEIF, what phones take, where the optional pillow-heif is installed), turned upright by
its EXIF orientation, shrunk to at most 1024 pixels a side and saved as ``folder/<class>/<safe name>-<hash>.jpg``. The
same photo twice is skipped, wherever it was put; unreadable or huge files are refused, by name.
The folder then goes to any lecture or the exercise unchanged: ``PHOTOS = uploader.folder``.
The widget works with ipywidgets 8 (JupyterLab, Binder) and 7 (Colab), whose ``FileUpload``
values differ in shape (:func:`uploaded_files`).

Examples
--------
>>> import io, tempfile
>>> from PIL import Image
>>> png = io.BytesIO(); Image.new("RGB", (40, 30), "red").save(png, "PNG")
>>> folder = tempfile.mkdtemp()
>>> save_photo(folder, "hat", "My Hat (1).png", png.getvalue()).status
'saved'
>>> save_photo(folder, "sunglasses", "copy.png", png.getvalue()).status
'duplicate'
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import unicodedata
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from html import escape
from pathlib import Path

import ipywidgets as w
import PIL
from IPython.display import display
from PIL import Image, ImageOps, UnidentifiedImageError

from helpers.image_folders import SHRINK_TO
from helpers.tasks import TARGET_CLASSES

try:  # HEIC/HEIF, the format iPhones and many Android phones save photos in: the course's [heic] extra
    from pillow_heif import register_heif_opener

    register_heif_opener()
    HEIC = True
except ImportError:  # Colab has no pillow-heif, and its newest release would upgrade Colab's Pillow
    HEIC = False

#: The brands of the ISO base-media files that hold HEIC/HEIF photos (bytes 8-12, after "ftyp").
HEIF_BRANDS = (b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1")
#: What a HEIC photo gets where pillow-heif is missing: the install that keeps this Pillow as it is.
HEIC_MISSING = (
    "a HEIC photo, which needs pillow-heif: run "
    f'%pip install pillow-heif "pillow=={PIL.__version__}" in a cell, restart, and upload it again '
    "(or export it as JPEG)"
)

#: Files larger than this are refused before decoding (a phone photo is 2-12 MB).
MAX_BYTES = 30 * 1024 * 1024
#: Images of more pixels than this are refused (Pillow's own limit against decompression bombs).
MAX_PIXELS = 80_000_000
#: How many hex digits of a photo's SHA-256 go into its file name (and find it again).
HASH_DIGITS = 12


@dataclass(frozen=True)
class Upload:
    """What became of one uploaded file: ``status`` is ``"saved"``, ``"duplicate"`` or ``"refused"``."""

    name: str
    status: str
    detail: str
    path: Path | None = None


def safe_name(name: str) -> str:
    """A file-name stem that is safe on every system: ASCII letters, digits, ``-`` and ``_``.

    Examples
    --------
    >>> safe_name("../Ma photo d'été (2).HEIC")
    'ma-photo-d-ete-2'
    >>> safe_name("???.jpg")
    'photo'
    """
    stem = Path(name.replace("\\", "/")).name.rsplit(".", 1)[0]
    ascii_stem = unicodedata.normalize("NFKD", stem).encode("ascii", "ignore").decode()
    cleaned = re.sub(r"[^a-z0-9_]+", "-", ascii_stem.lower()).strip("-_")
    return cleaned[:60] or "photo"


def _class_folder(folder: Path, class_name: str) -> Path:
    if not class_name.strip() or class_name.startswith(".") or re.search(r'[/\\:*?"<>|]', class_name):
        raise ValueError(f"class name {class_name!r} cannot be a folder name: use letters, digits, spaces, '-' or '_'")
    return folder / class_name


def find_photo(folder: str | os.PathLike, content: bytes) -> Path | None:
    """The file :func:`save_photo` wrote for ``content`` in any class folder of ``folder``, if any."""
    digest = hashlib.sha256(content).hexdigest()[:HASH_DIGITS]
    return next(iter(sorted(Path(folder).glob(f"*/*-{digest}.jpg"))), None)


def save_photo(folder: str | os.PathLike, class_name: str, name: str, content: bytes) -> Upload:
    """Decode one uploaded photo, turn it upright, shrink it and save it as JPEG in ``folder/class_name``.

    Parameters
    ----------
    folder : path
        The photo set: one subfolder per class, created as needed.
    class_name : str
        Which class the photo shows (the subfolder's name).
    name : str
        The file's name on the student's machine (only its stem is kept, made safe).
    content : bytes
        The file as uploaded.

    Returns
    -------
    Upload
        ``"saved"`` with the new path, ``"duplicate"`` with where the same photo already is, or
        ``"refused"`` with the reason (too large, not an image, corrupt).
    """
    target = _class_folder(Path(folder), class_name)
    if len(content) > MAX_BYTES:
        return Upload(
            name, "refused", f"{len(content) / 2**20:.0f} MB, over {MAX_BYTES // 2**20} MB: send a smaller copy"
        )
    existing = find_photo(folder, content)
    if existing is not None:
        return Upload(name, "duplicate", f"already in {existing.parent.name}/ as {existing.name}", existing)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # refused below, by name
            image = Image.open(io.BytesIO(content))
        with image:
            if image.width * image.height > MAX_PIXELS:
                return Upload(
                    name, "refused", f"{image.width}x{image.height} pixels, over {MAX_PIXELS // 10**6} megapixels"
                )
            upright = ImageOps.exif_transpose(image).convert("RGB")
    except UnidentifiedImageError:
        if not HEIC and content[4:8] == b"ftyp" and content[8:12] in HEIF_BRANDS:
            return Upload(name, "refused", HEIC_MISSING)
        formats = "JPEG, PNG, WebP, GIF, BMP, TIFF" + (", HEIC" if HEIC else "")
        return Upload(name, "refused", f"not an image this course can read ({formats})")
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        return Upload(name, "refused", f"corrupt or truncated image ({exc})")
    upright.thumbnail((SHRINK_TO, SHRINK_TO))
    target.mkdir(parents=True, exist_ok=True)
    path = target / f"{safe_name(name)}-{hashlib.sha256(content).hexdigest()[:HASH_DIGITS]}.jpg"
    upright.save(path, quality=92)
    return Upload(name, "saved", f"{upright.width}x{upright.height}", path)


def uploaded_files(value: Mapping | tuple) -> list[tuple[str, bytes]]:
    """``(name, content)`` of each file in a ``FileUpload``'s ``value``, from ipywidgets 8 or 7.

    ipywidgets 8 holds a tuple of dicts with ``name`` and ``content`` (a ``memoryview``);
    ipywidgets 7, which Colab has, a dict from each name to ``{"metadata": ..., "content": bytes}``.

    Examples
    --------
    >>> uploaded_files(({"name": "a.jpg", "content": memoryview(b"x")},))  # ipywidgets 8
    [('a.jpg', b'x')]
    >>> uploaded_files({"a.jpg": {"metadata": {"name": "a.jpg"}, "content": b"x"}})  # ipywidgets 7
    [('a.jpg', b'x')]
    """
    if isinstance(value, Mapping):
        return [(name, bytes(item["content"])) for name, item in value.items()]
    return [(item["name"], bytes(item["content"])) for item in value]


def _thumbnail(path: Path, size: int = 96) -> bytes:
    with Image.open(path) as image:
        image.thumbnail((size, size))
        buffer = io.BytesIO()
        image.convert("RGB").save(buffer, "JPEG", quality=85)
    return buffer.getvalue()


class PhotoUploader:
    """Upload photos per class into ``folder`` and see what it holds.

    Pick a class, press *Upload photos* and choose files (several at once; on a phone, the camera
    roll). Each file is saved by :func:`save_photo`; the message under the buttons names what was
    saved, skipped as a duplicate or refused and why, and the grid shows every class's photos.

    Parameters
    ----------
    folder : path
        Where the photo set goes (created as needed); pass it on as ``PHOTOS``.
    classes : tuple of str
        The class folders to offer, at least two.

    Examples
    --------
    >>> uploader = PhotoUploader("my_photos")  # doctest: +SKIP
    >>> uploader  # the buttons and the grid  # doctest: +SKIP
    >>> PHOTOS = uploader.folder  # doctest: +SKIP
    """

    def __init__(self, folder: str | os.PathLike = "my_photos", classes: tuple[str, ...] = TARGET_CLASSES):
        if len(classes) < 2:
            raise ValueError(f"a classifier needs at least two classes, got {classes!r}")
        self.folder = Path(folder)
        for name in classes:
            _class_folder(self.folder, name)
        self.classes = tuple(classes)
        self.class_choice = w.ToggleButtons(options=self.classes, description="Class:")
        accept = "image/*,.heic,.heif" if HEIC else "image/*"
        self.upload = w.FileUpload(accept=accept, multiple=True, description="Upload photos")
        self.message = w.HTML()
        self.grid = w.VBox()
        #: what became of every file uploaded since the widget was made
        self.results: list[Upload] = []
        self.upload.observe(self._on_upload, names="value")
        self.widget = w.VBox([w.HBox([self.class_choice, self.upload]), self.message, self.grid])
        self.show_grid()

    def _ipython_display_(self):
        display(self.widget)

    def add(self, files: list[tuple[str, bytes]], class_name: str | None = None) -> list[Upload]:
        """Save ``(name, content)`` pairs into ``class_name`` (default: the class picked), as an upload does."""
        class_name = class_name or self.class_choice.value
        done = [save_photo(self.folder, class_name, name, content) for name, content in files]
        self.results += done
        self.message.value = self._describe(done, class_name)
        self.show_grid()
        return done

    def _on_upload(self, change) -> None:
        files = uploaded_files(change["new"])
        if files:
            self.add(files)
            # Emptied, so that the same files can be chosen again, into another class (set_trait:
            # ipywidgets 7 makes the value read-only, a dict; 8 a tuple).
            self.upload.set_trait("value", {} if isinstance(change["new"], Mapping) else ())

    @staticmethod
    def _describe(done: list[Upload], class_name: str) -> str:
        saved = sum(upload.status == "saved" for upload in done)
        lines = [f"<b>{saved} of {len(done)} photos saved in {escape(class_name)}/</b>"]
        for upload in done:
            text = escape(f"{upload.name}: {upload.status}, {upload.detail}")
            if upload.status == "duplicate":
                lines.append(text)
            elif upload.status == "refused":
                lines.append(f"<span style='color:#b00'>{text}</span>")
        return "<br>".join(lines)

    def counts(self) -> dict[str, int]:
        """How many photos each class folder holds."""
        return {name: len(list((self.folder / name).glob("*.jpg"))) for name in self.classes}

    def show_grid(self, per_class: int = 12) -> None:
        """Redraw the grid: per class, its count and its first ``per_class`` photos."""
        rows = []
        for name, count in self.counts().items():
            paths = sorted((self.folder / name).glob("*.jpg"))[:per_class]
            label = w.HTML(f"<b>{name}</b>: {count} photo{'s' if count != 1 else ''}", layout=w.Layout(width="180px"))
            images = [w.Image(value=_thumbnail(p), format="jpeg", width=96, height=96) for p in paths]
            rows.append(w.HBox([label, *images], layout=w.Layout(flex_flow="row wrap", align_items="center")))
        self.grid.children = rows
