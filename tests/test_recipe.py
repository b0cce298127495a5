"""helpers.recipe: the Keras code lectures 03 and 04 write on their pages is the code the course runs, and it
trains what it says (the new head alone, then the later layers without BatchNorm)."""

from __future__ import annotations

import ast
import inspect

import keras
import nbformat
import numpy as np
import pytest
import tensorflow as tf

from conftest import ROOT
from helpers.models import load_base
from helpers.recipe import fine_tune_in_two_phases, new_head

ON_THE_PAGE = {"03_feature_extraction": new_head, "04_fine_tuning": fine_tune_in_two_phases}


def _definitions(lecture: str, name: str) -> list[str]:
    """The source of every top-level ``def name`` in the lecture's code cells."""
    found = []
    for cell in nbformat.read(ROOT / "lectures" / f"{lecture}.ipynb", as_version=4).cells:
        if cell.cell_type != "code":
            continue
        try:
            tree = ast.parse(cell.source)
        except SyntaxError:  # IPython syntax (the set-up cell's %pip): no definition of ours there
            continue
        for node in tree.body:
            if isinstance(node, ast.FunctionDef) and node.name == name:
                found.append(ast.get_source_segment(cell.source, node))
    return found


@pytest.mark.parametrize("lecture", ON_THE_PAGE)
def test_the_lecture_writes_the_recipe_the_course_runs(lecture):
    function = ON_THE_PAGE[lecture]
    assert _definitions(lecture, function.__name__) == [inspect.getsource(function).rstrip()], (
        f"lectures/{lecture}.ipynb and helpers/recipe.py differ on {function.__name__}: make them the same code"
    )


def test_two_phases_train_the_head_then_the_later_layers_without_batchnorm():
    keras.utils.set_random_seed(0)
    base = load_base(None)
    images, labels = np.random.default_rng(0).uniform(0, 255, (8, 96, 96, 3)).astype("float32"), np.arange(8) % 2
    photos = tf.data.Dataset.from_tensor_slices((images, labels)).batch(4)
    first = base.get_layer("block_15_expand")
    before = [w.copy() for w in base.get_layer("block_14_expand").get_weights()]
    model, history = fine_tune_in_two_phases(
        base, photos, photos, n_classes=2, first_trained_layer="block_15_expand", head_epochs=1, epochs=1
    )
    trained = [layer for layer in base.layers if layer.trainable and layer.weights]
    assert trained[0] is first and model.layers[-1].trainable and len(history["loss"]) == 1
    assert not any(isinstance(layer, keras.layers.BatchNormalization) for layer in trained)
    after = base.get_layer("block_14_expand").get_weights()
    assert all(np.array_equal(a, b) for a, b in zip(before, after, strict=True)), "a layer before the first moved"
    with pytest.raises(ValueError, match="block_15_expnd"):
        fine_tune_in_two_phases(base, photos, photos, n_classes=2, first_trained_layer="block_15_expnd")
