"""Folders of images, the way real photos arrive: export, check, clean and load them.

A photo set is a folder with one subfolder per class (``photos/hat/*.jpg``,
``photos/sunglasses/*.jpg``), the layout ``keras.utils.image_dataset_from_directory`` reads.
The functions here write the offline images in that layout, check a folder before loading it,
convert what Keras cannot decode, and load it as training and validation datasets.

Examples
--------
>>> import tempfile
>>> root = export_image_folder(*make_sunglasses_vs_hat(6), tempfile.mkdtemp())
>>> inspect_image_folder(root).n_images
6
"""

from __future__ import annotations

import helpers.quiet  # noqa: F401  (first: TensorFlow without its import notices)

import hashlib
import os
import shutil
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import keras
import numpy as np
from PIL import Image, UnidentifiedImageError

from helpers.downloads import course_data_dir
from helpers.tasks import IMAGE_SIZE, TARGET_CLASSES, draw_seed, make_sunglasses_vs_hat

# Formats that keras.utils.image_dataset_from_directory decodes itself.
KERAS_FORMATS = {".jpg", ".jpeg", ".png", ".bmp", ".gif"}
# Images above this many pixels are shrunk before loading (a 24-megapixel photo is 70 MB decoded).
MAX_PIXELS = 4096 * 4096
SHRINK_TO = 1024


def export_image_folder(
    images: np.ndarray,
    labels: np.ndarray,
    directory: str | os.PathLike,
    class_names: tuple[str, ...] = TARGET_CLASSES,
    *,
    quality: int = 95,
    exist_ok: bool = False,
) -> Path:
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


def sunglasses_vs_hat_folder(
    n_images: int = 500, *, seed: int = 0, directory: str | os.PathLike | None = None, image_size: int = IMAGE_SIZE
) -> Path:
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
        raise FileExistsError(
            f"{target} holds something other than {n_images} course images; remove it or pass another directory"
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    images, labels = make_sunglasses_vs_hat(n_images, seed=seed, image_size=image_size)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=f".{target.name}-") as scratch:
        export_image_folder(images, labels, Path(scratch) / "set")
        try:
            if target.exists():
                target.rmdir()
            os.replace(Path(scratch) / "set", target)
        except OSError:  # another kernel made the same folder meanwhile: the same images, kept
            if len(list(target.glob("*/*.jpg"))) != n_images:
                raise
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
            lines.append(
                f"{len(self.converted)} converted to 8-bit RGB first, e.g. "
                f"{self.converted[0][0].name} ({self.converted[0][1]})"
            )
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
    layout = f"Put the images in one subfolder per class, for example {root}/hat/*.jpg and {root}/sunglasses/*.jpg."
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
            raise ValueError(
                f"{root} holds a single folder, {folders[0].name!r}, which holds the class "
                f"folders: load {folders[0]} instead."
            )
        raise ValueError(
            f"{root} has a single class folder, {folders[0].name!r}: a classifier needs at least two. {layout}"
        )
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


def load_image_folder(
    directory: str | os.PathLike,
    *,
    image_size: int = IMAGE_SIZE,
    batch_size: int = 32,
    validation_split: float = 0.2,
    seed: int = 0,
    cache_dir: str | os.PathLike | None = None,
):
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
    if not 0 < validation_split < 1:
        raise ValueError(f"validation_split must be strictly between 0 and 1, got {validation_split}")
    report = inspect_image_folder(directory)
    if report.skipped:
        warnings.warn(
            f"{len(report.skipped)} files skipped while loading {report.root}:\n"
            + "\n".join(f"  {path}: {reason}" for path, reason in report.skipped[:10])
            + (f"\n  ... and {len(report.skipped) - 10} more" if len(report.skipped) > 10 else ""),
            stacklevel=2,
        )
    source = report.root
    if report.skipped or report.converted:
        cache = Path(cache_dir) if cache_dir else Path(tempfile.gettempdir()) / "course-clean-images"
        source = _clean_copy(report, cache)
        if report.converted:
            warnings.warn(
                f"{len(report.converted)} images converted to 8-bit RGB in {source}, e.g. "
                f"{report.converted[0][0].name} ({report.converted[0][1]})",
                stacklevel=2,
            )
    smallest = min(len(files) for files in report.classes.values())
    if report.n_images * validation_split < 1 or smallest < 2:
        raise ValueError(
            f"{report.summary()}\nToo few images to hold out a validation set: add images "
            f"(at least 2 per class) or lower validation_split."
        )
    train, validation = keras.utils.image_dataset_from_directory(
        source,
        validation_split=validation_split,
        subset="both",
        seed=seed,
        image_size=(image_size, image_size),
        batch_size=batch_size,
        label_mode="int",
    )
    return train, validation


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


def course_images(
    n_train: int, n_test: int, *, photos: str | os.PathLike | None = None, seed: int = 0, image_size: int = IMAGE_SIZE
):
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
        x_test, y_test = make_sunglasses_vs_hat(n_test, seed=draw_seed("folder-test", seed), image_size=image_size)
        return x_train, y_train, x_test, y_test, TARGET_CLASSES
    split = n_test / (n_train + n_test)
    train, test = load_image_folder(photos, image_size=image_size, validation_split=split, seed=seed)
    x_train, y_train = dataset_to_arrays(train)
    x_test, y_test = dataset_to_arrays(test)
    return x_train[:n_train], y_train[:n_train], x_test[:n_test], y_test[:n_test], tuple(train.class_names)
