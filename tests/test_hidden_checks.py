"""The checks the grader runs on hand-ins, outside the kernel: hand-ins load, rates are read, each cell is judged alone.

No nbgrader here (grading.confined.checks is what runs in the sandbox), so that make test-colab runs
these on Colab's Keras too: a model trained at differential rates, handed in there, loads in a checker.
"""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
from grading_submissions import OOV_MODEL, PARITY_MODEL, pixel_codes

from conftest import ROOT
from grading.confined import checks


def test_hand_in_round_trip_without_pickles(tmp_path, monkeypatch):
    import keras
    import numpy as np

    from helpers import hand_in

    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, name="dense")])
    model.compile(keras.optimizers.Adam(1e-4), "mse")
    history = model.fit(np.zeros((4, 3)), np.zeros((4, 2)), epochs=2, verbose=0)
    values = dict(model=model, history=history, answer="B", flag=False, numbers=[1, 2.5], arr=np.arange(3))
    assert hand_in.hand_in("check-x", **values) is None  # outside grading: nothing saved, but checked
    with pytest.raises(TypeError, match="cannot hand in thing = object"):
        hand_in.hand_in("check-x", thing=object())
    monkeypatch.setenv(hand_in.HAND_IN_VARIABLE, str(tmp_path))
    folder = hand_in.hand_in("check-x", **values)
    loaded = checks.load_hand_in(folder)
    assert loaded["answer"] == "B" and loaded["flag"] is False and loaded["numbers"] == [1, 2.5]
    assert loaded["arr"].tolist() == [0, 1, 2] and loaded["history"].params["epochs"] == 2
    assert len(loaded["history"].history["loss"]) == 2
    assert checks.Checks.learning_rates(loaded["model"]) == pytest.approx([1e-4])
    (folder / "arr.npy").unlink()
    (folder / "arr.npy").symlink_to("/etc/passwd")
    with pytest.raises(ValueError, match="not a plain file"):
        checks.load_hand_in(folder)


def test_a_model_trained_at_differential_rates_is_handed_in_and_loaded_in_a_fresh_checker(tmp_path, monkeypatch):
    """The exercise allows ``differential_optimizer``: the checker, a process of its own, loads its optimizer."""
    import keras

    from helpers import hand_in
    from helpers.learning_rates import differential_optimizer
    from helpers.models import load_base
    from helpers.surgery import attach_head, unfreeze_last

    model = unfreeze_last(attach_head(load_base(None), 2), 4)
    model.compile(differential_optimizer(model, 1e-4, factor=10)[0], keras.losses.SparseCategoricalCrossentropy())
    monkeypatch.setenv(hand_in.HAND_IN_VARIABLE, str(tmp_path))
    folder = hand_in.hand_in("check-x", model=model)
    load = (
        "import sys; from pathlib import Path; from grading.confined import checks; "
        f"model = checks.load_hand_in(Path({str(folder)!r}))['model']; "
        "print(checks.Checks.learning_rates(model))"
    )
    done = subprocess.run([sys.executable, "-c", load], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert [float(rate) for rate in done.stdout.strip(" []\n").split(",")] == pytest.approx([1e-6, 1e-5, 1e-4])


def test_hidden_tests_judge_each_cell_on_its_own_hand_in(tmp_path, monkeypatch):
    from helpers import hand_in

    monkeypatch.setenv(hand_in.HAND_IN_VARIABLE, str(tmp_path))
    hand_in.hand_in("check-a", answer="B")
    hand_in.hand_in("check-b", answer="C")
    tests = [
        ("check-a", "assert answer == 'B', 'not B'"),
        ("check-b", "assert answer == 'B', 'not B'"),
        ("check-c", "pass"),
        ("check-d", "max = 1\nassert max(2, 3) == 3"),
    ]
    hand_in.hand_in("check-d", n=1)
    verdicts = checks.evaluate(tmp_path, tests, seed=1)
    assert verdicts["check-a"] == {"passed": True, "message": ""}
    assert verdicts["check-b"] == {"passed": False, "message": "not B"}
    assert "nothing was handed in by this cell" in verdicts["check-c"]["message"]
    assert verdicts["check-d"]["message"].startswith("TypeError")
    assert "not callable" not in verdicts["check-d"]["message"], "only assertions of the tests keep their text"


def test_the_hidden_set_is_scored_so_that_no_model_can_read_its_order(tmp_path, monkeypatch):
    """A model that answers by batch position scores 100% in order, and fails the grader's checks."""
    import keras
    import numpy as np

    from helpers.models import load_base
    from helpers.surgery import attach_head, freeze_base

    namespace = {"keras": keras}
    exec(PARITY_MODEL + OOV_MODEL, namespace)
    model = freeze_base(attach_head(load_base("bundled"), 2))
    grader = checks.Checks(seed=1234)
    images, labels = grader.hidden_test_set(200)
    parity = namespace["parity_model"](model)
    in_order = np.argmax(np.concatenate([parity(images[i : i + 50]) for i in range(0, 200, 50)]), axis=1)
    assert np.mean(in_order == labels) == 1.0, "the labels alternate: in order, position is the answer"
    assert 0.3 < np.mean(np.argmax(grader.predict_logits(parity, images), axis=1) == labels) < 0.7
    with pytest.raises(AssertionError, match="changes with the other photos of its batch"):
        grader.hidden_accuracy(parity, 200)
    assert grader.predict_logits(model, images) == pytest.approx(model.predict(images, verbose=0), abs=1e-4)
    grader.judges_each_image_alone(model, images)  # an honest model passes

    from helpers import hand_in

    folder = tmp_path / "hand-in"
    monkeypatch.setenv(hand_in.HAND_IN_VARIABLE, str(folder))
    hand_in.hand_in("check-head", head_model=namespace["oov_model"](model))
    verdict = checks.evaluate(folder, [("check-head", "hidden_accuracy(head_model, 200)")], seed=1234)
    message = verdict["check-head"]["message"]
    assert message.startswith("InvalidArgumentError raised while the grader checked"), message
    assert not pixel_codes(images) & set(re.findall(r"[0-9]+", message)), message
