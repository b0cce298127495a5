"""Every experiment of the claims ledger, in lecture order: what ``make bench-claims`` runs.

Examples
--------
>>> measuring("step-back").__name__
'step_back'
"""

from __future__ import annotations

from collections.abc import Callable

from helpers.evidence import fine_tuning, representations, reuse, saliency, schedules
from helpers.evidence.claims import Measurement

EXPERIMENTS: dict[str, Callable[..., Measurement]] = {
    experiment.__name__: experiment
    for experiment in (
        representations.scratch_against_pretrained,
        representations.transferability,
        representations.representation,
        representations.feature_heads,
        fine_tuning.learning_rate_sweep,
        fine_tuning.head_first,
        fine_tuning.batchnorm_trap,
        fine_tuning.fine_tune_against_extraction,
        schedules.differential_rates,
        schedules.step_back,
        saliency.gradcam_regions,
        representations.unlabeled_representations,
        reuse.segmentation_transfer,
        reuse.old_head,
    )
}


def measuring(claim_id: str) -> Callable[..., Measurement]:
    """The experiment that measures ``claim_id``."""
    found = [experiment for experiment in EXPERIMENTS.values() if claim_id in experiment.claims]
    if len(found) != 1:
        raise KeyError(f"{len(found)} experiments measure {claim_id!r}: mark exactly one with @measures({claim_id!r})")
    return found[0]
