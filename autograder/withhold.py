"""Withholding: while a submission is re-checked, dlcore's own implementation
of a graded definition is out of its reach, not guarded.

Each assignment lists, in its declaration module
(``autograder/assignments/a<NN>_<name>.py``), the dlcore definitions its
students write themselves: functions, classes, and methods of classes::

    WITHHELD = ["dlcore.functional.relu_forward", "dlcore.optim.SGD._update"]

The trusted re-check runs each check in a child process of one of two kinds
(``Check(needs_dlcore=...)``, :mod:`autograder.trusted.forkserver`):

* **without dlcore** (every check whose answer needs no dlcore): dlcore was
  never imported in the process it is forked from, the sandbox denies its
  files, and :class:`RefuseDlcore` answers any import of it with modules
  whose every name raises :class:`DlcoreUnavailable` when used (so an
  honest ``from dlcore.gradcheck import rel_error`` at the top of an answer
  cell does not stop the cell; calling it does);
* **with dlcore** (a check that must train or run with it): before any
  student code, :func:`remove` *deletes* every withheld definition from
  dlcore's modules and classes, with whatever in dlcore still holds it
  (aliases, registries such as ``_FUNCTIONS``, tuples of functions in a
  class, static methods), then makes sure, with weak references and the
  garbage collector, that nothing reachable holds one any more. If
  something does, the child refuses to run the submission and the grader
  refuses to grade (its own fault, never the student's). The sandbox also
  denies dlcore's files, so a fresh copy (``importlib.reload``, ``runpy``,
  ``importlib.util``) cannot be made from them.

Nothing here inspects frames: what is not there cannot be called. This
module uses only the standard library: the re-check stages a copy of it
next to the child's runner.
"""

from __future__ import annotations

import gc
import importlib.abc
import importlib.machinery
import sys
import types
import weakref
from collections.abc import Iterable
from dataclasses import dataclass, field

__all__ = [
    "DlcoreUnavailable",
    "is_dlcore",
    "RefuseDlcore",
    "Removal",
    "remove",
    "resolve",
]

PACKAGE = "dlcore"


class DlcoreUnavailable(ImportError):
    """Student code used dlcore where the re-check of its part provides none."""


def is_dlcore(module_name: str) -> bool:
    return module_name == PACKAGE or module_name.startswith(PACKAGE + ".")


# ------------------------------------------------------- without dlcore


def _refuse(dotted: str) -> DlcoreUnavailable:
    return DlcoreUnavailable(
        f"{dotted} is not available while this part is re-checked: its "
        "answer must not need dlcore"
    )


class _Missing(type):
    """The type of a stand-in for a dlcore name: it can be imported and
    subclassed (``class Block(Layer)`` still defines a class), but calling
    it, or anything made from it, raises :class:`DlcoreUnavailable`."""

    def __call__(cls, *args, **kwargs):
        raise _refuse(cls.__qualname__)

    def __getattr__(cls, name: str):
        if name.startswith("__"):
            raise AttributeError(name)
        raise _refuse(f"{cls.__qualname__}.{name}")


class _Unavailable(types.ModuleType):
    """What ``import dlcore...`` gives in a child without dlcore: each name
    is a stand-in (:class:`_Missing`) that refuses to be used."""

    def __getattr__(self, name: str):
        if name.startswith("__"):
            raise AttributeError(name)
        dotted = f"{self.__name__}.{name}"
        return _Missing(name, (), {"__qualname__": dotted, "__module__": self.__name__})


class _UnavailableLoader(importlib.abc.Loader):
    def create_module(self, spec):
        module = _Unavailable(spec.name)
        module.__path__ = []  # a package: its submodules come here too
        return module

    def exec_module(self, module) -> None:
        pass


class RefuseDlcore(importlib.abc.MetaPathFinder):
    """First on ``sys.meta_path`` of a child without dlcore: any dlcore
    module imported there is an empty stand-in (:class:`_Unavailable`)."""

    def find_spec(self, name, path, target=None):
        if not is_dlcore(name):
            return None
        return importlib.machinery.ModuleSpec(name, _UnavailableLoader())


# ---------------------------------------------------------- with dlcore


