"""A class that did the exercise: independent honest work in five styles, and two near-copies planted in it.

Each student's answers fill the release's answer cells (what students hand in). ``fay`` copied
``ben`` and renamed the variables; ``gus`` copied ``cy`` and moved cells and sentences around.
The others wrote their own code and their own reflection, as a class does: much of the code
alike because the exercise says what to call, the prose their own. Every answer runs and passes
the grader's checks, except two, on every seed: ``eve`` fine-tunes three blocks at night, below the
night line, and ``gus``'s moved prediction cell comes after its self-check (graded in
tests/grading_submissions.py).
"""

from __future__ import annotations

import copy
import re

import nbformat

from grading.protocol import RELEASE

PLACEHOLDER = "# YOUR CODE HERE\nraise NotImplementedError()"
PROSE_PLACEHOLDER = "YOUR ANSWER HERE"

ANSWERS = {
    "ana": {
        "load-data": 'train_ds, val_ds = keras.utils.image_dataset_from_directory(\n    data_folder, labels="inferred", label_mode="int", image_size=(96, 96), batch_size=24,\n    validation_split=0.2, subset="both", seed=7)',
        "quiz": 'PRETRAINED_MODEL = "B"\nKEEP_ORIGINAL_HEAD = False  # its dense layers classified other things',
        "build-model": "pretrained_base = load_base(WEIGHTS)\nclassifier = attach_head(pretrained_base, len(class_names))\nmodel = freeze_base(classifier)\nN_TRAINABLE = model.count_params() - sum(int(keras.ops.size(w)) for w in model.non_trainable_weights)",
        "train-head": 'optimizer = keras.optimizers.Adam(HEAD_LR, amsgrad=True)\nmodel.compile(optimizer=optimizer, metrics=["accuracy"],\n              loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))\nhistory_head = model.fit(train_ds, epochs=7, validation_data=val_ds, verbose=0)',
        "predict": "for_each_photo = keras.ops.softmax(model.predict(new_images, batch_size=16, verbose=0), axis=1)\nprobabilities = keras.ops.convert_to_numpy(for_each_photo)\npredicted = keras.ops.convert_to_numpy(keras.ops.argmax(for_each_photo, axis=1))\nplots.image_grid(new_images, new_labels, class_names=class_names, predictions=predicted,\n                 confidences=probabilities.max(axis=1))",
        "fine-tune": "FINE_TUNE_LR = HEAD_LR * 0.05\nunfreeze_last(model, 3, learning_rate=FINE_TUNE_LR)\nhistory_tune = model.fit(train_ds, epochs=14, validation_data=val_ds, verbose=0,\n                         callbacks=[best_epoch_stopping(patience=4)])",
        "night-choice": "NIGHT_BLOCKS = 18  # all of them\nNIGHT_LR = 1e-4\nnight_model.set_weights(night_head_weights)\nunfreeze_last(night_model, NIGHT_BLOCKS, learning_rate=NIGHT_LR)\nhistory_night = night_model.fit(*night_train, epochs=9, validation_data=night_val, verbose=0,\n                                callbacks=[best_epoch_stopping(patience=3)])",
        "reflection": "I unfroze every block at 1e-4 because the exploration gave 18 blocks the best validation accuracy, "
        "though each epoch took about twice as long as with 3 blocks. Against feature extraction my model fixed 131 "
        "night photos and broke 12, a p-value far below 0.05, so the gain is real. In daylight fine-tuning gained almost "
        "nothing because the base already knew daylight faces. At night the colours and noise differ, so the early "
        "layers had to change too.",
    },
    "ben": {
        "load-data": "train_ds, val_ds = keras.utils.image_dataset_from_directory(data_folder, image_size=(96, 96),\n    validation_split=0.2, subset='both', seed=1337)",
        "quiz": "PRETRAINED_MODEL = 'B'\nKEEP_ORIGINAL_HEAD = False",
        "build-model": "import numpy as np\n\nbase = load_base(WEIGHTS)\nwith_head = attach_head(base, len(class_names))\nmodel = freeze_base(with_head)\nN_TRAINABLE = int(sum(np.prod(v.shape) for v in model.trainable_variables))",
        "train-head": "loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)\nmodel.compile(optimizer=keras.optimizers.Adam(learning_rate=HEAD_LR), loss=loss_fn, metrics=['accuracy'])\nhistory_head = model.fit(train_ds, epochs=10, validation_data=val_ds, verbose=0)\nbest_head_epoch = int(np.argmax(history_head.history['val_accuracy']))",
        "predict": "logits = model.predict(new_images, verbose=0)\nscores = np.exp(logits - logits.max(axis=1, keepdims=True))\nprobabilities = scores / scores.sum(axis=1, keepdims=True)\npredicted = np.argmax(probabilities, axis=1)\ncertainty = np.max(probabilities, axis=1)\nplots.image_grid(new_images, new_labels, class_names=class_names, predictions=predicted, confidences=certainty)",
        "fine-tune": "FINE_TUNE_LR = HEAD_LR / 10\nunfreeze_last(model, 3, learning_rate=FINE_TUNE_LR)\nstopper = best_epoch_stopping(patience=4)\nhistory_tune = model.fit(train_ds, epochs=12, validation_data=val_ds, callbacks=[stopper], verbose=0)",
        "night-choice": "NIGHT_BLOCKS = 18\nNIGHT_LR = 1e-4\nnight_model.set_weights(night_head_weights)\nunfreeze_last(night_model, NIGHT_BLOCKS, learning_rate=NIGHT_LR)\nhistory_night = night_model.fit(*night_train, epochs=10, validation_data=night_val, verbose=0,\n                                callbacks=[best_epoch_stopping(patience=2)])",
        "reflection": "My pick was all eighteen blocks with a rate of 1e-4, a middle road between a rate that wrecks the filters and one "
        "that barely moves them. The exploration showed nine blocks come close to the validation score of eighteen while "
        "costing less time each epoch, and three blocks lagged behind by several points. Compared with the frozen base, 97 night images became correct and 20 "
        "became wrong, and the binomial test says that split would be very unlikely by luck. Daylight was different: the "
        "pretrained filters already suited those pictures so the extra training bought little. Dark noisy frames look "
        "unlike anything the base saw, which is why tuning deeper layers helped there.",
    },
    "cy": {
        "load-data": "data = keras.utils.image_dataset_from_directory(\n    data_folder,\n    image_size=(96, 96),\n    batch_size=16,\n    validation_split=0.2,\n    subset='both',\n    seed=42,\n)\ntrain_ds, val_ds = data",
        "quiz": 'PRETRAINED_MODEL = "B"  # pretrained on faces\nKEEP_ORIGINAL_HEAD = False  # new classes',
        "build-model": "import numpy as np\n\nmodel = attach_head(load_base(WEIGHTS), len(class_names), dropout=0.3)\nmodel = freeze_base(model)\nN_TRAINABLE = 0\nfor weight in model.trainable_weights:\n    N_TRAINABLE += int(np.size(weight))",
        "train-head": "model.compile(\n    optimizer=keras.optimizers.RMSprop(HEAD_LR),\n    loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),\n    metrics=['accuracy'],\n)\nhistory_head = model.fit(train_ds, validation_data=val_ds, epochs=6, verbose=0)",
        "predict": "raw = model.predict(new_images, verbose=0)\nprob = keras.activations.softmax(keras.ops.convert_to_tensor(raw))\nprobabilities = keras.ops.convert_to_numpy(prob)\npredicted = probabilities.argmax(1)\nplots.image_grid(new_images, new_labels, class_names=class_names,\n                 predictions=predicted, confidences=probabilities.max(1))",
        "fine-tune": "FINE_TUNE_LR = 5e-5\nunfreeze_last(model, 3, learning_rate=FINE_TUNE_LR)\nhistory_tune = model.fit(\n    train_ds,\n    validation_data=val_ds,\n    epochs=20,\n    verbose=0,\n    callbacks=[best_epoch_stopping(patience=6)],\n)",
        "night-choice": "NIGHT_BLOCKS, NIGHT_LR = 18, 1e-4\nnight_model.set_weights(night_head_weights)\nunfreeze_last(night_model, NIGHT_BLOCKS, learning_rate=NIGHT_LR)\nhistory_night = night_model.fit(\n    *night_train,\n    validation_data=night_val,\n    epochs=10,\n    verbose=0,\n    callbacks=[best_epoch_stopping(patience=4)],\n)",
        "reflection": "Because the night sensor changes everything from the first pixels on, I let all eighteen blocks learn but "
        "kept the rate small at 1e-4 so the pretrained filters would bend rather than break. During exploration the full "
        "model had roughly 384 thousand trainable weights and its epochs were the slowest, yet its validation curve "
        "climbed highest. The fixed-versus-broke table came out 118 to 15 against extraction, with p under one in a "
        "thousand. For the sunny photos section six found hardly any improvement from fine-tuning, since those images "
        "resemble the pretraining data. I conclude that how far the new images are from the old ones decides how deep to tune.",
    },
    "dee": {
        "load-data": "train_ds, val_ds = keras.utils.image_dataset_from_directory(\n    directory=data_folder, labels='inferred', validation_split=0.2,\n    subset='both', seed=2024, image_size=(96, 96), shuffle=True)",
        "quiz": 'PRETRAINED_MODEL = "B"\nKEEP_ORIGINAL_HEAD = False',
        "build-model": "pretrained = load_base(WEIGHTS)\nmodel = freeze_base(attach_head(pretrained, len(class_names)))\nN_TRAINABLE = sum(w.numpy().size for w in model.trainable_weights)",
        "train-head": "opt = keras.optimizers.Adam(HEAD_LR)\nmodel.compile(opt, keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=['accuracy'])\nhistory_head = model.fit(train_ds, validation_data=val_ds, epochs=8, verbose=0)",
        "predict": "probabilities = keras.ops.convert_to_numpy(keras.ops.softmax(model(new_images, training=False)))\npredicted = probabilities.argmax(axis=-1)\nplots.image_grid(new_images, new_labels, class_names=class_names,\n                 predictions=predicted, confidences=probabilities.max(axis=-1))",
        "fine-tune": "FINE_TUNE_LR = 1e-4\nunfreeze_last(model, 3, learning_rate=FINE_TUNE_LR)\nhistory_tune = model.fit(train_ds, validation_data=val_ds, epochs=15, verbose=0,\n                         callbacks=[best_epoch_stopping(patience=5)])",
        "night-choice": "NIGHT_BLOCKS = 18\nNIGHT_LR = 1e-4\nnight_model.set_weights(night_head_weights)\nunfreeze_last(night_model, NIGHT_BLOCKS, learning_rate=NIGHT_LR)\nhistory_night = night_model.fit(*night_train, validation_data=night_val, epochs=8, verbose=0,\n                                callbacks=[best_epoch_stopping(patience=3)])",
        "reflection": "I went with every block at 1e-4 but only eight epochs. When I compared 3, 9 and 18 blocks the accuracy "
        "kept rising with depth, and 18 blocks made each epoch noticeably slower, so fewer epochs felt like a fair trade. My "
        "model beat extraction on 1,000 night photos: 104 fixed against 17 broken, which is significant. Section 6 "
        "showed that daylight barely benefits since the source task already covered such images. The night camera is a "
        "domain shift, and a shift like that needs the earlier features retrained.",
    },
    "eve": {
        "load-data": "splits = keras.utils.image_dataset_from_directory(data_folder, validation_split=0.2, subset='both',\n                                                  seed=5, image_size=(96, 96), batch_size=64)\ntrain_ds = splits[0]\nval_ds = splits[1]",
        "quiz": 'PRETRAINED_MODEL = "B"\nKEEP_ORIGINAL_HEAD = False',
        "build-model": "m = load_base(WEIGHTS)\nm = attach_head(m, len(class_names))\nmodel = freeze_base(m)\nN_TRAINABLE = trainable_summary(model)['trainable'].sum() if False else sum(int(keras.ops.size(t)) for t in model.trainable_weights)",
        "train-head": "model.compile(keras.optimizers.SGD(HEAD_LR * 10, momentum=0.9),\n              keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=['accuracy'])\nhistory_head = model.fit(train_ds, validation_data=val_ds, epochs=12, verbose=0)",
        "predict": "probabilities = keras.ops.convert_to_numpy(keras.ops.softmax(model.predict(new_images, verbose=0), axis=-1))\npredicted = probabilities.argmax(-1)\nplots.image_grid(new_images, new_labels, class_names=class_names, predictions=predicted,\n                 confidences=probabilities.max(-1))",
        "fine-tune": "FINE_TUNE_LR = 2e-4\nunfreeze_last(model, 3, learning_rate=FINE_TUNE_LR)\nhistory_tune = model.fit(train_ds, validation_data=val_ds, epochs=10, verbose=0)",
        "night-choice": "NIGHT_BLOCKS, NIGHT_LR = 3, 1e-4\nnight_model.set_weights(night_head_weights)\nunfreeze_last(night_model, NIGHT_BLOCKS, learning_rate=NIGHT_LR)\nhistory_night = night_model.fit(*night_train, validation_data=night_val, epochs=10, verbose=0)",
        "reflection": "Three blocks at 1e-4 was my choice, mostly to keep training short on my laptop. The exploration suggested "
        "deeper tuning scores higher, so I probably left some accuracy on the table, and I say so. Still, my run fixed 80 "
        "photos and broke 25 compared with the frozen model, and that difference is unlikely to be chance. In daylight "
        "the improvement was tiny, because the pretrained features were already a good match for well-lit faces.",
    },
}

