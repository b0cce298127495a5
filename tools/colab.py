"""Colab's environment offline: its preinstalled versions, and what the set-up cell's install would change there.

    python -m tools.colab refresh FREEZE --date 2026-08-19   # new pins from a newer Colab list
    python -m tools.colab check      # dry run of the set-up cell's install: exit 1 if it changes a pin
    python -m tools.colab install    # the set-up cell's install, from this checkout

``make test-colab`` builds ``.venv-colab`` (Python 3.13) from ``config/colab/preinstalled.txt``,
installs the course with :func:`install` and runs the student-side tests in it. Colab publishes
its runtime's ``pip freeze`` in the public repository googlecolab/backend-info
(``pip-freeze.txt``); :func:`refresh` keeps of it the packages the course and its tests import,
with everything they need, at Colab's versions.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

from tools.notebooks import ROOT, repository_url, setup_cell_source

PREINSTALLED = ROOT / "config" / "colab" / "preinstalled.txt"


def build_wheels() -> Path:
    """Where :func:`install` keeps the course's build requirements (pyproject's [build-system]) as wheels.

    In this Python's environment (``.venv-colab/build-wheels``): the dry run of the tests then
    builds the course without the network.
    """
    return Path(sys.prefix) / "build-wheels"


#: What the course's notebooks and its student-side tests import on Colab. Their dependencies come
#: with them (at Colab's versions) when :func:`refresh` resolves them.
IMPORTED = (
    "tensorflow keras numpy matplotlib scikit-learn scipy ipywidgets pillow tqdm h5py protobuf "
    "ipykernel ipython jupyter-client notebook nbclient nbformat pytest psutil pyyaml"
).split()


def in_colab_environment() -> bool:
    """Whether this process runs in the environment make test-colab builds (it sets ``COURSE_ENVIRONMENT=colab``)."""
    return os.environ.get("COURSE_ENVIRONMENT") == "colab"


def canonical(name: str) -> str:
    """A distribution's name as pip compares names (PEP 503)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def read_pins(path: Path = PREINSTALLED) -> dict[str, str]:
    """``{name: version}`` of the ``name==version`` lines of a requirements file (comments and URLs skipped)."""
    pins = {}
    for line in path.read_text().splitlines():
        requirement = line.split("#", 1)[0].strip()
        if "==" in requirement and " @ " not in requirement:
            name, version = requirement.split("==", 1)
            pins[canonical(name)] = version.strip()
    return pins


def setup_requirement(root: Path = ROOT) -> str:
    """The requirement the notebooks' set-up cell installs, pointing at ``root`` instead of GitHub.

    The same string the cell passes to ``%pip install`` (so the same extras, none of them), with
    its ``git+`` address replaced by this checkout: what a student gets from the repository's
    main branch, tested before it is pushed.
    """
    pip_line = next(line for line in setup_cell_source(root).splitlines() if "%pip install" in line)
    requirement = shlex.split(pip_line)[-1]
    git_url = f"git+{repository_url(root)}"
    if git_url not in requirement:
        raise ValueError(f"the set-up cell installs {requirement!r}, not the repository {git_url}: update tools.colab")
    return requirement.replace(git_url, root.resolve().as_uri())


def dry_run(requirements: list[str], *, python: str = sys.executable, options: tuple[str, ...] = ()) -> dict:
    """pip's installation report for ``requirements`` in ``python``'s environment, installing nothing."""
    with tempfile.TemporaryDirectory() as scratch:
        report = Path(scratch) / "report.json"
        command = [python, "-m", "pip", "install", "--dry-run", "--quiet", "--report", str(report), *options]
        done = subprocess.run([*command, *requirements], capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"pip could not resolve {requirements}:\n{done.stderr[-3000:]}")
        return json.loads(report.read_text())


def changes(report: dict, pins: dict[str, str]) -> list[str]:
    """The pinned packages a pip report would install at another version, as ``"name 1.0 -> 2.0"``."""
    changed = []
    for item in report.get("install", []):
        name, version = canonical(item["metadata"]["name"]), item["metadata"]["version"]
        if name in pins and pins[name] != version:
            changed.append(f"{name} {pins[name]} -> {version}")
    return sorted(changed)


