"""helpers.environment: memory policy for Binder-sized machines."""

import os
import subprocess
import sys

import pytest

from helpers.environment import free_memory


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc arenas are a Linux matter")
@pytest.mark.parametrize(("environment", "applies"), [({}, True), ({"MALLOC_ARENA_MAX": "4"}, False)])
def test_arena_limit_applies_unless_the_environment_already_sets_one(environment, applies):
    env = {key: value for key, value in os.environ.items() if key != "MALLOC_ARENA_MAX"} | environment
    probe = "from helpers.environment import limit_malloc_arenas; print(limit_malloc_arenas())"
    done = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True)
    assert done.stdout.strip() == str(applies)


def test_free_memory_reports_resident_megabytes():
    resident = free_memory()
    assert 10 < resident < 100_000
