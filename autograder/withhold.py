"""Withholding: while a submission is graded, dlcore's own implementation of a
graded function cannot stand in for the student's.

Each assignment may list, in its declaration module
(``autograder/assignments/a<NN>_<name>.py``), the dlcore functions its graded
cells ask students to write::

    WITHHELD = ["dlcore.functional.relu_forward", "dlcore.functional.relu_backward"]

A :class:`Withholder` replaces each of them, in every ``dlcore`` module that
exposes it (also modules imported later: it sits on ``sys.meta_path``), by a
guard that

* calls the real function when the *calling* frame belongs to the dlcore
  package itself (so ``Sequential`` calling ``linear_forward`` keeps working)
  or inside :func:`trusted` (the grading helper computing a reference);
* raises :class:`WithheldFunctionError` otherwise, e.g. from a student's
  ``relu_backward = dlcore.functional.relu_backward`` or a call inside their
  own function. The check then fails and the part scores zero.

Two places withhold, with this one mechanism:

* nbgrader's kernels, while ``python -m autograder autograde`` runs them
  (:func:`install`, called by :mod:`autograder.kernel_start`); outside
  autograding nothing is replaced, so students may call dlcore freely while
  they work;
* the trusted re-check's child process, which imports nothing of
  ``autograder``: this module uses only the standard library, and the
  re-check stages a copy of it next to the child's runner (as it does
  :mod:`autograder.trusted.codec`).

This is a guard against the obvious shortcut, not a sandbox: code that goes
through a dlcore *layer* (``dlcore.layers.ReLU().backward``) runs dlcore
frames and is not caught. The verdict that student code cannot fake is the
trusted re-check (``autograder/HIDDEN_TESTS.md``).
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import importlib.abc
import os
import sys
from collections.abc import Callable, Iterable, Iterator

__all__ = [
    "WithheldFunctionError",
    "Withholder",
    "install",
    "trusted",
    "uninstall",
]

# The public modules of dlcore: imported before guarding in a kernel, so that
# every alias of a withheld function is replaced at once.
PUBLIC_MODULES = (
    "dlcore.functional",
    "dlcore.losses",
    "dlcore.layers",
    "dlcore.model",
    "dlcore.optim",
    "dlcore.init",
    "dlcore.data",
)


class WithheldFunctionError(RuntimeError):
    """A withheld dlcore function was called from outside dlcore while grading."""


# Depth of nested `trusted()` blocks: > 0 while the grading helper computes
# reference outputs with dlcore.
_trusted_depth = 0


@contextlib.contextmanager
def trusted() -> Iterator[None]:
    """Let withheld functions run normally inside this block (reference outputs)."""
    global _trusted_depth
    _trusted_depth += 1
    try:
        yield
    finally:
        _trusted_depth -= 1


def _is_dlcore(module_name: str) -> bool:
    return module_name == "dlcore" or module_name.startswith("dlcore.")


class Withholder(importlib.abc.MetaPathFinder):
    """Guards the named dlcore functions, now and in dlcore modules imported later.

    Parameters
    ----------
    advice : str
        Appended to the message of :class:`WithheldFunctionError`.
    on_first_import : callable, optional
        Called once, before the first dlcore module is imported through this
        finder (the re-check's child copies its Numba cache then).
    """

    def __init__(
        self,
        names: Iterable[str] = (),
        *,
        advice: str = "",
        on_first_import: Callable[[], None] | None = None,
    ):
        self.names: list[str] = list(names)
        self.advice = advice
        self._on_first_import = on_first_import
        self._pairs: dict[int, tuple[object, object]] = {}  # id(original) ->
        self._guarded: dict[str, object] = {}  # dotted name -> original
        self._dlcore_dir: str | None = None
        self._inside: dict[str, bool] = {}  # file name -> inside dlcore?

    # -- guarding --------------------------------------------------------

    def add(self, names: Iterable[str]) -> None:
        self.names += [n for n in names if n not in self.names]

    def apply(self) -> list[str]:
        """Guard every named function loaded so far; the names newly guarded."""
        root = sys.modules.get("dlcore")
        if root is not None and self._dlcore_dir is None:
            location = getattr(root, "__file__", None)
            if location:
                self._dlcore_dir = os.path.dirname(os.path.realpath(location)) + os.sep
        done = []
        for dotted in self.names:
            module_name, _, attr = dotted.rpartition(".")
            module = sys.modules.get(module_name)
            original = getattr(module, attr, None) if module is not None else None
            if original is None or dotted in self._guarded:
                continue
            if id(original) in self._pairs or getattr(original, "__withheld__", False):
                continue
            self._pairs[id(original)] = (original, self._guard(original, dotted))
            self._guarded[dotted] = original
            done.append(dotted)
        for name, module in list(sys.modules.items()):
            if module is None or not _is_dlcore(name):
                continue
            for key, value in list(vars(module).items()):
                pair = self._pairs.get(id(value))
                if pair is not None and value is pair[0]:
                    setattr(module, key, pair[1])
        return done

    def restore(self) -> None:
        """Put every original back, and stop guarding new imports."""
        if self in sys.meta_path:
            sys.meta_path.remove(self)
        guards = {id(guard): original for original, guard in self._pairs.values()}
        for name, module in list(sys.modules.items()):
            if module is None or not _is_dlcore(name):
                continue
            for key, value in list(vars(module).items()):
                if id(value) in guards:
                    setattr(module, key, guards[id(value)])
        self._pairs.clear()
        self._guarded.clear()

    def _inside_dlcore(self, filename: str) -> bool:
        inside = self._inside.get(filename)
        if inside is None:
            real = os.path.realpath(filename)
            inside = self._dlcore_dir is not None and real.startswith(self._dlcore_dir)
            self._inside[filename] = inside
        return inside

    def _guard(self, original, dotted: str):
        inside = self._inside_dlcore
        message = (
            f"{dotted} is withheld while this assignment is graded: the cell "
            f"asks for your own implementation{self.advice}"
        )

        @functools.wraps(original)
        def guarded(*args, **kwargs):
            if _trusted_depth > 0 or inside(sys._getframe(1).f_code.co_filename):
                return original(*args, **kwargs)
            raise WithheldFunctionError(message)

        # functools.wraps exposes the original as __wrapped__; do not hand it out.
        del guarded.__wrapped__
        guarded.__withheld__ = True
        return guarded

    # -- dlcore modules imported later -----------------------------------

    def find_spec(self, name, path, target=None):
        if not _is_dlcore(name):
            return None
        if self._on_first_import is not None:
            prepare, self._on_first_import = self._on_first_import, None
            prepare()
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(name, path, target)
            if spec is not None:
                break
        else:
            return None
        if spec.loader is not None and hasattr(spec.loader, "exec_module"):
            spec.loader = _GuardingLoader(spec.loader, self)
        return spec


class _GuardingLoader(importlib.abc.Loader):
    """Runs the real loader, then guards what the new module exposes."""

    def __init__(self, loader, withholder: Withholder):
        self._loader = loader
        self._withholder = withholder

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module):
        self._loader.exec_module(module)
        self._withholder.apply()

    def __getattr__(self, name):
        return getattr(self._loader, name)


# ----------------------------------------------------- a process's guard

# What a kernel tells the student besides the mechanism.
KERNEL_ADVICE = (
    ", so calling dlcore's scores zero for this part. (Outside grading you may "
    "call it to compare.)"
)

_process_withholder: Withholder | None = None


def install(names: Iterable[str]) -> list[str]:
    """Guard the dlcore functions named by dotted paths; returns what was guarded.

    Every ``dlcore.*`` module attribute that *is* the named function is
    replaced, so ``from dlcore.functional.activations import relu_forward``
    and ``dlcore.functional.relu_forward`` are both guarded. A name that is
    not a dlcore function raises (``ValueError``, ``ImportError`` or
    ``AttributeError``).
    """
    global _process_withholder
    names = list(names)
    for dotted in names:
        if dotted.split(".")[0] != "dlcore":
            raise ValueError(f"only dlcore functions can be withheld, got {dotted!r}")
    for module_name in PUBLIC_MODULES:
        try:
            importlib.import_module(module_name)
        except ImportError:
            pass
    for dotted in names:
        module_name, _, attr = dotted.rpartition(".")
        getattr(importlib.import_module(module_name), attr)
    if _process_withholder is None:
        _process_withholder = Withholder(advice=KERNEL_ADVICE)
        sys.meta_path.insert(0, _process_withholder)
    _process_withholder.add(names)
    return _process_withholder.apply()


def uninstall() -> None:
    """Put every guarded function back (for tests)."""
    global _process_withholder
    if _process_withholder is not None:
        _process_withholder.restore()
        _process_withholder = None
