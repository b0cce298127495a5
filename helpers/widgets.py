"""What updates in place in a notebook: the lectures' interactive explorers (ipywidgets) and live training curves.

Each explorer is a small class: its controls are public attributes (set ``.value`` on them, as a
student's click would), what it computes is kept in attributes that tests can read, and its
figure is redrawn into an ``ipywidgets.Output``. Display one with ``explorer.widget`` or just by
leaving the explorer as the last expression of a cell.
"""

from __future__ import annotations

import helpers.quiet  # noqa: F401  (first: TensorFlow without its import notices)

import ipywidgets as w
import keras
import matplotlib.pyplot as plt
import numpy as np
from IPython import get_ipython
from IPython.display import HTML, display
from sklearn.linear_model import LogisticRegression

from helpers import strategies
from helpers.plots import decision_boundary, training_curves
from helpers.surgery import cut
from helpers.tasks import draw_seed, make_sunglasses_vs_hat
from helpers.toy_data import make_rings, to_polar

KERNEL_PRESETS: dict[str, np.ndarray] = {
    "identity": np.array([[0, 0, 0], [0, 1, 0], [0, 0, 0]], float),
    "blur": np.full((3, 3), 1 / 9),
    "sharpen": np.array([[0, -1, 0], [-1, 5, -1], [0, -1, 0]], float),
    "vertical edges (Sobel x)": np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], float),
    "horizontal edges (Sobel y)": np.array([[-1, -2, -1], [0, 0, 0], [1, 2, 1]], float),
    "outline (Laplacian)": np.array([[-1, -1, -1], [-1, 8, -1], [-1, -1, -1]], float),
    "emboss": np.array([[-2, -1, 0], [-1, 1, 1], [0, 1, 2]], float),
}


