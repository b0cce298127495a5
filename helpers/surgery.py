"""Model surgery: new heads, frozen and unfrozen blocks, and BatchNorm that stays frozen.

What trains is set by one small family, in the order a student meets it in lecture 04:
:func:`freeze_base` (only the head trains), :func:`unfreeze_last` (the head and the last ``n``
blocks) and :func:`unfreeze_all` (everything) — fastai's ``freeze`` / ``freeze_to`` / ``unfreeze``.

Two Keras 3 traps shape this module:

* ``trainable`` is recursive, so unfreezing a block unfreezes its BatchNorm layers too, and a
  BatchNorm layer that trains on a few dozen images wrecks the moving statistics the pretrained
  weights rely on. Here, BatchNorm layers stay frozen (inference mode) unless asked otherwise.
* A compiled model keeps training the variables it was compiled with: changing ``trainable``
  without compiling again silently trains the wrong set. Every function here that changes what
  is trainable compiles a compiled model again, with the same loss and metrics and a fresh
  optimizer at the learning rate you give.
"""

from __future__ import annotations

import helpers.quiet  # noqa: F401  (first: TensorFlow without its import notices)

import difflib
import re
from collections import OrderedDict

import keras
import numpy as np

#: Which MobileNetV2 layer belongs to which block, by name.
_MOBILENET_BLOCK = re.compile(r"^(block_\d+)_")
_MOBILENET_STEM = re.compile(r"^(Conv1|bn_Conv1|Conv1_relu|expanded_conv_.*)$")
_MOBILENET_TOP = re.compile(r"^(Conv_1|Conv_1_bn|out_relu)$")


def is_mobilenet(model: keras.Model) -> bool:
    """Whether ``model`` contains MobileNetV2's layers, flat (as :func:`attach_head` builds it).

    Examples
    --------
    >>> from helpers.models import load_base
    >>> is_mobilenet(load_base(None))
    True
    """
    names = {layer.name for layer in model.layers}
    return {"Conv1", "block_16_project", "Conv_1"} <= names


def blocks(model: keras.Model) -> OrderedDict[str, list[keras.layers.Layer]]:
    """The layers of ``model`` grouped into blocks, from input to output.

    For MobileNetV2 the blocks are ``stem``, ``block_1`` ... ``block_16`` and ``top`` (the last
    1x1 convolution); every other layer with weights is ``head``. For any other model, each layer
    with weights is its own block, and a BatchNorm layer joins the block before it.

    Examples
    --------
    >>> from helpers.models import load_base
    >>> list(blocks(load_base(None)))[:3]
    ['stem', 'block_1', 'block_2']
    """
    groups: OrderedDict[str, list[keras.layers.Layer]] = OrderedDict()
    mobilenet = is_mobilenet(model)
    current = None
    for layer in model.layers:
        if not layer.weights:
            continue
        if mobilenet:
            if _MOBILENET_STEM.match(layer.name):
                name = "stem"
            elif _MOBILENET_TOP.match(layer.name):
                name = "top"
            elif match := _MOBILENET_BLOCK.match(layer.name):
                name = match.group(1)
            else:
                name = "head"
        elif isinstance(layer, keras.layers.BatchNormalization) and current is not None:
            name = current
        else:
            name = layer.name
        groups.setdefault(name, []).append(layer)
        current = name
    return groups


def base_blocks(model: keras.Model) -> list[str]:
    """Names of the blocks that belong to the pretrained base (all but the head), in order.

    Examples
    --------
    >>> from helpers.models import load_base
    >>> base_blocks(attach_head(load_base(None), 2))[-2:]
    ['block_16', 'top']
    """
    names = list(blocks(model))
    if is_mobilenet(model):
        return [n for n in names if n != "head"]
    return names[:-1]  # any other model: every block but the last, which is its head


def block_outputs(model: keras.Model) -> OrderedDict[str, str]:
    """For each block of the base, the name of the layer whose output is the block's output.

    A block ends just before the next one begins, so a MobileNetV2 block with a residual
    connection ends at its ``add`` layer, which has no weights of its own.

    Examples
    --------
    >>> from helpers.models import load_base
    >>> ends = block_outputs(load_base(None))
    >>> ends["stem"], ends["block_2"], ends["top"]
    ('expanded_conv_project_BN', 'block_2_add', 'out_relu')
    """
    in_base = set(base_blocks(model))
    block_of = {layer.name: name for name, layers in blocks(model).items() for layer in layers}
    ends: OrderedDict[str, str] = OrderedDict()
    current = None
    for layer in model.layers:
        current = block_of.get(layer.name, current)
        if current in in_base and len(getattr(layer.output, "shape", ())) == 4:
            ends[current] = layer.name
    return ends


