"""Redraw the pictures of the data shown in README: ``python -m tools.docs_images``."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from helpers.plots import image_grid  # noqa: E402
from helpers.tasks import SOURCE_CLASSES, TARGET_CLASSES, make_source_task, make_sunglasses_vs_hat  # noqa: E402
from tools.notebooks import ROOT  # noqa: E402

DOCS = ROOT / "docs"


def target_grid(path=DOCS / "sunglasses_vs_hat.png", per_class: int = 16, seed: int = 0) -> None:
    images, labels = make_sunglasses_vs_hat(2 * per_class, seed=seed)
    fig, axes = plt.subplots(2, 1, figsize=(9.6, 5.4))
    for label, ax in enumerate(axes):
        image_grid(images[labels == label], columns=8, ax=ax, title=TARGET_CLASSES[label])
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def source_grid(path=DOCS / "source_task.png", seed: int = 0) -> None:
    images, labels = make_source_task(2 * len(SOURCE_CLASSES), seed=seed)
    order = labels.argsort(kind="stable")
    fig, ax = plt.subplots(figsize=(1.2 * len(SOURCE_CLASSES), 3.2))
    image_grid(
        images[order],
        labels[order],
        class_names=SOURCE_CLASSES,
        columns=len(SOURCE_CLASSES),
        ax=ax,
        title=f"Source task for pretraining: {len(SOURCE_CLASSES)} accessories, half the people wearing"
        " a second one; no sunglasses, no hats",
    )
    fig.tight_layout()
    fig.savefig(path, dpi=100)


if __name__ == "__main__":
    DOCS.mkdir(exist_ok=True)
    target_grid()
    source_grid()
    print(f"wrote {DOCS / 'sunglasses_vs_hat.png'} and {DOCS / 'source_task.png'}")
