"""helpers.plots and helpers.explain: each plot returns its Axes and draws what it says, headless."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import keras  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402

from helpers import plots  # noqa: E402
from helpers.explain import gradcam, last_conv_layer, saliency  # noqa: E402
from helpers.models import load_base  # noqa: E402
from helpers.surgery import attach_head  # noqa: E402
from helpers.tasks import TARGET_CLASSES, make_sunglasses_vs_hat  # noqa: E402

IMAGES, LABELS = make_sunglasses_vs_hat(8, seed=3)


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def classifier():
    keras.utils.set_random_seed(0)
    return attach_head(load_base("bundled"), 2)


def test_image_grid_marks_mistakes_in_red():
    predictions = LABELS.copy()
    predictions[[1, 4]] = 1 - predictions[[1, 4]]
    ax = plots.image_grid(IMAGES, LABELS, class_names=TARGET_CLASSES, predictions=predictions, columns=4)
    red = [t for t in ax.texts if t.get_color() == "#d01c1c"]
    assert len(red) == 2 and len(ax.texts) == 8
    assert ax.images[0].get_array().shape[:2] == (2 * (96 + 6 + 24), 4 * (96 + 6))
    with pytest.raises(ValueError, match="shape"):
        plots.image_grid(IMAGES[0])


def test_image_grid_writes_the_confidence_of_each_prediction():
    predictions = LABELS.copy()
    predictions[0] = 1 - predictions[0]
    confidences = np.linspace(0.5, 1.0, len(LABELS))
    ax = plots.image_grid(
        IMAGES, LABELS, class_names=TARGET_CLASSES, predictions=predictions, confidences=confidences, columns=4
    )
    texts = [t.get_text() for t in ax.texts]
    assert texts[0] == f"{TARGET_CLASSES[predictions[0]]} 50%" and texts[-1].endswith(" 100%")
    assert ax.texts[0].get_color() == "#d01c1c" and ax.texts[1].get_color() == "black"
    with pytest.raises(ValueError, match="one value per image"):
        plots.image_grid(IMAGES, LABELS, predictions=predictions, confidences=confidences[:3])


def test_training_curves_mark_the_best_epoch():
    history = {
        "accuracy": [0.5, 0.7, 0.9, 0.95],
        "val_accuracy": [0.5, 0.8, 0.75, 0.7],
        "loss": [1, 0.6, 0.3, 0.2],
        "val_loss": [1, 0.5, 0.6, 0.7],
    }
    ax = plots.training_curves({"fine-tune": history})
    stars = [line for line in ax.lines if line.get_marker() == "*"]
    assert len(stars) == 1 and list(stars[0].get_xdata()) == [2]


def test_kernels_and_feature_maps(classifier):
    ax = plots.conv_kernels(classifier.get_layer("Conv1"), max_kernels=8)
    assert ax.images[0].get_array().shape[1] == 8 * (24 + 2)  # 3x3 kernels enlarged 8x, 8 columns
    ax = plots.feature_maps(classifier, IMAGES[0], "block_3_expand_relu", channels=4, columns=4)
    assert "24x24" in ax.get_title()
    with pytest.raises(ValueError, match="Close matches"):
        plots.feature_maps(classifier, IMAGES[0], "block_3_expand_rellu")
    with pytest.raises(ValueError, match="not feature maps"):
        plots.feature_maps(classifier, IMAGES[0], "head_logits")


def test_confusion_matrix_shows_the_counts():
    ax = plots.confusion_matrix([0, 0, 1, 1, 1], [0, 1, 1, 1, 0], TARGET_CLASSES)
    counts = sorted(int(t.get_text()) for t in ax.texts)
    assert counts == [1, 1, 1, 2]


def test_embedding_one_colour_per_class():
    features = np.random.default_rng(0).normal(size=(40, 10)) + np.repeat([[0], [3]], 20, axis=0)
    labels = np.repeat([0, 1], 20)
    assert len(plots.embedding(features, labels, TARGET_CLASSES).collections) == 2
    assert len(plots.embedding(features, labels, method="tsne").collections) == 2
    with pytest.raises(ValueError, match="'pca' or 'tsne'"):
        plots.embedding(features, labels, method="umap")


def test_decision_boundary_and_params_vs_speed():
    rng = np.random.default_rng(0)
    points = rng.normal(size=(60, 2))
    labels = (points[:, 0] > 0).astype(int)
    ax = plots.decision_boundary(LogisticRegression().fit(points, labels), points, labels)
    assert ax.collections
    with pytest.raises(ValueError, match=r"\(n, 2\)"):
        plots.decision_boundary(None, rng.normal(size=(5, 3)), labels[:5])
    ax = plots.params_vs_speed(
        [
            {"name": "VGG16", "params": 134e6, "images_per_s": 5},
            {"name": "MobileNetV2", "params": 0.4e6, "images_per_s": 300},
        ]
    )
    assert [t.get_text() for t in ax.texts] == ["VGG16", "MobileNetV2"]


def test_gradcam_and_saliency_give_normalised_maps(classifier):
    assert last_conv_layer(classifier) == "out_relu"
    cam = gradcam(classifier, IMAGES[:2])
    sal = saliency(classifier, IMAGES[0])
    assert cam.shape == (2, 96, 96) and sal.shape == (1, 96, 96)
    assert 0 <= cam.min() and cam.max() <= 1 + 1e-6 and sal.max() == pytest.approx(1.0)
    ax = plots.heatmap_overlay(IMAGES[:2], cam, labels=["a", "b"])
    assert [t.get_text() for t in ax.texts] == ["a", "b"]


def test_gradcam_needs_a_conv_layer_and_image_shapes():
    dense = keras.Sequential([keras.Input((96, 96, 3)), keras.layers.Flatten(), keras.layers.Dense(2)])
    with pytest.raises(ValueError, match="no convolutional layer"):
        gradcam(dense, IMAGES[:1])
    with pytest.raises(ValueError, match=r"\(n, height, width, 3\)"):
        saliency(dense, IMAGES[:1, :, :, 0])


def test_probe_curves_draw_one_line_per_representation_with_plain_photo_counts():
    accuracy = {"unlabeled": {2: 0.6, 10: 0.7, 50: 0.8}, "pixels": {2: 0.5, 10: 0.52, 50: 0.55}}
    ax = plots.probe_curves(accuracy)
    lines = [line for line in ax.get_lines() if line.get_label() in accuracy]
    assert [line.get_label() for line in lines] == ["unlabeled", "pixels"]
    np.testing.assert_allclose(lines[0].get_ydata(), [60, 70, 80])
    assert [t.get_text() for t in ax.get_xticklabels()] == ["2", "10", "50"]