def resolve(dotted: str) -> tuple[object, str, object]:
    """``(owner, attribute, definition)`` of a dotted name of a definition.

    The owner is the longest loaded module the name starts with, then each
    attribute in turn (``dlcore.optim.SGD._update``: the class ``SGD``).
    Raises ``LookupError`` naming what is missing.
    """
    if not isinstance(dotted, str) or not is_dlcore(dotted) or dotted == PACKAGE:
        raise LookupError(f"only dlcore definitions can be withheld, got {dotted!r}")
    parts = dotted.split(".")
    for end in range(len(parts) - 1, 0, -1):
        module = sys.modules.get(".".join(parts[:end]))
        if module is not None:
            break
    else:
        raise LookupError(f"{dotted}: no module of it is loaded")
    owner: object = module
    for name in parts[end:-1]:
        owner = getattr(owner, name, None)
        if owner is None:
            raise LookupError(f"{dotted}: {name} not found")
    definition = vars(owner).get(parts[-1]) if hasattr(owner, "__dict__") else None
    if definition is None:
        raise LookupError(f"{dotted}: not defined there")
    return owner, parts[-1], definition


def _unwrap(value):
    """A static or class method's function; anything else as it is."""
    if isinstance(value, (staticmethod, classmethod)):
        return value.__func__
    return value


@dataclass
class Removal:
    """What :func:`remove` did: the names deleted (``removed``), the names
    that were not there (``missing``), and each reference to a withheld
    definition that is still reachable (``reachable``: must be empty)."""

    removed: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    reachable: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "removed": self.removed,
            "missing": self.missing,
            "reachable": self.reachable,
        }


def _holds(value, originals: dict[int, object]) -> bool:
    """Whether ``value`` is a withheld definition or a container of one."""
    value = _unwrap(value)
    if id(value) in originals:
        return True
    if isinstance(value, (tuple, list, frozenset, set)):
        return any(_holds(item, originals) for item in value)
    if isinstance(value, dict):
        return any(_holds(item, originals) for item in value.values())
    return False


def _scrub_namespace(owner, originals: dict[int, object]) -> None:
    """Delete from ``owner`` (a module or class) every name holding an
    original; empty the entries of its dicts and lists that hold one."""
    for key, value in list(vars(owner).items()):
        if _holds(value, originals):
            try:
                delattr(owner, key)
            except (AttributeError, TypeError):
                pass
            continue
        if isinstance(value, dict):
            for item_key in [k for k, v in value.items() if _holds(v, originals)]:
                del value[item_key]
        elif isinstance(value, list):
            value[:] = [v for v in value if not _holds(v, originals)]


def _dlcore_namespaces() -> list[object]:
    """Every dlcore module, and every class defined in one."""
    found: list[object] = []
    for name, module in list(sys.modules.items()):
        if module is None or not is_dlcore(name):
            continue
        found.append(module)
        for value in list(vars(module).values()):
            if isinstance(value, type) and is_dlcore(getattr(value, "__module__", "")):
                found.append(value)
    return found


def _describe(referrer) -> str:
    if isinstance(referrer, dict):
        for space in _dlcore_namespaces():
            if vars(space) is referrer:
                return f"the namespace of {getattr(space, '__name__', space)!r}"
        return f"a dict with keys {sorted(map(str, referrer))[:5]}"
    if isinstance(referrer, types.CellType):
        return "a closure cell"
    return type(referrer).__name__


def remove(names: Iterable[str]) -> Removal:
    """Delete the withheld definitions ``names`` from the loaded dlcore.

    Everything in dlcore's modules and classes that holds one (an alias, a
    registry entry, a tuple of functions) goes too. Then each original must
    be gone: a reference that is still reachable is listed in
    ``Removal.reachable``, and the caller must not run student code.
    """
    result = Removal()
    originals: dict[int, object] = {}
    for dotted in names:
        try:
            owner, attr, definition = resolve(dotted)
        except LookupError:
            result.missing.append(dotted)
            continue
        originals[id(_unwrap(definition))] = _unwrap(definition)
        delattr(owner, attr)
        result.removed.append(dotted)
    if not originals:
        return result
    for space in _dlcore_namespaces():
        _scrub_namespace(space, originals)
    watched = []
    for original in originals.values():
        try:
            watched.append((weakref.ref(original), repr(original)))
        except TypeError:  # no weak references to it: judge by its referrers
            watched.append((lambda kept=original: kept, repr(original)))
    del original, definition, owner
    originals.clear()
    if any(ref() is not None for ref, _ in watched):
        gc.collect()  # only cycles are left to collect
    for ref, label in watched:
        alive = ref()
        if alive is None:
            continue
        holders = [
            _describe(r)
            for r in gc.get_referrers(alive)
            if r is not watched and not isinstance(r, types.FrameType)
        ]
        result.reachable.append(f"{label}: held by {', '.join(holders) or 'unknown'}")
        del alive
    return result
