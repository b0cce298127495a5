"""The claims ledger: each lecture claim, the experiment that measures it, and its effect over seeds.

A claim is one sentence of the lecture, made measurable: an experiment (a function of a seed,
marked with :func:`measures`; :mod:`helpers.evidence.experiments` lists them all) returns a
:class:`Measurement` whose ``effects`` hold the claim's *effect*, a difference oriented so that a
positive value is what the lecture says. ``make bench-claims`` runs every experiment over
several seeds and writes the ledger; a claim *holds* when the 95% confidence interval of its
mean effect excludes zero on the positive side. Notebooks run one seed live and print it next
to the ledger's result with :func:`compare`.

Examples
--------
>>> mean, (low, high) = confidence_interval([0.02, 0.03, 0.025, 0.035, 0.03])
>>> round(mean, 3), low > 0
(0.028, True)
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from scipy import stats

#: The ledger as ``make bench-claims`` wrote it, shipped inside the package (Colab installs only the package).
LEDGER = Path(str(resources.files("helpers.evidence") / "ledger.json"))


@dataclass(frozen=True)
class Claim:
    """One lecture claim and how it is measured."""

    id: str
    #: the lecture notebook that shows it, without ``.ipynb``
    lecture: str
    #: one sentence, in the lecture's words
    claim: str
    #: what the effect is, in words; positive means the claim is right
    metric: str
    #: ``"points"`` for accuracy differences (shown as percentage points), ``"s"`` for seconds, ``"loss"``,
    #: or ``"%"`` for a relative change (0.5 is 50% more)
    unit: str = "points"
    #: how many seeds ``make bench-claims`` runs at least (more where the effect varies more from seed to seed)
    seeds: int = 5
    #: for a claim of "as good as": how far below zero the interval may reach and the claim still hold
    #: (a non-inferiority margin, in the effect's unit); 0 for a claim of "better than"
    margin: float = 0.0
    #: the claim in a few words, as :func:`plot_effects` labels its row
    short: str = ""


@dataclass(frozen=True, kw_only=True)
class Measurement:
    """What an experiment returns for one seed; each experiment adds its own named results.

    ``effects`` maps each claim the experiment measures to its effect in the claimed direction.
    """

    effects: dict[str, float]
    #: how many test images every accuracy of the run is measured on
    n_test: int


def measures(*claim_ids: str) -> Callable[[Callable[..., Measurement]], Callable[..., Measurement]]:
    """Mark a function of a seed as the experiment that measures ``claim_ids`` (ids of :data:`CLAIMS`).

    The marked function keeps its name and gets ``claims``, the ids it measures; an unknown id
    fails when the experiment's module is imported, not when a lecture runs.
    """
    unknown = [claim_id for claim_id in claim_ids if claim_id not in CLAIMS]
    if unknown or not claim_ids:
        raise ValueError(f"unknown claim ids {unknown or list(claim_ids)}: name claims of CLAIMS ({', '.join(CLAIMS)})")

    def mark(experiment: Callable[..., Measurement]) -> Callable[..., Measurement]:
        experiment.claims = claim_ids
        return experiment

    return mark


def confidence_interval(effects, level: float = 0.95) -> tuple[float, tuple[float, float]]:
    """Mean of per-seed effects and its Student-t confidence interval.

    Seeds are independent draws of the whole experiment (training and test images, and every
    random choice in training), so the interval is over what a rerun with a new seed would give.
    """
    effects = np.asarray(effects, dtype=float)
    if effects.ndim != 1 or len(effects) < 2:
        raise ValueError(f"need the effects of at least two seeds, got {effects.tolist()}")
    mean = float(effects.mean())
    half = float(stats.t.ppf(0.5 + level / 2, len(effects) - 1) * effects.std(ddof=1) / math.sqrt(len(effects)))
    return mean, (mean - half, mean + half)


def summarise(claim: Claim, effects: list[float], n_test: int, seconds: list[float] | None = None) -> dict:
    """The ledger's row for ``claim`` from its per-seed ``effects`` (and the seconds each seed's run took)."""
    mean, (low, high) = confidence_interval(effects)
    timing = {"seconds_per_seed": round(float(np.mean(seconds)), 1)} if seconds else {}
    return {
        "id": claim.id,
        "lecture": claim.lecture,
        "claim": claim.claim,
        "metric": claim.metric,
        "unit": claim.unit,
        "effect": round(mean, 4),
        "ci95": [round(low, 4), round(high, 4)],
        "seeds": len(effects),
        "effect_per_seed": [round(e, 4) for e in effects],
        "n_test": n_test,
        "holds": bool(low > -claim.margin),
        **({"margin": claim.margin} if claim.margin else {}),
        **timing,
    }


def ledger(path: str | Path = LEDGER) -> dict[str, dict]:
    """The ledger's rows by claim id (empty if ``make bench-claims`` has not run yet)."""
    path = Path(path)
    return {row["id"]: row for row in json.loads(path.read_text())} if path.is_file() else {}


