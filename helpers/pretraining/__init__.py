"""How the shipped bases were made: pretraining on the source portraits, with labels and without.

``make pretrain`` runs :mod:`helpers.pretraining.supervised`; ``make pretrain-unlabeled`` runs
:mod:`helpers.pretraining.self_supervised`. The student API loads their results through
:func:`helpers.models.load_base`.
"""
