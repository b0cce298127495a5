"""helpers.environment: memory hygiene for Binder-sized machines."""

from helpers.environment import free_memory


def test_free_memory_reports_resident_megabytes():
    resident = free_memory()
    assert 10 < resident < 100_000
