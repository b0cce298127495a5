"""Build the course as a static HTML book with Jupyter Book: ``make book`` writes ``build/book/``.

    python -m tools.book                 # make book: reuse executed notebooks, execute the rest
    python -m tools.book --out DIR       # somewhere else

Jupyter Book 1 (Sphinx, MyST-NB and the Sphinx Book Theme) rather than Jupyter Book 2 / mystmd:
it installs from PyPI alone and builds offline, where mystmd fetches its theme from the web at
build time. ``jupyter-book config sphinx`` writes the Sphinx configuration and ``sphinx-build``
builds it with warnings as errors, so a broken reference fails the build.

The book holds README as its first page (overview, benchmark tables), the lectures
in order with their outputs and figures, and the exercise as students get it (``exercises/``,
never the solution). Every notebook page has Binder and Colab launch links for the same path in
the repository, and the theme's search works on the static files.

Outputs come from executing the lectures offline with the bundled base. An execution is
expensive (minutes per lecture), so one is kept under ``build/executed/`` by whoever runs it
(the test suite, ``make bench-notebooks``, or this command) and reused while the notebook and
the ``helpers`` package are unchanged (:func:`source_key`). A failing cell fails the build.
"""

from __future__ import annotations

import argparse
import hashlib
import inspect
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from queue import Empty

import nbformat
from nbclient import NotebookClient

from tools.notebooks import SETUP_CELL_ID, repository_url

ROOT = Path(__file__).resolve().parent.parent
EXECUTED = ROOT / "build" / "executed"
OUT = ROOT / "build" / "book"
EXERCISE = Path("exercises/sunglasses_vs_hat/sunglasses_vs_hat.ipynb")
KEY = "course_source_key"
#: The longest one look for a kernel's reply may block (:class:`WidgetSafeClient`).
REPLY_POLL_SECONDS = 1.0


def lectures(root: Path = ROOT) -> list[Path]:
    """The lecture notebooks, in the course's order, relative to ``root``."""
    return sorted(p.relative_to(root) for p in (root / "lectures").glob("*.ipynb"))


