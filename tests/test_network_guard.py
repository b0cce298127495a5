"""The suite's network guard: loopback works, anything else fails the test."""

from __future__ import annotations

import tomllib

from conftest import ROOT

INNER_TESTS = """
import socket
import threading

def test_loopback_is_allowed():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    threading.Thread(target=lambda: server.accept()[0].close(), daemon=True).start()
    socket.create_connection(server.getsockname(), timeout=5).close()
    server.close()

def test_outside_address_is_blocked():
    # 192.0.2.1 is TEST-NET-1 (RFC 5737): never routed, so nothing is sent even if unguarded.
    socket.create_connection(("192.0.2.1", 80), timeout=1)
"""


def test_guard_blocks_everything_but_loopback(pytester):
    with open(ROOT / "pyproject.toml", "rb") as f:
        addopts = tomllib.load(f)["tool"]["pytest"]["ini_options"]["addopts"]
    pytester.makeini(f"[pytest]\naddopts = {addopts}\n")
    pytester.makepyfile(test_inner=INNER_TESTS)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*test_outside_address_is_blocked*", "*SocketConnectBlockedError*192.0.2.1*"])
