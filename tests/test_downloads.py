"""helpers.downloads: archives downloaded once, checked by hash and extracted safely (from a loopback server)."""

from __future__ import annotations

import hashlib
import http.server
import io
import tarfile
import threading
import zipfile

import pytest

from helpers.downloads import download_archive, extract_archive


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
