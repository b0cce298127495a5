"""Course data: generated images, image folders the way real photos arrive, and archive downloads.

Offline (the default), the course draws its own images: the target task, people wearing a hat
or sunglasses, and a source task for pretraining, people wearing one of fourteen other
accessories. Online, the same code loads a photo archive or a folder of your own photos.

Examples
--------
>>> images, labels = make_sunglasses_vs_hat(4, seed=0)
>>> images.shape, images.dtype, labels.tolist()
((4, 96, 96, 3), dtype('uint8'), [0, 1, 0, 1])
"""

from __future__ import annotations

import contextlib
import hashlib
import multiprocessing
import os
import shutil
import sys
import tarfile
import tempfile
import warnings
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import numpy as np
from PIL import Image, UnidentifiedImageError
from tqdm.auto import tqdm

from helpers import faces

#: Class names of the target task, in the order ``image_dataset_from_directory`` sorts them.
TARGET_CLASSES: tuple[str, ...] = ("hat", "sunglasses")
#: Class names of the pretraining (source) task: no sunglasses, no hats.
SOURCE_CLASSES: tuple[str, ...] = tuple(faces.SOURCE_ACCESSORIES)
#: Side of the generated square images, in pixels.
IMAGE_SIZE = 96

# Formats that keras.utils.image_dataset_from_directory decodes itself.
KERAS_FORMATS = {".jpg", ".jpeg", ".png", ".bmp", ".gif"}
# Images above this many pixels are shrunk before loading (a 24-megapixel photo is 70 MB decoded).
MAX_PIXELS = 4096 * 4096
SHRINK_TO = 1024


# ------------------------------------------------------------------------------- generation
def _draw_range(args: tuple[Callable, int, int, int, int, int]) -> tuple[np.ndarray, ...]:
    """Draw images ``start..stop-1``; a draw function may return ``(image, extra)`` pairs."""
    draw, n_classes, seed, size, start, stop = args
    drawn = [draw(np.random.default_rng([seed, i]), size, i % n_classes) for i in range(start, stop)]
    if isinstance(drawn[0], tuple):
        return tuple(np.stack(part) for part in zip(*drawn, strict=True))
    return (np.stack(drawn),)


def _with_attributes(draw: Callable, rng: np.random.Generator, size: int, label: int) -> tuple[np.ndarray, ...]:
    attributes: dict = {}
    image = draw(rng, size, label, attributes)
    row = [*attributes["geometry"], attributes["hair_style"], attributes["expression"], *attributes["hair_colour"],
           attributes.get("second", -1)]
    return image, np.array(row, np.float32)


def _draw_source_with_attributes(rng: np.random.Generator, size: int, label: int) -> tuple[np.ndarray, ...]:
    return _with_attributes(faces.draw_source, rng, size, label)


def _draw_target_with_attributes(rng: np.random.Generator, size: int, label: int) -> tuple[np.ndarray, ...]:
    return _with_attributes(faces.draw_target, rng, size, label)


def _generate(draw: Callable, n_classes: int, n_images: int, seed: int, image_size: int, start: int,
              n_jobs: int, progress: bool, what: str) -> tuple[np.ndarray, ...]:
    """``(images, labels, *extras)`` for images ``start .. start + n_images - 1``."""
    if n_images < 1:
        raise ValueError(f"n_images must be at least 1, got {n_images}")
    if image_size < 32:
        raise ValueError(f"image_size must be at least 32 pixels, got {image_size}")
    chunk = 256
    jobs = [(draw, n_classes, seed, image_size, a, min(a + chunk, start + n_images))
            for a in range(start, start + n_images, chunk)]
    labels = (np.arange(start, start + n_images) % n_classes).astype(np.int32)
    parts = []
    with tqdm(total=n_images, desc=what, unit="img", disable=not progress) as bar, contextlib.ExitStack() as stack:
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
    images, *extras = (np.concatenate(column) for column in zip(*parts, strict=True))
    return (images, labels, *extras)


