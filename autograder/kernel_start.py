"""What every kernel nbgrader starts runs first (``IPKernelApp.exec_lines``).

While ``python -m autograder autograde`` runs a submission, the kernel
guards the functions the assignment withholds (:mod:`autograder.withhold`);
at any other time (validating, a student working) it does nothing.
"""

from __future__ import annotations

import os
from pathlib import Path

from .declarations import load_assignment
from .withhold import install

__all__ = ["install_for_autograde", "ASSIGNMENT_ENV"]

# Set by the autograde command to the assignment being graded.
ASSIGNMENT_ENV = "AUTOGRADER_ASSIGNMENT"


def install_for_autograde(assignment: str | None = None) -> list[str]:
    """Guard the current assignment's withheld functions; what was guarded.

    Does nothing unless nbgrader is autograding (it sets
    ``NBGRADER_EXECUTION=autograde`` for the kernels it starts). The
    assignment is ``$AUTOGRADER_ASSIGNMENT`` or else the name of the working
    directory, which nbgrader sets to ``autograded/<student>/<assignment>``.
    """
    if os.environ.get("NBGRADER_EXECUTION") != "autograde":
        return []
    assignment = assignment or os.environ.get(ASSIGNMENT_ENV) or Path.cwd().name
    try:
        module = load_assignment(assignment)
    except LookupError:
        return []
    return install(getattr(module, "WITHHELD", ()))
