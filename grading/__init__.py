"""Autograde the exercise with nbgrader, offline: hidden tests outside the student's kernel, sandboxes, Dask.

    make autograde SUBMISSIONS=path/to/folder [JOBS=1] [SCHEDULER=tcp://host:8786] [STUDENT=id]
    python -m grading path/to/folder [--out graded] [--jobs N] [--scheduler ADDRESS] ...

The package keeps what runs on the grader's side (the host) apart from what runs confined, on
what a submission handed in (otter-grader's ``grade/`` and ``run/``), one job per module:

=========================  =====================================================================
host side
``grading.cli``            the command line: which submissions to grade, where, and the summary
``grading.submissions``    the submissions in a folder, read safely, their metadata restored
``grading.secrecy``        the secret seed, and whether a page gives it or the hidden tests away
``grading.course``         the private nbgrader course each submission is graded in
``grading.course_config``  that course's nbgrader configuration (a real nbgrader config file)
``grading.task``           grading one submission: the task a Dask worker runs
``grading.dispatch``       one after another here, or as Dask tasks on a cluster
``grading.results``        ``graded/``: results saved as they arrive, the tables kept whole
``grading.feedback``       feedback pages students can open safely
``grading.preprocessors``  the nbgrader preprocessors: tolerant execution, outside verdicts
``grading.hidden_tests``   the hidden tests taken out of the source, run by the confined checker
``grading.sandbox``        the bubblewrap sandbox every kernel and checker runs in
``grading.protocol``       the names host, kernel and checker agree on
``grading.term``           the term's rules: the due date, the late policy, when each student handed in
``grading.final``          final grades (automatic, by hand, late), the steps missed, pages to send
``grading.lms``            the files Canvas's and Moodle's grade imports take
``grading.similarity``     which students share their own code or prose: a report for the instructor
sandbox side
``grading.confined``       the checker: loads the hand-ins safely and runs the hidden tests
=========================  =====================================================================

How a class is graded (README: "Grading a whole class"): each submission is one task,
:func:`grading.task.grade`, which grades it in a fresh temporary nbgrader course with its own
gradebook and returns the scores, the feedback page and the log; only the instructor's process
writes ``graded/``. Tasks run on a local Dask cluster sized to the machine, or on an existing
scheduler; a worker that dies while grading has its submission graded again elsewhere.

How it keeps grading fair and the grader safe (README: "Grading safely"): the hidden tests and
the secret seed never reach the kernel, the gradebook or the feedback; every kernel and the
checker run in a sandbox that sees only the system, the Python installation and ``helpers``; a
submission that breaks anything breaks only its own grade; feedback pages are bounded, inert,
and checked for the seed and the hidden tests before they are written.
"""
