"""The course frame: README promises, Binder environment, the student and instructor configurations, `make lab`."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from conftest import ROOT, http_get, running_jupyter
from tools.notebooks import colab_url, student_notebooks

README = (ROOT / "README.md").read_text()
BIN = Path(sys.executable).parent


def _pyproject() -> dict:
    with open(ROOT / "pyproject.toml", "rb") as f:
        return tomllib.load(f)


def test_ci_runs_the_readme_test_command():
    assert "make test" in README
    ci = (ROOT / ".ci" / "run").read_text()
    commands = [line for line in ci.splitlines() if line and not line.startswith("#")]
    # README's test command, then the course in Colab's environment
    assert commands[-2:] == ["make test", "make test-colab"]
    assert "|| true" not in ci and "set -euo pipefail" in ci


#: The make targets promised to users (DEVELOPERS.md): each is in `make help`, which lists every described target.
PROMISED_TARGETS = (
    "lab lab-instructor test test-fast test-colab bench bench-full bench-notebooks bench-notebooks-colab "
    "bench-claims bench-grading bench-exercise readme book pretrain pretrain-unlabeled release autograde "
    "grading-scheduler grading-worker"
).split()


def test_make_help_lists_every_promised_target_and_every_described_one():
    listed = subprocess.run(["make", "-s", "help"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    names = re.findall(r"^make (\S+)", listed, flags=re.M)
    assert set(PROMISED_TARGETS) <= set(names), set(PROMISED_TARGETS) - set(names)
    phony = re.search(r"^\.PHONY: (.*)$", (ROOT / "Makefile").read_text(), flags=re.M).group(1).split()
    assert set(names) == set(phony), "every phony target has a description, and only those are listed"


def test_readme_quick_start_has_the_two_commands():
    quick_start = README.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    commands = re.findall(r"^make \w+", quick_start, flags=re.M)
    assert commands == ["make lab", "make test"]


def test_readme_links_every_student_notebook_to_colab():
    for notebook in student_notebooks():
        assert colab_url(notebook) in README, f"README lacks a Colab link for {notebook.name}"


def test_readme_has_a_binder_badge():
    assert "https://mybinder.org/badge_logo.svg" in README
    owner_repo = _pyproject()["project"]["urls"]["Repository"].removeprefix("https://github.com/")
    assert f"https://mybinder.org/v2/gh/{owner_repo}/" in README


def test_repository_url_is_written_once():
    url = _pyproject()["project"]["urls"]["Repository"]
    tracked = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    written = [
        path
        for path in tracked
        if not path.endswith((".ipynb", "README.md"))  # derived copies, checked above
        and (ROOT / path).is_file()
        and url in (ROOT / path).read_text(errors="ignore")
    ]
    assert written == ["pyproject.toml"]


def _requirements(strings) -> dict[str, Requirement]:
    return {Requirement(s).name: Requirement(s) for s in strings}


def test_binder_environment_matches_pyproject():
    import yaml

    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    binder = _requirements(pip_section)
    project = _pyproject()["project"]
    linux = {"sys_platform": "linux", "platform_machine": "x86_64"}
    expected = _requirements(project["dependencies"])
    for extra in ("tf", "heic", "lab"):
        for s in project["optional-dependencies"][extra]:
            req = Requirement(s)
            if req.name != project["name"] and (req.marker is None or req.marker.evaluate(linux)):
                expected[req.name] = req
    assert {name: str(r.specifier) for name, r in binder.items()} == {
        name: str(r.specifier) for name, r in expected.items()
    }


NBGRADER_PLUGINS = {
    f"@jupyter/nbgrader:{name}"
    for name in ("assignment-list", "course-list", "create-assignment", "formgrader", "menu", "validate-assignment")
}
NEWS = "@jupyterlab/apputils-extension:announcements"


def _disabled(config: str) -> set[str]:
    page = json.loads((ROOT / "config" / config / "labconfig/page_config.json").read_text())
    return {k for k, v in page["disabledExtensions"].items() if v}


def test_configs_name_real_plugins_students_get_none_of_nbgrader_and_nobody_the_news_pop_up():
    assert _disabled("student") == NBGRADER_PLUGINS | {NEWS}
    assert _disabled("instructor") == {NEWS}
    # The ids must be the real plugin ids, or disabling them does nothing.
    shared = Path(sys.prefix) / "share/jupyter"
    scripts = [*(shared / "labextensions/@jupyter/nbgrader/static").glob("*.js"), *(shared / "lab/static").glob("*.js")]
    bundle = "".join(p.read_text(errors="ignore") for p in scripts)
    for plugin_id in NBGRADER_PLUGINS | {NEWS}:
        assert f'"{plugin_id}"' in bundle, plugin_id


def _lab_page_config(url: str, token: str) -> dict:
    status, html = http_get(f"{url}/lab?token={token}")
    assert status == 200
    match = re.search(r'<script id="jupyter-config-data" type="application/json">(.*?)</script>', html, re.S)
    return json.loads(match.group(1))


@pytest.mark.slow
def test_make_lab_serves_the_course_as_students_see_it():
    with running_jupyter(["make", "--no-print-directory", "lab"]) as (url, token):
        status, body = http_get(f"{url}/api/contents/lectures?token={token}")
        assert status == 200
        names = {item["name"] for item in json.loads(body)["content"]}
        assert {p.name for p in student_notebooks() if p.parent.name == "lectures"} <= names
        assert NBGRADER_PLUGINS | {NEWS} <= set(_lab_page_config(url, token)["disabledExtensions"])
        for handler in ("formgrader", "assignments", "courses"):  # nbgrader's server side is off too
            assert http_get(f"{url}/{handler}?token={token}")[0] == 404, handler


@pytest.mark.slow
def test_make_lab_instructor_serves_every_nbgrader_tool():
    with running_jupyter(["make", "--no-print-directory", "lab-instructor"]) as (url, token):
        disabled = set(_lab_page_config(url, token)["disabledExtensions"])
        assert not any(plugin.startswith("@jupyter/nbgrader") for plugin in disabled) and NEWS in disabled
        assert http_get(f"{url}/formgrader?token={token}")[0] == 200


def test_binder_start_limits_malloc_arenas_and_runs_the_server_command():
    env = {key: value for key, value in os.environ.items() if key != "MALLOC_ARENA_MAX"}
    done = subprocess.run(
        ["bash", str(ROOT / "start"), "sh", "-c", "echo $MALLOC_ARENA_MAX; exit 3"],
        env=env,
        capture_output=True,
        text=True,
    )
    assert (done.returncode, done.stdout.strip()) == (3, "2")
