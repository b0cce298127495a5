"""nbgrader configuration of a submission's private grading course: sandboxed kernels, hidden tests outside them.

:func:`grading.course.make_course` writes each course's ``nbgrader_config.py``: it loads the
repository's ``nbgrader_config.py`` (the course as instructors run it), then this file, then sets
the notebook's deadline.
"""

import os

from nbconvert.preprocessors import ClearMetadataPreprocessor, CSSHTMLHeaderPreprocessor
from nbconvert.preprocessors.sanitize import SanitizeHTML
from nbgrader.preprocessors import (
    AssignLatePenalties,
    CheckCellMetadata,
    GetGrades,
    IgnorePattern,
    LimitOutput,
    SaveAutoGrades,
)

from grading.preprocessors import BoundOutputs, BriefTracebacks, HiddenVerdicts, TolerantExecute
from grading.protocol import GRADING_KERNEL, SOCKETS_VARIABLE

c = get_config()  # noqa: F821 (nbgrader provides get_config)

c.Execute.kernel_name = GRADING_KERNEL
c.TolerantExecute.kernel_name = GRADING_KERNEL
# No TCP: the kernel has no network at all, and reaches nbgrader through sockets in its own folder.
c.KernelManager.transport = "ipc"
c.KernelManager.ip = os.environ.get(SOCKETS_VARIABLE, "kernel-ipc")
c.Autograde.autograde_preprocessors = [
    TolerantExecute,
    LimitOutput,
    BoundOutputs,
    HiddenVerdicts,
    IgnorePattern,
    ClearMetadataPreprocessor,
    SaveAutoGrades,
    AssignLatePenalties,
    CheckCellMetadata,
]
# No ClearHiddenTests: the hidden tests never reach these notebooks, and a student's own "BEGIN HIDDEN
# TESTS" comment would make it fail the whole page.
c.GenerateFeedback.preprocessors = [GetGrades, BriefTracebacks, SanitizeHTML, CSSHTMLHeaderPreprocessor]
c.SanitizeHTML.enabled = True  # nbconvert's preprocessors are off unless enabled
