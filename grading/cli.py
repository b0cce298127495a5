"""The command line: grade a folder of submissions not yet graded in ``graded/``, and say how it went.

    make autograde SUBMISSIONS=path/to/folder [JOBS=1] [SCHEDULER=tcp://host:8786] [STUDENT=id] [REGRADE=1]
    python -m grading path/to/folder [--out graded] [--jobs N] [--scheduler ADDRESS]
                      [--student ID] [--regrade] [--cell-timeout 300] [--timeout 900] [--keep]

``folder`` holds one notebook per student: ``<student_id>.ipynb`` or
``<student_id>/sunglasses_vs_hat.ipynb``. Writes ``<out>/grades.csv`` (``student_id``, ``score``,
``max_score``), ``<out>/scores_by_cell.csv``, ``<out>/feedback/<student_id>.html``,
``<out>/logs/<student_id>.txt`` and ``<out>/results/<student_id>.json``, readable by the grader only.
Interrupted (Ctrl-C), the batch keeps what is graded; run again, it grades only what is missing or
changed (``--regrade``: everything).
"""

from __future__ import annotations

import argparse
import os
import time
import uuid
from pathlib import Path

import nbformat

from grading import hidden_tests
from grading.course import GraderUnavailable, course_version
from grading.dispatch import grade_here, grade_on_dask, local_workers
from grading.protocol import RELEASE, ROOT, SEED_VARIABLE, SOURCE
from grading.results import Grade, Results, private
from grading.secrecy import Secret, grading_seed, secret_forms
from grading.submissions import find_submissions, read_submission
from grading.task import GradingJob, fingerprint


def autograde(
    folder: Path,
    out: Path,
    *,
    jobs: int | None = None,
    scheduler: str | None = None,
    students: tuple[str, ...] = (),
    regrade: bool = False,
    cell_timeout: int | None = None,
    timeout: float = 900,
    keep: bool = False,
) -> list[Grade]:
    """Grade the submissions in ``folder`` not yet graded in ``out``; write grades, feedback and logs there.

    Parameters
    ----------
    folder : Path
        ``<student_id>.ipynb`` files or ``<student_id>/sunglasses_vs_hat.ipynb`` folders.
    out : Path
        Where results go; what it already holds for an unchanged submission is kept.
    jobs : int, optional
        Submissions graded at once on a local Dask cluster; 1 grades in this process. Default: as
        many as the machine has cores and memory for (:func:`local_workers`).
    scheduler : str, optional
        Address of an existing Dask scheduler (``tcp://host:8786``) to grade on instead.
    students : tuple of str
        Grade only these students (again, even if unchanged).
    regrade : bool
        Grade every submission again.
    cell_timeout, timeout : number
        Seconds one cell and one submission may run.
    keep : bool
        Keep each submission's grading course (with ``jobs=1``, to inspect it).
    """
    submissions, skipped = find_submissions(folder)
    for line in skipped:
        print(f"Skipped: {line}")
    unknown = sorted(set(students) - {s.student_id for s in submissions})
    if unknown:
        raise SystemExit(
            f"No submission of {', '.join(unknown)} in {folder}. Its students: "
            f"{', '.join(s.student_id for s in submissions[:10])}{' ...' if len(submissions) > 10 else ''}"
        )
    seed = Secret(grading_seed())
    os.environ.pop(SEED_VARIABLE, None)  # workers started from here must not inherit it
    hidden = hidden_tests.split_hidden_tests(nbformat.read(SOURCE, as_version=4).cells)
    public = "\n".join(cell.source for cell in nbformat.read(RELEASE, as_version=4).cells)
    previous_umask = os.umask(0o077)  # everything the grader writes stays the grader's
    try:
        results = Results(out, submissions, secret_forms(seed.value, hidden, public))
        todo, batch = [], f"autograde-{uuid.uuid4().hex}"
        for submission in submissions:
            if students and submission.student_id not in students:
                continue
            job = GradingJob(
                submission.student_id,
                read_submission(submission.notebook),
                seed,
                course_version(),
                cell_timeout,
                timeout,
                hide=tuple(str(p.resolve()) for p in (folder, out)),
                keep=keep,
                batch=batch,
            )
            saved = results.saved.get(submission.student_id, {})
            if regrade or students or saved.get("fingerprint") != fingerprint(job):
                todo.append(job)
        kept = len(results.saved) - sum(job.student_id in results.saved for job in todo)
        return _grade_batch(todo, results, kept=kept, jobs=jobs, scheduler=scheduler)
    finally:
        os.umask(previous_umask)
        private(out)


