"""The helper the test cells call: ``check(assignment, name, fn)``.

A test cell in the notebook runs one declared check
(:mod:`autograder.declarations`) on the student's function::

    from autograder.checks import check
    check("01_backprop", "relu", (relu_forward, relu_backward))

    ### BEGIN HIDDEN TESTS
    check("01_backprop", "relu", (relu_forward, relu_backward), hidden=True)
    ### END HIDDEN TESTS

A visible test uses the public seed; a hidden test the secret one and the
reference outputs precomputed by ``python -m autograder references``
(:func:`compute_references`). While nbgrader autogrades, a hidden check
runs nothing in the student's kernel and leaves its verdict to the trusted
re-check (:data:`DEFERRED_ENV`). The whole story, and why:
``autograder/HIDDEN_TESTS.md``.

A student working through the notebook (no nbgrader) whose function still
raises ``NotImplementedError`` gets one line instead of a traceback, so Run
All goes on; under nbgrader that is a failure as before (shown as one line).
A failed check shows a few lines: what is wrong, the known mistake the
result matches (declared misconceptions) or else the first hint, and how to
ask for the next one: ``hint("name", level=2)``.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import sysconfig
import traceback
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from . import paths
from .declarations import (
    Check,
    Misconception,
    Mismatch,
    as_outputs,
    compare_arrays,
    find_check,
    get_check,
    hidden_seed,
    load_assignment,
    render,
    render_misconception,
    visible_seed,
)

__all__ = [
    "CheckFailure",
    "Outcome",
    "check",
    "hint",
    "hint_levels",
    "evaluate",
    "run_check",
    "compute_references",
    "load_references",
    "DEFERRED_ENV",
    "DEFERRED_MESSAGE",
    # declared in autograder.declarations, importable from here too
    "Check",
    "Misconception",
    "compare_arrays",
    "get_check",
    "hidden_seed",
    "load_assignment",
    "visible_seed",
]

# Set (to "1") by `python -m autograder autograde` for the kernels nbgrader
# starts: the trusted re-check that follows scores the hidden tests.
DEFERRED_ENV = "AUTOGRADER_HIDDEN_BY_RECHECK"
DEFERRED_MESSAGE = "hidden test: scored by the trusted re-check after autograding"


# ---------------------------------------------------- hidden references


def _digest(value, digest) -> None:
    if isinstance(value, np.ndarray):
        digest.update(f"array{value.dtype}{value.shape}".encode())
        digest.update(np.ascontiguousarray(value).tobytes())
    elif isinstance(value, np.random.Generator):
        digest.update(repr(value.bit_generator.state).encode())
    elif isinstance(value, (list, tuple)):
        digest.update(f"{type(value).__name__}{len(value)}".encode())
        for item in value:
            _digest(item, digest)
    elif isinstance(value, dict):
        digest.update(f"dict{len(value)}".encode())
        for key in sorted(value, key=repr):
            digest.update(repr(key).encode())
            _digest(value[key], digest)
    elif isinstance(value, (int, float, complex, str, bool, np.generic, type(None))):
        digest.update(repr(value).encode())
    else:  # objects: their type is all that is stable across processes
        digest.update(type(value).__qualname__.encode())


def _fingerprint(inputs: Mapping[str, Any]) -> str:
    """A digest of the inputs, to detect reference outputs gone stale."""
    digest = hashlib.sha256()
    for key in sorted(inputs):
        digest.update(key.encode())
        _digest(inputs[key], digest)
    return digest.hexdigest()


def _references_file(assignment: str) -> Path:
    return paths.references_dir() / f"{assignment}.npz"


def compute_references(assignment: str) -> Path:
    """Compute the hidden reference outputs of an assignment with dlcore.

    Written to ``<state dir>/references/<assignment>.npz`` (plain arrays, no
    pickles) together with a fingerprint of the hidden inputs, so that a
    changed declaration or secret is detected as stale.
    """
    arrays: dict[str, np.ndarray] = {}
    for declared in getattr(load_assignment(assignment), "CHECKS", []):
        if declared.reference is None:
            continue
        seed = hidden_seed(assignment, declared.name)
        outputs, is_tuple = as_outputs(declared.expected(seed))
        prefix = declared.name
        arrays[f"{prefix}::fingerprint"] = np.array(_fingerprint(declared.inputs(seed)))
        arrays[f"{prefix}::tuple"] = np.array(is_tuple)
        arrays[f"{prefix}::count"] = np.array(len(outputs))
        for i, out in enumerate(outputs):
            array = np.asarray(out)
            if array.dtype == object:
                raise TypeError(
                    f"{assignment}/{declared.name}: the reference returned a "
                    f"{type(out).__name__}; hidden references must be arrays, "
                    "scalars or tuples of them"
                )
            arrays[f"{prefix}::{i}"] = array
    path = _references_file(assignment)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.npz")
    np.savez(tmp, **arrays)
    os.replace(tmp, path)
    _loaded.pop(str(path), None)
    return path


_loaded: dict[str, tuple[float, dict[str, np.ndarray]]] = {}


def load_references(assignment: str) -> dict[str, np.ndarray] | None:
    """The stored hidden references of an assignment, or None if there are none."""
    path = _references_file(assignment)
    try:
        mtime = path.stat().st_mtime
    except FileNotFoundError:
        return None
    cached = _loaded.get(str(path))
    if cached is None or cached[0] != mtime:
        with np.load(path, allow_pickle=False) as data:
            cached = (mtime, {k: data[k] for k in data.files})
        _loaded[str(path)] = cached
    return cached[1]


def _stored_expected(assignment: str, declared: Check, seed: int):
    """The precomputed hidden reference, or None if missing or stale."""
    stored = load_references(assignment)
    prefix = declared.name
    if stored is None or f"{prefix}::fingerprint" not in stored:
        return None
    if str(stored[f"{prefix}::fingerprint"]) != _fingerprint(declared.inputs(seed)):
        return None
    outputs = [stored[f"{prefix}::{i}"] for i in range(int(stored[f"{prefix}::count"]))]
    return tuple(outputs) if bool(stored[f"{prefix}::tuple"]) else outputs[0]


def _hidden_expected(assignment: str, declared: Check, seed: int):
    if declared.reference is None:
        return None
    expected = _stored_expected(assignment, declared, seed)
    if expected is not None:
        return expected
    if os.environ.get("NBGRADER_EXECUTION") == "autograde":
        raise RuntimeError(
            f"the hidden reference outputs of {assignment}/{declared.name} are "
            "missing or stale: the instructor must run "
            "`python -m autograder references` before autograding"
        )
    # While authoring (no precomputed file yet), compute it on the spot.
    return declared.expected(seed)


# ------------------------------------------------------------ the helper


@dataclass(frozen=True)
class Outcome:
    """What one run of a check found: nothing (it passed), or why it failed."""

    mismatches: tuple[Mismatch, ...] = ()
    misconception: Misconception | None = None  # the known mistake it matches

    @property
    def passed(self) -> bool:
        return not self.mismatches

    def message(self, limit: int | None = None) -> str | None:
        """What is wrong (None if it passed); ``limit``: see :func:`render`."""
        return render(self.mismatches, limit)


def evaluate(declared: Check, fn, seed: int, expected) -> Outcome:
    """Run one declaration on ``fn`` against ``expected``, and diagnose a failure.

    Exceptions raised by ``fn`` propagate.
    """
    received = declared.received(fn, seed)
    mismatches = tuple(declared.mismatches(expected, received))
    if not mismatches:
        return Outcome()
    return Outcome(mismatches, misconception=declared.diagnose(received, seed))


def run_check(
    declared: Check, fn, seed: int, expected=None, *, have_expected: bool = False
) -> str | None:
    """Run one declaration on ``fn``: None if it passes, else the message.

    ``expected`` (with ``have_expected=True``) replaces the reference
    computed from ``seed``.
    """
    if not have_expected:
        expected = declared.expected(seed)
    return evaluate(declared, fn, seed, expected).message()


class CheckFailure(AssertionError):
    """A graded check failed; the message says what was expected and what came.

    IPython shows only :meth:`_render_traceback_` (its hook for exceptions
    that format themselves): the few lines of the message, no frames of the
    grader or of the declarations.
    """

    def __init__(self, lines: list[str]):
        super().__init__("\n".join(lines))
        self.lines = list(lines)

    def _render_traceback_(self) -> list[str]:
        return [f"{type(self).__name__}: {self.lines[0]}", *self.lines[1:]]


# In the notebook, a failure spells out this many wrong outputs (the others
# are named): with the hint it stays within about 15 lines.
SHOWN_MISMATCHES = 2
# Frames of the student's code shown when it raised.
SHOWN_FRAMES = 3


def hint_levels(declared: Check) -> list[str]:
    """The check's hints, level 1 (shown with a failure) first."""
    return ([declared.hint] if declared.hint else []) + list(declared.more_hints)