def format_effect(value: float, unit: str) -> str:
    """An effect as the notebooks print it: accuracy differences in percentage points.

    Examples
    --------
    >>> format_effect(0.0123, "points"), format_effect(-0.5, "loss"), format_effect(0.84, "%")
    ('+1.2 points', '-0.500 loss', '+84%')
    """
    if unit == "points":
        return f"{100 * value:+.1f} points"
    if unit == "%":
        return f"{100 * value:+.0f}%"
    return f"{value:+.1f} s" if unit == "s" else f"{value:+.3f} {unit}"


def compare(claim_id: str, live_effect: float, *, rows: dict[str, dict] | None = None) -> str:
    """One line: this run's effect next to the ledger's mean, interval and verdict for the same claim."""
    rows = ledger() if rows is None else rows
    if claim_id not in rows:
        known = ", ".join(sorted(rows)) or "none yet: run make bench-claims"
        raise KeyError(f"no claim {claim_id!r} in the ledger (claims: {known})")
    row = rows[claim_id]
    low, high = row["ci95"]
    margin, unit = row.get("margin", 0.0), row["unit"]
    if row["holds"]:
        verdict = f"holds (as good as: the interval stays above {format_effect(-margin, unit)})" if margin else "holds"
    else:
        verdict = f"does NOT hold: the interval reaches {format_effect(-margin, unit) if margin else 'zero'}"
    return (
        f"[{claim_id}] this run: {format_effect(live_effect, row['unit'])}; over {row['seeds']} seeds: "
        f"{format_effect(row['effect'], row['unit'])} (95% CI {format_effect(low, row['unit'])} to "
        f"{format_effect(high, row['unit'])}): {verdict}"
    )


