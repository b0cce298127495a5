"""Notebook hygiene for contributors: one set-up cell, clean cells, Colab links.

``python -m tools.notebooks check`` lists every problem (exit 1 if any);
``python -m tools.notebooks fix`` stamps the set-up cell into every notebook and strips outputs;
``python -m tools.notebooks links`` rewrites the README's "Open in Colab" table.

The course repository's URL is written once, in ``pyproject.toml`` (``[project.urls]
Repository``); the set-up cell and the Colab links are derived from it here.
"""

from __future__ import annotations

import sys
import tomllib
from collections.abc import Iterable
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
SETUP_CELL_ID = "colab-setup"
NOTEBOOK_KERNEL = "python3"
SKIP_PARTS = {".venv", ".venv-colab", "build", ".ipynb_checkpoints", "node_modules"}


def repository_url(root: Path = ROOT) -> str:
    """The course repository's URL, as written in pyproject.toml."""
    with open(root / "pyproject.toml", "rb") as f:
        return tomllib.load(f)["project"]["urls"]["Repository"].rstrip("/")


def setup_cell_source(root: Path = ROOT) -> str:
    """Source of the first cell of every notebook: installs the course on Colab only.

    Two lines, no import: IPython's ``get_ipython()`` is Colab's own shell there, and ``%pip``
    installs into the kernel's environment. Elsewhere the course is installed already.
    """
    return (
        'if "google.colab" in str(get_ipython()):  # on Colab, install the course (its TensorFlow is kept)\n'
        f'    %pip install --quiet "transfer-learning-course @ git+{repository_url(root)}"'
    )


def colab_url(notebook: Path, root: Path = ROOT, branch: str = "main") -> str:
    """The "Open in Colab" address of a notebook of this repository."""
    owner_repo = repository_url(root).removeprefix("https://github.com/")
    rel = notebook.resolve().relative_to(root).as_posix()
    return f"https://colab.research.google.com/github/{owner_repo}/blob/{branch}/{rel}"


def course_notebooks(root: Path = ROOT) -> list[Path]:
    """Every notebook of the repository, outside virtual environments and build folders."""
    return sorted(p for p in root.rglob("*.ipynb") if not SKIP_PARTS.intersection(p.relative_to(root).parts))


def student_notebooks(root: Path = ROOT) -> list[Path]:
    """The notebooks students open: lectures and released exercises (not instructor sources)."""
    return [p for p in course_notebooks(root) if p.relative_to(root).parts[0] in ("lectures", "exercises")]


def check_notebook(path: Path, root: Path = ROOT) -> list[str]:
    """Return the hygiene problems of one notebook, each a sentence naming the file."""
    name = path.relative_to(root).as_posix() if path.is_relative_to(root) else str(path)
    try:
        nb = nbformat.read(path, as_version=nbformat.NO_CONVERT)
    except Exception as exc:  # unreadable JSON or not a notebook at all
        return [f"{name}: cannot be read as a notebook ({exc})"]
    problems = []
    if (nb.nbformat, nb.nbformat_minor) < (4, 5):
        problems.append(f"{name}: nbformat {nb.nbformat}.{nb.nbformat_minor}, expected 4.5 (with cell ids)")
    try:
        nbformat.validate(nb)
    except nbformat.ValidationError as exc:
        problems.append(f"{name}: invalid nbformat: {exc.message}")
    kernel = nb.metadata.get("kernelspec", {}).get("name")
    if kernel != NOTEBOOK_KERNEL:
        problems.append(f"{name}: kernel is {kernel!r}, expected {NOTEBOOK_KERNEL!r}")
    for index, cell in enumerate(nb.cells):
        if "id" not in cell:
            problems.append(f"{name}: cell {index} has no id")
        if cell.cell_type == "code" and (cell.get("outputs") or cell.get("execution_count")):
            problems.append(f"{name}: cell {index} has stored outputs (python -m tools.notebooks fix)")
    if not nb.cells or nb.cells[0].source != setup_cell_source(root):
        problems.append(f"{name}: does not start with the set-up cell (python -m tools.notebooks fix)")
    return problems


def fix_notebook(path: Path, root: Path = ROOT) -> None:
    """Stamp the set-up cell, strip outputs and upgrade to nbformat 4.5 with cell ids, in place."""
    nb = nbformat.read(path, as_version=4)
    nb.nbformat_minor = max(nb.nbformat_minor, 5)
    nb.metadata["kernelspec"] = {"name": NOTEBOOK_KERNEL, "display_name": "Python 3", "language": "python"}
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    setup = nbformat.v4.new_code_cell(setup_cell_source(root), id=SETUP_CELL_ID)
    if nb.cells and nb.cells[0].get("id") == SETUP_CELL_ID:
        setup.metadata = nb.cells[0].metadata
        nb.cells[0] = setup
    else:
        nb.cells.insert(0, setup)
    nbformat.validator.normalize(nb)
    nbformat.write(nb, path)


def readme_links(root: Path = ROOT) -> str:
    """Markdown table of "Open in Colab" links, one per student notebook."""
    rows = ["| Notebook | Colab |", "| --- | --- |"]
    for nb in student_notebooks(root):
        rel = nb.relative_to(root).as_posix()
        rows.append(
            f"| [{rel}]({rel}) | [![Open In Colab](https://colab.research.google.com/assets/"
            f"colab-badge.svg)]({colab_url(nb, root)}) |"
        )
    return "\n".join(rows)


def write_readme_links(root: Path = ROOT) -> None:
    """Replace the table between the README's ``notebooks:start`` and ``notebooks:end`` marks."""
    readme = root / "README.md"
    text = readme.read_text()
    start, end = text.find("<!-- notebooks:start"), text.find("<!-- notebooks:end -->")
    if start < 0 or end < start:
        raise ValueError("README.md lacks the <!-- notebooks:start ... --> and <!-- notebooks:end --> marks")
    start = text.index("\n", start) + 1
    readme.write_text(f"{text[:start]}{readme_links(root)}\n{text[end:]}")


def main(argv: Iterable[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    command = args[0] if args else "check"
    if command == "fix":
        for nb in course_notebooks():
            fix_notebook(nb)
        return 0
    if command == "links":
        write_readme_links()
        return 0
    if command == "check":
        problems = [p for nb in course_notebooks() for p in check_notebook(nb)]
        print("\n".join(problems) or "all notebooks clean")
        return 1 if problems else 0
    print(f"unknown command {command!r}; use check, fix or links", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
