"""What the course notebooks share besides their checks: when to show widgets."""

from __future__ import annotations

import os

__all__ = ["interactive_widgets"]


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
