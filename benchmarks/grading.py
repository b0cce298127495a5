"""Measure parallel autograding: copies of the solution graded serially, then on Dask with 1 and 2 workers.

    python -m benchmarks.grading [--copies 4]     # make bench-grading

Three runs of ``python -m grading`` on the same folder (``--copies`` copies of the solution) under
one seed:

- **serial**: ``--jobs 1``, one submission after another in this process;
- **Dask, 1 worker** and **Dask, 2 workers**: a local cluster of that many worker processes (one
  thread each), made here and passed as ``--scheduler``, so the run takes the distributed path:
  each submission is a task, its result comes back over TCP and is merged here.

Each task measures its own grading time (``seconds``) and the making of its worker's grading
course (``setup_seconds``, once per worker). What a run spends outside its tasks, per submission,
is ``(wall - sum of task times) / copies``; the **engine's overhead** per submission is that of the
1-worker Dask run minus that of the serial run (the same grading work, with and without Dask), and
is compared with the mean grading time. The projection for 300 submissions assumes one worker per
machine like this one (2 cores): ``setup + ceil(300 / workers) * (grading + overhead)``; the 2-worker
run shows what sharing 2 cores between two workers gives instead.

Writes ``docs/benchmarks/grading.json`` (README's "Grading a whole class" table: ``make readme``).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import secrets
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from grading import cli
from grading.protocol import ASSIGNMENT, SEED_VARIABLE

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "benchmarks" / "grading.json"
SOLUTION = ROOT / "solutions" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
PROJECTED_CLASS = 300
PROJECTED_WORKERS = (1, 10, 50)


def grade_run(folder: Path, out: Path, seed: int, *, workers: int | None) -> dict:
    """Grade ``folder`` into ``out``: serially (``workers=None``) or on a new local cluster of ``workers``."""
    import dask
    from distributed import LocalCluster

    os.environ[SEED_VARIABLE] = str(seed)  # autograde() takes it out of the environment each time
    cluster, cluster_seconds = None, 0.0
    started = time.perf_counter()
    if workers:
        with dask.config.set({"distributed.scheduler.allowed-failures": 1}):
            cluster = LocalCluster(
                n_workers=workers,
                threads_per_worker=1,
                processes=True,
                memory_limit=0,
                dashboard_address=None,
                host="127.0.0.1",
            )
        cluster_seconds = time.perf_counter() - started
    try:
        graded_at = time.perf_counter()
        if cluster is None:
            cli.autograde(folder, out, jobs=1)
        else:
            cli.autograde(folder, out, scheduler=cluster.scheduler_address)
        wall = time.perf_counter() - graded_at
    finally:
        if cluster is not None:
            cluster.close()
    results = [json.loads(path.read_text()) for path in sorted((out / "results").glob("*.json"))]
    full = [r for r in results if r["score"] == max(r["max_score"] - 2, 0)]  # the reflection is graded by hand
    if len(full) != len(results):
        raise SystemExit(f"the solution did not get all its automatic points in every copy: {results}")
    tasks = sum(r["seconds"] + r["setup_seconds"] for r in results)
    copies = len(results)
    return {
        "engine": f"Dask, {workers} worker{'s' if workers > 1 else ''}" if workers else "serial (--jobs 1)",
        "workers": workers or 1,
        "copies": copies,
        "cluster_start_s": round(cluster_seconds, 1),
        "wall_s": round(wall, 1),
        "submissions_per_hour": round(3600 * copies / wall, 1),
        "grading_s_mean": round(statistics.mean(r["seconds"] for r in results), 1),
        "setup_s": round(sum(r["setup_seconds"] for r in results), 1),
        "outside_tasks_s_per_submission": round((wall - tasks) / copies, 2) if not workers or workers == 1 else None,
    }


def projection(grading_s: float, overhead_s: float, setup_s: float, start_s: float) -> list[dict]:
    """Wall time for ``PROJECTED_CLASS`` submissions on each of ``PROJECTED_WORKERS`` machines like this one."""
    rows = []
    for workers in PROJECTED_WORKERS:
        seconds = start_s + setup_s + math.ceil(PROJECTED_CLASS / workers) * (grading_s + max(overhead_s, 0.0))
        rows.append({"workers": workers, "submissions": PROJECTED_CLASS, "hours": round(seconds / 3600, 2)})
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.grading", description=__doc__.split("\n\n")[0])
    parser.add_argument("--copies", type=int, default=4, help="copies of the solution to grade in each run")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    if args.copies < 2:
        parser.error(f"--copies {args.copies}: give 2 or more, so that two workers have one each")
    seed = secrets.randbelow(10**9) + 10**9
    scratch = Path(tempfile.mkdtemp(prefix="bench-grading-"))
    try:
        folder = scratch / "submissions"
        folder.mkdir()
        for number in range(args.copies):
            shutil.copy(SOLUTION, folder / f"student{number:03d}.ipynb")
        runs = []
        for workers in (None, 1, 2):
            label = f"dask{workers}" if workers else "serial"
            print(f"\n=== {label}: {args.copies} copies of the solution ===", flush=True)
            runs.append(grade_run(folder, scratch / label, seed, workers=workers))
            print(json.dumps(runs[-1]), flush=True)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    serial, one, two = runs
    overhead = one["outside_tasks_s_per_submission"] - serial["outside_tasks_s_per_submission"]
    record = {
        "machine": f"{os.cpu_count()} CPU cores, {platform.machine()}, Python {platform.python_version()}",
        "copies": args.copies,
        "runs": runs,
        "engine_overhead_s_per_submission": round(overhead, 2),
        "engine_overhead_percent": round(100 * overhead / serial["grading_s_mean"], 2),
        "speedup_2_workers_on_this_machine": round(two["submissions_per_hour"] / serial["submissions_per_hour"], 2),
        "projection": projection(serial["grading_s_mean"], overhead, serial["setup_s"], one["cluster_start_s"]),
    }
    args.out.write_text(json.dumps(record, indent=2) + "\n")
    print(
        f"\nEngine overhead: {overhead:+.2f} s a submission, {record['engine_overhead_percent']:+.2f}% of its grading"
    )
    print(f"Two workers on this machine: {record['speedup_2_workers_on_this_machine']}x the serial throughput")
    for row in record["projection"]:
        print(f"{row['submissions']} submissions on {row['workers']} workers: {row['hours']} h (projected)")
    print(f"Wrote {args.out.relative_to(ROOT) if args.out.is_relative_to(ROOT) else args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
