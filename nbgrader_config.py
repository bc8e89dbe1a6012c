# nbgrader's own tools (e.g. the formgrader, for manual grading) read this file
# when started from the repository root; it loads the course configuration the
# instructor commands use (python -m autograder --help, autograder/README.md).
from autograder.nbgrader_config import course_config, kernel_environment

c = get_config()  # noqa: F821 (provided by traitlets when nbgrader loads this file)
c.merge(course_config())
kernel_environment()
