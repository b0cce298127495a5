"""A class on a cluster: a worker killed while grading loses nothing, a stopped batch resumes, make starts one."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time

import pytest
from grading_harness import copy_submissions, grade_command, grading_processes, read_grades

from conftest import ROOT
from grading import dispatch
from grading.course import course_version


@pytest.mark.slow
def test_a_worker_killed_while_grading_loses_nothing(batches, cluster, tmp_path):
    """A real SIGKILL to the worker grading ``patches_mean``: it is graded again elsewhere, to the same score.

    The worker grading ``untouched`` is killed twice: that submission is reported as failed, with the reason.
    """
    students = ["patches_mean", "untouched", "raises", "corrupt"]
    folder = copy_submissions(batches, tmp_path / "submissions", students)
    out = tmp_path / "out"
    grading = subprocess.Popen(
        grade_command(folder, out, "--scheduler", cluster.address),
        cwd=ROOT,
        env=dict(os.environ, GRADING_SEED=str(batches["seed"])),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    killed: dict[str, list[int]] = {"patches_mean": [], "untouched": []}
    wanted = {"patches_mean": 1, "untouched": 2}
    # seconds after its task starts: a model on a random base grades in about 60 s, the untouched release in 15 s
    inside_grading = {"patches_mean": 20, "untouched": 5}
    dead: set[str] = set()
    deadline = time.monotonic() + 1500
    try:
        while any(len(killed[s]) < wanted[s] for s in wanted) and grading.poll() is None:
            assert time.monotonic() < deadline
            for address, keys in cluster.running().items():
                student_id = next(
                    (
                        s
                        for s in wanted
                        if len(killed[s]) < wanted[s] and any(k.startswith(f"grade-{s}-") for k in keys)
                    ),
                    None,
                )
                if student_id is None or address in dead:
                    continue
                time.sleep(inside_grading[student_id])  # well inside its grading: its kernel runs the notebook
                pid = cluster.pid(address)
                os.kill(pid, signal.SIGKILL)
                killed[student_id].append(pid)
                dead.add(address)
                cluster.wait_for_workers(2, gone=address)  # the nanny starts a new worker in its place
                break
            time.sleep(1)
        stdout, _ = grading.communicate(timeout=1500)
    finally:
        if grading.poll() is None:
            grading.kill()
    assert grading.returncode == 0, stdout[-3000:]
    assert len(killed["patches_mean"]) == 1 and len(killed["untouched"]) == 2, killed
    grades, by_cell = read_grades(out)
    for student_id in ("patches_mean", "raises", "corrupt"):
        assert by_cell.get(student_id) == batches["first"]["by_cell"].get(student_id), student_id
        assert grades[student_id] == batches["first"]["grades"][student_id], student_id
    regraded = json.loads((out / "results" / "patches_mean.json").read_text())
    assert int(regraded["worker"].rsplit(":", 1)[1]) not in killed["patches_mean"]
    untouched = json.loads((out / "results" / "untouched.json").read_text())
    assert (
        untouched["failed"]
        and grades["untouched"] == 0
        and "stopped twice by the death of its worker" in untouched["problem"]
    )
    assert "untouched" in stdout and "stopped twice by the death of its worker" in stdout
    assert not grading_processes(), "the killed workers' nbgrader runs, sandboxes and kernels die with them"


@pytest.mark.slow
def test_an_interrupted_batch_resumes_without_grading_anything_twice(batches, tmp_path):
    """Ctrl-C (SIGINT to the whole process group, as a terminal sends it) on a local cluster, then the same command."""
    students = ["raises", "untouched", "deletes_cells", "edits_tests", "corrupt"]
    folder = copy_submissions(batches, tmp_path / "submissions", students)
    out = tmp_path / "out"
    env = dict(os.environ, GRADING_SEED=str(batches["seed"]))
    first = subprocess.Popen(
        grade_command(folder, out, "--jobs", "2"),
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    deadline = time.monotonic() + 600
    while len(list((out / "results").glob("*.json"))) < 2:
        assert time.monotonic() < deadline and first.poll() is None, first.communicate()[0][-3000:]
        time.sleep(0.5)
    os.killpg(first.pid, signal.SIGINT)
    stdout, _ = first.communicate(timeout=120)
    assert first.returncode == 130, stdout[-3000:]
    assert "run the same command again" in stdout
    saved = {p.stem: p.read_bytes() for p in (out / "results").glob("*.json")}
    assert 2 <= len(saved) < len(students), sorted(saved)
    grades, _ = read_grades(out)
    assert set(grades) == set(saved), "the tables hold what is graded, at any moment"

    second = subprocess.run(
        grade_command(folder, out, "--jobs", "2"), cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-3000:]
    assert f"{len(students) - len(saved)} to grade" in second.stdout and f"{len(saved)} already graded" in second.stdout
    for student_id, content in saved.items():
        assert (out / "results" / f"{student_id}.json").read_bytes() == content, f"{student_id} graded twice"
    grades, by_cell = read_grades(out)
    assert set(grades) == set(students)
    assert by_cell == {s: batches["first"]["by_cell"][s] for s in students if s in batches["first"]["by_cell"]}
    assert grades == {s: batches["first"]["grades"][s] for s in students}

    third = subprocess.run(
        grade_command(folder, out, "--jobs", "1", "--student", "corrupt"),
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert third.returncode == 0 and "1 to grade" in third.stdout, third.stdout[-3000:]
    regraded = {p.stem for p in (out / "results").glob("*.json") if p.read_bytes() != saved.get(p.stem)}
    assert "corrupt" in regraded and regraded <= {"corrupt", *(set(students) - set(saved))}
    assert not grading_processes(), "an interrupted batch leaves no grading behind"


def test_make_starts_a_grading_scheduler_and_workers_that_join_it(tmp_path):
    """``make grading-scheduler`` and ``make grading-worker``, as README tells instructors to run them."""
    scheduler_file = tmp_path / "scheduler.json"
    started = []
    try:
        started.append(
            subprocess.Popen(
                ["make", "-s", "grading-scheduler"]
                + [f"DASK_ARGS=--host 127.0.0.1 --port 0 --no-dashboard --scheduler-file {scheduler_file}"],
                cwd=ROOT,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
        )
        deadline = time.monotonic() + 120
        while not scheduler_file.exists():
            assert time.monotonic() < deadline, "the scheduler did not start"
            time.sleep(0.5)
        address = json.loads(scheduler_file.read_text())["address"]
        started.append(
            subprocess.Popen(
                ["make", "-s", "grading-worker", f"SCHEDULER={address}", "DASK_ARGS=--host 127.0.0.1 --no-dashboard"],
                cwd=ROOT,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
        )
        from distributed import Client

        expected, _ = dispatch.local_workers()
        with Client(address, timeout="60s") as client:
            client.wait_for_workers(expected, timeout=120)
            assert set(client.nthreads().values()) == {1}, "one thread a worker: one grading at a time"
            assert client.run_on_scheduler(dispatch.allowed_failures) == 1
            versions = client.run(lambda: __import__("grading.course").course.course_version())
            assert set(versions.values()) == {course_version()}, "the workers grade this checkout"
    finally:
        for process in reversed(started):
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=60)
    usage = subprocess.run(["make", "-s", "grading-worker"], cwd=ROOT, capture_output=True, text=True)
    assert usage.returncode == 2 and "usage: make grading-worker SCHEDULER=" in usage.stdout