def plot_effects(
    rows: Sequence[dict],
    live: dict[str, float] | None = None,
    *,
    raw: dict[str, tuple[float, float]] | None = None,
    ax=None,
):
    """Claims of the ledger, one line each: every seed's effect, the mean and its 95% interval, and this run.

    ``rows`` are ledger rows (:func:`ledger`) of one unit; ``live`` maps claim ids
    to the effect a notebook just measured. Each row is labelled with its claim in a few words
    (``Claim.short``). ``raw`` maps claim ids to the two accuracies this run's effect is the
    difference of (the claimed side first), shown at the row's right end: an effect of two points
    means one thing between 50% and 52%, another between 97% and 99%. Zero is drawn: a claim holds
    where its whole interval is on the right of it (of the dashed margin, for a claim of "as good as").

    Examples
    --------
    >>> import matplotlib; matplotlib.use("Agg")
    >>> row = {"id": "x", "unit": "points", "effect": 0.02, "ci95": [0.01, 0.03], "effect_per_seed": [0.01, 0.03]}
    >>> ax = plot_effects([row], {"x": 0.025}, raw={"x": (0.975, 0.95)})
    >>> [t.get_text() for t in ax.texts]  # a claim of CLAIMS shows its short form
    ['x', 'this run: 97.5% against 95.0%']
    """
    units = {row["unit"] for row in rows}
    if len(units) != 1:
        raise ValueError(f"claims of one unit per figure, got {sorted(units)}")
    scale = 100 if units & {"points", "%"} else 1
    if ax is None:
        _, ax = plt.subplots(figsize=(6.5, 0.6 + 0.75 * len(rows)))
    for y, row in enumerate(rows):
        low, high = (scale * v for v in row["ci95"])
        seeds = [scale * v for v in row["effect_per_seed"]]
        ax.plot([low, high], [y, y], color="C0", lw=3, solid_capstyle="butt", label="95% interval" if y == 0 else None)
        ax.plot(seeds, [y] * len(seeds), "o", color="C0", alpha=0.35, ms=5, label="each seed" if y == 0 else None)
        ax.plot(scale * row["effect"], y, "|", color="C0", ms=14, mew=2, label="mean" if y == 0 else None)
        if live and row["id"] in live:
            ax.plot(scale * live[row["id"]], y, "*", color="C3", ms=12, label="this run" if y == 0 else None)
        claim = CLAIMS.get(row["id"])
        label = claim.short if claim and claim.short else row["id"]
        ax.annotate(label, (0, y), xycoords=("axes fraction", "data"), xytext=(4, 10), textcoords="offset points")
        if raw and row["id"] in raw:
            claimed, other = raw[row["id"]]
            ax.annotate(
                f"this run: {claimed:.1%} against {other:.1%}",
                (1, y),
                xycoords=("axes fraction", "data"),
                xytext=(-4, -16),
                textcoords="offset points",
                ha="right",
                fontsize=9,
                color="C3",
            )
    ax.axvline(0, color="grey", lw=1, ls=":")
    for margin in {row.get("margin", 0.0) for row in rows} - {0.0}:
        ax.axvline(-scale * margin, color="grey", lw=1, ls="--", label="margin of 'as good as'")
    ax.set_yticks([])
    ax.set_ylim(len(rows) - 0.4, -0.6)  # the first claim on top, each label above its row
    unit = units.pop()
    shown_as = {"points": "percentage points", "%": "%"}.get(unit, unit)
    ax.set_xlabel(f"effect in the claimed direction ({shown_as})")
    ax.legend(fontsize=9, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)  # beside the rows, not on them
    ax.grid(alpha=0.3, axis="x")
    return ax


