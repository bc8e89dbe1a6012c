"""The course's nbgrader configuration.

``solutions/`` is nbgrader's source directory and ``notebooks/`` its release
directory, both under the course root; everything nbgrader writes while
grading (gradebook, autograded submissions, feedback) goes to the state
directory, outside version control (see :mod:`autograder.paths`).

The instructor commands (``python -m autograder ...``) build this
configuration with :func:`course_config`. The root-level
``nbgrader_config.py`` loads the same one, so nbgrader's own tools (the
formgrader, for manual grading) see the same course.
"""

from __future__ import annotations

import os
from pathlib import Path

from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor
from nbgrader.converters import Autograde, GenerateAssignment
from nbgrader.preprocessors import CheckCellMetadata, ClearSolutions, GetGrades
from traitlets.config import Config

from . import paths
from .nbgrader_ext import (
    CheckCellMetadataSchemaOnce,
    ClearClaimChecks,
    ClearHiddenTestsFromFeedback,
)

__all__ = ["course_config", "kernel_environment", "CELL_TIMEOUT"]

# Seconds one cell may run while autograding. Generous: a cold Numba cache
# compiles every kernel a cell touches (tens of seconds on a slow machine);
# an infinite loop costs this much before the cell is interrupted and
# scores zero.
CELL_TIMEOUT = 180

# Run by every kernel nbgrader starts: dlcore's progress bars as text
# (dlcore.progress, $DLCORE_PROGRESS), never a widget. Nobody watches a
# graded run, and widget messages can stall the executor until the cell
# times out (jupyter/nbclient#312). Set in the kernel, so only nbgrader's
# kernels get it.
TEXT_PROGRESS = '__import__("os").environ.__setitem__("DLCORE_PROGRESS", "text")'

# Files in solutions/<assignment>/ never copied to the release nor to the
# autograded submissions (nbgrader copies every other non-notebook file).
IGNORED_FILES = [
    ".ipynb_checkpoints",
    "*.pyc",
    "__pycache__",
    "feedback",
    "hidden*",
    "*hidden*",
    "references*",
    "*.nbgrader*",
]


def kernel_environment() -> None:
    """Set what the kernels nbgrader starts inherit from this process.

    The state directory (where, outside autograding, hidden checks find the
    references and the course secret; confined kernels may not read it) and,
    when dlcore is installed read-only, a writable ``NUMBA_CACHE_DIR``.
    """
    os.environ["AUTOGRADER_STATE_DIR"] = str(paths.state_dir())
    cache = paths.numba_cache_dir()
    if cache is not None:
        cache.mkdir(parents=True, exist_ok=True)
        os.environ["NUMBA_CACHE_DIR"] = str(cache)


def course_config(
    root: str | Path | None = None,
    *,
    submitted: str | Path | None = None,
    release: str | Path | None = None,
    timeout: int | None = None,
    db_url: str | None = None,
) -> Config:
    """The nbgrader :class:`~traitlets.config.Config` of the course.

    Parameters
    ----------
    root : path, optional
        Course root (default :func:`autograder.paths.course_root`).
    submitted : path, optional
        Folder of submissions laid out ``<student>/<assignment>/*.ipynb``
        (default ``<state dir>/submitted``).
    release : path, optional
        Where the student notebooks go (default ``<root>/notebooks``).
    timeout : int, optional
        Per-cell execution timeout in seconds (default ``CELL_TIMEOUT``).
    db_url : str, optional
        The gradebook's SQLAlchemy URL, e.g. ``postgresql://...`` (default
        ``sqlite:///<state dir>/gradebook.db``).
    """
    root = Path(root).resolve() if root else paths.course_root()
    state = paths.state_dir()
    c = Config()
    c.CourseDirectory.root = str(root)
    c.CourseDirectory.source_directory = "solutions"
    c.CourseDirectory.release_directory = str(release) if release else "notebooks"
    c.CourseDirectory.submitted_directory = str(submitted or state / "submitted")
    c.CourseDirectory.autograded_directory = str(state / "autograded")
    c.CourseDirectory.feedback_directory = str(state / "feedback")
    c.CourseDirectory.db_url = db_url or f"sqlite:///{state / 'gradebook.db'}"
    c.CourseDirectory.ignore = IGNORED_FILES

    c.Execute.timeout = int(timeout or CELL_TIMEOUT)
    c.Execute.startup_timeout = 120
    c.Execute.interrupt_on_timeout = True
    # Kernels write only in their autograded folder and cannot read the
    # course state (autograder/trusted/kernel.py); unconfined under
    # validate, and where the system offers no Landlock.
    c.Execute.kernel_manager_class = "autograder.trusted.kernel.ConfinedKernelManager"
    c.Execute.extra_arguments = [
        "--HistoryManager.hist_file=:memory:",
        f"--IPKernelApp.exec_lines={TEXT_PROGRESS}",
    ]
    # The solution's claim checks never reach the release (nor, through the
    # gradebook's copy of each cell, the autograded notebook).
    c.GenerateAssignment.preprocessors = _release_preprocessors()
    # nbgrader's metadata check, its JSON schema compiled once, not per cell.
    for steps in ("sanitize_preprocessors", "autograde_preprocessors"):
        c.Autograde[steps] = _schema_once(_defaults(Autograde, steps))
    # Keep hidden tests (and tracebacks quoting them) out of the feedback.
    c.GenerateFeedback.preprocessors = [
        GetGrades,
        ClearHiddenTestsFromFeedback,
        CSSHTMLHeaderPreprocessor,
    ]
    return c


def _defaults(converter: type, steps: str) -> list:
    return list(converter.class_traits()[steps].default())


def _schema_once(steps: list) -> list:
    """``steps`` with nbgrader's CheckCellMetadata replaced by
    :class:`~autograder.nbgrader_ext.CheckCellMetadataSchemaOnce`."""
    return [CheckCellMetadataSchemaOnce if s is CheckCellMetadata else s for s in steps]


def _release_preprocessors() -> list:
    """nbgrader's release steps, ClearClaimChecks right after ClearSolutions."""
    steps = _schema_once(_defaults(GenerateAssignment, "preprocessors"))
    steps.insert(steps.index(ClearSolutions) + 1, ClearClaimChecks)
    return steps
