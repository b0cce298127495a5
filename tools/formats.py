"""How README prints measured numbers and tables: percentages, seconds, megabytes, markdown tables."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import ROUND_HALF_UP, Decimal


def percent(fraction: float) -> str:
    """A fraction as README prints it: a percentage with one decimal, halves rounded up.

    Examples
    --------
    >>> percent(0.597), percent(0.5), percent(0.6505)
    ('59.7%', '50.0%', '65.1%')
    """
    value = (Decimal(str(fraction)) * 100).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
    return f"{value}%"


def seconds(value: float) -> str:
    """Training seconds as README prints them: one decimal below 100 s, whole seconds above.

    Examples
    --------
    >>> seconds(24.4), seconds(164.6), seconds(0.4)
    ('24.4', '165', '0.4')
    """
    return f"{value:.0f}" if value >= 100 else f"{value:.1f}"


def megabytes(value: float) -> str:
    """Peak memory in whole MB.

    Examples
    --------
    >>> megabytes(1227.0)
    '1227'
    """
    return f"{value:.0f}"


def table(header: Iterable[str], rows: Iterable[Iterable[str]]) -> str:
    """A markdown table; an empty cell is one space.

    Examples
    --------
    >>> print(table(["a", "b"], [["1", ""]]))
    | a | b |
    | --- | --- |
    | 1 | |
    """
    header = list(header)
    lines = [header, ["---"] * len(header), *rows]
    return "\n".join("|" + "|".join(f" {cell} " if cell else " " for cell in cells) + "|" for cells in lines)