#: Every claim the lectures make and measure, in lecture order.
CLAIMS: dict[str, Claim] = {
    claim.id: claim
    for claim in (
        Claim(
            "scratch-overfits",
            "01_cnns_story_so_far",
            "A network trained from scratch on a few hundred images learns them by heart and does not generalise.",
            "training minus test accuracy of a CNN with millions of parameters trained from scratch on 100 images",
            short="A CNN from scratch learns 100 photos by heart",
        ),
        Claim(
            "pretrained-beats-scratch",
            "01_cnns_story_so_far",
            "With very little data, a pretrained network is the way to an accurate classifier.",
            "test accuracy of feature extraction minus that of the CNN trained from scratch, 100 images",
            short="A pretrained base beats training from scratch",
        ),
        Claim(
            "later-layers-specific",
            "01_cnns_story_so_far",
            "Earlier layers learn highly generic feature maps (edges, colors, textures); later ones are "
            "specific to the task they were trained on.",
            "of the linear probe's gain from the base's first block to its output, the share the second half adds "
            "(middle block to output), on its source task minus on night-camera sunglasses vs hat",
            short="Later layers are specific to their task",
        ),
        Claim(
            "polar-separates-rings",
            "02_representation_learning",
            "A relatively difficult task becomes an easier one in a better representation: (x, y) -> (r, theta).",
            "held-out accuracy of logistic regression on (r, theta) minus on (x, y)",
            short="(r, theta) makes the rings separable",
        ),
        Claim(
            "features-beat-pixels",
            "02_representation_learning",
            "Representations learned by a big network make a simple classifier accurate on new images.",
            "test accuracy of logistic regression on pretrained features minus on raw pixels, 100 images",
            short="Pretrained features beat raw pixels",
        ),
        Claim(
            "features-once-is-fast",
            "03_feature_extraction",
            "Features computed once make a new classifier on top train in seconds.",
            "seconds to train a dense head through the frozen base (20 epochs) minus a logistic regression on features",
            unit="s",
            short="Features computed once train fast",
        ),
        Claim(
            "low-rate-protects",
            "04_fine_tuning",
            "Fine-tune at a low learning rate: big gradient updates wreck the pretrained features. Adam's "
            "default rate is low enough here; going lower gains nothing measurable.",
            "test accuracy after fine-tuning 6 blocks from the same trained head at Adam's default rate (1e-3) "
            "minus at ten times it (1e-2); the sweep also runs 1e-5 and 1e-4",
            short="Ten times Adam's rate wrecks the features",
        ),
        Claim(
            "train-head-first",
            "04_fine_tuning",
            "Train the new head on the frozen base first, then unfreeze: a random head sends larger gradients "
            "into the pretrained layers.",
            "gradient norm reaching the 6 unfrozen blocks at the first step of fine-tuning from a random head, "
            "relative to from a head trained 8 epochs on the frozen base (mean over batches of 25 of 100 photos)",
            unit="%",
            short="A random head sends larger gradients",
        ),
        Claim(
            "batchnorm-frozen",
            "04_fine_tuning",
            "Unfrozen BatchNorm layers that learn statistics from small batches of a small set hurt fine-tuning.",
            "test accuracy with BatchNorm frozen minus with BatchNorm training, batches of 4",
            short="Frozen BatchNorm beats training it",
        ),
        Claim(
            "fine-tune-beats-extraction",
            "04_fine_tuning",
            "To particularise the model to our task, it is worth tuning the later layers as well.",
            "test accuracy of fine-tuning the later half of the base (9 of 18 blocks, at most 20 epochs) minus "
            "feature extraction, 300 night-camera photos",
            short="Fine-tuning the later half beats extraction",
        ),
        Claim(
            "fine-tune-everything",
            "04_fine_tuning",
            "Fine tuning: train everything, but start with weights that are trained already.",
            "test accuracy of fine-tuning every block from the pretrained weights (at most 20 epochs) minus "
            "feature extraction, 300 night-camera photos",
            short="Fine-tuning every block beats extraction",
        ),
        Claim(
            "differential-matches-best-single",
            "05_differential_learning_rates",
            "Train different layers at different rates: in one run, differential rates come within 2 points of "
            "the best single rate of a sweep.",
            "test accuracy after training every block and a new head for 6 epochs with differential rates (3e-3 "
            "for the head, each earlier group 10x slower) minus the best of the single rates 1e-5, 1e-4, 1e-3 and "
            "3e-3 (chosen on 200 validation photos), 300 training photos; holds if the interval stays above -2 points",
            seeds=8,
            margin=0.02,
            short="Differential rates match the best single rate",
        ),
        Claim(
            "step-back",
            "05_differential_learning_rates",
            "Train until you overfit, then step back some epochs: the best validation epoch's weights are "
            "less confidently wrong on new photos.",
            "test loss at the last of 30 epochs of fine-tuning every block with differential rates (3e-3 for the "
            "head, each earlier group 10x slower) on 100 night-camera photos, minus test loss with the best "
            "validation epoch's weights (200 validation photos)",
            unit="loss",
            seeds=8,
            short="Stepping back lowers the test loss",
        ),
        Claim(
            "gradcam-finds-accessory",
            "06_what_the_model_looks_at",
            "Saliency maps show what the model looks at: the accessory that decides the class.",
            "how often Grad-CAM's hottest pixel (12x12 map) lies in the deciding accessory's box, minus the box's "
            "share of the image",
            short="Grad-CAM points at the accessory",
        ),
        Claim(
            "unlabeled-beats-random",
            "07_beyond_classification",
            "You can learn representations from unlabeled data.",
            "linear-probe test accuracy on the base pretrained without labels (contrastive, SimCLR) minus on a "
            "base with random weights, 10 photos per class",
            short="Pretraining without labels beats random",
        ),
        Claim(
            "pretrained-encoder-segments",
            "07_beyond_classification",
            "You can train a network for classification and use it for segmentation.",
            "mean IoU of the same decoder trained on 100 photos' masks on the frozen pretrained base minus on a "
            "random base",
            short="A classifier's base helps segmentation",
        ),
        Claim(
            "old-head-reused",
            "07_beyond_classification",
            "When the new classes are among the old ones, you could get away with using the head FC layers as well.",
            "test accuracy of the source task's head on two of its classes, untrained, minus a new head trained on "
            "10 photos",
            short="The old head beats a new one on old classes",
        ),
    )
}
