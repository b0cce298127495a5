"""How the grading tests grade: the command, a Dask cluster on loopback, stray copies of the course, fixtures.

A pytest plugin (conftest's ``pytest_plugins``): the session's ``batches`` are the adversarial
batch graded once on ``cluster``, a Dask scheduler and two workers started here as separate
processes, and its part :data:`GRADED_HERE_TOO` once more one after another in this process, under
one seed, with copies of the course planted where no deny-list would know them.
"""

from __future__ import annotations

import csv
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from grading_submissions import adversarial_batch

from conftest import ROOT

ROOT_ON_LINUX = sys.platform.startswith("linux") and os.geteuid() == 0


GRADING_OPTIONS = ["--cell-timeout", "120", "--timeout", "600"]  # two kernels share 2 cores on a cluster of two


def grade_command(folder: Path, out: Path, *options: str) -> list[str]:
    return [sys.executable, "-m", "grading", str(folder), "--out", str(out), *GRADING_OPTIONS, *options]


def read_grades(out: Path) -> tuple[dict[str, float], dict[str, dict[str, float]]]:
    with open(out / "grades.csv") as f:
        grades = {row["student_id"]: float(row["score"]) for row in csv.DictReader(f)}
    with open(out / "scores_by_cell.csv") as f:
        by_cell = {}
        for row in csv.DictReader(f):
            by_cell.setdefault(row["student_id"], {})[row["cell"]] = float(row["score"])
    return grades, by_cell


