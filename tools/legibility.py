"""Whether a matplotlib figure is legible at the size JupyterLab shows it: no overlapping text, no tiny images or fonts.

JupyterLab shows an inline figure at its saved size (``figure.dpi``, trimmed by
``bbox_inches="tight"``), scaled down to the width of the notebook when it is wider. At that
scale, :func:`figure_problems` names every pair of overlapping texts (titles, labels, tick labels,
annotations), every image narrower than :data:`MIN_IMAGE_PX`, every text smaller than
:data:`MIN_FONT_PX`, and every legend drawn over plotted points. :func:`watch_figures` runs it
on every figure a notebook's cells leave to be shown; the notebook tests use it on every lecture.
"""

from __future__ import annotations

import functools
import itertools

from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.text import Text

#: The widest a figure shows in a JupyterLab notebook on a laptop screen, in pixels; wider ones are scaled down.
DISPLAY_WIDTH = 900
#: The narrowest an image may show (a 96x96 portrait below this is a smudge).
MIN_IMAGE_PX = 72
#: The smallest a text may show, in pixels (about 7 points).
MIN_FONT_PX = 9.0
#: Two texts overlap when their boxes share more than this many pixels each way.
OVERLAP_PX = 1.0


def _drawn_texts(fig: Figure) -> list[Text]:
    """The texts a draw of ``fig`` actually draws (not tick labels kept for ticks out of view, nor hidden ones)."""
    drawn: list[Text] = []
    original = Text.draw

    def recording_draw(text, renderer):
        if text.get_visible() and text.get_text().strip():
            drawn.append(text)
        return original(text, renderer)

    Text.draw = recording_draw
    try:
        fig.canvas.draw()
    finally:
        Text.draw = original
    return list({id(text): text for text in drawn}.values())


def _points_under_legend(axes: Axes, renderer) -> int:
    """How many plotted points (line vertices, scatter markers) of ``axes`` its own legend's box covers."""
    legend = axes.get_legend()
    if legend is None or not legend.get_visible():
        return 0
    box = legend.get_window_extent(renderer)
    shown = [
        line.get_transform().transform(line.get_xydata())
        for line in axes.get_lines()
        if line.get_visible() and line.get_transform() is axes.transData  # not axhline's axes-spanning ends
    ]
    shown += [c.get_offset_transform().transform(c.get_offsets()) for c in axes.collections if c.get_visible()]
    return sum(int(box.contains(x, y)) for points in shown for x, y in points if axes.bbox.contains(x, y))


def figure_problems(fig: Figure, name: str = "figure") -> list[str]:
    """Every legibility problem of ``fig`` as JupyterLab would show it, each a sentence naming ``name``."""
    texts = _drawn_texts(fig)
    renderer = fig.canvas.get_renderer()
    texts = [t for t in texts if min(t.get_window_extent(renderer).size) >= 1]
    shown_width = fig.get_tightbbox(renderer).width * fig.dpi
    scale = min(1.0, DISPLAY_WIDTH / shown_width)
    problems = []
    for text in texts:
        size = text.get_fontsize() * fig.dpi / 72 * scale
        if size < MIN_FONT_PX:
            problems.append(f"{name}: text {text.get_text()!r} shows {size:.1f} px high (at least {MIN_FONT_PX})")
    for first, second in itertools.combinations(texts, 2):
        a, b = first.get_window_extent(renderer), second.get_window_extent(renderer)
        wide = min(a.x1, b.x1) - max(a.x0, b.x0)
        high = min(a.y1, b.y1) - max(a.y0, b.y0)
        if wide > OVERLAP_PX and high > OVERLAP_PX:
            problems.append(f"{name}: texts {first.get_text()!r} and {second.get_text()!r} overlap")
    for axes in fig.axes:
        if axes.get_visible() and axes.images:
            width = axes.get_window_extent(renderer).width * scale
            if width < MIN_IMAGE_PX:
                title = axes.get_title() or "untitled"
                problems.append(f"{name}: an image ({title!r}) shows {width:.0f} px wide (at least {MIN_IMAGE_PX})")
        if covered := _points_under_legend(axes, renderer):
            title = axes.get_title() or "untitled"
            problems.append(f"{name}: the legend of {title!r} covers {covered} plotted points: move it off the data")
    return problems


def watch_figures(shell) -> list[str]:
    """Check every figure before IPython's inline backend shows it; returns the list of problems, growing.

    Call it before ``matplotlib.pyplot`` is first imported. Figures a cell leaves open are shown
    by a ``post_execute`` callback that the inline backend registers on that import, and IPython
    runs callbacks in the order they were registered; figures shown by ``plt.show()`` go through
    the backend's ``show``, which is wrapped here.
    """
    from matplotlib._pylab_helpers import Gcf
    from matplotlib_inline import backend_inline

    found: list[str] = []

    def check() -> None:
        for manager in Gcf.get_all_fig_managers():
            found.extend(figure_problems(manager.canvas.figure, f"cell [{shell.execution_count}]"))

    original_show = backend_inline.show

    # The backend keeps its state (figures to draw, whether one was) as attributes of its module's
    # `show`, whichever function that is: wraps() hands them over.
    @functools.wraps(original_show)
    def show(*args, **kwargs):
        check()
        return original_show(*args, **kwargs)

    backend_inline.show = show
    shell.events.register("post_execute", check)
    return found
