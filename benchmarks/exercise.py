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
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "docs" / "benchmarks" / "exercise.json"


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


#: The judgment step's choices, as ``(blocks fine-tuned, learning rate)``: the solution's, the lazy
#: ones (feature extraction alone, a rate that wrecks the base) and the choices between.
NIGHT_CHOICES = {
    "feature extraction (0 blocks)": (0, 0.0),
    "3 blocks at 1e-4": (3, 1e-4),
    "9 blocks at 1e-4": (9, 1e-4),
    "every block at 1e-4 (the solution)": (18, 1e-4),
    "every block at 1e-3": (18, 1e-3),
    "every block at 1e-2 (wrecks)": (18, 1e-2),
}


def night_seed(seed: int, n_hidden: int) -> dict[str, float]:
    """Hidden night-camera accuracy of each of :data:`NIGHT_CHOICES`, as the exercise's section 7 trains them.

    The head is trained on the frozen base for 5 epochs on the exercise's 300 night photos; each
    choice starts from it and fine-tunes at most 10 epochs (the step's budget), keeping the best on
    the 100 validation photos (patience 3, as the solution stops). ``seed`` draws the hidden photos
    (as the grader draws them from its secret seed) and seeds the training.
    """
    import keras

    from helpers.environment import free_memory
    from helpers.models import load_base
    from helpers.surgery import attach_head, freeze_base, unfreeze_last
    from helpers.tasks import make_sunglasses_vs_hat
    from helpers.training import best_epoch_stopping

    night_train = make_sunglasses_vs_hat(300, seed=2030, camera="night")
    night_val = make_sunglasses_vs_hat(100, seed=2031, camera="night")
    x_hidden, y_hidden = make_sunglasses_vs_hat(n_hidden, seed=seed + 1, camera="night")
    keras.utils.set_random_seed(seed)
    model = freeze_base(attach_head(load_base("bundled"), 2))
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    model.compile(keras.optimizers.Adam(1e-3), loss, metrics=["accuracy"])
    model.fit(*night_train, validation_data=night_val, epochs=5, verbose=0)
    head_weights = model.get_weights()
    accuracy = {}
    for name, (n_blocks, rate) in NIGHT_CHOICES.items():
        model.set_weights(head_weights)
        if n_blocks:
            unfreeze_last(model, n_blocks, learning_rate=rate)
            model.fit(
                *night_train,
                validation_data=night_val,
                epochs=10,
                verbose=0,
                callbacks=[best_epoch_stopping(patience=3)],
            )
        accuracy[name] = float((model.predict(x_hidden, batch_size=64, verbose=0).argmax(1) == y_hidden).mean())
        freeze_base(model)
    del model
    free_memory()
    return accuracy


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


def record(section: str, result: dict) -> None:
    """Keep ``result`` as ``section`` of :data:`OUT` (other sections stay), for README and the tests."""
    import json
    import platform
    from datetime import date

    machine = f"{os.cpu_count()} CPU cores, {platform.machine()}, Python {platform.python_version()}"
    data = json.loads(OUT.read_text()) if OUT.exists() else {}
    data[section] = {"date": date.today().isoformat(), "machine": machine, **result}
    OUT.write_text(json.dumps(data, indent=2) + "\n")
    print(f"wrote {OUT.relative_to(OUT.parent.parent.parent)} [{section}]")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.exercise", description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--n-hidden", type=int, default=1000)
    parser.add_argument("--autograde", action="store_true", help="grade the solution notebook once per seed")
    parser.add_argument("--night", action="store_true", help="the judgment step's choices on hidden night photos")
    parser.add_argument("--agreement", action="store_true", help="self-checks against the grader, on honest variants")
    args = parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if args.agreement:
        from benchmarks.agreement import agreement

        result = agreement()
        print(
            f"{result['right_but_failed']} self-checks said Right. where the grader failed, "
            f"over {result['submissions']} submissions"
        )
        record("agreement", result)
        return 0
    if args.night:
        per_choice: dict[str, list[float]] = {name: [] for name in NIGHT_CHOICES}
        for seed in range(1, args.seeds + 1):
            for name, accuracy in night_seed(10_000 + seed, args.n_hidden).items():
                per_choice[name].append(accuracy)
            print(f"seed {seed}: " + ", ".join(f"{n} {a[-1]:.1%}" for n, a in per_choice.items()), flush=True)
        for name, scores in per_choice.items():
            print(f"{name}: {min(scores):.1%} .. {max(scores):.1%}, mean {statistics.mean(scores):.1%}")
        record("night", {"seeds": args.seeds, "n_hidden": args.n_hidden, "hidden_accuracy": per_choice})
        return 0
    if args.autograde:
        runs = []
        for seed in range(1, args.seeds + 1):
            cells, seconds = autograde_solution(10_000 + seed)
            automatic = {cell: score for cell, score in cells.items() if cell != "reflection"}
            runs.append({"seed": seed, "automatic_points": sum(automatic.values()), "seconds": round(seconds, 1)})
            print(
                f"seed {seed}: {sum(automatic.values()):g} automatic points in {seconds:.0f} s {automatic}", flush=True
            )
        full = max(run["automatic_points"] for run in runs)
        record(
            "autograde",
            {
                "seeds": len(runs),
                "automatic_points": f"{min(r['automatic_points'] for r in runs):g} to {full:g}",
                "seconds": f"{min(r['seconds'] for r in runs):.0f} to {max(r['seconds'] for r in runs):.0f}",
                "runs": runs,
            },
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
    record("daylight", {"seeds": args.seeds, "n_hidden": args.n_hidden, "new_head": heads, "fine_tuned": tuned})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