def _help_lines(declared: Check, misconception: Misconception | None) -> list[str]:
    """The diagnosis, else the first hint; and how to ask for the next hint."""
    lines, shown = [], 0
    if misconception is not None:
        lines.append(render_misconception(misconception))
    elif declared.hint:
        lines.append(f"hint: {declared.hint}")
        shown = 1
    if len(hint_levels(declared)) > shown:
        lines.append(
            f'more help (no answer): hint("{declared.name}", level={shown + 1})'
            "  [from autograder.checks import hint]"
        )
    return lines


def _grader_file(filename: str) -> bool:
    """A file of the grader, Python or an installed package (not the student's)."""
    places = [str(Path(__file__).resolve().parent)]
    places += [sysconfig.get_paths()[k] for k in ("stdlib", "purelib", "platlib")]
    dlcore = importlib.util.find_spec("dlcore")
    places += list(dlcore.submodule_search_locations or []) if dlcore else []
    resolved = str(Path(filename).resolve()) if filename[:1] != "<" else filename
    return any(resolved.startswith(place) for place in places if place)


def _student_frames(err: BaseException) -> list[str]:
    """Where in the student's own code ``err`` was raised (the last frames)."""
    frames = [
        f
        for f in traceback.extract_tb(err.__traceback__)
        if not _grader_file(f.filename)
    ]
    return [
        f"  in {f.name}, line {f.lineno}: {(f.line or '').strip()}"
        for f in frames[-SHOWN_FRAMES:]
    ]


