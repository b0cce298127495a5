"""benchmarks.ladder: the rows `make bench` writes, without training anything."""

from __future__ import annotations

from benchmarks.ladder import STRATEGIES, summarise, table


def _run(strategy, n, seed, accuracy, seconds, rss):
    return {"strategy": strategy, "n": n, "seed": seed, "accuracy": accuracy, "train_s": seconds,
            "peak_rss_mb": rss, "details": {}}


def test_summarise_takes_medians_over_seeds_and_the_worst_memory():
    runs = [_run("fine_tune", 100, seed, acc, secs, rss)
            for seed, acc, secs, rss in [(0, 0.90, 20.0, 1000.0), (1, 0.95, 30.0, 1200.0), (2, 0.93, 25.0, 1100.0)]]
    runs += [_run("pixels_logreg", 20, 0, 0.6, 1.0, 500.0)]
    rows = summarise(runs)
    assert [(r["strategy"], r["n"]) for r in rows] == [("pixels_logreg", 20), ("fine_tune", 100)]
    tuned = rows[1]
    assert {"strategy", "n", "accuracy", "train_s", "peak_rss_mb"} <= set(tuned)
    assert (tuned["accuracy"], tuned["train_s"], tuned["peak_rss_mb"], tuned["seeds"]) == (0.93, 25.0, 1200.0, 3)
    assert tuned["accuracy_per_seed"] == [0.90, 0.95, 0.93]
    printed = table(rows)
    assert "fine_tune" in printed and "0.930" in printed and set(STRATEGIES) >= {r["strategy"] for r in rows}
