"""Withholding: while a submission is autograded, dlcore's own implementation of
a graded function cannot stand in for the student's.

Each assignment may list, in its declaration module
(``autograder/assignments/a<NN>_<name>.py``), the dlcore functions its graded
cells ask students to write::

    WITHHELD = ["dlcore.functional.relu_forward", "dlcore.functional.relu_backward"]

During ``python -m autograder autograde`` every kernel nbgrader starts runs
:func:`install_for_autograde` first (an ``IPKernelApp.exec_lines`` entry set in
:mod:`autograder.nbgrader_config`). It replaces each withheld function, in
every ``dlcore`` module that exposes it, by a guard that

* calls the real function when the *calling* frame belongs to the dlcore
  package itself (so ``Sequential`` calling ``linear_forward`` keeps working)
  or when the grading helper computes a reference (:func:`trusted`);
* raises :class:`WithheldFunctionError` otherwise, e.g. from a student's
  ``relu_backward = dlcore.functional.relu_backward`` or a call inside their
  own function. The test cell then fails and the part scores zero.

Outside autograding nothing is replaced: students may call dlcore freely
while they work (to compare, or to train with ``Sequential``).

This is a guard against the obvious shortcut, not a sandbox: code that goes
through a dlcore *layer* (``dlcore.layers.ReLU().backward``) runs dlcore
frames and is not caught. The verdict that student code cannot fake is a
separate, trusted re-check.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import os
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path

__all__ = [
    "WithheldFunctionError",
    "install",
    "install_for_autograde",
    "installed",
    "trusted",
    "uninstall",
]


class WithheldFunctionError(RuntimeError):
    """A withheld dlcore function was called from outside dlcore while grading."""


# Depth of nested `trusted()` blocks: > 0 while the grading helper computes
# reference outputs with dlcore.
_trusted_depth = 0
# dotted name -> (original function, its guard), for everything guarded now
_installed: dict[str, tuple[object, object]] = {}


@contextlib.contextmanager
def trusted() -> Iterator[None]:
    """Let withheld functions run normally inside this block (reference outputs)."""
    global _trusted_depth
    _trusted_depth += 1
    try:
        yield
    finally:
        _trusted_depth -= 1


def installed() -> dict[str, object]:
    """The guarded functions, ``{dotted name: original function}``."""
    return {name: pair[0] for name, pair in _installed.items()}


def _replace_everywhere(old, new) -> None:
    for mod_name, module in list(sys.modules.items()):
        if not (mod_name == "dlcore" or mod_name.startswith("dlcore.")):
            continue
        for key, value in list(vars(module).items()):
            if value is old:
                setattr(module, key, new)


def uninstall() -> None:
    """Put every guarded function back (for tests)."""
    for original, guarded in _installed.values():
        _replace_everywhere(guarded, original)
    _installed.clear()


def _dlcore_dir() -> str:
    import dlcore

    return str(Path(dlcore.__file__).resolve().parent) + os.sep


def _guard(original, dotted: str, dlcore_dir: str):
    @functools.wraps(original)
    def guarded(*args, **kwargs):
        caller = sys._getframe(1).f_code.co_filename
        if _trusted_depth > 0 or os.path.realpath(caller).startswith(dlcore_dir):
            return original(*args, **kwargs)
        raise WithheldFunctionError(
            f"{dotted} is withheld while this assignment is graded: the cell "
            "asks for your own implementation, so calling dlcore's scores zero "
            "for this part. (Outside grading you may call it to compare.)"
        )

    # functools.wraps exposes the original as __wrapped__; do not hand it out.
    del guarded.__wrapped__
    guarded.__withheld__ = True
    return guarded


def _import_dlcore_modules() -> None:
    """Import dlcore's public modules so every alias of a function is patched."""
    for name in (
        "dlcore.functional",
        "dlcore.losses",
        "dlcore.layers",
        "dlcore.model",
        "dlcore.optim",
        "dlcore.init",
        "dlcore.data",
    ):
        try:
            importlib.import_module(name)
        except ImportError:
            pass


def install(names: Iterable[str]) -> list[str]:
    """Guard the dlcore functions named by dotted paths; returns what was guarded.

    Every ``dlcore.*`` module attribute that *is* the named function is
    replaced, so ``from dlcore.functional.activations import relu_forward``
    and ``dlcore.functional.relu_forward`` are both guarded.
    """
    names = [n for n in names if n not in _installed]
    if not names:
        return []
    _import_dlcore_modules()
    dlcore_dir = _dlcore_dir()
    done = []
    for dotted in names:
        module_name, _, attr = dotted.rpartition(".")
        if not module_name.split(".")[0] == "dlcore":
            raise ValueError(f"only dlcore functions can be withheld, got {dotted!r}")
        original = getattr(importlib.import_module(module_name), attr)
        if getattr(original, "__withheld__", False):
            continue
        guarded = _guard(original, dotted, dlcore_dir)
        _replace_everywhere(original, guarded)
        _installed[dotted] = (original, guarded)
        done.append(dotted)
    return done


def install_for_autograde(assignment: str | None = None) -> list[str]:
    """Kernel-start hook: guard the current assignment's withheld functions.

    Does nothing unless nbgrader is autograding (it sets
    ``NBGRADER_EXECUTION=autograde`` for the kernels it starts). The
    assignment is ``$AUTOGRADER_ASSIGNMENT`` or else the name of the working
    directory, which nbgrader sets to ``autograded/<student>/<assignment>``.
    """
    if os.environ.get("NBGRADER_EXECUTION") != "autograde":
        return []
    from .checks import load_assignment

    assignment = (
        assignment or os.environ.get("AUTOGRADER_ASSIGNMENT") or Path.cwd().name
    )
    try:
        module = load_assignment(assignment)
    except LookupError:
        return []
    return install(getattr(module, "WITHHELD", ()))
