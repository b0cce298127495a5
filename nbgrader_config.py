"""nbgrader configuration of the course (read by every ``nbgrader`` command run from this folder).

``make release`` turns ``solutions/`` (the instructors' source of truth) into ``exercises/`` (what
students get); ``make autograde SUBMISSIONS=folder`` grades in a fresh temporary copy of this course
(see grading/course.py), so nothing here is changed by grading.
"""

c = get_config()  # noqa: F821 (nbgrader provides get_config)

c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "exercises"

# The exercise's training cells take about a minute on 2 CPU cores; a cell that runs longer than
# this is interrupted (and fails its tests) rather than holding up the whole batch.
c.Execute.timeout = 300
c.Execute.kernel_name = "python3"
# Keep a runaway print loop from bloating the graded notebook and the feedback.
c.LimitOutput.max_lines = 200
c.LimitOutput.max_traceback = 50
