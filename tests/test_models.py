"""helpers.models and helpers.pretraining.supervised: the bundled base, ImageNet offline, reproducible pretraining."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import tensorflow as tf

from helpers import models
from helpers.models import (
    block_features,
    bundled_card,
    extract_features,
    load_base,
    sha256_of,
    small_cnn,
    source_classifier,
)
from helpers.pretraining.supervised import PretrainConfig, _columns, _mirrored_batches, fit_source_head
from helpers.surgery import base_blocks, cut
from helpers.tasks import make_source_task

IMAGES = np.random.default_rng(1).integers(0, 256, (8, 96, 96, 3)).astype("float32")
LABELS = np.arange(8) % 2


@pytest.fixture(scope="module")
def bundled():
    return load_base("bundled")


def test_bundled_base_is_small_checked_and_documented(bundled):
    card = bundled_card()
    assert models.BUNDLED_WEIGHTS.stat().st_size <= 10 * 1024 * 1024
    assert sha256_of(models.BUNDLED_WEIGHTS) == card["sha256"]
    assert card["source_validation_accuracy"] > 3 * card["chance_accuracy"]
    assert bundled.name == "base" and bundled.output.shape == (None, 3, 3, 1280)


def test_bundled_weights_differ_from_random(bundled):
    random_base = load_base(None)
    kernel = next(w for w in bundled.weights if w.path.endswith("Conv1/kernel"))
    random_kernel = next(w for w in random_base.weights if w.path.endswith("Conv1/kernel"))
    assert not np.allclose(kernel.numpy(), random_kernel.numpy())


def test_preprocessing_travels_with_the_base(bundled):
    assert bundled.layers[1].name == "preprocess"
    images = np.random.default_rng(0).integers(0, 256, (2, 96, 96, 3)).astype("float32")
    untouched = images.copy()
    out = bundled(images, training=False)
    np.testing.assert_array_equal(images, untouched)  # the caller's array is not changed in place
    scaled = bundled.get_layer("preprocess")(images).numpy()
    assert scaled.min() >= -1 and scaled.max() <= 1
    assert out.shape == (2, 3, 3, 1280)


def test_pooling_gives_vectors():
    assert load_base("bundled", pooling="avg").output.shape == (None, 1280)


def test_damaged_weights_are_refused(tmp_path, monkeypatch):
    damaged = tmp_path / models.BUNDLED_WEIGHTS.name
    shutil.copy(models.BUNDLED_WEIGHTS, damaged)
    with open(damaged, "r+b") as f:
        f.seek(5000)
        f.write(b"\xff" * 16)
    shutil.copy(models.BUNDLED_CARD, tmp_path / models.BUNDLED_CARD.name)
    monkeypatch.setattr(models, "BUNDLED_WEIGHTS", damaged)
    monkeypatch.setattr(models, "BUNDLED_CARD", tmp_path / models.BUNDLED_CARD.name)
    with pytest.raises(ValueError, match="damaged.*python -m helpers.pretraining.supervised"):
        load_base("bundled")
    damaged.unlink()
    with pytest.raises(FileNotFoundError, match="missing.*pip install -e"):
        load_base("bundled")


@pytest.fixture
def keras_home(tmp_path, monkeypatch):
    """An empty Keras cache (Keras reads KERAS_HOME once, at import, into this private setting)."""
    from keras.src.backend import config

    monkeypatch.setattr(config, "_KERAS_DIR", str(tmp_path))
    return tmp_path


def test_imagenet_offline_suggests_bundled(keras_home):
    # An empty cache: Keras must try to download, and the network guard refuses.
    with pytest.raises(OSError, match="weights='bundled'"):
        load_base("imagenet")


def test_bad_weights_name():
    with pytest.raises(ValueError, match="'bundled', 'unlabeled', 'imagenet' or None"):
        load_base("imagenett")


@pytest.mark.slow
def test_tiny_pretraining_writes_loadable_weights_and_card(tmp_path):
    from helpers.pretraining.supervised import PretrainConfig, pretrain

    card = pretrain(PretrainConfig.tiny(), tmp_path, n_jobs=1, verbose=0)
    weights = tmp_path / models.BUNDLED_WEIGHTS.name
    assert card["sha256"] == sha256_of(weights)
    assert json.loads((tmp_path / models.BUNDLED_CARD.name).read_text()) == card
    assert 0 <= card["source_validation_accuracy"] <= 1 and card["config"]["n_images"] == 96
    assert len(card["history"]["accessory_accuracy"]) == 1  # one epoch: the curve a lecture draws
    base = models.build_base()
    base.load_weights(weights)  # the same architecture load_base builds
    head = fit_source_head(tmp_path, n_per_class=2)
    assert head["sha256"] == sha256_of(tmp_path / models.SOURCE_HEAD.name) and head["n_images"] == 28
    assert json.loads((tmp_path / models.SOURCE_HEAD_CARD.name).read_text()) == head


def test_the_shipped_source_head_names_source_accessories_and_is_hash_checked(tmp_path, monkeypatch):
    images, labels = make_source_task(140, seed=123)
    logits = source_classifier().predict(images.astype("float32"), verbose=0)
    assert logits.shape == (140, 14) and (logits.argmax(axis=1) == labels).mean() > 0.4  # chance: 1/14
    damaged = tmp_path / models.SOURCE_HEAD.name
    damaged.write_bytes(models.SOURCE_HEAD.read_bytes()[:-10])
    monkeypatch.setattr(models, "SOURCE_HEAD", damaged)
    with pytest.raises(ValueError, match="damaged.*python -m helpers.pretraining.supervised"):
        source_classifier()


def test_pretraining_batches_mirror_the_face_geometry_with_the_pixels():
    images, labels, attributes = make_source_task(24, seed=3, image_size=32, return_attributes=True)
    columns = _columns(attributes)
    centre, spread = columns["geometry"].mean(axis=0), columns["geometry"].std(axis=0)
    batches = list(_mirrored_batches(images, labels, columns, centre, spread, PretrainConfig(batch_size=8)))
    flat = images.reshape(len(images), -1)
    seen, mirrored = [], 0
    for batch, targets in batches:
        geometry = targets["geometry"].numpy() * spread + centre
        rows = zip(batch.numpy(), targets["accessory"].numpy(), geometry, targets["second"].numpy(), strict=True)
        for image, label, where, second in rows:
            plain = np.flatnonzero((flat == image.ravel()).all(axis=1))
            flipped = np.flatnonzero((flat == image[:, ::-1].ravel()).all(axis=1))
            i = int(plain[0]) if len(plain) else int(flipped[0])
            expected = columns["geometry"][i].copy()
            if not len(plain):
                expected[0], expected[3] = 1 - expected[0], -expected[3]
                mirrored += 1
            np.testing.assert_allclose(where, expected, atol=1e-5)
            assert label == labels[i]
            assert second == attributes["second_accessory"][i] + 1  # the second accessory: 0 for none
            seen.append(i)
    assert sorted(seen) == list(range(24))  # every portrait once per epoch
    assert 0 < mirrored < 24


def _cache_fake_imagenet_weights(keras_home) -> np.ndarray:
    """Put ImageNet-format weights (random, saved as Keras' legacy HDF5) where Keras looks first."""
    import h5py
    import keras
    from keras.src.legacy.saving import legacy_h5_format

    keras.utils.set_random_seed(7)
    stand_in = keras.applications.MobileNetV2(
        input_shape=(96, 96, 3), alpha=models.ALPHA, include_top=False, weights=None
    )
    target = keras_home / "models" / "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_0.35_96_no_top.h5"
    target.parent.mkdir(parents=True)
    with h5py.File(target, "w") as f:
        legacy_h5_format.save_weights_to_hdf5_group(f, stand_in)
    return stand_in.get_layer("Conv1").kernel.numpy()


def test_imagenet_weights_load_from_keras_cache_without_network(keras_home):
    expected = _cache_fake_imagenet_weights(keras_home)
    base = load_base("imagenet")
    np.testing.assert_array_equal(base.get_layer("Conv1").kernel.numpy(), expected)
    assert base.layers[1].name == "preprocess"  # the same preprocessing travels with either weights
    assert models.main(["--cache-imagenet"]) == 0


def test_extract_features_from_arrays_and_datasets(bundled):
    pooled = extract_features(bundled, IMAGES, batch_size=3, progress=False)
    assert pooled.shape == (8, 1280) and pooled.dtype == np.float32
    dataset = tf.data.Dataset.from_tensor_slices((IMAGES, LABELS)).batch(4)
    np.testing.assert_allclose(extract_features(bundled, dataset, progress=False), pooled, atol=1e-4)
    with pytest.raises(ValueError, match=r"\(n, height, width, 3\)"):
        extract_features(bundled, IMAGES[..., 0])


def test_small_cnn_takes_raw_images_and_gives_logits():
    net = small_cnn(3, 32)
    assert net.output_shape == (None, 3) and net.layers[0].name.startswith("rescaling")


def test_block_features_are_each_blocks_pooled_output_in_order(bundled):
    features = block_features(bundled, IMAGES[:4], batch_size=3)  # batches that do not divide the images
    assert list(features) == base_blocks(bundled)
    np.testing.assert_allclose(features["top"], extract_features(bundled, IMAGES[:4], progress=False), atol=1e-4)
    middle = cut(bundled, at="block_8_add")(IMAGES[:4], training=False).numpy().mean(axis=(1, 2))
    np.testing.assert_allclose(features["block_8"], middle, atol=1e-4)
