"""Progress bars for long work: tqdm's, left out of runs that nobody watches."""

from __future__ import annotations

import os

from tqdm.auto import tqdm


def progress_bar(*, total: int | None, desc: str, unit: str = "img", enabled: bool = True) -> tqdm:
    """A tqdm bar (a widget in a notebook, text elsewhere), or a silent one.

    ``enabled=False`` silences it, and so does ``TQDM_DISABLE=1`` in the environment: the course's
    own notebook runs (the tests, the book) set it, since a widget bar in a saved notebook keeps
    the state it was first drawn in, 0%.

    Examples
    --------
    >>> with progress_bar(total=3, desc="counting", enabled=False) as bar:
    ...     for _ in range(3):
    ...         bar.update()
    >>> bar.disable  # nothing drawn, nothing counted
    True
    """
    return tqdm(total=total, desc=desc, unit=unit, disable=not enabled or bool(os.environ.get("TQDM_DISABLE")))
