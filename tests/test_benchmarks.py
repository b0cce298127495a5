"""benchmarks.ladder: the rows `make bench` writes, without training anything."""

from __future__ import annotations

import json

from benchmarks.ladder import STRATEGIES, summarise, table


def _run(strategy, n, seed, accuracy, seconds, rss):
    return {
        "strategy": strategy,
        "n": n,
        "seed": seed,
        "accuracy": accuracy,
        "train_s": seconds,
        "peak_rss_mb": rss,
        "details": {},
    }


def test_summarise_takes_medians_over_seeds_and_the_worst_memory():
    runs = [
        _run("fine_tune", 100, seed, acc, secs, rss)
        for seed, acc, secs, rss in [(0, 0.90, 20.0, 1000.0), (1, 0.95, 30.0, 1200.0), (2, 0.93, 25.0, 1100.0)]
    ]
    runs += [_run("pixels_logreg", 20, 0, 0.6, 1.0, 500.0)]
    rows = summarise(runs)
    assert [(r["strategy"], r["n"]) for r in rows] == [("pixels_logreg", 20), ("fine_tune", 100)]
    tuned = rows[1]
    assert {"strategy", "n", "accuracy", "train_s", "peak_rss_mb"} <= set(tuned)
    assert (tuned["accuracy"], tuned["train_s"], tuned["peak_rss_mb"], tuned["seeds"]) == (0.93, 25.0, 1200.0, 3)
    assert tuned["accuracy_per_seed"] == [0.90, 0.95, 0.93]
    printed = table(rows)
    assert "fine_tune" in printed and "0.930" in printed and set(STRATEGIES) >= {r["strategy"] for r in rows}


def test_main_with_ns_runs_only_those_n_and_keeps_the_other_rows(tmp_path, monkeypatch):
    from benchmarks import ladder

    kept = summarise([_run(s, 100, 0, 0.9, 10.0, 900.0) for s in STRATEGIES])
    (tmp_path / "ladder.json").write_text(json.dumps(kept + summarise([_run("fine_tune", 20, 0, 0.1, 1.0, 1.0)])))
    asked = []

    def fake_run(ns, seeds):
        asked.append((ns, seeds))
        return [_run(s, n, seed, 0.8, 5.0, 800.0) for n in ns for seed in seeds for s in STRATEGIES]

    monkeypatch.setattr(ladder, "run", fake_run)
    monkeypatch.setattr(ladder, "generator_speed", lambda: {"sunglasses_vs_hat": 1.0, "source_task": 1.0})
    assert ladder.main(["--ns", "20", "50", "--seeds", "2", "--out", str(tmp_path)]) == 0
    assert asked == [([20, 50], [0, 1])]
    rows = json.loads((tmp_path / "ladder.json").read_text())
    assert [(r["n"], r["strategy"]) for r in rows] == [(n, s) for n in (20, 50, 100) for s in STRATEGIES]
    assert {r["accuracy"] for r in rows if r["n"] == 100} == {0.9}  # N = 100 kept as it was
    assert {r["accuracy"] for r in rows if r["n"] == 20} == {0.8}  # the old N = 20 row replaced
    assert (tmp_path / "ladder.png").stat().st_size > 0


def test_generator_speed_reports_the_best_of_its_repeats(monkeypatch):
    from benchmarks import ladder

    clock = iter([0.0, 2.0, 10.0, 11.0, 20.0, 24.0, 30.0, 34.0])  # target runs take 2 s then 1 s; source 4 s twice
    monkeypatch.setattr(ladder.time, "process_time", lambda: next(clock))
    assert ladder.generator_speed(n_images=4, repeats=2) == {"sunglasses_vs_hat": 4.0, "source_task": 1.0}
