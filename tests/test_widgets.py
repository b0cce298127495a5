"""helpers.widgets: set controls as a student would, check what is computed and drawn."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from helpers import widgets  # noqa: E402
from helpers.models import load_base  # noqa: E402
from helpers.tasks import make_sunglasses_vs_hat  # noqa: E402

IMAGE = make_sunglasses_vs_hat(1, seed=1)[0][0]


def test_convolution_explorer_presets_and_edited_cells():
    explorer = widgets.ConvolutionExplorer(IMAGE)
    gray = IMAGE.mean(axis=-1)
    assert np.abs(explorer.result).max() > 0 and explorer.figure is not None  # Sobel x by default
    explorer.preset.value = "identity"
    np.testing.assert_allclose(explorer.result, gray)
    explorer.cells[4].value = 2.0  # the centre of the kernel, typed in
    np.testing.assert_allclose(explorer.result, 2 * gray)
    with pytest.raises(ValueError, match="2-D grayscale"):
        widgets.convolve(IMAGE, widgets.KERNEL_PRESETS["blur"])


def test_representation_explorer_polar_features_separate_the_rings():
    explorer = widgets.RepresentationExplorer()
    assert explorer.accuracy < 0.7
    explorer.representation.value = "r, theta"
    assert explorer.accuracy > 0.95
    assert "r, theta" in explorer.figure.axes[0].get_title()


def test_feature_map_explorer_follows_layer_and_channel():
    base = load_base("bundled")
    explorer = widgets.FeatureMapExplorer(base, IMAGE, layers=["Conv1_relu", "block_6_expand_relu"])
    assert explorer.result.shape == (48, 48) and explorer.channel.max == explorer.maps.shape[-1] - 1
    explorer.channel.value = 3
    np.testing.assert_array_equal(explorer.result, explorer.maps[..., 3])
    explorer.layer.value = "block_6_expand_relu"
    assert explorer.result.shape == (12, 12)
    dense = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    with pytest.raises(ValueError, match="no activation layers"):
        widgets.FeatureMapExplorer(dense, np.zeros((4,)))


def test_differential_lr_explorer():
    explorer = widgets.DifferentialLRExplorer(learning_rate=1e-3)
    explorer.factor.value = 10
    assert explorer.rates == pytest.approx([1e-6, 1e-5, 1e-4, 1e-3])


@pytest.mark.slow
def test_strategy_playground_runs_again_safely():
    playground = widgets.StrategyPlayground(n_test=40)
    playground.n_images.value = 20
    first = playground.run()
    assert first["strategy"] == "feature_extraction" and 0 <= first["test accuracy"] <= 1
    assert playground.epochs.disabled and playground.learning_rate.disabled  # feature extraction has no epochs
    assert "no epochs and no learning rate" in playground.applies.value
    playground.strategy.value, playground.epochs.value = "fine_tune", 2
    assert not playground.epochs.disabled and not playground.learning_rate.disabled and not playground.applies.value
    second = playground.run()
    assert [r["run"] for r in playground.results] == [1, 2] and second["strategy"] == "fine_tune"
    assert list(playground.histories) == ["2: fine_tune"]
    assert playground.progress.value == playground.progress.max and not playground.run_button.disabled


def test_live_curves_prints_a_line_per_epoch_outside_notebooks(capsys):
    net = keras.Sequential([keras.Input((2,)), keras.layers.Dense(2)])
    net.compile("sgd", keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    callback = widgets.live_curves()
    net.fit(np.zeros((4, 2)), np.zeros(4), epochs=3, verbose=0, callbacks=[callback])
    assert capsys.readouterr().out.count("epoch ") == 3 and len(callback.history["loss"]) == 3


def test_the_playground_says_which_controls_apply_to_each_strategy():
    playground = widgets.StrategyPlayground(n_test=40)
    ignored = {}
    for name in widgets.strategies.STRATEGIES:
        playground.strategy.value = name
        ignored[name] = playground.ignored_controls()
        assert playground.epochs.disabled == ("epochs" in ignored[name])
    assert ignored == {
        "pixels_logreg": ["epochs", "learning rate"],
        "scratch_cnn": [],
        "feature_extraction": ["epochs", "learning rate"],
        "fine_tune": [],
    }
