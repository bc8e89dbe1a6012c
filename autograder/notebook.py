"""What the course notebooks share besides their checks.

* :func:`interactive_widgets`: whether to show controls at all.
* :func:`after_implementing`: a demo or widget that needs the student's code
  says so in one line instead of a traceback, so that Run All goes on.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

__all__ = ["interactive_widgets", "after_implementing", "EDITOR_SESSION_ENV"]


# Set by Jupyter's server (behind JupyterLab and Notebook 7) in the kernel of
# an open notebook; headless runners (nbconvert --execute, nbclient,
# papermill, nbgrader) start kernels without it.
EDITOR_SESSION_ENV = "JPY_SESSION_NAME"


def interactive_widgets():
    """The ``ipywidgets`` module, or None where nobody can move a control.

    Controls appear only in the kernel of a notebook open in Jupyter
    (``JPY_SESSION_NAME`` set: JupyterLab, Jupyter Notebook 7, ``make
    lab``), and never while nbgrader executes the notebook
    (``NBGRADER_EXECUTION`` set). Every notebook draws a static figure next
    to each control, so the results are the same without one (an editor
    that does not set the variable shows only those). None too when
    ipywidgets is not installed.

    Why not show them headless: nobody is there to interact, and a headless
    client can hang on them. ``interact`` draws into an Output widget;
    nbclient (under ``jupyter nbconvert --execute`` and nbgrader) imitates
    that widget by sending a message on the kernel's shell channel while it
    waits on the same channel for the cell's reply, and that wait then
    sometimes misses the reply (jupyter/nbclient#312). With a cell timeout
    the cell is late by the whole timeout; with nbconvert's default (none)
    the run waits forever on an idle kernel. Seen here in 2 of 12 headless
    runs of a cell with ``interact``.

    Use it as ``widgets = interactive_widgets()``, then
    ``if widgets is not None:`` around the controls.
    """
    if os.environ.get("NBGRADER_EXECUTION") or not os.environ.get(EDITOR_SESSION_ENV):
        return None
    try:
        import ipywidgets
    except ImportError:
        return None
    return ipywidgets


@contextlib.contextmanager
def after_implementing(*functions: str) -> Iterator[None]:
    """Run a demo that needs the student's ``functions``; skip it until then.

    A student who runs the whole notebook before finishing it would otherwise
    meet a long traceback ending in a bare ``NotImplementedError`` and stop
    there. Inside this block such an error prints one line naming what to
    implement first, and the notebook goes on. Any other error is the
    student's bug and propagates as usual::

        with after_implementing("relu_forward", "relu_backward"):
            plot_relu(relu_forward)
    """
    try:
        yield
    except NotImplementedError:
        names = ", ".join(f"`{name}`" for name in functions)
        print(f"This part runs once you have implemented {names} above.")