def get_layer(model: keras.Model, name: str) -> keras.layers.Layer:
    """``model.get_layer(name)`` with an error that lists close matches.

    Examples
    --------
    >>> from helpers.models import load_base
    >>> get_layer(load_base(None), "Conv1").name
    'Conv1'
    """
    try:
        return model.get_layer(name)
    except ValueError:
        names = [layer.name for layer in model.layers]
        close = difflib.get_close_matches(name, names, n=5, cutoff=0.5)
        hint = f" Close matches: {', '.join(close)}." if close else f" It has: {', '.join(names[:8])}, ..."
        raise ValueError(f"Model {model.name!r} has no layer named {name!r}.{hint}") from None


def _recompile(model: keras.Model, learning_rate: float | None) -> None:
    """Compile a compiled model again (same loss and metrics), so new ``trainable`` flags take effect."""
    if not getattr(model, "compiled", False) or model.optimizer is None:
        return
    config = model.get_compile_config()
    optimizer = keras.optimizers.deserialize(config["optimizer"])
    if learning_rate is not None:
        optimizer.learning_rate = learning_rate
    model.compile(
        optimizer=optimizer,
        loss=model.loss,
        loss_weights=config.get("loss_weights"),
        metrics=config.get("metrics"),
        jit_compile=config.get("jit_compile", False),
    )


def _freeze_batchnorm(model: keras.Model) -> None:
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.trainable = False


def cut(model: keras.Model, at: str | int) -> keras.Model:
    """The part of ``model`` from its input up to layer ``at`` (name or index): a feature extractor.

    Examples
    --------
    >>> from helpers.models import load_base
    >>> cut(load_base(None), at="block_6_expand_relu").output.shape
    (None, 12, 12, 96)
    """
    if isinstance(at, int) and not -len(model.layers) <= at < len(model.layers):
        raise IndexError(f"layer index {at} is out of range: {model.name!r} has {len(model.layers)} layers")
    layer = model.layers[at] if isinstance(at, int) else get_layer(model, at)
    return keras.Model(model.input, layer.output, name=f"{model.name}_to_{layer.name}")


def freeze_base(model: keras.Model, *, learning_rate: float | None = None) -> keras.Model:
    """Freeze every block of the pretrained base; only the head trains (feature extraction).

    Compiles a compiled model again (see the module notes). Returns ``model``.

    Examples
    --------
    >>> from helpers.models import load_base
    >>> model = freeze_base(attach_head(load_base(None), 2))
    >>> [w.path for w in model.trainable_weights]
    ['head_logits/kernel', 'head_logits/bias']
    """
    return unfreeze_last(model, 0, learning_rate=learning_rate)


def unfreeze_last(
    model: keras.Model, n_blocks: int, *, learning_rate: float | None = None, train_batchnorm: bool = False
) -> keras.Model:
    """Train the head and the last ``n_blocks`` blocks of the base; freeze the rest.

    Parameters
    ----------
    model : keras.Model
        A flat model, such as :func:`attach_head` builds.
    n_blocks : int
        How many blocks of the base to unfreeze, counted from the output end (``top`` counts as
        one for MobileNetV2). ``0`` freezes the whole base.
    learning_rate : float, optional
        Learning rate of the fresh optimizer when the model is compiled again; fine-tuning wants
        a low one (around 1e-4 for Adam).
    train_batchnorm : bool
        Let unfrozen BatchNorm layers update their statistics (rarely wise on little data).

    Returns
    -------
    keras.Model
        ``model``, changed in place and compiled again if it was compiled.

    Examples
    --------
    >>> from helpers.models import load_base
    >>> model = unfreeze_last(attach_head(load_base(None), 2), 2)
    >>> [name for name, row in trainable_summary(model).items() if row["trainable"]]
    ['block_16', 'top', 'head']
    """
    names = base_blocks(model)
    if not 0 <= n_blocks <= len(names):
        raise ValueError(
            f"n_blocks must be between 0 and {len(names)} (the blocks of the base: "
            f"{names[0]} ... {names[-1]}), got {n_blocks}"
        )
    unfrozen = set(names[len(names) - n_blocks :])
    groups = blocks(model)
    model.trainable = True
    for name, layers in groups.items():
        for layer in layers:
            layer.trainable = name in unfrozen or name not in names
    if not train_batchnorm:
        _freeze_batchnorm(model)
    _recompile(model, learning_rate)
    return model


