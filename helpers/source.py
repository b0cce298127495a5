"""A helper's own source, shown in a notebook: the code a lecture teaches, from the one place it lives.

Examples
--------
>>> from helpers.surgery import unfreeze_all
>>> "unfreeze_last" in show_source(unfreeze_all).data
True
"""

from __future__ import annotations

import inspect

from IPython.display import Code


def show_source(obj) -> Code:
    """The source of a function or class as a syntax-highlighted cell output (leave it last in a cell)."""
    return Code(inspect.getsource(obj), language="python")
