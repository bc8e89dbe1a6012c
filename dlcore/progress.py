"""How :meth:`dlcore.model.Sequential.fit` shows its progress bars.

Three modes:

``"auto"`` (the default)
    ``tqdm.auto``: a widget in Jupyter, text in a terminal.
``"text"``
    A text bar everywhere. For notebooks that run headless (nobody watches
    a widget there, and widget messages can stall a notebook executor until
    the cell times out, jupyter/nbclient#312).
``"off"``
    No bar at all, whatever ``fit(verbose=...)`` asks for.

The mode comes from :func:`set_progress` when it was called, otherwise from
the environment variable ``DLCORE_PROGRESS`` (read at each ``fit``, so a
program that runs notebooks can set it for the kernels it starts).
"""

from __future__ import annotations

import os

from tqdm import tqdm as text_tqdm
from tqdm.auto import tqdm as auto_tqdm

__all__ = ["ENVIRONMENT_VARIABLE", "MODES", "get_progress", "set_progress", "bar"]

ENVIRONMENT_VARIABLE = "DLCORE_PROGRESS"
MODES = ("auto", "text", "off")

_chosen: str | None = None  # set by set_progress; None: read the environment


def _checked(mode, where: str) -> str:
    if not isinstance(mode, str) or mode.strip().lower() not in MODES:
        raise ValueError(f"{where} must be one of {', '.join(MODES)}, got {mode!r}")
    return mode.strip().lower()


def set_progress(mode: str | None) -> None:
    """Show ``fit``'s progress as ``mode`` from now on (``None``: back to
    ``$DLCORE_PROGRESS``, or ``"auto"`` when it is unset)."""
    global _chosen
    _chosen = None if mode is None else _checked(mode, "mode")


def get_progress() -> str:
    """The mode in force: ``"auto"``, ``"text"`` or ``"off"``."""
    if _chosen is not None:
        return _chosen
    value = os.environ.get(ENVIRONMENT_VARIABLE, "").strip()
    return _checked(value, ENVIRONMENT_VARIABLE) if value else "auto"


def bar(*args, disable: bool = False, **kwargs):
    """A ``tqdm`` progress bar in the mode in force (``tqdm``'s arguments)."""
    mode = get_progress()
    factory = auto_tqdm if mode == "auto" else text_tqdm
    return factory(*args, disable=disable or mode == "off", **kwargs)