def convolve(image: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """Convolve a grayscale image (2-D, values 0..255) with a small kernel, 'same' size, as a conv layer does.

    Like deep-learning libraries, this is cross-correlation (the kernel is not flipped).

    Examples
    --------
    >>> convolve(np.eye(3) * 9, KERNEL_PRESETS["identity"]).diagonal().tolist()
    [9.0, 9.0, 9.0]
    """
    image, kernel = np.asarray(image, float), np.asarray(kernel, float)
    if image.ndim != 2:
        raise ValueError(f"convolve takes a 2-D grayscale image, got shape {image.shape}")
    kh, kw = kernel.shape
    padded = np.pad(image, ((kh // 2, kh // 2), (kw // 2, kw // 2)), mode="edge")
    windows = np.lib.stride_tricks.sliding_window_view(padded, (kh, kw))
    return np.einsum("ijkl,kl->ij", windows, kernel)


class _Explorer:
    widget = None

    def _ipython_display_(self):
        display(self.widget)

    def _show(self, fig) -> None:
        self.figure = fig
        self.output.clear_output(wait=True)
        with self.output:
            display(fig)
        plt.close(fig)


class ConvolutionExplorer(_Explorer):
    """Pick a kernel preset or edit the 3x3 kernel; see the convolved image at once."""

    def __init__(self, image: np.ndarray | None = None):
        if image is None:
            image = make_sunglasses_vs_hat(1, seed=0)[0][0]
        image = np.asarray(image, float)
        self.image = image.mean(axis=-1) if image.ndim == 3 else image
        self.preset = w.Dropdown(options=list(KERNEL_PRESETS), value="vertical edges (Sobel x)", description="kernel")
        self.cells = [w.FloatText(value=0.0, layout=w.Layout(width="60px")) for _ in range(9)]
        self.output = w.Output()
        self.widget = w.VBox(
            [self.preset, w.GridBox(self.cells, layout=w.Layout(grid_template_columns="repeat(3, 64px)")), self.output]
        )
        self._syncing = False
        self.preset.observe(self._on_preset, names="value")
        for cell in self.cells:
            cell.observe(self._on_cell, names="value")
        self._on_preset()

    @property
    def kernel(self) -> np.ndarray:
        return np.array([cell.value for cell in self.cells], float).reshape(3, 3)

    def _on_preset(self, change=None):
        self._syncing = True
        for cell, value in zip(self.cells, KERNEL_PRESETS[self.preset.value].ravel(), strict=True):
            cell.value = float(round(value, 4))
        self._syncing = False
        self.update()

    def _on_cell(self, change):
        if not self._syncing:
            self.update()

    def update(self):
        self.result = convolve(self.image, self.kernel)
        fig, (left, right) = plt.subplots(1, 2, figsize=(6, 3))
        left.imshow(self.image, cmap="gray", vmin=0, vmax=255)
        left.set_title("input")
        right.imshow(self.result, cmap="gray")
        right.set_title("kernel * input")
        for ax in (left, right):
            ax.set_axis_off()
        self._show(fig)


class RepresentationExplorer(_Explorer):
    """The lecture's (x, y) -> (r, theta): the same linear classifier on two representations."""

    def __init__(self, n_points: int = 400, seed: int = 0):
        self.points, self.labels = make_rings(n_points, seed=seed)
        self.representation = w.ToggleButtons(options=["x, y", "r, theta"], description="features")
        self.output = w.Output()
        self.widget = w.VBox([self.representation, self.output])
        self.representation.observe(lambda change: self.update(), names="value")
        self.update()

    def features(self) -> np.ndarray:
        return self.points if self.representation.value == "x, y" else to_polar(self.points)

    def update(self):
        features = self.features()
        self.classifier = LogisticRegression().fit(features, self.labels)
        self.accuracy = float(self.classifier.score(features, self.labels))
        fig, ax = plt.subplots(figsize=(4, 4))
        names = ("x", "y") if self.representation.value == "x, y" else ("r", "theta")
        decision_boundary(
            self.classifier,
            features,
            self.labels,
            ax=ax,
            title=f"logistic regression on ({', '.join(names)}): {self.accuracy:.0%}",
        )
        ax.set(xlabel=names[0], ylabel=names[1])
        self._show(fig)


class FeatureMapExplorer(_Explorer):
    """Choose a layer and a channel of a model; see what it responds to in an image."""

    def __init__(self, model, image: np.ndarray, layers: list[str] | None = None):
        self.model, self.image = model, np.asarray(image, np.float32)
        if layers is None:
            layers = [layer.name for layer in model.layers if layer.name.endswith("relu")]
        if not layers:
            raise ValueError(f"Model {model.name!r} has no activation layers to explore; pass layers=[...] names")
        self.layer = w.Dropdown(options=layers, value=layers[0], description="layer")
        self.channel = w.IntSlider(value=0, min=0, max=0, description="channel")
        self.output = w.Output()
        self.widget = w.VBox([w.HBox([self.layer, self.channel]), self.output])
        self.layer.observe(self._on_layer, names="value")
        self.channel.observe(lambda change: self.update(), names="value")
        self._on_layer()

    def _on_layer(self, change=None):
        probe = cut(self.model, at=self.layer.value)
        self.maps = keras.ops.convert_to_numpy(probe(self.image[None], training=False))[0]
        self.channel.max = self.maps.shape[-1] - 1
        self.channel.value = min(self.channel.value, self.channel.max)
        self.update()

    def update(self):
        self.result = self.maps[..., self.channel.value]
        fig, (left, right) = plt.subplots(1, 2, figsize=(6, 3))
        left.imshow(self.image.astype(np.uint8))
        right.imshow(self.result, cmap="viridis")
        right.set_title(f"{self.layer.value} [{self.channel.value}]  {self.result.shape[0]}x{self.result.shape[1]}")
        for ax in (left, right):
            ax.set_axis_off()
        self._show(fig)


class DifferentialLRExplorer(_Explorer):
    """Slide the factor between layer groups; see each group's learning rate."""

    def __init__(self, group_names: list[str] | None = None, learning_rate: float = 1e-3):
        self.group_names = group_names or ["early blocks", "middle blocks", "last blocks", "head"]
        self.factor = w.FloatSlider(value=3.0, min=1.0, max=10.0, step=0.5, description="factor")
        self.learning_rate = w.FloatLogSlider(value=learning_rate, base=10, min=-5, max=-1, description="head rate")
        self.output = w.Output()
        self.widget = w.VBox([w.HBox([self.factor, self.learning_rate]), self.output])
        for control in (self.factor, self.learning_rate):
            control.observe(lambda change: self.update(), names="value")
        self.update()

    def update(self):
        n = len(self.group_names)
        self.rates = [self.learning_rate.value / self.factor.value ** (n - 1 - i) for i in range(n)]
        fig, ax = plt.subplots(figsize=(5, 2.8))
        ax.bar(self.group_names, self.rates, color=[f"C{i}" for i in range(n)])
        ax.set(yscale="log", ylabel="learning rate", title=f"each earlier group {self.factor.value:g}x slower")
        for i, rate in enumerate(self.rates):
            ax.text(i, rate, f"{rate:.1e}", ha="center", va="bottom", fontsize=8)
        self._show(fig)


class StrategyPlayground(_Explorer):
    """Pick a strategy, the number of labelled images, epochs and learning rate; train; compare runs.

    The strategies are those of :data:`helpers.strategies.STRATEGIES`, each called the same way.
    A control that the chosen strategy does not take (epochs and learning rate mean nothing to
    logistic regression) is disabled, and a line under the controls says so. Every run trains a
    fresh model on a fresh draw, so running again is always safe; the button is disabled while a
    run is going.
    """

    #: each control, and the strategy option it sets
    CONTROLS = {"epochs": "epochs", "learning_rate": "learning rate"}

    def __init__(self, n_test: int = 400, seed: int = 0):
        self.n_test, self.seed = n_test, seed
        self.strategy = w.Dropdown(
            options=list(strategies.STRATEGIES), value="feature_extraction", description="strategy"
        )
        self.n_images = w.IntSlider(value=100, min=20, max=400, step=20, description="images")
        self.epochs = w.IntSlider(value=20, min=1, max=100, description="epochs")
        self.learning_rate = w.FloatLogSlider(value=1e-4, base=10, min=-5, max=-2, description="learning rate")
        self.applies = w.HTML()
        self.run_button = w.Button(description="Train", button_style="primary", icon="play")
        self.progress = w.IntProgress(value=0, min=0, max=1, description="epochs")
        self.output = w.Output()
        self.results: list[dict] = []
        self.histories: dict[str, dict] = {}
        self.run_button.on_click(lambda button: self.run())
        self.strategy.observe(lambda change: self._show_what_applies(), names="value")
        self.widget = w.VBox(
            [
                w.HBox([self.strategy, self.n_images]),
                w.HBox([self.epochs, self.learning_rate]),
                self.applies,
                w.HBox([self.run_button, self.progress]),
                self.output,
            ]
        )
        self._show_what_applies()

    def ignored_controls(self) -> list[str]:
        """The controls the chosen strategy does not take."""
        return [label for option, label in self.CONTROLS.items() if not strategies.accepts(self.strategy.value, option)]

    def _show_what_applies(self) -> None:
        for option in self.CONTROLS:
            getattr(self, option).disabled = not strategies.accepts(self.strategy.value, option)
        ignored = self.ignored_controls()
        self.applies.value = (
            f"<i>{self.strategy.value} has no {' and no '.join(ignored)}: "
            f"{'those sliders do' if len(ignored) > 1 else 'that slider does'} nothing for it.</i>"
            if ignored
            else ""
        )

    def _progress_callback(self) -> keras.callbacks.Callback:
        progress = self.progress

        class Progress(keras.callbacks.Callback):
            def on_epoch_end(self, epoch, logs=None):
                progress.value = min(progress.value + 1, progress.max)

        return Progress()

    def run(self) -> dict:
        self.run_button.disabled = True
        try:
            n, name = self.n_images.value, self.strategy.value
            images, labels = make_sunglasses_vs_hat(n, seed=self.seed + 100 + len(self.results))
            test_images, test_labels = make_sunglasses_vs_hat(self.n_test, seed=draw_seed("widget-test", self.seed))
            options = {
                "epochs": self.epochs.value,
                "learning_rate": self.learning_rate.value,
                "patience": self.epochs.value,
                "callbacks": [self._progress_callback()],
            }
            options = {key: value for key, value in options.items() if strategies.accepts(name, key)}
            self.progress.value, self.progress.max = 0, options.get("epochs", 1)
            trained = strategies.STRATEGIES[name](images, labels, seed=self.seed, **options)
            self.progress.value = self.progress.max
            result = {
                "run": len(self.results) + 1,
                "strategy": name,
                "images": n,
                "test accuracy": round(trained.accuracy(test_images, test_labels), 3),
                "seconds": round(trained.seconds, 1),
            }
            self.results.append(result)
            if trained.history:
                self.histories[f"{result['run']}: {name}"] = trained.history
            self.update()
            return result
        finally:
            self.run_button.disabled = False

    def update(self):
        fig, ax = plt.subplots(figsize=(6, 3.2))
        if self.histories:
            training_curves(self.histories, ax=ax)
        else:
            ax.text(0.5, 0.5, "no training curves (these strategies have no epochs)", ha="center")
            ax.set_axis_off()
        self._show(fig)
        with self.output:
            rows = "".join(f"<tr>{''.join(f'<td>{v}</td>' for v in r.values())}</tr>" for r in self.results)
            head = "".join(f"<th>{k}</th>" for k in self.results[0]) if self.results else ""
            display(HTML(f"<table><tr>{head}</tr>{rows}</table>"))


# ------------------------------------------------------------------------------- live curves
def _in_notebook() -> bool:
    shell = get_ipython()
    return shell is not None and type(shell).__name__ == "ZMQInteractiveShell"


class LiveCurves(keras.callbacks.Callback):
    """A Keras callback that redraws one training-curve figure per epoch in a notebook (see :func:`live_curves`)."""

    def __init__(self, metric: str = "accuracy", *, notebook: bool | None = None):
        super().__init__()
        self.metric = metric
        self.history: dict[str, list[float]] = {}
        self.notebook = _in_notebook() if notebook is None else notebook
        self.lines: list[str] = []
        self._handle = None

    def on_epoch_end(self, epoch, logs=None):
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(float(value))
        if not self.notebook:
            text = " ".join(f"{k}={v:.4f}" for k, v in (logs or {}).items())
            self.lines.append(f"epoch {epoch + 1}: {text}")
            print(self.lines[-1], flush=True)
            return
        fig, ax = plt.subplots(figsize=(5, 3))
        training_curves({"run": self.history}, metric=self.metric, ax=ax, mark_best="val_loss" in self.history)
        if self._handle is None:
            self._handle = display(fig, display_id=True)
        else:
            self._handle.update(fig)
        plt.close(fig)


def live_curves(metric: str = "accuracy", *, notebook: bool | None = None) -> LiveCurves:
    """A Keras callback that redraws one training-curve figure per epoch in a notebook.

    Outside a notebook (or with ``notebook=False``) it prints one plain-text line per epoch.

    Examples
    --------
    >>> callback = live_curves(notebook=False)  # pass to model.fit(..., callbacks=[callback])
    """
    return LiveCurves(metric, notebook=notebook)
