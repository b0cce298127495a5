"""The strategy ladder: how much each transfer-learning strategy gets from N labelled images.

    python -m benchmarks.ladder            # N = 100, 3 seeds (make bench)
    python -m benchmarks.ladder --full     # adds N = 20, 50 and 200 (make bench-full)
    python -m benchmarks.ladder --ns 20 50 # only these N; the rows for other N are kept

For each N and seed, N images of the offline target task are drawn (seed-dependent) and every
strategy of ``helpers.strategies.STRATEGIES`` is called on them the same way, with its own
default validation split (the networks hold out 20% to pick epochs and learning rates). Each is
scored on 1,000 test images drawn with another seed, never used for training or selection, and
runs in its own process, so its peak RSS is its own. The scratch CNN gets, for each of its
three learning rates, the wall time fine-tuning took, and never less than the 60 s fine-tuning
is allowed: a baseline starved of time would prove nothing.

Prints a table, and writes ``docs/benchmarks/ladder.json`` (medians over seeds, merged with the
rows already there for other N) and ``docs/benchmarks/ladder.png``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

# TensorFlow reads its C++ log level once, when first imported (by helpers.strategies).
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

from helpers.strategies import STRATEGIES  # noqa: E402
from helpers.tasks import make_source_task, make_sunglasses_vs_hat  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "benchmarks"
LABELS = {
    "pixels_logreg": "logistic regression\non pixels",
    "scratch_cnn": "small CNN\nfrom scratch",
    "feature_extraction": "feature extraction",
    "fine_tune": "fine-tuning",
}
N_TEST = 1000
#: The scratch CNN's least time per learning rate: what fine-tuning is allowed (60 s), even when it needs less.
SCRATCH_MIN_SECONDS = 60.0


def _data(n: int, seed: int) -> tuple[np.ndarray, ...]:
    """N training images and the test set of one seed (never used for training or selection)."""
    images, labels = make_sunglasses_vs_hat(n, seed=1000 + seed)
    test_images, test_labels = make_sunglasses_vs_hat(N_TEST, seed=9000 + seed)
    return images, labels, test_images, test_labels


def run_one(strategy: str, n: int, seed: int, time_budget: float | None) -> dict:
    """Train one strategy on one draw of the data; return its scores (runs in a fresh process)."""
    images, labels, x_test, y_test = _data(n, seed)
    options = {"time_budget": time_budget} if time_budget is not None else {}
    trained = STRATEGIES[strategy](images, labels, seed=seed, **options)
    return {
        "strategy": strategy,
        "n": n,
        "seed": seed,
        "accuracy": trained.accuracy(x_test, y_test),
        "train_s": trained.seconds,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "details": trained.details,
    }


def _in_subprocess(strategy: str, n: int, seed: int, time_budget: float | None) -> dict:
    command = [sys.executable, "-m", "benchmarks.ladder", "--one", strategy, "--n", str(n), "--seed", str(seed)]
    if time_budget is not None:
        command += ["--time-budget", str(time_budget)]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{strategy} (n={n}, seed={seed}) failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def run(ns: list[int], seeds: list[int]) -> list[dict]:
    runs = []
    for n in ns:
        for seed in seeds:
            started = time.perf_counter()
            by_strategy = {}
            for strategy in (name for name in STRATEGIES if name != "scratch_cnn"):
                by_strategy[strategy] = _in_subprocess(strategy, n, seed, None)
            budget = max(by_strategy["fine_tune"]["train_s"], SCRATCH_MIN_SECONDS)
            by_strategy["scratch_cnn"] = _in_subprocess("scratch_cnn", n, seed, budget)
            runs += by_strategy.values()
            scores = ", ".join(f"{s} {r['accuracy']:.3f}" for s, r in by_strategy.items())
            print(f"n={n} seed={seed}: {scores} ({time.perf_counter() - started:.0f} s)", flush=True)
    return runs


def summarise(runs: list[dict]) -> list[dict]:
    rows = []
    for n in sorted({r["n"] for r in runs}):
        for strategy in STRATEGIES:
            mine = [r for r in runs if r["n"] == n and r["strategy"] == strategy]
            if not mine:
                continue
            rows.append(
                {
                    "strategy": strategy,
                    "n": n,
                    "accuracy": round(statistics.median(r["accuracy"] for r in mine), 4),
                    "train_s": round(statistics.median(r["train_s"] for r in mine), 1),
                    "peak_rss_mb": round(max(r["peak_rss_mb"] for r in mine), 0),
                    "seeds": len(mine),
                    "accuracy_per_seed": [round(r["accuracy"], 4) for r in mine],
                }
            )
    return rows


def table(rows: list[dict]) -> str:
    lines = [f"{'strategy':<20}{'N':>5}{'test acc':>10}{'train s':>10}{'peak RSS MB':>13}{'seeds':>7}"]
    lines += [
        f"{r['strategy']:<20}{r['n']:>5}{r['accuracy']:>10.3f}{r['train_s']:>10.1f}{r['peak_rss_mb']:>13.0f}"
        f"{r['seeds']:>7}"
        for r in rows
    ]
    return "\n".join(lines)


def plot(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4))
    for strategy in STRATEGIES:
        mine = sorted((r["n"], r["accuracy"]) for r in rows if r["strategy"] == strategy)
        if mine:
            ns, accs = zip(*mine, strict=True)
            ax.plot(ns, accs, "o-", label=LABELS[strategy])
    ax.axhline(0.5, color="gray", ls=":", lw=1)
    ax.set(
        xlabel="labelled training images (N)",
        ylabel=f"test accuracy ({N_TEST} images)",
        title="Sunglasses vs hat: the strategy ladder",
        ylim=(0.4, 1.01),
    )
    ax.set_xscale("log")
    every_n = sorted({r["n"] for r in rows})
    ax.set_xticks(every_n, [str(n) for n in every_n])
    ax.minorticks_off()
    ax.legend(loc="center left", bbox_to_anchor=(1.02, 0.5), frameon=False)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def generator_speed(n_images: int = 600, repeats: int = 3) -> dict:
    """Images per CPU-second of each generator on one core, at the default size.

    The best of ``repeats`` runs, as ``timeit`` advises: slower runs measure the machine's other
    work, not the generator.
    """
    speeds = {}
    for name, make in (("sunglasses_vs_hat", make_sunglasses_vs_hat), ("source_task", make_source_task)):
        make(20, seed=1)  # warm-up
        best = math.inf
        for _ in range(repeats):
            start = time.process_time()
            make(n_images, seed=2, n_jobs=1)
            best = min(best, time.process_time() - start)
        speeds[name] = round(n_images / best, 1)
    return speeds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.ladder", description=__doc__.split("\n\n")[0])
    parser.add_argument("--full", action="store_true", help="also N = 20, 50 and 200")
    parser.add_argument("--ns", type=int, nargs="+", help="run only these N (default: 100, or all four with --full)")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--one", choices=list(STRATEGIES), help=argparse.SUPPRESS)
    parser.add_argument("--n", type=int, default=100, help=argparse.SUPPRESS)
    parser.add_argument("--seed", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--time-budget", type=float, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:
        print(json.dumps(run_one(args.one, args.n, args.seed, args.time_budget)))
        return 0
    ns = args.ns or ([20, 50, 100, 200] if args.full else [100])
    args.out.mkdir(parents=True, exist_ok=True)
    speeds = generator_speed()
    (args.out / "generator.json").write_text(json.dumps({"images_per_cpu_second": speeds}, indent=2) + "\n")
    print("generator, images per CPU-second on one core:", speeds, flush=True)
    rows = summarise(run(ns, list(range(args.seeds))))
    json_path = args.out / "ladder.json"
    kept = [r for r in json.loads(json_path.read_text())] if json_path.exists() else []
    kept = [r for r in kept if r["n"] not in ns]
    merged = sorted(kept + rows, key=lambda r: (r["n"], list(STRATEGIES).index(r["strategy"])))
    json_path.write_text(json.dumps(merged, indent=2) + "\n")
    plot(merged, args.out / "ladder.png")
    print(table(merged))
    print(f"wrote {json_path} and {args.out / 'ladder.png'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
