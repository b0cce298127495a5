"""helpers.pretraining.self_supervised: contrastive learning without labels, and the shipped unlabeled base."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import tensorflow as tf

from helpers import models
from helpers.models import load_base, sha256_of, unlabeled_card
from helpers.pretraining.self_supervised import (
    UnlabeledConfig,
    contrastive_loss,
    pretrain_unlabeled,
    random_views,
    train_contrastive,
)


def test_views_keep_shape_and_range_and_differ_from_each_other_and_from_the_image():
    images = tf.constant(np.random.default_rng(0).integers(0, 256, (4, 32, 32, 3)), tf.float32)
    rng = tf.random.Generator.from_seed(1)
    first, second = np.asarray(random_views(images, rng)), np.asarray(random_views(images, rng))
    assert first.shape == images.shape and first.min() >= 0 and first.max() <= 255
    assert not np.allclose(first, second) and not np.allclose(first, images)
    again = np.asarray(random_views(images, tf.random.Generator.from_seed(1)))
    np.testing.assert_allclose(again, first, atol=1e-4)  # the generator's state decides the views


def test_the_loss_is_low_when_each_view_finds_its_twin_and_high_when_it_cannot():
    rng = np.random.default_rng(0)
    embeddings = tf.constant(rng.normal(size=(8, 16)), tf.float32)
    matched_loss, matched_found = contrastive_loss(embeddings, embeddings + 0.01, temperature=0.1)
    shuffled_loss, shuffled_found = contrastive_loss(embeddings, tf.roll(embeddings, 1, axis=0), temperature=0.1)
    assert float(matched_found) == 1.0 and float(shuffled_found) == 0.0
    assert float(matched_loss) < 0.5 < float(shuffled_loss)


def test_contrastive_training_refuses_too_few_or_non_square_images():
    with pytest.raises(ValueError, match="square"):
        train_contrastive(np.zeros((200, 32, 48, 3)), epochs=1)
    with pytest.raises(ValueError, match="at least 2 \\* batch_size = 128"):
        train_contrastive(np.zeros((100, 32, 32, 3)), epochs=1)


def test_the_shipped_unlabeled_base_is_small_checked_and_documented():
    card = unlabeled_card()
    assert models.UNLABELED_WEIGHTS.stat().st_size <= 10 * 1024 * 1024
    assert sha256_of(models.UNLABELED_WEIGHTS) == card["sha256"]
    assert card["objective"].startswith("contrastive") and "labels thrown away" in card["data"]
    for key in ("config", "seconds", "history", "target_probe_accuracy"):
        assert key in card
    assert card["twin_found_last_epoch"] > 10 * card["chance_twin_found"]  # it learned its objective
    base = load_base("unlabeled", pooling="avg")
    bundled = load_base("bundled", pooling="avg")
    assert base.output.shape == (None, 1280)
    kernels = [next(w for w in b.weights if w.path.endswith("Conv1/kernel")).numpy() for b in (base, bundled)]
    assert not np.allclose(*kernels)  # its own weights, not the bundled base's


def test_unlabeled_weights_missing_or_damaged_say_how_to_rebuild(tmp_path, monkeypatch):
    damaged = tmp_path / models.UNLABELED_WEIGHTS.name
    card = tmp_path / models.UNLABELED_CARD.name
    damaged.write_bytes(models.UNLABELED_WEIGHTS.read_bytes()[:-10])
    shutil.copy(models.UNLABELED_CARD, card)
    monkeypatch.setattr(models, "UNLABELED_WEIGHTS", damaged)
    monkeypatch.setattr(models, "UNLABELED_CARD", card)
    with pytest.raises(ValueError, match="damaged.*python -m helpers.pretraining.self_supervised"):
        load_base("unlabeled")
    card.unlink()
    with pytest.raises(
        FileNotFoundError, match="unlabeled.json is missing.*python -m helpers.pretraining.self_supervised"
    ):
        load_base("unlabeled")
    damaged.unlink()
    with pytest.raises(FileNotFoundError, match="missing.*pip install -e"):
        load_base("unlabeled")


@pytest.mark.slow
def test_tiny_unlabeled_pretraining_writes_loadable_weights_and_card(tmp_path):
    card = pretrain_unlabeled(UnlabeledConfig.tiny(), tmp_path, n_jobs=1, verbose=0)
    weights = tmp_path / models.UNLABELED_WEIGHTS.name
    assert card["sha256"] == sha256_of(weights)
    assert json.loads((tmp_path / models.UNLABELED_CARD.name).read_text()) == card
    assert card["config"]["n_images"] == 64 and len(card["history"]["twin_found"]) == 1
    assert 0 <= card["target_probe_accuracy"]["this base"] <= 1
    base = models.build_base()
    base.load_weights(weights)  # the same architecture load_base builds


def test_linear_probes_score_every_representation_on_the_same_photos():
    from helpers.probes import linear_probes

    base = load_base("bundled")
    accuracy = linear_probes({"bundled": base, "again": base, "pixels": None}, (2, 10), n_test=60)
    assert list(accuracy) == ["bundled", "again", "pixels"] and list(accuracy["pixels"]) == [2, 10]
    assert accuracy["bundled"] == accuracy["again"]  # same photos, same probe
    assert accuracy["bundled"][10] > 0.8 and all(0 <= v <= 1 for v in accuracy["pixels"].values())