def grade(folder: Path, seed: int, *options: str) -> dict:
    out = Path(tempfile.mkdtemp(prefix="graded-"))
    env = dict(os.environ, GRADING_SEED=str(seed))  # grading finds nbgrader itself
    done = subprocess.run(
        grade_command(folder, out, *options), cwd=ROOT, env=env, capture_output=True, text=True, timeout=4000
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    grades, by_cell = read_grades(out)
    return {"out": out, "grades": grades, "by_cell": by_cell, "stdout": done.stdout}


def files_in(out: Path) -> set[str]:
    return {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()}


class DaskCluster:
    """A Dask scheduler and two workers (each under a nanny, which restarts it) on loopback, as separate processes.

    They are started the way README tells instructors to start them on their machines, with the
    scheduler told to give up on a submission after its second dead worker.
    """

    def __init__(self, folder: Path, workers: int = 2):
        scheduler_file, self.logs = folder / "scheduler.json", []
        env = dict(
            os.environ,
            PYTHONPATH=str(ROOT),
            DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES="1",
            PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        )
        env.pop("GRADING_SEED", None)
        dask = [sys.executable, "-m", "dask"]
        self.processes = [
            subprocess.Popen(
                [*dask, "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard"]
                + ["--scheduler-file", str(scheduler_file)],
                cwd=ROOT,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=self.log(folder / "scheduler.log"),
                start_new_session=True,
            )
        ]
        deadline = time.monotonic() + 60
        while not scheduler_file.exists():
            assert time.monotonic() < deadline, (folder / "scheduler.log").read_text()
            time.sleep(0.2)
        self.address = json.loads(scheduler_file.read_text())["address"]
        for number in range(workers):
            self.processes.append(
                subprocess.Popen(
                    [*dask, "worker", self.address, "--host", "127.0.0.1", "--nworkers", "1", "--nthreads", "1"]
                    + ["--nanny", "--memory-limit", "0", "--no-dashboard", "--name", f"grader-{number}"],
                    cwd=ROOT,
                    env=env,
                    stdout=subprocess.DEVNULL,
                    stderr=self.log(folder / f"worker-{number}.log"),
                    start_new_session=True,
                )
            )
        self.wait_for_workers(workers)

    def log(self, path: Path):
        self.logs.append(open(path, "w"))  # noqa: SIM115 (closed with the cluster)
        return self.logs[-1]

    def info(self) -> dict:
        """The scheduler's view: ``{"workers": {address: {...}}, ...}``."""
        from distributed import Client

        with Client(self.address, timeout="30s") as client:
            return client.scheduler_info(n_workers=-1)

    def pid(self, worker: str) -> int:
        """The process id of the worker at ``worker`` (the nanny's child, which runs the tasks)."""
        from distributed import Client

        with Client(self.address, timeout="30s") as client:
            return client.run(os.getpid, workers=[worker])[worker]

    def running(self) -> dict[str, list[str]]:
        """The task keys each worker is executing now (not those the scheduler has only sent it)."""
        from distributed import Client

        def executing(dask_worker) -> list[str]:  # local, so that it travels by value, not by this module's name
            return [str(task.key) for task in dask_worker.state.executing]

        with Client(self.address, timeout="30s") as client:
            return client.run(executing)

    def wait_for_workers(self, count: int, *, gone: str = "", timeout: float = 120) -> None:
        """Until ``count`` workers are up, and the worker at ``gone`` is not among them."""
        deadline = time.monotonic() + timeout
        while len(workers := self.info()["workers"]) < count or gone in workers:
            assert time.monotonic() < deadline, f"{count} workers did not join in {timeout} s"
            time.sleep(1)

    def close(self) -> None:
        for process in reversed(self.processes):
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        for log in self.logs:
            log.close()


@pytest.fixture(scope="session")
def cluster(tmp_path_factory):
    if not ROOT_ON_LINUX or not shutil.which("bwrap"):
        pytest.skip("grading needs bubblewrap, as root on Linux, here")
    running = DaskCluster(tmp_path_factory.mktemp("dask"))
    yield running
    running.close()


def plant_stray_copies(seed: int) -> list[Path]:
    """Copies of the course (its solutions and the seed) where instructors keep them, readable by anyone.

    One beside this checkout (another clone), one in /opt: no deny-list of covered places knows them.
    """
    copies = []
    for place in (ROOT.parent, Path("/opt")):
        copy = Path(tempfile.mkdtemp(prefix="stray-course-", dir=place))
        shutil.copytree(ROOT / "solutions", copy / "solutions")
        (copy / ".grading_seed").write_text(f"{seed}\n")
        for path in [copy, *copy.rglob("*")]:
            path.chmod(0o755 if path.is_dir() else 0o644)
        copies.append(copy)
    return copies


#: The part of the batch graded once more one after another in this process (``--jobs 1``), as on a
#: machine of one core: the solution, a kernel that dies, an error before any hand-in, an unreadable
#: file and the seed hunter must grade as they do on the cluster. All of it again would add 25 minutes to CI.
GRADED_HERE_TOO = ("good", "untouched", "dies_after_head", "raises", "corrupt", "hunts_secrets")


@pytest.fixture(scope="session")
def batches(tmp_path_factory, cluster):
    if not ROOT_ON_LINUX or not shutil.which("bwrap"):
        pytest.skip("grading needs bubblewrap, as root on Linux, here")
    folder = tmp_path_factory.mktemp("submissions")
    expected = adversarial_batch(folder)
    seed = secrets.randbelow(10**9) + 10**9
    copies = plant_stray_copies(seed)
    try:
        first = grade(folder, seed, "--scheduler", cluster.address)
        part = tmp_path_factory.mktemp("graded-here-too")
        for student_id in GRADED_HERE_TOO:
            shutil.copy(folder / f"{student_id}.ipynb", part / f"{student_id}.ipynb")
        second = grade(part, seed, "--jobs", "1")
    finally:
        for copy in copies:
            shutil.rmtree(copy)
    yield {"expected": expected, "first": first, "second": second, "seed": seed, "folder": folder}
    for batch in (first, second):
        shutil.rmtree(batch["out"], ignore_errors=True)


def copy_submissions(batches, folder: Path, students: list[str]) -> Path:
    folder.mkdir()
    for student_id in students:
        shutil.copy(batches["folder"] / f"{student_id}.ipynb", folder / f"{student_id}.ipynb")
    return folder


def grading_processes(wait: float = 30) -> list[str]:
    """The processes of a grading still running (nbgrader, bwrap, a sandboxed kernel), after ``wait`` s at most."""
    deadline = time.monotonic() + wait
    while True:
        found = [
            line
            for pattern in ("nbgrader autograde", "^/usr/bin/bwrap ", "ipykernel_launcher -f .*connection.json")
            for line in subprocess.run(["pgrep", "-af", pattern], capture_output=True, text=True).stdout.splitlines()
        ]
        if not found or time.monotonic() > deadline:
            return found
        time.sleep(1)
