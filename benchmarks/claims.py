"""The claims ledger: every lecture claim measured over seeds, with a 95% confidence interval.

    python -m benchmarks.claims                  # every claim, 5 seeds or its own more (make bench-claims)
    python -m benchmarks.claims --only step-back # these claims; the other rows are kept
    python -m benchmarks.claims --reword step-back # new words or margin, same measurements: nothing runs

Each experiment of ``helpers.evidence.experiments`` runs once per seed, all its seeds in one process of
its own (so no experiment's memory weighs on the next), and gives the effect of every claim it
measures.
Writes ``docs/benchmarks/claims.json`` and the copy shipped in the package
(``helpers/evidence/ledger.json``, which notebooks read wherever they run) and prints the table.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

# TensorFlow reads its C++ log level once, when first imported.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from helpers.evidence.claims import CLAIMS, LEDGER, format_effect, summarise  # noqa: E402
from helpers.evidence.experiments import EXPERIMENTS  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "benchmarks" / "claims.json"


def run_one(experiment: str, seed: int) -> dict:
    """One experiment for one seed: its effects, test-set size and seconds."""
    function = EXPERIMENTS[experiment]
    started = time.perf_counter()
    result = function(seed)
    if set(result.effects) != set(function.claims):
        raise RuntimeError(
            f"{experiment} measured {sorted(result.effects)} but is marked as measuring {function.claims}"
        )
    return {"effects": result.effects, "n_test": result.n_test, "seconds": time.perf_counter() - started}


def _in_subprocess(experiment: str, seeds: range) -> Iterator[dict]:
    """Every seed of one experiment, one after the other in one fresh process: each seed's run as it ends.

    One process per experiment, not per seed: TensorFlow's import (several seconds) is paid
    once, and no experiment's memory weighs on the next one.
    """
    command = [sys.executable, "-m", "benchmarks.claims", "--one", experiment, "--seed", *map(str, seeds)]
    with tempfile.TemporaryFile("w+") as errors:  # a file, not a pipe: a chatty run cannot block on it
        with subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=errors, text=True) as process:
            for line in process.stdout:
                if line.startswith("{"):
                    yield json.loads(line)
        if process.returncode != 0:
            errors.seek(0)
            raise RuntimeError(f"{experiment} failed:\n{errors.read()[-3000:]}")


def measure(claim_ids: list[str], n_seeds: int) -> list[dict]:
    """The ledger's rows for ``claim_ids``, each experiment run once per seed: ``n_seeds`` seeds, or more
    where one of its claims asks for more (``Claim.seeds``)."""
    experiments = [name for name, function in EXPERIMENTS.items() if set(function.claims) & set(claim_ids)]
    effects: dict[str, list[float]] = {i: [] for i in claim_ids}
    seconds: dict[str, list[float]] = {i: [] for i in claim_ids}  # an experiment's runs, under each of its claims
    n_test: dict[str, int] = {}
    for experiment in experiments:
        started = time.perf_counter()
        seeds = range(max([n_seeds] + [CLAIMS[i].seeds for i in EXPERIMENTS[experiment].claims]))
        for seed, run in zip(seeds, _in_subprocess(experiment, seeds), strict=True):
            shown = ", ".join(f"{i} {format_effect(e, CLAIMS[i].unit)}" for i, e in run["effects"].items())
            print(f"  {experiment} seed {seed}: {shown} ({run['seconds']:.0f} s)", flush=True)
            for claim_id in EXPERIMENTS[experiment].claims:
                if claim_id in effects:
                    effects[claim_id].append(run["effects"][claim_id])
                    seconds[claim_id].append(run["seconds"])
                    n_test[claim_id] = run["n_test"]
        print(f"{experiment}: {len(seeds)} seeds in {time.perf_counter() - started:.0f} s", flush=True)
    return [summarise(CLAIMS[i], effects[i], n_test[i], seconds[i]) for i in claim_ids]


def reworded(rows: dict[str, dict], claim_id: str) -> dict:
    """``claim_id``'s kept row, summarised again under the claim's current words, metric and margin.

    For a claim whose experiment did not change: its per-seed effects stand, its verdict is read
    anew. A claim that needs more seeds than its row has must be measured instead.
    """
    if claim_id not in rows:
        raise SystemExit(f"{claim_id} has no row to reword: measure it with --only {claim_id}")
    row = rows[claim_id]
    if len(row["effect_per_seed"]) < CLAIMS[claim_id].seeds:
        raise SystemExit(
            f"{claim_id} asks for {CLAIMS[claim_id].seeds} seeds, its row has "
            f"{len(row['effect_per_seed'])}: measure it with --only {claim_id}"
        )
    seconds = [row["seconds_per_seed"]] if "seconds_per_seed" in row else None
    return summarise(CLAIMS[claim_id], row["effect_per_seed"], row["n_test"], seconds)


def table(rows: list[dict]) -> str:
    width = max([len("claim"), *(len(r["id"]) for r in rows)]) + 2
    lines = [f"{'claim':<{width}}{'effect':>14}  {'95% interval':<30}{'seeds':>6}  holds"]
    for r in rows:
        low, high = (format_effect(v, r["unit"]) for v in r["ci95"])
        lines.append(
            f"{r['id']:<{width}}{format_effect(r['effect'], r['unit']):>14}  {low + ' to ' + high:<30}"
            f"{r['seeds']:>6}  {'yes' if r['holds'] else 'NO'}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.claims", description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--only", nargs="+", choices=list(CLAIMS), help="measure only these claims")
    parser.add_argument(
        "--reword",
        nargs="+",
        choices=list(CLAIMS),
        help="summarise these claims' kept per-seed effects again under their current words and margin (nothing runs)",
    )
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--one", help=argparse.SUPPRESS)
    parser.add_argument("--seed", type=int, nargs="+", default=[0], help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:
        for seed in args.seed:
            print(json.dumps(run_one(args.one, seed)), flush=True)
        return 0
    if args.seeds < 2:
        parser.error("--seeds must be at least 2: an interval needs two seeds")
    claim_ids = args.only or list(CLAIMS)
    rows = {r["id"]: r for r in (json.loads(args.out.read_text()) if args.out.is_file() else [])}
    if args.reword:
        rows.update({i: reworded(rows, i) for i in args.reword})
    else:
        started = time.perf_counter()
        rows.update({r["id"]: r for r in measure(claim_ids, args.seeds)})
        print(f"measured in {(time.perf_counter() - started) / 60:.1f} min", flush=True)
    ordered = [rows[i] for i in CLAIMS if i in rows]
    text = json.dumps(ordered, indent=2) + "\n"
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    if args.out == OUT:
        LEDGER.parent.mkdir(parents=True, exist_ok=True)
        LEDGER.write_text(text)
    print(table(ordered))
    print(f"wrote {args.out}" + (f" and {LEDGER}" if args.out == OUT else ""))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