def _grade_batch(
    todo: list[GradingJob], results: Results, *, kept: int, jobs: int | None, scheduler: str | None
) -> list[Grade]:
    """Grade ``todo``, saving each result as it comes; print each, a summary, and where everything is."""
    from tqdm.auto import tqdm

    if scheduler:
        where = f"on the Dask cluster at {scheduler}"
    else:
        if jobs is None:
            jobs, why = local_workers()
            jobs = min(jobs, max(1, len(todo)))
            where = f"on {jobs} local workers ({why})" if jobs > 1 else "in this process"
        else:
            where = f"on {jobs} local workers" if jobs > 1 else "in this process"
    print(
        f"{len(todo)} to grade {where}; {kept} already graded and unchanged, kept"
        + (" (--regrade grades them again)." if kept else ".")
    )
    graded, errors, isolations = [], {}, set()
    progress = tqdm(total=len(todo), unit="submission", disable=None, smoothing=0)
    started = time.perf_counter()

    def on_result(job: GradingJob, result: dict | BaseException) -> None:
        if isinstance(result, BaseException):
            errors[job.student_id] = f"{type(result).__name__}: {result}"
            progress.write(f"{job.student_id}: not graded, the grader failed ({errors[job.student_id]})")
        else:
            result["fingerprint"], result["graded_at"] = fingerprint(job), time.strftime("%Y-%m-%dT%H:%M:%S")
            grade_ = results.record(result)
            graded.append(grade_)
            if result.get("isolation") and result["isolation"] not in isolations:
                isolations.add(result["isolation"])
                progress.write(f"Submissions run in a sandbox: {result['isolation']}.")
            note = f"   ({grade_.problem})" if grade_.problem else ""
            if result.get("kept"):
                note += f"   (its grading course: {result['kept']})"
            progress.write(
                f"{grade_.student_id}: {grade_.score:g} / {grade_.max_score:g} in {grade_.seconds:.0f} s{note}"
            )
        progress.update()

    interrupted = False
    try:
        if todo and (scheduler or jobs > 1):
            grade_on_dask(todo, on_result, scheduler=scheduler, workers=jobs)
        else:
            grade_here(todo, on_result)
    except KeyboardInterrupt:
        interrupted = True
    except GraderUnavailable as error:
        raise SystemExit(str(error)) from None
    finally:
        progress.close()
        results.write_tables()
    _summary(results, graded, errors, kept=kept, seconds=time.perf_counter() - started, left=len(todo) - len(graded))
    if interrupted:
        raise KeyboardInterrupt
    if errors:
        raise SystemExit(1)
    return results.grades()


def _summary(results: Results, graded: list[Grade], errors: dict[str, str], *, kept: int, seconds: float, left: int):
    grades = results.grades()
    if grades:
        width = max(len(g.student_id) for g in grades)
        print()
        for grade_ in grades:
            note = f"   ({grade_.problem})" if grade_.problem else ""
            print(f"{grade_.student_id:<{width}}  {grade_.score:g} / {grade_.max_score:g}{note}")
    failures = [g for g in graded if results.saved[g.student_id].get("failed")]
    print(
        f"\nThis run: {len(graded)} graded in {seconds:.0f} s ({len(failures)} failed), {kept} kept from before, "
        f"{len(errors)} not graded (the grader failed)" + (f", {left - len(errors)} left" if left > len(errors) else "")
    )
    timed = [g for g in graded if g.seconds]
    if timed:
        slowest = max(timed, key=lambda g: g.seconds)
        print(
            f"Per submission: {sum(g.seconds for g in timed) / len(timed):.0f} s on average; slowest "
            f"{slowest.student_id}, {slowest.seconds:.0f} s ({slowest.worker})."
        )
    if left > len(errors):
        print("Stopped before the end: run the same command again to grade the rest (what is graded is kept).")
    out = results.out
    print(
        f"Grades: {out / 'grades.csv'}\nFeedback: {out / 'feedback'}\nLogs: {out / 'logs'}\n"
        "The written reflection is graded by hand: make formgrade opens nbgrader's formgrader; make grades adds it up."
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m grading", description=__doc__.split("\n\n")[0])
    parser.add_argument("submissions", type=Path, help="folder of <student_id>.ipynb or <student_id>/ folders")
    parser.add_argument("--out", type=Path, default=ROOT / "graded", help="where grades and feedback go")
    parser.add_argument(
        "--jobs", type=int, default=None, help="submissions graded at once here (default: what cores and memory allow)"
    )
    parser.add_argument("--scheduler", default=None, help="grade on an existing Dask cluster: tcp://host:8786")
    parser.add_argument("--student", action="append", default=[], help="grade this student again (repeatable)")
    parser.add_argument("--regrade", action="store_true", help="grade every submission again, changed or not")
    parser.add_argument(
        "--cell-timeout",
        type=int,
        default=None,
        help="seconds one cell may run (default: c.Execute.timeout of nbgrader_config.py)",
    )
    parser.add_argument("--timeout", type=float, default=900, help="seconds one submission may take in all")
    parser.add_argument("--keep", action="store_true", help="keep each grading course to inspect it (with --jobs 1)")
    args = parser.parse_args(argv)
    if args.jobs is not None and args.jobs < 1:
        parser.error(f"--jobs {args.jobs}: give 1 or more (1 grades one submission after another, here)")
    try:
        autograde(
            args.submissions,
            args.out,
            jobs=args.jobs,
            scheduler=args.scheduler,
            students=tuple(args.student),
            regrade=args.regrade,
            cell_timeout=args.cell_timeout,
            timeout=args.timeout,
            keep=args.keep,
        )
    except KeyboardInterrupt:
        return 130
    return 0