def unfreeze_all(
    model: keras.Model, *, learning_rate: float | None = None, train_batchnorm: bool = False
) -> keras.Model:
    """Fine-tune everything (BatchNorm statistics stay frozen unless ``train_batchnorm``).

    Examples
    --------
    >>> from helpers.models import load_base
    >>> model = unfreeze_all(attach_head(load_base(None), 2))
    >>> model.get_layer("Conv1").trainable, model.get_layer("bn_Conv1").trainable
    (True, False)
    """
    return unfreeze_last(model, len(base_blocks(model)), learning_rate=learning_rate, train_batchnorm=train_batchnorm)


def attach_head(
    base: keras.Model, n_classes: int, *, dropout: float = 0.2, hidden_units: int = 0, name: str = "classifier"
) -> keras.Model:
    """Throw away the old head (``include_top=False``) and put a new one on the base.

    The new model is flat (the base's layers are its own layers), so every layer can be reached
    by name, for unfreezing and for Grad-CAM. Global average pooling makes the head small and
    indifferent to where in the image a feature is.

    Parameters
    ----------
    base : keras.Model
        A convolutional base, such as :func:`helpers.models.load_base` returns.
    n_classes : int
        Number of classes; the head outputs logits (use ``from_logits=True`` losses).
    dropout : float
        Dropout rate before the output layer.
    hidden_units : int
        Width of an extra hidden Dense layer (0: none).
    name : str
        Name of the new model.

    Examples
    --------
    >>> from helpers.models import load_base
    >>> attach_head(load_base(None), 2).output.shape
    (None, 2)
    """
    if n_classes < 2:
        raise ValueError(f"n_classes must be at least 2, got {n_classes}")
    x = base.output
    if len(x.shape) == 4:
        x = keras.layers.GlobalAveragePooling2D(name="head_pool")(x)
    if hidden_units:
        x = keras.layers.Dense(hidden_units, activation="relu", name="head_hidden")(x)
    x = keras.layers.Dropout(dropout, name="head_dropout")(x)
    outputs = keras.layers.Dense(n_classes, name="head_logits")(x)
    return keras.Model(base.input, outputs, name=name)


def head_from_logistic_regression(dense: keras.layers.Dense, classifier) -> keras.layers.Dense:
    """Put a fitted scikit-learn linear classifier into a Keras ``Dense`` logits layer.

    A head fitted in seconds on features computed once (feature extraction) becomes the starting
    point of fine-tuning, instead of a head trained again by gradient descent. The new logits
    give the same predictions as ``classifier``; their differences are its decision function.

    Parameters
    ----------
    dense : keras.layers.Dense
        A built logits layer with one output per class and no activation, such as the
        ``head_logits`` layer of :func:`attach_head`.
    classifier : sklearn estimator
        A fitted ``LogisticRegression`` (or other linear classifier with ``coef_`` and
        ``intercept_``), alone or as the last step of a ``Pipeline`` whose only other step is a
        ``StandardScaler``, fitted on the inputs of ``dense``.

    Returns
    -------
    keras.layers.Dense
        ``dense``, with its weights replaced.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> x, y = np.random.default_rng(0).normal(size=(20, 4)), np.arange(20) % 2
    >>> dense = keras.layers.Dense(2)
    >>> dense.build((None, 4))
    >>> classifier = LogisticRegression().fit(x, y)
    >>> _ = head_from_logistic_regression(dense, classifier)
    >>> bool((np.argmax(dense(x), axis=1) == classifier.predict(x)).all())
    True
    """
    steps = [classifier] if not hasattr(classifier, "steps") else [step for _, step in classifier.steps]
    *scalers, linear = steps
    if not hasattr(linear, "coef_"):
        raise ValueError(f"{type(linear).__name__} is not a fitted linear classifier (it has no coef_)")
    coef, intercept = np.asarray(linear.coef_, float), np.asarray(linear.intercept_, float)
    for scaler in scalers:
        if not (hasattr(scaler, "mean_") and hasattr(scaler, "scale_")):
            raise ValueError(f"only a StandardScaler may come before the classifier, got {type(scaler).__name__}")
        mean = scaler.mean_ if scaler.with_mean else 0.0
        scale = scaler.scale_ if scaler.with_std else 1.0
        coef = coef / scale
        intercept = intercept - coef @ np.broadcast_to(mean, coef.shape[1:])
    if len(coef) == 1:  # binary: one decision function, the logit of class 1 against class 0
        coef, intercept = np.vstack([np.zeros_like(coef), coef]), np.concatenate([[0.0], intercept])
    kernel, bias = dense.get_weights()
    if kernel.shape != coef.T.shape:
        raise ValueError(
            f"the classifier has {coef.shape[1]} inputs and {coef.shape[0]} classes, but the "
            f"Dense layer {dense.name!r} has {kernel.shape[0]} inputs and {kernel.shape[1]} outputs"
        )
    dense.set_weights([coef.T.astype(kernel.dtype), intercept.astype(bias.dtype)])
    return dense


