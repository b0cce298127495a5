"""Diagrams the lectures draw from code: boxes and arrows, so they travel with the package (Colab included).

Examples
--------
>>> import matplotlib; matplotlib.use("Agg")
>>> axes = workflows()
>>> [ax.get_title() for ax in axes]
['Traditional machine learning', 'Transfer learning']
"""

from __future__ import annotations

import matplotlib.pyplot as plt
from matplotlib.patches import FancyBboxPatch

DATA, MODEL, KNOWLEDGE = "#dbe9f6", "#fde2c8", "#d9f0d3"


def _box(ax, x: float, y: float, text: str, colour: str, width: float = 0.26, height: float = 0.16) -> None:
    ax.add_patch(
        FancyBboxPatch(
            (x - width / 2, y - height / 2), width, height, boxstyle="round,pad=0.01", fc=colour, ec="#555555"
        )
    )
    ax.text(x, y, text, ha="center", va="center", fontsize=9)


def _arrow(ax, start: tuple[float, float], end: tuple[float, float], text: str = "") -> None:
    ax.annotate("", end, start, arrowprops={"arrowstyle": "-|>", "color": "#555555", "lw": 1.4})
    if text:
        middle = ((start[0] + end[0]) / 2, (start[1] + end[1]) / 2 + 0.05)
        ax.text(*middle, text, ha="center", va="bottom", fontsize=8, color="#333333")


def workflows(axes=None):
    """Traditional machine learning (one model per task, from scratch) next to transfer learning (knowledge reused).

    Returns the two ``Axes``.
    """
    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(11, 3.6))
    left, right = axes
    for y, task in ((0.72, "A"), (0.28, "B")):
        _box(left, 0.2, y, f"task {task}: data\nand labels", DATA)
        _box(left, 0.78, y, f"model {task}\n(from scratch)", MODEL)
        _arrow(left, (0.34, y), (0.64, y), "learn")
    left.text(0.5, 0.5, "nothing carries over", ha="center", va="center", fontsize=8, style="italic", color="#666")
    _box(right, 0.2, 0.72, "source task:\nlots of labels", DATA)
    _box(right, 0.78, 0.72, "pretrained\nbase", MODEL)
    _arrow(right, (0.34, 0.72), (0.64, 0.72), "learn")
    _box(right, 0.2, 0.28, "target task:\na few labels", DATA)
    _box(right, 0.78, 0.28, "target model\n(base + new head)", MODEL, width=0.3)
    _arrow(right, (0.34, 0.28), (0.64, 0.28), "learn a little")
    _box(right, 0.78, 0.5, "knowledge:\nfeatures", KNOWLEDGE, width=0.22, height=0.12)
    _arrow(right, (0.78, 0.63), (0.78, 0.57))
    _arrow(right, (0.78, 0.43), (0.78, 0.37))
    for ax, title in ((left, "Traditional machine learning"), (right, "Transfer learning")):
        ax.set(xlim=(0, 1), ylim=(0.1, 0.9), title=title)
        ax.set_axis_off()
    return left, right
