"""The legibility check that every notebook figure must pass: it finds what it should, and passes a clean figure."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from tools.legibility import figure_problems  # noqa: E402


def test_a_clean_figure_has_no_problem():
    fig, axes = plt.subplots(1, 2, figsize=(8, 3), layout="constrained")
    axes[0].plot([1, 2, 3])
    axes[0].set(title="training", xlabel="epoch", ylabel="loss")
    axes[1].imshow(np.zeros((96, 96, 3)))
    axes[1].set_title("a portrait")
    assert figure_problems(fig) == []
    plt.close(fig)


def test_overlapping_titles_are_found():
    fig, axes = plt.subplots(1, 2, figsize=(4, 2))
    axes[0].set_title("a long title for the left-hand plot")
    axes[1].set_title("and another one on the right")
    problems = figure_problems(fig, "f")
    assert any("overlap" in p and "left-hand" in p for p in problems), problems
    plt.close(fig)


def test_a_row_of_tiny_images_and_tiny_text_are_found():
    fig, axes = plt.subplots(1, 8, figsize=(3.9, 0.8))
    for ax in axes:
        ax.imshow(np.zeros((96, 96, 3)))
        ax.axis("off")
    fig.text(0.5, 0.5, "footnote", fontsize=4)
    problems = figure_problems(fig, "f")
    assert sum("px wide" in p for p in problems) == 8, problems
    assert any("'footnote'" in p and "px high" in p for p in problems), problems
    plt.close(fig)


def test_a_wide_figure_is_judged_at_the_width_jupyterlab_shows_it():
    fig, ax = plt.subplots(figsize=(30, 3))
    ax.plot([0, 1])
    ax.set_title("shrunk to a third", fontsize=10)
    assert any("shrunk to a third" in p and "px high" in p for p in figure_problems(fig)), figure_problems(fig)
    plt.close(fig)


def test_a_legend_over_the_data_is_found_and_one_beside_it_is_not():
    fig, axes = plt.subplots(1, 2, figsize=(8, 3), layout="constrained")
    for ax, where in zip(axes, ("upper left", "lower right"), strict=True):
        ax.plot(np.linspace(0, 0.4, 20), np.linspace(1, 0.6, 20), "o-", label="falling")  # all in the upper left
        ax.scatter([0.05], [0.95], label="a point")
        ax.set(title=where, xlim=(0, 1), ylim=(0, 1.05))
        ax.legend(loc=where)
    problems = figure_problems(fig, "f")
    assert [p for p in problems if "legend" in p] == [p for p in problems if "'upper left' covers" in p] != [], problems
    plt.close(fig)