#: fay copied ben and renamed what she could; gus copied cy and moved cells and sentences.
RENAMES = {
    "base": "backbone",
    "with_head": "headed",
    "loss_fn": "criterion",
    "best_head_epoch": "top_epoch",
    "logits": "raw_out",
    "scores": "probs",
    "certainty": "conf",
    "stopper": "early",
}


def _renamed(source: str) -> str:
    for old, new in RENAMES.items():
        source = re.sub(rf"\b{old}\b", new, source)
    return source


ANSWERS["fay"] = {cell: _renamed(text) for cell, text in ANSWERS["ben"].items()}
ANSWERS["fay"]["reflection"] = (
    ANSWERS["ben"]["reflection"].replace("My pick was", "I picked").replace("a middle road", "a compromise")
)
ANSWERS["gus"] = dict(ANSWERS["cy"])
_sentences = ANSWERS["cy"]["reflection"].split(". ")
ANSWERS["gus"]["reflection"] = ". ".join(_sentences[2:] + _sentences[:2])

INDEPENDENT = ("ana", "ben", "cy", "dee", "eve")
PLANTED = {("ben", "fay"), ("cy", "gus")}


def notebook_of(student: str) -> nbformat.NotebookNode:
    """The release with ``student``'s answers filled in (``gus`` also moved the predict cell after fine-tuning)."""
    nb = nbformat.read(RELEASE, as_version=4)
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        answer = ANSWERS[student].get(grade_id)
        if answer is None or not cell.metadata["nbgrader"].get("solution"):
            continue
        if cell.cell_type == "markdown":
            cell.source = cell.source.replace(PROSE_PLACEHOLDER, answer)
        else:
            cell.source = cell.source.replace(PLACEHOLDER, answer)
    if student == "gus":
        predict = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "predict")
        nb.cells.remove(predict)
        tune = next(i for i, c in enumerate(nb.cells) if c.metadata.get("nbgrader", {}).get("grade_id") == "fine-tune")
        nb.cells.insert(tune + 1, copy.deepcopy(predict))
    return nb
