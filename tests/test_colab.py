"""Colab's environment: the set-up cell's install changes none of Colab's packages, and the course runs on them.

The first tests run everywhere (how tools.colab reads pip's report and Colab's pins). Those marked
``in_colab`` need the environment make test-colab builds (``COURSE_ENVIRONMENT=colab``): Python 3.13
with Colab's TensorFlow, Keras, ipywidgets and the rest at Colab's versions, the course installed
as the set-up cell installs it. make test-colab also runs the notebooks and the student-side
tests there (Makefile: COLAB_TESTS).
"""

from __future__ import annotations

import importlib.metadata
import sys
from pathlib import Path

import nbformat
import pytest

from tools.colab import (
    IMPORTED,
    PREINSTALLED,
    canonical,
    changes,
    in_colab_environment,
    offline_dry_run,
    read_pins,
    setup_requirement,
)
from tools.notebooks import ROOT, setup_cell_source

in_colab = pytest.mark.skipif(not in_colab_environment(), reason="needs Colab's environment: make test-colab")


def test_a_report_that_changes_a_preinstalled_package_is_caught():
    pins = {"keras": "3.13.2", "pillow": "11.3.0", "ipywidgets": "7.7.1"}
    report = {
        "install": [
            {"metadata": {"name": "transfer_learning_course", "version": "0.1.0"}},
            {"metadata": {"name": "Keras", "version": "3.15.1"}},
            {"metadata": {"name": "Pillow", "version": "11.3.0"}},
            {"metadata": {"name": "ipywidgets", "version": "7.6.5"}},
        ]
    }
    assert changes(report, pins) == ["ipywidgets 7.7.1 -> 7.6.5", "keras 3.13.2 -> 3.15.1"]
    assert changes({"install": report["install"][:1]}, pins) == []


def test_the_set_up_cells_requirement_is_tested_from_this_checkout():
    requirement = setup_requirement()
    assert requirement == f"transfer-learning-course @ {ROOT.as_uri()}"
    assert '"transfer-learning-course @ git+https://' in setup_cell_source(), "the cell installs no extras"


def test_colabs_pins_cover_what_the_course_imports_and_say_where_they_come_from():
    pins = read_pins()
    assert {canonical(name) for name in IMPORTED} <= set(pins), "tools.colab.refresh keeps every imported package"
    header = PREINSTALLED.read_text().split("\n\n")[0]
    assert "python -m tools.colab refresh" in header and "googlecolab/backend-info" in header
    # What issue 33 is about: Colab's versions differ from the main suite's in these.
    assert pins["keras"].startswith("3.13.") and pins["ipywidgets"].startswith("7.") and pins["tensorflow"] < "2.21"


@in_colab
def test_this_is_colabs_environment():
    assert sys.version_info[:2] == (3, 13)
    installed = {name: importlib.metadata.version(name) for name in read_pins()}
    assert installed == read_pins()


@in_colab
def test_the_set_up_cells_install_changes_no_preinstalled_package():
    """pip's dry run of the cell's requirement, offline: every dependency is satisfied by what Colab has."""
    report = offline_dry_run([setup_requirement()])
    installs = {canonical(item["metadata"]["name"]): item["metadata"]["version"] for item in report["install"]}
    assert changes(report, read_pins()) == []
    assert list(installs) == ["transfer-learning-course"], f"the cell installs more than the course: {installs}"


@in_colab
def test_a_requirement_colab_does_not_meet_fails_the_dry_run():
    """The dry run's sharpness: what would upgrade Keras or pillow cannot resolve offline, and pip says which."""
    with pytest.raises(RuntimeError, match="keras"):
        offline_dry_run(["keras>=3.15"])
    with pytest.raises(RuntimeError, match="pillow-heif"):
        offline_dry_run(["pillow-heif>=1.0"])


@in_colab
def test_kernels_run_colabs_versions_and_the_installed_course(tmp_path):
    """The notebooks' kernel is this environment's Python, and imports the course the set-up cell installed."""
    from tools.book import run_in_scratch

    nb = nbformat.v4.new_notebook()
    probe = "import sys, keras, tensorflow, ipywidgets, helpers\nprint(sys.executable, keras.__version__, "
    probe += "tensorflow.__version__, ipywidgets.__version__, helpers.__file__, sep='\\n')"
    nb.cells.append(nbformat.v4.new_code_cell(probe))
    run_in_scratch(nb)
    executable, keras, tensorflow, ipywidgets, helpers = nb.cells[0].outputs[0].text.split()
    pins = read_pins()
    assert Path(executable).parent == Path(sys.executable).parent
    assert (keras, tensorflow, ipywidgets) == (pins["keras"], pins["tensorflow"], pins["ipywidgets"])
    assert "site-packages" in helpers and not Path(helpers).is_relative_to(ROOT / "helpers")
