"""helpers.surgery: heads, freezing by block, BatchNorm that stays frozen, recompiling on change."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from helpers.models import load_base
from helpers.surgery import (
    attach_head,
    base_blocks,
    block_outputs,
    blocks,
    cut,
    freeze_base,
    get_layer,
    head_from_logistic_regression,
    trainable_summary,
    unfreeze_last,
)

RNG = np.random.default_rng(0)
IMAGES = RNG.integers(0, 256, (16, 96, 96, 3)).astype("float32")
LABELS = np.arange(16) % 2


def _compiled(model, lr=1e-2):
    model.compile(keras.optimizers.SGD(lr), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model


def _values(layer):
    return [w.numpy().copy() for w in layer.weights]


def _changed(before, layer):
    return any(not np.allclose(a, b.numpy()) for a, b in zip(before, layer.weights, strict=True))


@pytest.fixture
def model():
    keras.utils.set_random_seed(0)
    return attach_head(load_base("bundled"), 2)


def test_attach_head_is_flat_and_mobilenet_blocks_are_named(model):
    assert model.get_layer("block_16_project").name == "block_16_project"  # reachable by name
    names = list(blocks(model))
    assert names[0] == "stem" and names[-2:] == ["top", "head"] and "block_16" in names
    assert base_blocks(model)[-1] == "top" and len(base_blocks(model)) == 18
    assert model.output.shape == (None, 2)


def test_block_outputs_end_each_block_just_before_the_next_begins(model):
    ends = block_outputs(model)
    assert list(ends) == base_blocks(model)  # the head is not a block of the base
    names = [layer.name for layer in model.layers]
    firsts = [layers[0].name for layers in blocks(model).values()]
    for (block, end), next_first in zip(ends.items(), firsts[1:], strict=True):
        assert names.index(end) == names.index(next_first) - 1 or block == "top", block
    assert ends["block_5"] == "block_5_add" and ends["top"] == "out_relu"


def test_unfrozen_blocks_train_and_batchnorm_statistics_do_not(model):
    _compiled(unfreeze_last(model, 2))
    conv, bn = model.get_layer("block_16_project"), model.get_layer("block_16_project_BN")
    frozen_conv = model.get_layer("block_10_project")
    conv_before, bn_before, frozen_before = _values(conv), _values(bn), _values(frozen_conv)
    model.fit(IMAGES, LABELS, epochs=1, batch_size=8, verbose=0)
    assert _changed(conv_before, conv)
    assert not _changed(bn_before, bn)  # gamma, beta, moving mean and variance all unchanged
    assert not _changed(frozen_before, frozen_conv)


def test_changing_what_trains_recompiles_so_it_takes_effect(model):
    _compiled(freeze_base(model))
    model.fit(IMAGES, LABELS, epochs=1, batch_size=8, verbose=0)
    conv = model.get_layer("Conv_1")
    before = _values(conv)
    unfreeze_last(model, 1, learning_rate=0.05)  # no compile() call by the user
    assert float(model.optimizer.learning_rate.numpy()) == pytest.approx(0.05)
    model.fit(IMAGES, LABELS, epochs=1, batch_size=8, verbose=0)
    assert _changed(before, conv)
    freeze_base(model)
    before = _values(conv)
    model.fit(IMAGES, LABELS, epochs=1, batch_size=8, verbose=0)
    assert not _changed(before, conv)


def test_trainable_summary_counts_per_block(model):
    rows = unfreeze_last(model, 1) and trainable_summary(model)
    assert rows["head"]["trainable"] == 1280 * 2 + 2
    assert rows["top"]["trainable"] > 0 and rows["block_16"]["trainable"] == 0
    total = sum(r["trainable"] + r["frozen"] for r in rows.values())
    assert total == model.count_params()


def test_too_many_blocks_and_unknown_layers_say_what_exists(model):
    with pytest.raises(ValueError, match="between 0 and 18"):
        unfreeze_last(model, 19)
    with pytest.raises(ValueError, match="Close matches: block_16_project"):
        get_layer(model, "block_16_projet")


def test_plain_sequential_cnn_falls_back_to_layers():
    cnn = keras.Sequential(
        [
            keras.Input((32, 32, 3)),
            keras.layers.Conv2D(4, 3, name="c1"),
            keras.layers.BatchNormalization(name="b1"),
            keras.layers.Conv2D(4, 3, name="c2"),
            keras.layers.GlobalAveragePooling2D(),
            keras.layers.Dense(2, name="d"),
        ]
    )
    assert list(blocks(cnn)) == ["c1", "c2", "d"]
    unfreeze_last(cnn, 1)
    assert [layer.name for layer in cnn.layers if layer.trainable and layer.weights] == ["c2", "d"]
    assert not cnn.get_layer("b1").trainable


def test_cut_makes_a_feature_extractor(model):
    extractor = cut(model, at="block_6_expand_relu")
    assert extractor.output.shape == (None, 12, 12, 96)
    assert cut(model, at=-1).output.shape == (None, 2)
    with pytest.raises(IndexError, match="out of range"):
        cut(model, at=999)


@pytest.mark.parametrize("n_classes", [2, 3])
def test_head_from_logistic_regression_gives_the_classifiers_decisions(n_classes):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    rng = np.random.default_rng(n_classes)
    features = rng.normal(3, 5, size=(60, 8)).astype("float32")
    labels = np.arange(60) % n_classes
    classifier = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(features, labels)
    dense = keras.layers.Dense(n_classes)
    dense.build((None, 8))
    head_from_logistic_regression(dense, classifier)
    probabilities = keras.ops.convert_to_numpy(keras.ops.softmax(dense(features), axis=-1))
    np.testing.assert_allclose(probabilities, classifier.predict_proba(features), atol=1e-5)
    too_few = keras.layers.Dense(n_classes + 1)
    too_few.build((None, 8))
    with pytest.raises(ValueError, match=f"{n_classes} classes.*{n_classes + 1} outputs"):
        head_from_logistic_regression(too_few, classifier)


def test_head_from_logistic_regression_refuses_what_it_cannot_fold():
    from sklearn.decomposition import PCA
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    features, labels = np.random.default_rng(0).normal(size=(20, 4)), np.arange(20) % 2
    dense = keras.layers.Dense(2)
    dense.build((None, 4))
    with pytest.raises(ValueError, match="only a StandardScaler.*PCA"):
        head_from_logistic_regression(dense, make_pipeline(PCA(4), LogisticRegression()).fit(features, labels))
    with pytest.raises(ValueError, match="not a fitted linear classifier"):
        head_from_logistic_regression(dense, LogisticRegression())