def _unfinished(err: NotImplementedError) -> str:
    """The function that raised ``err``, as the student wrote its name."""
    frames = traceback.extract_tb(err.__traceback__)
    return f"`{frames[-1].name}`" if frames else "your code"


def _short(err: BaseException, line: str) -> BaseException:
    """``err``, shown by IPython as the one ``line`` (its type is kept)."""
    err._render_traceback_ = lambda: [f"{type(err).__name__}: {line}"]
    return err


def check(assignment: str, name: str, fn, *, hidden: bool = False) -> None:
    """Run the declared check ``name`` of ``assignment`` on the student's ``fn``.

    Prints a one-line ``ok`` on success. On failure raises
    :class:`CheckFailure`: the check, what is wrong with the result, and the
    known mistake it matches (else the first hint), in a few lines. Any
    exception from the student's code is reported as a failure of this
    check, with the student's own frames, except a ``NotImplementedError``
    from an unfilled answer: under nbgrader (``NBGRADER_EXECUTION`` set) it
    propagates (shown as one line); while the student works it prints one
    line saying what is not implemented yet and returns, so the rest of the
    notebook runs.
    """
    __tracebackhide__ = True
    declared = get_check(assignment, name)
    kind = "hidden" if hidden else "visible"
    if hidden and os.environ.get("NBGRADER_EXECUTION") == "autograde":
        # Never in the student's kernel: no secret, no references here.
        if os.environ.get(DEFERRED_ENV) != "1":
            raise RuntimeError(
                f"the hidden test of {name!r} is scored only by the trusted "
                "re-check: autograde with `python -m autograder autograde`, not "
                "a bare `nbgrader autograde`"
            )
        print(f"{DEFERRED_MESSAGE} ({name})")
        return
    if hidden:
        seed = hidden_seed(assignment, name)
        expected = _hidden_expected(assignment, declared, seed)
    else:
        seed = visible_seed(assignment, name)
        expected = declared.expected(seed)
    header = f"check {name!r} failed ({kind} test)"
    try:
        outcome = evaluate(declared, fn, seed, expected)
    except NotImplementedError as err:
        unfinished = f"{_unfinished(err)} is not implemented yet: "
        unfinished += f"0 of {declared.points:g} points"
        if os.environ.get("NBGRADER_EXECUTION"):
            raise _short(err, unfinished) from None  # an unfinished answer fails
        print(unfinished)
        return
    except Exception as err:  # the student's code raised: report it as this check
        lines = [header, f"your code raised {type(err).__name__}: {err}"]
        lines += _student_frames(err) + _help_lines(declared, None)
        raise CheckFailure(lines) from None
    if not outcome.passed:
        message = outcome.message(limit=SHOWN_MISMATCHES)
        lines = [header, *message.splitlines()]
        raise CheckFailure(lines + _help_lines(declared, outcome.misconception))
    if declared.compare is None:
        detail = (
            f"matches the reference within rtol={declared.rtol:.0e}, "
            f"atol={declared.atol:.0e}"
        )
    else:
        detail = "passed"
    print(f"ok  {name} ({kind} test): {detail}")


def hint(name: str, level: int = 1, *, assignment: str | None = None) -> None:
    """Print hint ``level`` of check ``name`` (1 is shown with a failure).

    Hints point at the idea (which rule, which shape, which axis), never
    at the code of the answer. ``assignment`` is needed only when two
    assignments declare a check of that name.
    """
    if assignment is None:
        assignment, declared = find_check(name)
    else:
        declared = get_check(assignment, name)
    hints = hint_levels(declared)
    if not isinstance(level, int) or not 1 <= level <= len(hints):
        raise ValueError(
            f"check {name!r} has hint levels 1 to {len(hints)}, got level={level!r}"
        )
    more = ""
    if level < len(hints):
        more = f'\n(next: hint("{name}", level={level + 1}))'
    print(f"hint {level} of {len(hints)} for {name!r}: {hints[level - 1]}{more}")
