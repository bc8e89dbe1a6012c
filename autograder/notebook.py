"""What the course notebooks share besides their checks.

* :func:`interactive_widgets`: whether to show controls at all.
* :func:`after_implementing`: a demo or widget that needs the student's code
  says so in one line instead of a traceback, so that Run All goes on.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

__all__ = ["interactive_widgets", "after_implementing"]


def interactive_widgets():
    """The ``ipywidgets`` module, or None where nobody can move a control.

    None while nbgrader executes the notebook headless (it sets
    ``NBGRADER_EXECUTION`` to ``autograde`` or ``validate``): nobody is
    there to interact, and widget messages can stall the executor until a
    cell's timeout (jupyter/nbclient#312). None too when ipywidgets is not
    installed. Every notebook draws a static figure next to each control,
    so the results are the same without one.

    Use it as ``widgets = interactive_widgets()``, then
    ``if widgets is not None:`` around the controls.
    """
    if os.environ.get("NBGRADER_EXECUTION"):
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
