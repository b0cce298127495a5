"""How well the exercise's reference solution does on hidden test sets: the basis of its thresholds.

    python -m benchmarks.exercise --seeds 10              # about 2 minutes a seed on 2 cores
    python -m benchmarks.exercise --autograde --seeds 5   # grade the solution notebook itself

For each seed, the steps of ``solutions/sunglasses_vs_hat`` run as the solution writes them (the
500-photo folder, an 80/20 split, a new head for 8 epochs on the frozen base, then the last 3
blocks at 1e-4 for up to 15 epochs keeping the best one), and both models are scored on hidden
images drawn with that seed, as the hidden tests draw them. The hidden tests ask for a margin
below the worst seed here. With ``--autograde``, the solution notebook is graded by
``python -m grading`` once per seed (``GRADING_SEED``), the way instructors grade, and its
automatic points are printed.
"""

from __future__ import annotations

import argparse
import os
import statistics


def one_seed(seed: int, n_hidden: int) -> tuple[float, float]:
    import keras

    from helpers.image_folders import sunglasses_vs_hat_folder
    from helpers.models import load_base
    from helpers.surgery import attach_head, freeze_base, unfreeze_last
    from helpers.tasks import make_sunglasses_vs_hat
    from helpers.training import best_epoch_stopping

    train_ds, val_ds = keras.utils.image_dataset_from_directory(
        sunglasses_vs_hat_folder(500),
        validation_split=0.2,
        subset="both",
        seed=0,
        image_size=(96, 96),
        batch_size=32,
        verbose=False,
    )
    x_hidden, y_hidden = make_sunglasses_vs_hat(n_hidden, seed=seed)

    def hidden_accuracy(model) -> float:
        return float((model.predict(x_hidden.astype("float32"), batch_size=20, verbose=0).argmax(1) == y_hidden).mean())

    keras.utils.set_random_seed(seed)
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    model = freeze_base(attach_head(load_base("bundled"), 2))
    model.compile(keras.optimizers.Adam(1e-3), loss, metrics=["accuracy"])
    model.fit(train_ds, validation_data=val_ds, epochs=8, verbose=0)
    head = hidden_accuracy(model)
    unfreeze_last(model, 3, learning_rate=1e-4)
    model.fit(train_ds, validation_data=val_ds, epochs=15, verbose=0, callbacks=[best_epoch_stopping(patience=5)])
    return head, hidden_accuracy(model)


def autograde_solution(seed: int) -> tuple[dict[str, float], float]:
    """The solution's points per graded cell under ``seed``, and the seconds ``python -m grading`` took."""
    import csv
    import subprocess
    import sys
    import tempfile
    import time
    from pathlib import Path

    from grading.protocol import ASSIGNMENT, ROOT

    with tempfile.TemporaryDirectory() as scratch:
        folder, out = Path(scratch) / "submissions", Path(scratch) / "graded"
        folder.mkdir()
        (folder / "solution.ipynb").write_bytes((ROOT / "solutions" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb").read_bytes())
        start = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "grading", str(folder), "--out", str(out)],
            cwd=ROOT,
            check=True,
            capture_output=True,
            env=dict(os.environ, GRADING_SEED=str(seed)),
        )
        seconds = time.perf_counter() - start
        with open(out / "scores_by_cell.csv") as file:
            return {row["cell"]: float(row["score"]) for row in csv.DictReader(file)}, seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.exercise", description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--n-hidden", type=int, default=400)
    parser.add_argument("--autograde", action="store_true", help="grade the solution notebook once per seed")
    args = parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if args.autograde:
        for seed in range(1, args.seeds + 1):
            cells, seconds = autograde_solution(10_000 + seed)
            automatic = {cell: score for cell, score in cells.items() if cell != "reflection"}
            print(
                f"seed {seed}: {sum(automatic.values()):g} automatic points in {seconds:.0f} s {automatic}", flush=True
            )
        return 0
    from helpers.environment import free_memory

    heads, tuned = [], []
    for seed in range(1, args.seeds + 1):
        head, tune = one_seed(10_000 + seed, args.n_hidden)
        heads.append(head)
        tuned.append(tune)
        print(f"seed {seed}: new head {head:.1%}, fine-tuned {tune:.1%}", flush=True)
        free_memory()
    for name, scores in (("new head (frozen base)", heads), ("fine-tuned last 3 blocks", tuned)):
        print(f"{name}: {min(scores):.1%} .. {max(scores):.1%}, mean {statistics.mean(scores):.1%}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
