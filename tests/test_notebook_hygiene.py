"""Every notebook is committed clean, runs on the python3 kernel and starts with the set-up cell."""

from __future__ import annotations

import nbformat
import pytest

from conftest import ROOT
from tools.notebooks import (
    check_notebook,
    course_notebooks,
    fix_notebook,
    setup_cell_source,
    student_notebooks,
)

NOTEBOOKS = course_notebooks()


def test_the_course_has_notebooks():
    assert student_notebooks(), "no notebooks found under lectures/ or exercises/"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_notebook_is_clean(path):
    assert check_notebook(path) == []


@pytest.fixture
def clean_notebook(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# Title"), nbformat.v4.new_code_cell("1 + 1")]
    path = tmp_path / "lesson.ipynb"
    nbformat.write(nb, path)
    fix_notebook(path)
    assert check_notebook(path) == []
    return path


def _rewrite(path, change):
    nb = nbformat.read(path, as_version=nbformat.NO_CONVERT)
    change(nb)
    nbformat.write(nb, path)


def test_fix_stamps_the_setup_cell_first(clean_notebook):
    nb = nbformat.read(clean_notebook, as_version=4)
    assert nb.cells[0].source == setup_cell_source()
    assert [c.source for c in nb.cells[1:]] == ["# Title", "1 + 1"]
    fix_notebook(clean_notebook)  # idempotent: no second set-up cell
    assert len(nbformat.read(clean_notebook, as_version=4).cells) == 3


def _add_output(nb):
    nb.cells[-1].outputs = [nbformat.v4.new_output("stream", text="2")]
    nb.cells[-1].execution_count = 1


def _drop_setup(nb):
    del nb.cells[0]


def _other_kernel(nb):
    nb.metadata["kernelspec"]["name"] = "ir"


def _old_format(nb):
    nb.nbformat_minor = 4
    for cell in nb.cells:
        del cell["id"]


def _edit_setup(nb):
    nb.cells[0].source += "\nprint('hi')"


@pytest.mark.parametrize(
    ("change", "complaint"),
    [
        (_add_output, "stored outputs"),
        (_drop_setup, "set-up cell"),
        (_edit_setup, "set-up cell"),
        (_other_kernel, "kernel is 'ir'"),
        (_old_format, "expected 4.5"),
    ],
)
def test_check_catches_each_violation(clean_notebook, change, complaint):
    _rewrite(clean_notebook, change)
    problems = check_notebook(clean_notebook)
    assert any(complaint in p for p in problems), problems


def test_check_reports_unreadable_file(tmp_path):
    path = tmp_path / "broken.ipynb"
    path.write_text("{not json")
    assert "cannot be read" in check_notebook(path)[0]


def _run_setup_cell(shell_name: str) -> list[tuple[str, str]]:
    """Run the set-up cell as IPython would, in a shell whose ``str()`` is ``shell_name``; return its magics."""
    from IPython.core.inputtransformer2 import TransformerManager

    magics = []

    class Shell:
        def __str__(self):
            return shell_name

        def run_line_magic(self, name, line, _stack_depth=1):
            magics.append((name, line))

    code = TransformerManager().transform_cell(setup_cell_source())
    exec(code, {"get_ipython": Shell})
    return magics


def test_setup_cell_is_short_and_installs_the_course_on_colab_only():
    assert len(setup_cell_source().splitlines()) == 2
    assert _run_setup_cell("<ipykernel.zmqshell.ZMQInteractiveShell object>") == []
    [(name, line)] = _run_setup_cell("<google.colab._shell.Shell object at 0x7f>")
    assert name == "pip" and line.startswith("install --quiet") and "transfer-learning-course @ git+https" in line