def offline_dry_run(requirements: list[str]) -> dict:
    """:func:`dry_run` with no package index: only what is installed here, and the course's build wheels.

    pip keeps an installed version that satisfies a requirement, so a change to a preinstalled
    package would need a version that is not here: offline, pip then fails and names it.
    """
    if not build_wheels().is_dir():
        raise FileNotFoundError(f"no {build_wheels()}: run python -m tools.colab install first (make test-colab does)")
    return dry_run(requirements, options=("--no-index", "--find-links", str(build_wheels())))


def check(root: Path = ROOT) -> list[str]:
    """What the set-up cell's install would change among Colab's preinstalled packages (here: this Python's)."""
    return changes(dry_run([setup_requirement(root)]), read_pins())


def install(root: Path = ROOT) -> None:
    """Install the course into this Python's environment as the set-up cell does on Colab.

    First the course's build requirements are kept as wheels in :func:`build_wheels`, for
    :func:`offline_dry_run`.
    """
    with open(root / "pyproject.toml", "rb") as f:
        build_requires = tomllib.load(f)["build-system"]["requires"]
    download = [sys.executable, "-m", "pip", "download", "--quiet", "--dest", str(build_wheels()), *build_requires]
    subprocess.run(download, check=True)
    # pip builds and installs a local folder again on every call: a changed checkout is what gets tested.
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", setup_requirement(root)], check=True)


def refresh(freeze: Path, date: str, python: str, out: Path = PREINSTALLED) -> dict[str, str]:
    """Write ``out``: Colab's versions of :data:`IMPORTED` and all they need, from Colab's ``pip freeze``.

    ``python`` must be the Python version of that Colab runtime (pip resolves for it). Lines that
    name a URL instead of a version (Colab's own builds) are left out; the resolver then takes
    those packages from the package index at the versions the other pins allow.
    """
    with tempfile.TemporaryDirectory() as scratch:
        constraints = Path(scratch) / "constraints.txt"
        lines = [line for line in freeze.read_text().splitlines() if "==" in line and " @ " not in line]
        constraints.write_text("\n".join(lines) + "\n")
        report = dry_run(IMPORTED, python=python, options=("--ignore-installed", "-c", str(constraints)))
    colab = {canonical(line.split("==")[0]): line.split("==")[1].strip() for line in lines}
    resolved = {canonical(i["metadata"]["name"]): i["metadata"]["version"] for i in report["install"]}
    if "pip" in colab:
        resolved["pip"] = colab["pip"]  # the resolver's answers depend on pip's version too
    missing = sorted(name for name, version in resolved.items() if colab.get(name) != version)
    version = subprocess.run([python, "-c", "import platform; print(platform.python_version())"], capture_output=True)
    header = [
        f"# What Colab's default runtime had installed on {date}, kept to the packages the course and its",
        f"# student-side tests import and everything they need, resolved for Python {version.stdout.decode().strip()}.",
        "# Written by",
        f"#     python -m tools.colab refresh pip-freeze.txt --date {date}",
        "# from Colab's published list (github.com/googlecolab/backend-info, pip-freeze.txt); to refresh,",
        "# run it on the newer list with a Python of the runtime's version, then make test-colab.",
    ]
    if missing:
        header.append(f"# Not in Colab's list, resolved from the package index: {', '.join(missing)}")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(header + [f"{name}=={resolved[name]}" for name in sorted(resolved)]) + "\n")
    return resolved


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.colab", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    fresh = commands.add_parser("refresh", help=f"rewrite {PREINSTALLED.relative_to(ROOT)} from Colab's pip freeze")
    fresh.add_argument("freeze", type=Path)
    fresh.add_argument("--date", required=True, help="the date of Colab's list, YYYY-MM-DD")
    fresh.add_argument("--python", default=sys.executable, help="a Python of the runtime's version (default: this one)")
    commands.add_parser("check", help="dry run of the set-up cell's install here; exit 1 if a preinstalled pin changes")
    commands.add_parser("install", help="the set-up cell's install, from this checkout")
    args = parser.parse_args(argv)
    if args.command == "refresh":
        pins = refresh(args.freeze, args.date, args.python)
        print(f"wrote {PREINSTALLED.relative_to(ROOT)}: {len(pins)} packages")
    elif args.command == "check":
        changed = check()
        print("\n".join(changed) or "the set-up cell changes no preinstalled package")
        return 1 if changed else 0
    else:
        install()
    return 0


if __name__ == "__main__":
    sys.exit(main())
