"""Self-checks that agree with the grader: a score on photos you can see, read against the grader's line.

The grader scores some steps of the exercise on 1,000 photos you never see, and needs a given
accuracy on them. A self-check can only score your model on photos you *can* see, drawn the
same way: another 1,000. The two scores differ by chance, by about a point either way. So a
self-check

* fails when your model is below the grader's line on the photos you see,
* says "Right." only when it clears the line by :data:`MARGIN` (3 points), and
* in between says that you are close to the line, where chance can decide the grader's verdict.

For a model anywhere near the line, the chance that the self-check says "Right." and the grader's
photos then put it below the line is under 2 in 100 (:func:`wrong_right_chance` works it out);
``python -m benchmarks.exercise --agreement`` measures it on graded submissions.
"""

from __future__ import annotations

from math import erf, sqrt

#: How far above the grader's line a self-check's score must be for "Right.".
MARGIN = 0.03

#: How many photos the self-checks and the grader each score.
PHOTOS = 1000


def against_the_grader(score: float, needed: float, *, what: str, difference: bool = False) -> bool:
    """Print ``what`` scored ``score`` against the grader's line ``needed``; fail below it.

    Parameters
    ----------
    score : float
        The self-check's measurement on the photos you can see: an accuracy, or (``difference``)
        a change of accuracy.
    needed : float
        The grader's line for the same measurement on its own photos.
    what : str
        What was measured, as the printed line names it.
    difference : bool
        ``score`` and ``needed`` are changes of accuracy, printed in points.

    Returns
    -------
    bool
        Whether ``score`` clears the line by :data:`MARGIN`, so that the grader agrees.

    Raises
    ------
    AssertionError
        If ``score`` is below ``needed``: the grader would take the points.

    Examples
    --------
    >>> against_the_grader(0.95, 0.85, what="new head")
    new head: 95.0% on 1,000 photos you can see (the grader needs 85% on 1,000 you cannot)
    True
    >>> against_the_grader(0.86, 0.85, what="new head")
    new head: 86.0% on 1,000 photos you can see (the grader needs 85% on 1,000 you cannot)
    False
    """
    if difference:
        shown, line = f"{100 * score:+.1f} points", f"{100 * needed:+.0f} points"
    else:
        shown, line = f"{score:.1%}", f"{needed:.0%}"
    text = f"{what}: {shown} on {PHOTOS:,} photos you can see (the grader needs {line} on {PHOTOS:,} you cannot)"
    if score < needed:
        raise AssertionError(f"{text}: below the grader's line")
    print(text)
    return score >= needed + MARGIN


def verdict(*clear: bool) -> None:
    """Print "Right." if every measurement cleared the grader's line by the margin, else say how close it is."""
    if all(clear):
        print("Right.")
    else:
        print(
            f"Close to the grader's line (within {100 * MARGIN:.0f} points): on its own photos chance can put "
            "your model on either side. Train a little more, or choose again, to be safe."
        )


def wrong_right_chance(accuracy: float, needed: float, margin: float = MARGIN, photos: int = PHOTOS) -> float:
    """The chance that a model of true ``accuracy`` scores "Right." here but below ``needed`` for the grader.

    Both scores count right answers among ``photos`` independent photos (normal approximation).

    Examples
    --------
    >>> worst = max(wrong_right_chance(a / 1000, 0.85) for a in range(800, 950))
    >>> round(worst, 3)
    0.007
    """
    spread = sqrt(accuracy * (1 - accuracy) / photos)

    def below(x: float) -> float:  # P(score < x)
        return 0.5 * (1 + erf((x - accuracy) / (spread * sqrt(2))))

    return (1 - below(needed + margin)) * below(needed)
