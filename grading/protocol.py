"""The names the grader, the grading kernel and the confined checker agree on: paths, variables, files.

Each is defined here once and imported where it is used; ``helpers.hand_in`` (which students
import, and which must not import this package) defines the two the kernel itself reads.
"""

from __future__ import annotations

import re
from pathlib import Path

from helpers.hand_in import HAND_IN_VARIABLE, INDEX

__all__ = [
    "ASSIGNMENT",
    "HAND_IN_VARIABLE",
    "HIDE_VARIABLE",
    "HOME_VARIABLE",
    "INDEX",
    "JOB_VARIABLE",
    "GRADING_KERNEL",
    "KERNEL_OUTPUT",
    "OUTPUT_VARIABLE",
    "RELEASE",
    "ROOT",
    "SEED_FILE",
    "SEED_VARIABLE",
    "SOCKETS_VARIABLE",
    "SOURCE",
    "STUDENT_ID",
    "USER_VARIABLE",
]

ROOT = Path(__file__).resolve().parent.parent
ASSIGNMENT = "sunglasses_vs_hat"
SOURCE = ROOT / "solutions" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
RELEASE = ROOT / "exercises" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
STUDENT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@+-]{0,63}")
#: The kernelspec of the grading course: an IPython kernel started confined (grading/sandbox.py).
GRADING_KERNEL = "course-sandbox"

#: The instructor's secret seed, when not in ``.grading_seed`` (made on first use, never committed).
SEED_VARIABLE = "GRADING_SEED"
SEED_FILE = ROOT / ".grading_seed"

# Set by the grader for each submission's nbgrader run (grading/task.py):
#: a JSON file only the grader reads: the hidden tests, the seed's file, where the hand-ins are
JOB_VARIABLE = "COURSE_GRADING_JOB"
#: where the kernel binds its Unix sockets (read by the grading course's configuration)
SOCKETS_VARIABLE = "COURSE_KERNEL_SOCKETS"
#: the kernel's private home, made by the grader
HOME_VARIABLE = "COURSE_SANDBOX_HOME"
#: paths to cover even inside the sandbox's allowed ones (``os.pathsep`` separated)
HIDE_VARIABLE = "COURSE_SANDBOX_HIDE"
#: the file that receives the kernel's own standard output and error
OUTPUT_VARIABLE = "COURSE_KERNEL_OUTPUT"
#: the unprivileged user submissions run as when the grader is root (``nobody`` by default)
USER_VARIABLE = "COURSE_SANDBOX_USER"
#: the kernel's own output, in each submission's run folder, appended to the log after the grader's lines
KERNEL_OUTPUT = "kernel-output.txt"
