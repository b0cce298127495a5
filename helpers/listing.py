"""A helper's code listed in a notebook: the code a lecture teaches, from the one place it lives.

The listing starts with the line that imports it, so a student can use it in their own notebook.

Examples
--------
>>> from helpers.surgery import unfreeze_all
>>> listing = show_code(unfreeze_all).data
>>> listing.splitlines()[0], "unfreeze_last" in listing
('# from helpers.surgery import unfreeze_all', True)
"""

from __future__ import annotations

import inspect

from IPython.display import Code


def show_code(obj) -> Code:
    """The code of a function or class as a syntax-highlighted cell output (leave it last in a cell)."""
    where = f"# from {obj.__module__} import {obj.__qualname__}\n"
    return Code(where + inspect.getsource(obj), language="python")