def make_sunglasses_vs_hat(n_images: int, *, seed: int = 0, image_size: int = IMAGE_SIZE, start: int = 0,
                           n_jobs: int = 1, progress: bool = False, return_attributes: bool = False):
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
        Also return what was drawn (see :func:`make_source_task`), for instance where the head is.

    Returns
    -------
    images : ndarray of uint8, shape (n_images, image_size, image_size, 3)
    labels : ndarray of int32, shape (n_images,)
        Indices into ``TARGET_CLASSES``.

    Examples
    --------
    >>> x, y = make_sunglasses_vs_hat(2, seed=1)
    >>> [TARGET_CLASSES[i] for i in y]
    ['hat', 'sunglasses']
    """
    draw = _draw_target_with_attributes if return_attributes else faces.draw_target
    return _generate(draw, len(TARGET_CLASSES), n_images, seed, image_size, start, n_jobs, progress,
                     "drawing sunglasses vs hat")


def make_source_task(n_images: int, *, seed: int = 0, image_size: int = IMAGE_SIZE, start: int = 0,
                     n_jobs: int = 1, progress: bool = False, return_attributes: bool = False):
    """Generate the pretraining task: which of ``SOURCE_CLASSES`` a person wears.

    A "nearby objective for which it is easy to generate labels": the same kind of portraits as
    the target task, with fourteen other accessories and neither sunglasses nor hats. Parameters
    and returns are those of :func:`make_sunglasses_vs_hat`; labels index ``SOURCE_CLASSES``.

    Half the portraits (none of the ``"nothing"`` class) wear a second accessory too, from
    another part of the body; ``labels`` is always the first one.

    With ``return_attributes=True`` a third array, float32 of shape ``(n_images, 10)``, describes
    each portrait for multi-task pretraining: face centre x and y and half-width (fractions of
    the image side), tilt (units of 30 degrees), hair style (index into ``faces.HAIR_STYLES``),
    expression (index into ``faces.EXPRESSIONS``), hair colour (red, green, blue, 0..1) and the
    second accessory (index into ``SOURCE_CLASSES``, -1 for none; always -1 for the target task).

    Examples
    --------
    >>> x, y = make_source_task(3, seed=0)
    >>> [SOURCE_CLASSES[i] for i in y]
    ['bow_tie', 'clear_glasses', 'earrings']
    """
    draw = _draw_source_with_attributes if return_attributes else faces.draw_source
    return _generate(draw, len(SOURCE_CLASSES), n_images, seed, image_size, start, n_jobs, progress,
                     "drawing source task")


# ---------------------------------------------------------------------------- image folders
def export_image_folder(images: np.ndarray, labels: np.ndarray, directory: str | os.PathLike,
                        class_names: tuple[str, ...] = TARGET_CLASSES, *, quality: int = 95,
                        exist_ok: bool = False) -> Path:
    """Write images as JPEG files in one folder per class, the layout real photo sets come in.

    Parameters
    ----------
    images : ndarray of uint8, shape (n, height, width, 3)
    labels : ndarray of int, shape (n,)
        Indices into ``class_names``.
    directory : path
        Where to write ``directory/<class>/<index>.jpg``.
    class_names : tuple of str
        Folder name of each label.
    quality : int
        JPEG quality, 1-95.
    exist_ok : bool
        Write into a folder that already holds files (files of the same name are replaced,
        nothing else is deleted). By default a non-empty folder is refused.

    Returns
    -------
    Path
        ``directory``.

    Examples
    --------
    >>> import tempfile
    >>> x, y = make_sunglasses_vs_hat(4)
    >>> root = export_image_folder(x, y, tempfile.mkdtemp())
    >>> sorted(p.name for p in root.iterdir())
    ['hat', 'sunglasses']
    """
    images, labels = np.asarray(images), np.asarray(labels)
    if images.ndim != 4 or images.shape[-1] != 3 or images.dtype != np.uint8:
        raise ValueError(f"images must be uint8 of shape (n, height, width, 3), got {images.dtype} {images.shape}")
    if len(labels) != len(images):
        raise ValueError(f"{len(images)} images but {len(labels)} labels")
    if len(labels) and not 0 <= labels.min() <= labels.max() < len(class_names):
        raise ValueError(f"labels must lie in 0..{len(class_names) - 1} for class_names={class_names}")
    root = Path(directory)
    if root.exists() and any(root.iterdir()) and not exist_ok:
        raise FileExistsError(f"{root} is not empty; choose a new folder or pass exist_ok=True")
    for name in class_names:
        (root / name).mkdir(parents=True, exist_ok=True)
    for index, (image, label) in enumerate(zip(images, labels, strict=True)):
        Image.fromarray(image).save(root / class_names[label] / f"{index:05d}.jpg", quality=quality)
    return root


def course_data_dir() -> Path:
    """Where the course keeps data it makes or downloads: ``$KERAS_HOME/datasets`` (default ``~/.keras``).

    The same cache ``keras.utils.get_file`` uses, so offline sets and downloaded photos sit together.

    Examples
    --------
    >>> course_data_dir().name
    'datasets'
    """
    return Path(os.environ.get("KERAS_HOME", "~/.keras")).expanduser() / "datasets"


def sunglasses_vs_hat_folder(n_images: int = 500, *, seed: int = 0, directory: str | os.PathLike | None = None,
                             image_size: int = IMAGE_SIZE) -> Path:
    """The offline sunglasses-vs-hat photos as a folder of JPEG files, one subfolder per class.

    Made once and reused: the folder is written beside its final place and renamed when complete,
    so an interrupted run never leaves a half-written set behind.

    Parameters
    ----------
    n_images : int
        How many images, about half of each class.
    seed : int
        Seed of the draw.
    directory : path, optional
        Where to put it (default: ``course_data_dir() / "sunglasses_vs_hat_<n_images>_<seed>_<image_size>"``).
    image_size : int
        Side of the square images.

    Returns
    -------
    Path
        The folder, holding ``hat/`` and ``sunglasses/``.

    Examples
    --------
    >>> import tempfile
    >>> folder = sunglasses_vs_hat_folder(6, directory=Path(tempfile.mkdtemp()) / "photos")
    >>> sorted(p.name for p in folder.iterdir()), len(list(folder.glob("*/*.jpg")))
    (['hat', 'sunglasses'], 6)
    """
    if n_images < 2:
        raise ValueError(f"n_images must be at least 2 (one per class), got {n_images}")
    target = Path(directory) if directory else course_data_dir() / f"sunglasses_vs_hat_{n_images}_{seed}_{image_size}"
    if len(list(target.glob("*/*.jpg"))) == n_images:
        return target
    if target.exists() and any(target.iterdir()):
        raise FileExistsError(f"{target} holds something other than {n_images} course images; remove it or "
                              f"pass another directory")
    target.parent.mkdir(parents=True, exist_ok=True)
    images, labels = make_sunglasses_vs_hat(n_images, seed=seed, image_size=image_size)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=f".{target.name}-") as scratch:
        export_image_folder(images, labels, Path(scratch) / "set")
        if target.exists():
            target.rmdir()
        os.replace(Path(scratch) / "set", target)
    return target


@dataclass
class FolderReport:
    """What :func:`inspect_image_folder` found in a folder of images."""

    root: Path
    #: usable images per class folder
    classes: dict[str, list[Path]] = field(default_factory=dict)
    #: files left out, with the reason
    skipped: list[tuple[Path, str]] = field(default_factory=list)
    #: images that load only after conversion (CMYK, 16-bit, huge, other formats), with the reason
    converted: list[tuple[Path, str]] = field(default_factory=list)

    @property
    def n_images(self) -> int:
        return sum(len(files) for files in self.classes.values())

    def summary(self) -> str:
        counts = ", ".join(f"{name}: {len(files)}" for name, files in self.classes.items())
        lines = [f"{self.root}: {self.n_images} images in {len(self.classes)} classes ({counts})"]
        if self.converted:
            lines.append(f"{len(self.converted)} converted to 8-bit RGB first, e.g. "
                         f"{self.converted[0][0].name} ({self.converted[0][1]})")
        if self.skipped:
            lines.append(f"{len(self.skipped)} files skipped, e.g. {self.skipped[0][0]} ({self.skipped[0][1]})")
        return "\n".join(lines)


def _check_image(path: Path) -> tuple[str, str | None]:
    """Return ``("ok" | "convert" | "skip", reason)`` for one file."""
    try:
        with Image.open(path) as image:
            image.load()  # decodes the whole file: catches truncated and corrupt data
            mode, pixels, fmt = image.mode, image.width * image.height, (image.format or "").lower()
    except Image.DecompressionBombError:
        return "skip", "too large to open safely; resize it below 80 megapixels"
    except UnidentifiedImageError:
        return "skip", "not an image file"
    except (OSError, SyntaxError, ValueError) as exc:
        return "skip", f"corrupt or truncated image ({exc})"
    if mode not in ("RGB", "L", "RGBA", "P", "LA"):
        return "convert", f"{mode} image"
    if pixels > MAX_PIXELS:
        return "convert", f"{pixels / 1e6:.0f} megapixels"
    if path.suffix.lower() not in KERAS_FORMATS or fmt not in ("jpeg", "png", "bmp", "gif"):
        return "convert", f"{fmt or path.suffix} file"
    return "ok", None


def inspect_image_folder(directory: str | os.PathLike) -> FolderReport:
    """Check a folder of images laid out as ``directory/<class>/<image>`` before loading it.

    Raises a ``ValueError`` that says what to do when the layout cannot work (missing or empty
    folder, images outside class folders, a single class, a class with no usable image);
    otherwise reports which files load as they are, which need converting and which are skipped.

    Examples
    --------
    >>> import tempfile
    >>> root = export_image_folder(*make_sunglasses_vs_hat(4), tempfile.mkdtemp())
    >>> inspect_image_folder(root).n_images
    4
    """
    root = Path(directory)
    layout = (f"Put the images in one subfolder per class, for example {root}/hat/*.jpg and "
              f"{root}/sunglasses/*.jpg.")
    if not root.exists():
        raise FileNotFoundError(f"There is no folder {root}. {layout}")
    if not root.is_dir():
        raise NotADirectoryError(f"{root} is a file, not a folder. {layout}")
    entries = sorted(p for p in root.iterdir() if not p.name.startswith("."))
    folders = [p for p in entries if p.is_dir()]
    loose = [p for p in entries if p.is_file()]
    if not folders:
        if loose:
            raise ValueError(f"{root} holds {len(loose)} files but no class subfolders. {layout}")
        raise ValueError(f"{root} is empty. {layout}")
    if len(folders) == 1:
        inner = [p for p in folders[0].iterdir() if p.is_dir() and not p.name.startswith(".")]
        if inner:
            raise ValueError(f"{root} holds a single folder, {folders[0].name!r}, which holds the class "
                             f"folders: load {folders[0]} instead.")
        raise ValueError(f"{root} has a single class folder, {folders[0].name!r}: a classifier needs "
                         f"at least two. {layout}")
    report = FolderReport(root)
    report.skipped += [(p, "not inside a class folder") for p in loose]
    for folder in folders:
        good = []
        for path in sorted(folder.rglob("*")):
            if path.is_dir() or any(part.startswith(".") for part in path.relative_to(root).parts):
                continue
            if path.parent != folder:
                report.skipped.append((path, f"nested below the class folder {folder.name!r}"))
                continue
            verdict, reason = _check_image(path)
            if verdict == "skip":
                report.skipped.append((path, reason))
                continue
            if verdict == "convert":
                report.converted.append((path, reason))
            good.append(path)
        if not good:
            raise ValueError(f"The class folder {folder} has no usable image. Add images to it or remove it.")
        report.classes[folder.name] = good
    return report


def _clean_copy(report: FolderReport, cache_dir: Path) -> Path:
    """Mirror the usable images of ``report`` into ``cache_dir``, converting those that need it."""
    key = hashlib.sha256(str(report.root.resolve()).encode()).hexdigest()[:16]
    target = cache_dir / f"{report.root.name}-{key}"
    if target.exists():
        shutil.rmtree(target)
    to_convert = {path for path, _ in report.converted}
    for name, files in report.classes.items():
        (target / name).mkdir(parents=True)
        for path in files:
            if path in to_convert:
                with Image.open(path) as image:
                    if image.mode.startswith("I;16") or image.mode in ("I", "F"):
                        # 16-bit and float images: scale the value range to 8 bits
                        values = np.asarray(image, dtype=np.float64)
                        span = max(values.max() - values.min(), 1e-9)
                        image = Image.fromarray(((values - values.min()) / span * 255).astype(np.uint8))
                    image = image.convert("RGB")
                    image.thumbnail((SHRINK_TO, SHRINK_TO))
                    image.save(target / name / f"{path.stem}.png")
            else:
                try:
                    os.link(path, target / name / path.name)
                except OSError:
                    shutil.copy2(path, target / name / path.name)
    return target


def load_image_folder(directory: str | os.PathLike, *, image_size: int = IMAGE_SIZE, batch_size: int = 32,
                      validation_split: float = 0.2, seed: int = 0, cache_dir: str | os.PathLike | None = None):
    """Load ``directory/<class>/<image>`` as training and validation ``tf.data.Dataset`` s.

    A thin layer over ``keras.utils.image_dataset_from_directory``: the folder is checked first
    (:func:`inspect_image_folder`), files that cannot load are skipped with a warning that counts
    them, and images Keras cannot decode itself (CMYK, 16-bit, huge, WebP or TIFF files) are
    converted into a clean copy under ``cache_dir`` first.

    Parameters
    ----------
    directory : path
        Folder with one subfolder per class.
    image_size : int
        Images are resized to ``(image_size, image_size)``.
    batch_size : int
        Batch size of both datasets.
    validation_split : float
        Fraction of the images held out for validation, strictly between 0 and 1.
    seed : int
        Seed of the split and of the shuffling.
    cache_dir : path, optional
        Where a converted copy goes if one is needed (default: a folder in the temp directory).

    Returns
    -------
    train, validation : tf.data.Dataset
        Batches of ``(float32 images in 0..255, int32 labels)``; ``train.class_names`` lists the
        classes in label order.

    Examples
    --------
    >>> import tempfile
    >>> root = export_image_folder(*make_sunglasses_vs_hat(10), tempfile.mkdtemp())
    >>> train, val = load_image_folder(root, batch_size=4)
    Found 10 files belonging to 2 classes.
    Using 8 files for training.
    Using 2 files for validation.
    >>> train.class_names
    ['hat', 'sunglasses']
    """
    import keras

    if not 0 < validation_split < 1:
        raise ValueError(f"validation_split must be strictly between 0 and 1, got {validation_split}")
    report = inspect_image_folder(directory)
    if report.skipped:
        warnings.warn(f"{len(report.skipped)} files skipped while loading {report.root}:\n" + "\n".join(
            f"  {path}: {reason}" for path, reason in report.skipped[:10]) + (
            f"\n  ... and {len(report.skipped) - 10} more" if len(report.skipped) > 10 else ""), stacklevel=2)
    source = report.root
    if report.skipped or report.converted:
        cache = Path(cache_dir) if cache_dir else Path(tempfile.gettempdir()) / "course-clean-images"
        source = _clean_copy(report, cache)
        if report.converted:
            warnings.warn(f"{len(report.converted)} images converted to 8-bit RGB in {source}, e.g. "
                          f"{report.converted[0][0].name} ({report.converted[0][1]})", stacklevel=2)
    smallest = min(len(files) for files in report.classes.values())
    if report.n_images * validation_split < 1 or smallest < 2:
        raise ValueError(f"{report.summary()}\nToo few images to hold out a validation set: add images "
                         f"(at least 2 per class) or lower validation_split.")
    train, validation = keras.utils.image_dataset_from_directory(
        source, validation_split=validation_split, subset="both", seed=seed, image_size=(image_size, image_size),
        batch_size=batch_size, label_mode="int",
    )
    return train, validation


# -------------------------------------------------------------------------------- downloads
def _unsafe_member(name: str, is_link: bool, is_special: bool = False) -> str | None:
    path = PurePosixPath(name.replace("\\", "/"))
    if is_link:
        return "is a link"
    if is_special:
        return "is a device or FIFO"
    if path.is_absolute() or name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
        return "has an absolute path"
    if ".." in path.parts:
        return "climbs out of the folder with '..'"
    return None


def extract_archive(archive: str | os.PathLike, destination: str | os.PathLike) -> Path:
    """Extract a zip or tar archive into ``destination``, refusing anything unsafe.

    The whole archive is refused, before anything is written, if a member has an absolute path,
    a ``..`` component, or is a link or a device. Extraction goes to a temporary folder beside
    ``destination`` that is renamed into place at the end, so a failure leaves nothing behind.

    Examples
    --------
    >>> import tempfile, zipfile, pathlib
    >>> tmp = pathlib.Path(tempfile.mkdtemp())
    >>> with zipfile.ZipFile(tmp / "a.zip", "w") as z:
    ...     z.writestr("hat/1.txt", "x")
    >>> sorted(p.name for p in extract_archive(tmp / "a.zip", tmp / "out").iterdir())
    ['hat']
    """
    archive, destination = Path(archive), Path(destination)
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as z:
            members = [(m.filename, (m.external_attr >> 16) & 0o170000 == 0o120000, False) for m in z.infolist()]
            opener = zipfile.ZipFile
    elif tarfile.is_tarfile(archive):
        with tarfile.open(archive) as t:
            members = [(m.name, m.issym() or m.islnk(), not (m.isfile() or m.isdir())) for m in t.getmembers()]
            opener = tarfile.open
    else:
        raise ValueError(f"{archive} is neither a zip nor a tar archive")
    for name, is_link, is_special in members:
        problem = _unsafe_member(name, is_link, is_special and not is_link)
        if problem:
            raise ValueError(f"Refusing to extract {archive.name}: its member {name!r} {problem}.")
    destination.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{destination.name}-", dir=destination.parent))
    try:
        with opener(archive) as opened:
            opened.extractall(staging)
        if destination.exists():
            shutil.rmtree(destination)
        staging.rename(destination)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return destination


def download_archive(url: str, sha256: str, *, name: str | None = None,
                     cache_dir: str | os.PathLike | None = None) -> Path:
    """Download a zip or tar archive once, check its SHA-256, and extract it safely.

    Built on ``keras.utils.get_file`` (its cache and hash check); a download that fails or
    whose hash does not match leaves no file behind, and extraction goes through
    :func:`extract_archive`.

    Parameters
    ----------
    url : str
        Where the archive is.
    sha256 : str
        The archive's SHA-256 as 64 hex digits (``sha256sum FILE`` prints it); required, so a
        changed or tampered archive is never used.
    name : str, optional
        File name in the cache (default: the last part of the URL).
    cache_dir : path, optional
        Cache folder (default: Keras' own, ``~/.keras``); files go in its ``datasets`` folder.

    Returns
    -------
    Path
        The folder the archive was extracted into, ``<cache>/datasets/<name without suffix>``.

    Examples
    --------
    >>> folder = download_archive("https://example.org/photos.zip", "ab" * 32)  # doctest: +SKIP
    """
    import keras

    if not (isinstance(sha256, str) and len(sha256) == 64 and all(c in "0123456789abcdef" for c in sha256.lower())):
        raise ValueError(f"sha256 must be 64 hex digits (sha256sum prints it), got {sha256!r}")
    name = name or PurePosixPath(url.split("?")[0]).name
    if not name:
        raise ValueError(f"Cannot tell a file name from {url!r}; pass name=")
    datasets = Path(cache_dir).expanduser() / "datasets" if cache_dir else course_data_dir()
    target = datasets / name
    extracted = target.parent / name.split(".")[0]
    if extracted.is_dir() and (extracted / ".sha256").is_file() and (extracted / ".sha256").read_text() == sha256:
        return extracted
    try:
        path = keras.utils.get_file(fname=name, origin=url, file_hash=sha256, hash_algorithm="sha256",
                                    cache_dir=str(datasets.parent), cache_subdir=datasets.name)
    except Exception as exc:
        target.unlink(missing_ok=True)
        if "hash does not match" in str(exc):
            raise ValueError(f"The file at {url} does not have the expected SHA-256 {sha256}; it was "
                             "deleted. The archive changed or the download was corrupted.") from exc
        raise OSError(f"Could not download {url}: {exc}. Check your network connection, or work "
                      "offline with the generated data (make_sunglasses_vs_hat).") from exc
    extract_archive(path, extracted)
    (extracted / ".sha256").write_text(sha256)
    return extracted


# ----------------------------------------------------------------------------- 2-D toy data
def make_rings(n_points: int = 400, *, seed: int = 0, noise: float = 0.12) -> tuple[np.ndarray, np.ndarray]:
    """Two concentric rings: hard for a linear classifier on (x, y), easy on (r, theta).

    Returns ``points`` (float, shape ``(n_points, 2)``) and ``labels`` (0: inner ring, 1: outer).

    Examples
    --------
    >>> points, labels = make_rings(10)
    >>> points.shape, labels.tolist()[:4]
    ((10, 2), [0, 1, 0, 1])
    """
    rng = np.random.default_rng(seed)
    labels = np.arange(n_points) % 2
    radius = np.where(labels == 0, 1.0, 2.0) + rng.normal(0, noise, n_points)
    angle = rng.uniform(-np.pi, np.pi, n_points)
    return np.stack([radius * np.cos(angle), radius * np.sin(angle)], axis=1), labels


def to_polar(points: np.ndarray) -> np.ndarray:
    """(x, y) -> (r, theta): the representation that makes the rings linearly separable."""
    points = np.asarray(points, np.float64)
    return np.stack([np.hypot(points[:, 0], points[:, 1]), np.arctan2(points[:, 1], points[:, 0])], axis=1)


# ------------------------------------------------------------------------------- notebooks
def head_boxes(attributes: np.ndarray, image_size: int = IMAGE_SIZE) -> np.ndarray:
    """Pixel boxes ``(top, bottom, left, right)`` around each drawn head and whatever it wears.

    From the geometry columns of ``return_attributes=True``: tall enough above the face for a top
    hat, wide enough for a sun hat's brim, down to the chin.

    Examples
    --------
    >>> _, _, attributes = make_sunglasses_vs_hat(2, return_attributes=True)
    >>> head_boxes(attributes).shape
    (2, 4)
    """
    cx, cy, half_width = (np.asarray(attributes)[:, i] * image_size for i in range(3))
    boxes = np.stack([cy - 3.2 * half_width, cy + 1.5 * half_width, cx - 2.1 * half_width, cx + 2.1 * half_width], 1)
    return np.clip(np.round(boxes), 0, image_size).astype(int)


def dataset_to_arrays(dataset) -> tuple[np.ndarray, np.ndarray]:
    """Collect a batched ``tf.data.Dataset`` of ``(images, labels)`` into uint8 images and int labels.

    Examples
    --------
    >>> import tensorflow as tf, numpy as np
    >>> ds = tf.data.Dataset.from_tensor_slices((np.zeros((3, 4, 4, 3)), [0, 1, 0])).batch(2)
    >>> [a.shape for a in dataset_to_arrays(ds)]
    [(3, 4, 4, 3), (3,)]
    """
    images, labels = [], []
    for batch_images, batch_labels in dataset:
        images.append(np.asarray(batch_images).clip(0, 255).astype(np.uint8))
        labels.append(np.asarray(batch_labels).astype(np.int32))
    return np.concatenate(images), np.concatenate(labels)


def course_images(n_train: int, n_test: int, *, photos: str | os.PathLike | None = None, seed: int = 0,
                  image_size: int = IMAGE_SIZE):
    """Training and test images for a notebook: generated offline, or your own photos.

    Parameters
    ----------
    n_train, n_test : int
        How many images of each (for photos: the most to take; the split is 80/20 by default).
    photos : path, optional
        A folder with one subfolder per class. ``None`` draws the sunglasses-vs-hat task.
    seed : int
        Seed of the draw (the test set uses another seed, so it never overlaps training).
    image_size : int
        Side of the square images.

    Returns
    -------
    x_train, y_train, x_test, y_test, class_names

    Examples
    --------
    >>> x, y, xt, yt, names = course_images(4, 2)
    >>> x.shape, xt.shape, names
    ((4, 96, 96, 3), (2, 96, 96, 3), ('hat', 'sunglasses'))
    """
    if photos is None:
        x_train, y_train = make_sunglasses_vs_hat(n_train, seed=seed, image_size=image_size)
        x_test, y_test = make_sunglasses_vs_hat(n_test, seed=seed + 10_000, image_size=image_size)
        return x_train, y_train, x_test, y_test, TARGET_CLASSES
    split = n_test / (n_train + n_test)
    train, test = load_image_folder(photos, image_size=image_size, validation_split=split, seed=seed)
    x_train, y_train = dataset_to_arrays(train)
    x_test, y_test = dataset_to_arrays(test)
    return x_train[:n_train], y_train[:n_train], x_test[:n_test], y_test[:n_test], tuple(train.class_names)
