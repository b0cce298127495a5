"""The course's evidence: each lecture claim, the experiment that measures it, and the ledger of their effects.

:mod:`helpers.evidence.claims` is the catalogue and the ledger (no TensorFlow);
:mod:`helpers.evidence.representations`, :mod:`helpers.evidence.fine_tuning` and
:mod:`helpers.evidence.reuse` hold the experiments, and :mod:`helpers.evidence.experiments`
lists them for ``make bench-claims``.
"""
