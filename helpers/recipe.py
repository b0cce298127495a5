"""The transfer-learning recipe in plain Keras, as lectures 03 and 04 write it on the page: one copy, tested equal.

Lecture 03 writes :func:`new_head` (feature extraction, the Keras way) and lecture 04 writes
:func:`fine_tune_in_two_phases`; a test checks that each lecture's cell is this module's code,
and the lectures' experiments call it from here. It uses nothing of the course but Keras, so a
student can paste both cells into a notebook of their own and give them an ImageNet base::

    base = keras.applications.MobileNetV2(input_shape=(160, 160, 3), include_top=False, weights="imagenet")
    # MobileNetV2 wants pixels in [-1, 1]: put keras.layers.Rescaling(1 / 127.5, offset=-1) in front
    # of it, or map your dataset through keras.applications.mobilenet_v2.preprocess_input

The course's own :func:`helpers.strategies.fine_tune` runs the same two phases, with a faster
phase 1: the head is a logistic regression on features computed once (lecture 03).
"""

from __future__ import annotations

import helpers.quiet  # noqa: F401  (first: TensorFlow without its import notices)

import keras


def new_head(base: keras.Model, n_classes: int, *, dropout: float = 0.2) -> keras.Model:
    """Freeze the pretrained base and put a new classifier on top of it, compiled at Adam's default rate."""
    base.trainable = False  # recursive: every layer of the base, BatchNorm included
    pooled = keras.layers.GlobalAveragePooling2D()(base.output)  # one number per feature map
    logits = keras.layers.Dense(n_classes)(keras.layers.Dropout(dropout)(pooled))
    model = keras.Model(base.input, logits)
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    model.compile(keras.optimizers.Adam(), loss, metrics=["accuracy"])  # the default rate, 1e-3, suits a new head
    return model


def fine_tune_in_two_phases(
    base: keras.Model,
    train,
    validation,
    *,
    n_classes: int,
    first_trained_layer: str,
    head_epochs: int = 10,
    epochs: int = 20,
    learning_rate: float = 1e-4,
    patience: int = 5,
) -> tuple[keras.Model, dict[str, list[float]]]:
    """Phase 1: a new head on the frozen base. Phase 2: the base's later layers too, at a low rate, best epoch kept.

    ``first_trained_layer`` names the first layer of ``base`` that phase 2 trains. Returns the model
    and phase 2's history.
    """
    base.get_layer(first_trained_layer)  # a misspelt name fails here, not by training nothing
    model = new_head(base, n_classes)
    model.fit(train, validation_data=validation, epochs=head_epochs, verbose=0)
    trains = False
    for layer in base.layers:  # unfreeze from first_trained_layer on, but keep BatchNorm frozen
        trains = trains or layer.name == first_trained_layer
        layer.trainable = trains and not isinstance(layer, keras.layers.BatchNormalization)
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    model.compile(keras.optimizers.Adam(learning_rate), loss, metrics=["accuracy"])  # new trainable flags need this
    stop = keras.callbacks.EarlyStopping(patience=patience, restore_best_weights=True)
    history = model.fit(train, validation_data=validation, epochs=epochs, callbacks=[stop], verbose=0)
    return model, history.history
