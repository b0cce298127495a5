"""Shared test set-up.

The network guard lives in pyproject.toml's pytest ``addopts`` (pytest-socket): every test runs
with sockets disabled except loopback and Unix sockets, so no test passes only because the
network happened to be there.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
#: where the browser tests save screenshots of what they checked
SHOTS = ROOT / "build" / "browser"
pytest_plugins = ["pytester", "grading_harness", "notebook_runs"]

# Keep TensorFlow quiet and deterministic in tests.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


def free_port() -> int:
    """A free TCP port on loopback."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def running_jupyter(command: list[str], env: dict[str, str] | None = None, timeout: float = 120):
    """Start a Jupyter server command on a free loopback port; yield ``(base_url, token)``.

    ``command`` is run with ``--no-browser --ip=127.0.0.1 --port=... --IdentityProvider.token=...``
    appended (through ``LAB_ARGS=`` when it is a ``make`` command). The whole process group is
    stopped on exit, so nothing is left running.
    """
    port, token = free_port(), secrets.token_hex(16)
    args = f"--no-browser --ip=127.0.0.1 --port={port} --IdentityProvider.token={token}"
    if os.geteuid() == 0 and command[0] != "make":  # make lab adds it itself
        args += " --allow-root"
    full = [*command, f"LAB_ARGS={args}"] if command[0] == "make" else [*command, *args.split()]
    run_env = {**os.environ, "JUPYTER_RUNTIME_DIR": str(ROOT / "build" / "jupyter-runtime"), **(env or {})}
    log = tempfile.TemporaryFile(mode="w+")
    server = subprocess.Popen(full, cwd=ROOT, env=run_env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                urllib.request.urlopen(f"{url}/api/status?token={token}").close()
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    log.seek(0)
                    raise RuntimeError(f"{' '.join(full)} did not serve on {url}:\n{log.read()}") from None
                time.sleep(0.5)
        yield url, token
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
        log.close()


def http_get(url: str) -> tuple[int, str]:
    """Status and body of a GET on loopback (HTTP errors are returned, not raised)."""
    try:
        with urllib.request.urlopen(url) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def _missing_browser() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Playwright for Python is not installed (pip install playwright)"
    if not CHROMIUM.exists():
        return f"no Chromium at {CHROMIUM} (apt-get install chromium, or set $CHROMIUM)"
    return None


@pytest.fixture(scope="module")
def browser():
    """Headless Chromium through Playwright, shared by the browser tests (they skip without it, unless required)."""
    missing = _missing_browser()
    if missing:
        if os.environ.get("COURSE_REQUIRE_BROWSER") == "1":
            pytest.fail(f"browser tests required, but {missing}")
        pytest.skip(missing)
    from playwright.sync_api import sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox", "--disable-background-networking"]
        )
        yield chromium
        chromium.close()
