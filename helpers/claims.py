"""The claims ledger: each lecture claim, the experiment that measures it, and its effect over seeds.

A claim is one sentence of the lecture, made measurable: an experiment (a function of a seed,
in :mod:`helpers.experiments`) returns the claim's *effect*, a difference oriented so that a
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
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
from scipy import stats

#: The ledger as ``make bench-claims`` wrote it, shipped inside the package (Colab installs only the package).
LEDGER = Path(str(resources.files("helpers") / "ledger" / "claims.json"))


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
    #: the function of :mod:`helpers.experiments` that measures it
    experiment: str
    #: ``"points"`` for accuracy differences (shown as percentage points), ``"s"`` for seconds, or ``"loss"``
    unit: str = "points"
    #: how many seeds ``make bench-claims`` runs at least (more where the effect varies more from seed to seed)
    seeds: int = 5


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


def summarise(claim: Claim, effects: list[float], n_test: int) -> dict:
    """The ledger's row for ``claim`` from its per-seed ``effects``."""
    mean, (low, high) = confidence_interval(effects)
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
        "holds": bool(low > 0),
    }


def ledger(path: str | Path = LEDGER) -> dict[str, dict]:
    """The ledger's rows by claim id (empty if ``make bench-claims`` has not run yet)."""
    path = Path(path)
    return {row["id"]: row for row in json.loads(path.read_text())} if path.is_file() else {}


def format_effect(value: float, unit: str) -> str:
    """An effect as the notebooks print it: accuracy differences in percentage points.

    Examples
    --------
    >>> format_effect(0.0123, "points"), format_effect(-0.5, "loss")
    ('+1.2 points', '-0.500 loss')
    """
    if unit == "points":
        return f"{100 * value:+.1f} points"
    return f"{value:+.1f} s" if unit == "s" else f"{value:+.3f} {unit}"


def compare(claim_id: str, live_effect: float, *, rows: dict[str, dict] | None = None) -> str:
    """One line: this run's effect next to the ledger's mean, interval and verdict for the same claim."""
    rows = ledger() if rows is None else rows
    if claim_id not in rows:
        known = ", ".join(sorted(rows)) or "none yet: run make bench-claims"
        raise KeyError(f"no claim {claim_id!r} in the ledger (claims: {known})")
    row = rows[claim_id]
    low, high = row["ci95"]
    verdict = "holds" if row["holds"] else "does NOT hold: the interval reaches zero"
    return (
        f"[{claim_id}] this run: {format_effect(live_effect, row['unit'])}; over {row['seeds']} seeds: "
        f"{format_effect(row['effect'], row['unit'])} (95% CI {format_effect(low, row['unit'])} to "
        f"{format_effect(high, row['unit'])}): {verdict}"
    )


#: Every claim the lectures make and measure, in lecture order.
CLAIMS: dict[str, Claim] = {
    claim.id: claim
    for claim in (
        Claim(
            "scratch-overfits",
            "01_cnns_story_so_far",
            "A network trained from scratch on a few hundred images learns them by heart and does not generalise.",
            "training minus test accuracy of a CNN with millions of parameters trained from scratch on 100 images",
            "scratch_against_pretrained",
        ),
        Claim(
            "pretrained-beats-scratch",
            "01_cnns_story_so_far",
            "With very little data, a pretrained network is the way to an accurate classifier.",
            "test accuracy of feature extraction minus that of the CNN trained from scratch, 100 images",
            "scratch_against_pretrained",
        ),
        Claim(
            "later-layers-specific",
            "01_cnns_story_so_far",
            "Earlier layers learn highly generic feature maps (edges, colors, textures); later ones are "
            "specific to the task they were trained on.",
            "linear-probe accuracy added by the second half of the base (middle block to output) on its source "
            "task minus on night-camera sunglasses vs hat",
            "transferability",
        ),
        Claim(
            "polar-separates-rings",
            "02_representation_learning",
            "A relatively difficult task becomes an easier one in a better representation: (x, y) -> (r, theta).",
            "held-out accuracy of logistic regression on (r, theta) minus on (x, y)",
            "representation",
        ),
        Claim(
            "features-beat-pixels",
            "02_representation_learning",
            "Representations learned by a big network make a simple classifier accurate on new images.",
            "test accuracy of logistic regression on pretrained features minus on raw pixels, 100 images",
            "representation",
        ),
        Claim(
            "features-once-is-fast",
            "03_feature_extraction",
            "Features computed once make a new classifier on top train in seconds.",
            "seconds to train a dense head through the frozen base (20 epochs) minus a logistic regression on features",
            "feature_heads",
            unit="s",
        ),
        Claim(
            "low-rate-protects",
            "04_fine_tuning",
            "Fine-tune with a very low learning rate: big gradient updates wreck the pretrained features.",
            "test accuracy after fine-tuning 6 blocks at 1e-4 minus at 1e-2, from the same trained head",
            "low_learning_rate",
        ),
        Claim(
            "batchnorm-frozen",
            "04_fine_tuning",
            "Unfrozen BatchNorm layers that learn statistics from small batches of a small set hurt fine-tuning.",
            "test accuracy with BatchNorm frozen minus with BatchNorm training, batches of 4",
            "batchnorm_trap",
        ),
        Claim(
            "fine-tune-beats-extraction",
            "04_fine_tuning",
            "To particularise the model to our task, it is worth tuning the later layers as well.",
            "test accuracy of fine-tuning the later half of the base (9 of 18 blocks) minus feature extraction, "
            "300 night-camera photos",
            "fine_tune_against_extraction",
        ),
        Claim(
            "fine-tune-everything",
            "04_fine_tuning",
            "Fine tuning: train everything, but start with weights that are trained already.",
            "test accuracy of fine-tuning every block from the pretrained weights minus feature extraction, "
            "300 night-camera photos",
            "fine_tune_against_extraction",
        ),
        Claim(
            "differential-beats-single",
            "05_differential_learning_rates",
            "Train different layers at different rates: each earlier layer group 3x-10x slower than the next.",
            "test accuracy after training every block and a new head for 6 epochs with differential rates minus "
            "the better of one low (1e-5) and one high (3e-3) rate, 300 photos",
            "differential_rates",
            # Every one of 5 seeds was positive, but one low-rate run in five trains the head far less
            # than the others, and that spread alone kept the 5-seed interval across zero.
            seeds=8,
        ),
        Claim(
            "step-back",
            "05_differential_learning_rates",
            "Train until you overfit, then step back some epochs.",
            "test loss at the last epoch minus test loss with the best validation epoch's weights",
            "step_back",
            unit="loss",
        ),
        Claim(
            "gradcam-finds-accessory",
            "06_what_the_model_looks_at",
            "Saliency maps show what the model looks at: the accessory that decides the class.",
            "how often Grad-CAM's hottest pixel (12x12 map) lies in the deciding accessory's box, minus the box's "
            "share of the image",
            "gradcam_regions",
        ),
        Claim(
            "pretrained-encoder-segments",
            "07_beyond_classification",
            "You can train a network for classification and use it for segmentation.",
            "mean IoU of the same decoder trained on 100 photos' masks on the frozen pretrained base minus on a "
            "random base",
            "segmentation_transfer",
        ),
        Claim(
            "old-head-reused",
            "07_beyond_classification",
            "When the new classes are among the old ones, you could get away with using the head FC layers as well.",
            "test accuracy of the source task's head on two of its classes, untrained, minus a new head trained on "
            "10 photos",
            "old_head",
        ),
    )
}