def trainable_summary(model: keras.Model, *, print_table: bool = False) -> OrderedDict[str, dict]:
    """Trainable and frozen parameters per block, as data (and as a printed table if asked).

    Returns an ordered mapping ``block -> {"trainable": int, "frozen": int}``.

    Examples
    --------
    >>> from helpers.models import load_base
    >>> rows = trainable_summary(freeze_base(attach_head(load_base(None), 2)))
    >>> rows["head"]
    {'trainable': 2562, 'frozen': 0}
    """
    rows: OrderedDict[str, dict] = OrderedDict()
    for name, layers in blocks(model).items():
        trainable = sum(int(w.numpy().size) for layer in layers for w in layer.trainable_weights)
        frozen = sum(int(w.numpy().size) for layer in layers for w in layer.non_trainable_weights)
        rows[name] = {"trainable": trainable, "frozen": frozen}
    if print_table:
        print(f"{'block':<12}{'trainable':>12}{'frozen':>12}")
        for name, row in rows.items():
            print(f"{name:<12}{row['trainable']:>12,}{row['frozen']:>12,}")
        total_t = sum(r["trainable"] for r in rows.values())
        total_f = sum(r["frozen"] for r in rows.values())
        print(f"{'total':<12}{total_t:>12,}{total_f:>12,}")
    return rows


def trainable_blocks(model: keras.Model) -> list[str]:
    """The blocks of ``model`` that have trainable parameters, in order (the rows of :func:`trainable_summary`).

    Examples
    --------
    >>> from helpers.models import load_base
    >>> trainable_blocks(unfreeze_last(attach_head(load_base(None), 2), 2))
    ['block_16', 'top', 'head']
    """
    return [name for name, row in trainable_summary(model).items() if row["trainable"]]


def changed_layers(model: keras.Model, reference: keras.Model, *, only_frozen: bool = False) -> list[str]:
    """The layers of ``reference`` (a pretrained base) whose weights in ``model`` differ, or that it lacks.

    ``only_frozen``: in a layer that ``model`` trains, compare only what does not train (its
    BatchNorm statistics): a frozen layer must keep its pretrained weights, and a trained one its
    statistics. The exercise's self-checks and the grader's hidden tests both ask this.

    Examples
    --------
    >>> from helpers.models import load_base
    >>> changed_layers(attach_head(load_base("bundled"), 2), load_base("bundled"))
    []
    """
    changed = []
    for layer in reference.layers:
        if not layer.weights:
            continue
        try:
            theirs = model.get_layer(layer.name)
        except ValueError:
            changed.append(layer.name)
            continue
        compared = (
            zip(layer.non_trainable_weights, theirs.non_trainable_weights, strict=False)
            if only_frozen and theirs.trainable
            else zip(layer.weights, theirs.weights, strict=False)
        )
        if len(layer.weights) != len(theirs.weights) or not all(
            np.array_equal(keras.ops.convert_to_numpy(a), keras.ops.convert_to_numpy(b)) for a, b in compared
        ):
            changed.append(layer.name)
    return changed
