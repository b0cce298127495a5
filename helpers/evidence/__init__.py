"""The course's evidence: each lecture claim, the experiment that measures it, and the ledger of their effects.

:mod:`helpers.evidence.claims` is the catalogue and the ledger (no TensorFlow). The experiments
live by lecture: :mod:`~helpers.evidence.representations` (01, 02, 03, 07),
:mod:`~helpers.evidence.fine_tuning` (04), :mod:`~helpers.evidence.schedules` (05),
:mod:`~helpers.evidence.saliency` (06) and :mod:`~helpers.evidence.reuse` (07);
:mod:`helpers.evidence.experiments` lists them for ``make bench-claims``.
"""
