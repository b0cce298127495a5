"""The claims ledger: every lecture claim measured over seeds, with a 95% confidence interval.

    python -m benchmarks.claims                  # every claim, 5 seeds or its own more (make bench-claims)
    python -m benchmarks.claims --only step-back # these claims; the other rows are kept

Each experiment of ``helpers.experiments`` runs once per seed, each run in its own process (so
one run's memory never weighs on the next), and gives the effect of every claim it measures.
Writes ``docs/benchmarks/claims.json`` and the copy shipped in the package
(``helpers/ledger/claims.json``, which notebooks read wherever they run) and prints the table.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

# TensorFlow reads its C++ log level once, when first imported.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from helpers.claims import CLAIMS, LEDGER, format_effect, summarise  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "benchmarks" / "claims.json"


def run_one(experiment: str, seed: int) -> dict:
    """One experiment for one seed (in a fresh process): its effects, test-set size and seconds."""
    from helpers import experiments

    function = getattr(experiments, experiment)
    started = time.perf_counter()
    result = function(seed)
    return {"effects": result["effects"], "n_test": result["n_test"], "seconds": time.perf_counter() - started}


def _in_subprocess(experiment: str, seed: int) -> dict:
    command = [sys.executable, "-m", "benchmarks.claims", "--one", experiment, "--seed", str(seed)]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{experiment} (seed {seed}) failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def measure(claim_ids: list[str], n_seeds: int) -> list[dict]:
    """The ledger's rows for ``claim_ids``, each experiment run once per seed: ``n_seeds`` seeds, or more
    where one of its claims asks for more (``Claim.seeds``)."""
    experiments = list(dict.fromkeys(CLAIMS[i].experiment for i in claim_ids))  # in lecture order
    effects: dict[str, list[float]] = {i: [] for i in claim_ids}
    n_test: dict[str, int] = {}
    for experiment in experiments:
        started = time.perf_counter()
        seeds = range(max([n_seeds] + [c.seeds for c in CLAIMS.values() if c.experiment == experiment]))
        for seed in seeds:
            run = _in_subprocess(experiment, seed)
            shown = ", ".join(f"{i} {format_effect(e, CLAIMS[i].unit)}" for i, e in run["effects"].items())
            print(f"  {experiment} seed {seed}: {shown} ({run['seconds']:.0f} s)", flush=True)
            for claim_id in claim_ids:
                if CLAIMS[claim_id].experiment == experiment:
                    effects[claim_id].append(run["effects"][claim_id])
                    n_test[claim_id] = run["n_test"]
        print(f"{experiment}: {len(seeds)} seeds in {time.perf_counter() - started:.0f} s", flush=True)
    return [summarise(CLAIMS[i], effects[i], n_test[i]) for i in claim_ids]


def table(rows: list[dict]) -> str:
    lines = [f"{'claim':<26}{'effect':>14}  {'95% interval':<30}{'seeds':>6}  holds"]
    for r in rows:
        low, high = (format_effect(v, r["unit"]) for v in r["ci95"])
        lines.append(
            f"{r['id']:<26}{format_effect(r['effect'], r['unit']):>14}  {low + ' to ' + high:<30}"
            f"{r['seeds']:>6}  {'yes' if r['holds'] else 'NO'}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.claims", description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--only", nargs="+", choices=list(CLAIMS), help="measure only these claims")
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--one", help=argparse.SUPPRESS)
    parser.add_argument("--seed", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:
        print(json.dumps(run_one(args.one, args.seed)))
        return 0
    if args.seeds < 2:
        parser.error("--seeds must be at least 2: an interval needs two seeds")
    claim_ids = args.only or list(CLAIMS)
    rows = {r["id"]: r for r in (json.loads(args.out.read_text()) if args.out.is_file() else [])}
    rows.update({r["id"]: r for r in measure(claim_ids, args.seeds)})
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
