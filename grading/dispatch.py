"""Where submissions are graded: one after another here, or as Dask tasks on a local cluster or a remote one."""

from __future__ import annotations

import logging
import os
import uuid
from collections import Counter
from collections.abc import Callable

from grading.course import GraderUnavailable
from grading.results import failed
from grading.task import GradingJob, grade

#: Memory one local worker is given: the solved exercise peaks at 1.2 GB in its kernel
#: (docs/benchmarks/notebooks.json), and nbgrader and the hidden tests run beside it.
KERNEL_MEMORY = int(1.3 * 2**30)


def local_workers() -> tuple[int, str]:
    """How many submissions this machine grades at once, and why: a core and ``KERNEL_MEMORY`` each."""
    import psutil

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    available = psutil.virtual_memory().available
    workers = max(1, min(cores, available // KERNEL_MEMORY))
    why = f"{cores} cores, {available / 2**30:.1f} GB free, {KERNEL_MEMORY / 2**30:.1f} GB per grading kernel"
    return workers, why


OnResult = Callable[[GradingJob, "dict | BaseException"], None]


def grade_here(jobs: list[GradingJob], on_result: OnResult) -> None:
    """Grade one submission after another in this process (``--jobs 1``)."""
    for job in jobs:
        try:
            result = grade(job)
        except GraderUnavailable:
            raise
        except Exception as error:  # a bug of the grader: report it, grade the rest
            result = error
        on_result(job, result)


def grade_on_dask(jobs: list[GradingJob], on_result: OnResult, *, scheduler: str | None, workers: int) -> None:
    """Grade on Dask: a local cluster of ``workers`` processes, or the one behind ``scheduler``.

    When a worker dies, the scheduler grades its submission again elsewhere, and gives up on a
    submission after its second dead worker (``KilledWorker``). The scheduler also blames the
    submissions waiting on that worker, which never ran there: so each start is announced (an event
    under the batch's topic), and only a submission that had started twice when its workers died is
    reported as failed; the others are sent again. No more tasks are in flight than the cluster has
    threads, so few wait.
    """
    import dask
    from distributed import Client, KilledWorker, LocalCluster, as_completed

    cluster = None
    # allowed-failures is read by the scheduler: it holds for the local cluster made here; an existing
    # scheduler has its own (README: "Grading a whole class").
    with dask.config.set({"distributed.scheduler.allowed-failures": 1}):
        if scheduler:
            client = Client(scheduler, timeout="60s")
        else:
            cluster = LocalCluster(
                n_workers=workers,
                threads_per_worker=1,
                processes=True,
                memory_limit=0,  # the grading kernels are the workers' children: their memory is not counted
                dashboard_address=None,
                host="127.0.0.1",
                silence_logs=logging.ERROR,
            )
            client = Client(cluster)
    queue, in_flight = list(jobs), {}
    starts: Counter[str] = Counter()  # per student: gradings begun (their workers died, but for the last)
    sent_again: Counter[str] = Counter()
    finished = as_completed()
    try:
        if scheduler:
            retries = client.run_on_scheduler(allowed_failures)
            if retries != 1:
                print(
                    f"Note: this scheduler grades a submission again after up to {retries} worker deaths; "
                    "start it with DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES=1 to give up after the second."
                )

        def count_start(event: tuple[float, dict]) -> None:
            starts[event[1]["student_id"]] += 1

        if jobs:
            client.subscribe_topic(jobs[0].batch, count_start)

        def submit_more() -> None:
            threads = max(1, sum(client.nthreads().values()))
            while queue and len(in_flight) < threads:
                job = queue.pop(0)
                future = client.submit(grade, job, key=f"grade-{job.student_id}-{uuid.uuid4().hex[:8]}", pure=False)
                in_flight[future] = job
                finished.add(future)

        submit_more()
        for future in finished:
            job = in_flight.pop(future)
            try:
                result = future.result()
            except KilledWorker as error:
                if starts[job.student_id] < 2 and sent_again[job.student_id] < 3:
                    sent_again[job.student_id] += 1
                    queue.insert(0, job)  # blamed for a death while it waited: it never ran twice
                    submit_more()
                    continue
                result = failed(
                    job,
                    f"its grading was stopped twice by the death of its worker (killed, or out of memory): {error}",
                )
            except GraderUnavailable:
                raise
            except Exception as error:
                result = error
            on_result(job, result)
            submit_more()
    finally:
        if in_flight:
            client.cancel(list(in_flight), force=True)
        client.close()
        if cluster is not None:
            cluster.close()


def allowed_failures(dask_scheduler) -> int:
    return int(dask_scheduler.allowed_failures)
