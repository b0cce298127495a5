"""Downloads for the online mode: the course's cache folder, and archives fetched, checked and extracted safely.

Examples
--------
>>> course_data_dir().name
'datasets'
"""

from __future__ import annotations

import helpers.quiet  # noqa: F401  (first: TensorFlow without its import notices)

import os
import shutil
import tarfile
import tempfile
import zipfile
from pathlib import Path, PurePosixPath

import keras


def course_data_dir() -> Path:
    """Where the course keeps data it makes or downloads: ``$KERAS_HOME/datasets`` (default ``~/.keras``).

    The same cache ``keras.utils.get_file`` uses, so offline sets and downloaded photos sit together.

    Examples
    --------
    >>> course_data_dir().name
    'datasets'
    """
    return Path(os.environ.get("KERAS_HOME", "~/.keras")).expanduser() / "datasets"


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


def download_archive(
    url: str, sha256: str, *, name: str | None = None, cache_dir: str | os.PathLike | None = None
) -> Path:
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
        path = keras.utils.get_file(
            fname=name,
            origin=url,
            file_hash=sha256,
            hash_algorithm="sha256",
            cache_dir=str(datasets.parent),
            cache_subdir=datasets.name,
        )
    except Exception as exc:
        target.unlink(missing_ok=True)
        if "hash does not match" in str(exc):
            raise ValueError(
                f"The file at {url} does not have the expected SHA-256 {sha256}; it was "
                "deleted. The archive changed or the download was corrupted."
            ) from exc
        raise OSError(
            f"Could not download {url}: {exc}. Check your network connection, or work "
            "offline with the generated data (make_sunglasses_vs_hat)."
        ) from exc
    extract_archive(path, extracted)
    (extracted / ".sha256").write_text(sha256)
    return extracted
