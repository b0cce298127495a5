"""Benchmarks that print numbers and write docs/benchmarks/*.json (make bench, bench-notebooks, ...)."""