def source_key(notebook: Path, root: Path = ROOT) -> str:
    """A hash of what a notebook's outputs depend on: its own file and the ``helpers`` package."""
    digest = hashlib.sha256((root / notebook).read_bytes())
    for path in sorted((root / "helpers").rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            digest.update(path.relative_to(root).as_posix().encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def save_executed(notebook: Path, executed: nbformat.NotebookNode, root: Path = ROOT) -> Path:
    """Keep an executed copy of ``notebook`` (relative to ``root``) for the book to reuse."""
    target = root / "build" / "executed" / notebook
    target.parent.mkdir(parents=True, exist_ok=True)
    executed.metadata[KEY] = source_key(notebook, root)
    nbformat.write(executed, target)
    return target


def poll_in_slices(wait_once: Callable, seconds: float = REPLY_POLL_SECONDS) -> Callable:
    """A channel's ``get_msg(timeout=...)`` that looks ``seconds`` at a time, again and again until ``timeout``."""

    async def get_msg(timeout: float | None = None):
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            left = seconds if deadline is None else max(0.0, deadline - time.monotonic())
            try:
                message = wait_once(timeout=min(left, seconds))
                return await message if inspect.isawaitable(message) else message
            except Empty:
                if deadline is not None and time.monotonic() >= deadline:
                    raise

    return get_msg


class WidgetSafeClient(NotebookClient):
    """nbclient's ``NotebookClient``, looking for each reply of the kernel a second at a time.

    nbclient waits for a cell's reply in one poll of the kernel's shell socket, as long as the cell
    may run. When an ipywidgets ``Output`` widget captures output, nbclient sends on that socket
    while it waits, and ZeroMQ's edge-triggered poll can then miss the reply that arrives: the
    wait ends only at its timeout, with no error (nbclient issue 312): lecture 01 once sat 595 s
    idle after its first widget, and its first cells stalled so in 2 of 30 runs. A short look that
    finds nothing looks again.
    """

    async def async_start_new_kernel_client(self):
        kernel_client = await super().async_start_new_kernel_client()
        kernel_client.shell_channel.get_msg = poll_in_slices(kernel_client.shell_channel.get_msg)
        return kernel_client


def run_in_scratch(
    nb: nbformat.NotebookNode, timeout: int = 600, *, unset: tuple[str, ...] = ()
) -> nbformat.NotebookNode:
    """Run ``nb`` top to bottom in a fresh kernel and a scratch folder, in place; raise on the first failing cell.

    The kernel gets this process's environment without the variables named in ``unset``, with
    ``MALLOC_ARENA_MAX=2`` as students' kernels get it (unless set), and with ``TQDM_DISABLE=1``:
    a progress bar saved in an executed notebook would show its first state, 0%.
    """
    env = {name: value for name, value in os.environ.items() if name not in unset}
    env = {"MALLOC_ARENA_MAX": "2", **env, "TQDM_DISABLE": "1"}
    with tempfile.TemporaryDirectory() as scratch:
        # Every cell runs, as in JupyterLab: only the grader skips the cells tagged "skip-execution".
        resources = {"metadata": {"path": scratch}}
        client = WidgetSafeClient(
            nb, timeout=timeout, kernel_name="python3", resources=resources, skip_cells_with_tag=""
        )
        client.execute(env=env)
    return nb


def execute(notebook: Path, root: Path = ROOT, timeout: int = 600) -> nbformat.NotebookNode:
    """``notebook`` (relative to ``root``) executed by :func:`run_in_scratch`."""
    return run_in_scratch(nbformat.read(root / notebook, as_version=4), timeout)


def executed_notebook(notebook: Path, root: Path = ROOT) -> tuple[nbformat.NotebookNode, bool]:
    """The executed ``notebook``: the kept copy if still current, else a new execution. Also: whether reused."""
    kept = root / "build" / "executed" / notebook
    if kept.exists():
        nb = nbformat.read(kept, as_version=4)
        if nb.metadata.get(KEY) == source_key(notebook, root):
            return nb, True
    nb = execute(notebook, root)
    save_executed(notebook, nb, root)
    return nb, False


def _book_notebook(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The notebook as a page: the Colab set-up cell hidden (it does nothing outside Colab)."""
    for cell in nb.cells:
        if cell.get("id") == SETUP_CELL_ID:
            cell.metadata.setdefault("tags", []).append("remove-cell")
    nb.metadata.pop(KEY, None)
    return nb


def _intro(root: Path) -> str:
    """README as the book's first page; links to repository files that are not pages go to GitHub."""
    text = (root / "README.md").read_text()
    pages = {p.as_posix() for p in [*lectures(root), EXERCISE]}

    def link(match: re.Match) -> str:
        target = match.group(2)
        if re.match(r"[a-z]+:|#", target) or target in pages or target.startswith("docs/"):
            return match.group(0)
        return f"{match.group(1)}({repository_url(root)}/blob/main/{target})"

    return re.sub(r"(\]\s*)\(([^)\s]+)\)", link, text)


def config(root: Path = ROOT) -> str:
    """Jupyter Book's ``_config.yml``: no execution (done before), launch links, repository button."""
    return f"""\
title: Transfer learning for images
author: the course's authors
only_build_toc_files: true
execute:
  execute_notebooks: "off"
repository:
  url: {repository_url(root)}
  branch: main
  path_to_book: ""
launch_buttons:
  notebook_interface: jupyterlab
  binderhub_url: https://mybinder.org
  colab_url: https://colab.research.google.com
html:
  use_repository_button: true
  use_issues_button: false
  use_edit_page_button: false
  home_page_in_navbar: true
sphinx:
  config:
    myst_heading_anchors: 3
    html_show_copyright: false
    nb_merge_streams: true
"""


def toc(root: Path = ROOT) -> str:
    """Jupyter Book's ``_toc.yml``: README, the lectures in order, the exercise."""
    chapters = "\n".join(f"  - file: {p.with_suffix('').as_posix()}" for p in lectures(root))
    return f"""\
format: jb-book
root: intro
parts:
- caption: Lectures
  chapters:
{chapters}
- caption: Exercise
  chapters:
  - file: {EXERCISE.with_suffix("").as_posix()}
"""


def stage(source: Path, root: Path = ROOT, *, progress=print) -> dict[str, bool]:
    """Write the book's sources into ``source``; return, per lecture, whether its execution was reused."""
    source.mkdir(parents=True, exist_ok=True)
    (source / "_config.yml").write_text(config(root))
    (source / "_toc.yml").write_text(toc(root))
    (source / "intro.md").write_text(_intro(root))
    shutil.copytree(root / "docs", source / "docs", dirs_exist_ok=True)
    reused = {}
    for notebook in lectures(root):
        started = time.perf_counter()
        nb, reused[notebook.as_posix()] = executed_notebook(notebook, root)
        how = "reused" if reused[notebook.as_posix()] else f"executed in {time.perf_counter() - started:.0f} s"
        progress(f"{notebook}: {how}")
        (source / notebook).parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(_book_notebook(nb), source / notebook)
    (source / EXERCISE).parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(_book_notebook(nbformat.read(root / EXERCISE, as_version=4)), source / EXERCISE)
    return reused


def _run(command: list[str]) -> None:
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"{Path(command[0]).name} failed:\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}")


def build(out: Path = OUT, root: Path = ROOT, *, progress=print) -> dict:
    """Stage the sources, build them with Jupyter Book's Sphinx set-up (warnings fail it), put the HTML in ``out``."""
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as scratch:
        source = Path(scratch) / "book"
        reused = stage(source, root, progress=progress)
        staged = time.perf_counter()
        bin_dir = Path(sys.executable).parent
        _run([str(bin_dir / "jupyter-book"), "config", "sphinx", str(source)])
        conf = source / "conf.py"
        # Jupyter Book's Sphinx configuration, less two extensions the book does not use: sphinx-thebe
        # 0.3.1 declares its settings twice on every page (a script error in every reader's console).
        conf.write_text(conf.read_text().replace("'sphinx_thebe', ", "").replace("'sphinx_comments', ", ""))
        html = Path(scratch) / "html"
        _run([str(bin_dir / "sphinx-build"), "-W", "--keep-going", "-q", "-b", "html", str(source), str(html)])
        if out.exists():
            shutil.rmtree(out)
        shutil.copytree(html, out, ignore=shutil.ignore_patterns(".doctrees", ".buildinfo"))
    return {
        "reused": reused,
        "staging seconds": round(staged - started, 1),
        "build seconds": round(time.perf_counter() - staged, 1),
        "seconds": round(time.perf_counter() - started, 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.book", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    result = build(args.out)
    n_reused = sum(result["reused"].values())
    print(
        f"book in {args.out} ({args.out / 'index.html'}): {result['seconds']:.0f} s "
        f"({result['staging seconds']:.0f} s executing or reusing notebooks, {n_reused} of "
        f"{len(result['reused'])} reused; {result['build seconds']:.0f} s Jupyter Book)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
