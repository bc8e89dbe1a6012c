"""Graded checks declared as data, and how a result is compared with them.

Each assignment declares its checks once, in
``autograder/assignments/a<NN>_<name>.py`` (a list ``CHECKS`` of
:class:`Check`; the template is ``autograder/AUTHORING.md``). A check makes
its inputs from a seeded generator, calls the student's function the way
the declaration says, and compares the result with the dlcore reference (or
with a custom ``compare``).

The comparison produces data: a list of :class:`Mismatch` records (which
output, what kind of problem, the numbers). Text is made from them in one
place, :func:`render`; everything that decides (a score, what a failed
hidden test may tell: :func:`hidden_summary`) reads the records' ``kind``,
never the text.

The pieces are plain functions of a declaration and a seed
(:meth:`Check.inputs`, :meth:`Check.expected`, :meth:`Check.received`,
:meth:`Check.mismatches`, :meth:`Check.diagnose`), so the test cells
(:mod:`autograder.checks`) and the trusted re-check (:mod:`autograder.trusted`)
run the same declarations. Visible and hidden seeds:
``autograder/HIDDEN_TESTS.md``.

Feedback that diagnoses without giving the answer away: a check may declare
known :class:`Misconception` s (a wrong variant of the answer and a message
naming the mistake); when a result fails, :meth:`Check.diagnose` runs the
variants on the same inputs and names the one the result matches. Hints come
in levels (``hint``, ``more_hints``): the first is shown with a failure, the
next ones when the student asks (``autograder.checks.hint``).
"""

from __future__ import annotations

import importlib
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from .seeds import hidden_seed, visible_seed

__all__ = [
    "Check",
    "Misconception",
    "Mismatch",
    "COUNT",
    "NOT_ARRAY",
    "SHAPE",
    "DTYPE",
    "VALUES",
    "CUSTOM",
    "compare_outputs",
    "compare_arrays",
    "render",
    "render_mismatch",
    "render_misconception",
    "hidden_summary",
    "load_assignment",
    "declared_assignments",
    "get_check",
    "find_check",
    "visible_seed",
    "hidden_seed",
    "as_outputs",
]

# The kinds of Mismatch.
COUNT = "count"  # a tuple of the wrong length, or a tuple for one array
NOT_ARRAY = "not-an-array"  # None, a ragged list, an object
SHAPE = "shape"
DTYPE = "dtype"  # a different kind (int, float...) or float precision
VALUES = "values"  # entries differ beyond the tolerances
CUSTOM = "custom"  # the declaration's own compare said no (detail: message)


@dataclass(frozen=True)
class Mismatch:
    """One problem with a result: which output, what kind, the facts."""

    label: str  # the output: a name from Check.outputs, "output i", "the output"
    kind: str  # COUNT, NOT_ARRAY, SHAPE, DTYPE, VALUES or CUSTOM
    detail: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Misconception:
    """A known wrong answer to a check, and what to tell whoever gives it.

    Parameters
    ----------
    name : str
        Identifier, unique within the check; the class report counts it.
    message : str
        Names the mistake in the student's terms ("the variance divides by
        N - 1: ..."). Never the correct code or formula: a test compares it
        with the solution's lines.
    answer : callable, optional
        The mistake written as a student would: an object the check's
        ``call`` accepts in place of the student's ``fn``.
    variant : callable ``(**inputs) -> same structure as the reference``, optional
        What the mistake returns, computed directly. Exactly one of
        ``answer`` and ``variant``.
    matches : callable ``(mistake_output, received) -> bool``, optional
        Whether a result is this mistake; default: the check's element-wise
        comparison with its tolerances (a statistical check needs its own).
    """

    name: str
    message: str
    answer: Callable[..., Any] | None = None
    variant: Callable[..., Any] | None = None
    matches: Callable[[Any, Any], bool] | None = None

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name.isidentifier():
            raise ValueError(
                f"Misconception name must be an identifier, got {self.name!r}"
            )
        if (self.answer is None) == (self.variant is None):
            raise ValueError(
                f"Misconception {self.name!r}: give exactly one of answer and "
                f"variant, got answer={self.answer!r}, variant={self.variant!r}"
            )
        if not isinstance(self.message, str) or not self.message.strip():
            raise ValueError(
                f"Misconception {self.name!r}: message must be a non-empty "
                f"string, got {self.message!r}"
            )


@dataclass(frozen=True)
class Check:
    """One graded check, declared as data.

    Parameters
    ----------
    name : str
        Unique within the assignment; the test cell refers to it.
    points : int or float
        The points of the test cell that runs it (nbgrader's ``points``).
    make_inputs : callable ``rng -> dict``
        Builds the inputs from a seeded ``numpy.random.Generator``. It is
        called once for the reference and once for the student, with
        generators from the same seed, so both see equal, independent
        copies. A randomised function under test takes an input such as
        ``"rng": np.random.default_rng(int(rng.integers(2**31)))``.
    call : callable ``(fn, **inputs) -> array or tuple of arrays``
        How the student's object ``fn`` (a function, or e.g. a
        ``(forward, backward)`` pair) is called on the inputs.
    reference : callable ``(**inputs) -> same structure``, optional
        The expected result, computed with dlcore (the grader's own, never
        the child's: nothing is withheld here). May be omitted when ``compare`` needs no
        reference.
    rtol, atol : float
        Tolerances of the default comparison (``numpy.isclose``).
    compare : callable ``(expected, received) -> str | None``, optional
        Replaces the element-wise comparison (e.g. statistical checks):
        return ``None`` to pass or a message saying what is wrong.
    hint : str
        Level 1 of the hints, shown when the check fails and no known
        misconception matches: which idea, rule, shape or axis matters,
        never the solution's expression.
    outputs : tuple of str
        Names of the returned arrays (e.g. ``("dx", "dW", "db")``) for
        the messages.
    held_out : tuple of str
        Inputs the student's side never gets (e.g. the labels ``("y",)`` of
        an accuracy check): ``call`` receives the others, ``reference`` and
        ``compare`` see all of them, so the scoring stays with the grader
        (in the trusted re-check, in the parent process).
    more_hints : tuple of str
        Hint levels 2, 3, ..., shown on request (``hint("name", level=2)``).
    misconceptions : tuple of :class:`Misconception`
        Known wrong answers, tried in order on a failing result.
    needs_dlcore : bool
        The answer must run with dlcore (train a dlcore model, be a dlcore
        layer) or ``call``/``make_inputs`` use it: the trusted re-check then
        runs it in a child with dlcore, the assignment's ``WITHHELD``
        definitions deleted; every other check runs where dlcore is neither
        loaded nor readable (``autograder/withhold.py``).
    """

    name: str
    points: float
    make_inputs: Callable[[np.random.Generator], Mapping[str, Any]]
    call: Callable[..., Any]
    reference: Callable[..., Any] | None = None
    rtol: float = 1e-7
    atol: float = 1e-9
    compare: Callable[[Any, Any], str | None] | None = None
    hint: str = ""
    outputs: tuple[str, ...] = ()
    held_out: tuple[str, ...] = ()
    more_hints: tuple[str, ...] = ()
    misconceptions: tuple[Misconception, ...] = ()
    needs_dlcore: bool = False

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name.isidentifier():
            raise ValueError(
                f"Check name must be an identifier-like string, got {self.name!r}"
            )
        if not (isinstance(self.points, (int, float)) and self.points > 0):
            raise ValueError(
                f"Check {self.name!r}: points must be > 0, got {self.points!r}"
            )
        if self.reference is None and self.compare is None:
            raise ValueError(
                f"Check {self.name!r} needs a reference, a compare, or both"
            )
        if not isinstance(self.needs_dlcore, bool):
            raise TypeError(
                f"Check {self.name!r}: needs_dlcore must be True or False, "
                f"got {self.needs_dlcore!r}"
            )
        for role in ("make_inputs", "call"):
            if not callable(getattr(self, role)):
                raise TypeError(f"Check {self.name!r}: {role} must be callable")
        names = [m.name for m in self.misconceptions]
        if len(set(names)) != len(names) or not all(
            isinstance(m, Misconception) for m in self.misconceptions
        ):
            raise ValueError(
                f"Check {self.name!r}: misconceptions must be Misconception "
                f"records with distinct names, got {names}"
            )

    # -- the steps, usable on their own (e.g. in a trusted process) --------

    def inputs(self, seed: int) -> dict[str, Any]:
        """The inputs made from ``seed`` (a fresh copy on every call)."""
        made = self.make_inputs(np.random.default_rng(seed))
        if not isinstance(made, Mapping):
            raise TypeError(
                f"Check {self.name!r}: make_inputs must return a dict, "
                f"got {type(made).__name__}"
            )
        return dict(made)

    def expected(self, seed: int):
        """The reference output on the inputs from ``seed`` (None without one)."""
        if self.reference is None:
            return None
        return self.reference(**self.inputs(seed))

    def given(self, seed: int) -> dict[str, Any]:
        """The inputs from ``seed`` the student's side gets (no held-out one)."""
        made = self.inputs(seed)
        missing = [name for name in self.held_out if name not in made]
        if missing:
            raise KeyError(
                f"Check {self.name!r}: held_out names {missing}, which "
                f"make_inputs does not make (it makes {sorted(made)})"
            )
        return {k: v for k, v in made.items() if k not in self.held_out}

    def received(self, fn, seed: int):
        """What the student's ``fn`` returns on the inputs from ``seed``."""
        return self.call(fn, **self.given(seed))

    def mismatches(self, expected, received) -> list[Mismatch]:
        """What is wrong with ``received`` (empty: it passes)."""
        if self.compare is not None:
            message = self.compare(expected, received)
            return (
                [] if message is None else [Mismatch("", CUSTOM, {"message": message})]
            )
        return compare_outputs(
            expected, received, rtol=self.rtol, atol=self.atol, names=self.outputs
        )

    def verdict(self, expected, received) -> str | None:
        """None if ``received`` passes, else a message saying why not."""
        return render(self.mismatches(expected, received))

    # -- diagnosis and hints ------------------------------------------------

    def mistake_output(self, misconception: Misconception, seed: int):
        """What ``misconception`` returns on the inputs from ``seed``."""
        # A wrong rule may overflow: its warnings are not the student's business.
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if misconception.answer is not None:  # as the student's code is called
                return self.call(misconception.answer, **self.given(seed))
            return misconception.variant(**self.inputs(seed))

    def is_mistake(self, misconception: Misconception, output, received) -> bool:
        """Whether ``received`` is ``output``, what ``misconception`` gives."""
        try:
            if misconception.matches is not None:
                return bool(misconception.matches(output, received))
            found = compare_outputs(
                output, received, rtol=self.rtol, atol=self.atol, names=self.outputs
            )
        except Exception:  # a matcher choking on a strange result: no match
            return False
        return not found

    def diagnose(
        self, received, seed: int, cache: dict[str, Any] | None = None
    ) -> Misconception | None:
        """The first known misconception ``received`` matches, or None.

        ``cache`` (for this ``seed`` only) keeps the mistakes' outputs for
        the next result. A variant that fails on these inputs matches
        nothing (the catalogue's tests make sure each one runs).
        """
        cache = {} if cache is None else cache
        for misconception in self.misconceptions:
            if misconception.name not in cache:
                try:
                    cache[misconception.name] = (
                        True,
                        self.mistake_output(misconception, seed),
                    )
                except Exception:
                    cache[misconception.name] = (False, None)
            ran, output = cache[misconception.name]
            if ran and self.is_mistake(misconception, output, received):
                return misconception
        return None

    def misconception(self, name: str) -> Misconception:
        """The declared misconception called ``name``."""
        found = [m for m in self.misconceptions if m.name == name]
        if found:
            return found[0]
        known = ", ".join(m.name for m in self.misconceptions) or "none"
        raise LookupError(
            f"check {self.name!r} declares no misconception {name!r} "
            f"(declared: {known})"
        )


# --------------------------------------------------------- declarations


def load_assignment(assignment: str) -> ModuleType:
    """The declaration module ``autograder.assignments.a<assignment>``."""
    module_name = f"{__package__}.assignments.a{assignment}"
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as err:
        if err.name != module_name:
            raise
        raise LookupError(
            f"no checks are declared for assignment {assignment!r}: expected a "
            f"module {module_name} (file autograder/assignments/a{assignment}.py)"
        ) from None


def declared_assignments() -> list[str]:
    """The assignments with a declaration module, e.g. ``["01_backprop", ...]``."""
    folder = Path(__file__).parent / "assignments"
    return sorted(path.stem[1:] for path in folder.glob("a[0-9]*.py"))


def find_check(name: str) -> tuple[str, Check]:
    """``(assignment, check)`` of the one assignment that declares ``name``."""
    found = [
        (assignment, declared)
        for assignment in declared_assignments()
        for declared in getattr(load_assignment(assignment), "CHECKS", [])
        if declared.name == name
    ]
    if len(found) != 1:
        where = ", ".join(a for a, _ in found) or "no assignment"
        raise LookupError(
            f"check {name!r} is declared by {where}; name the assignment "
            "(assignment=...) when it is not exactly one"
        )
    return found[0]


def get_check(assignment: str, name: str) -> Check:
    """The declaration of check ``name`` of ``assignment``."""
    checks = getattr(load_assignment(assignment), "CHECKS", [])
    for declared in checks:
        if declared.name == name:
            return declared
    known = ", ".join(c.name for c in checks) or "none"
    raise LookupError(
        f"assignment {assignment!r} declares no check {name!r} (declared: {known})"
    )


# ---------------------------------------------------------- comparison


def as_outputs(value) -> tuple[list, bool]:
    """A result as a list of outputs, and whether it was a tuple of them."""
    if isinstance(value, tuple):
        return list(value), True
    return [value], False


def _dtype_clash(expected: np.dtype, received: np.dtype) -> bool:
    kinds = {"i": "int", "u": "int", "f": "float", "c": "complex", "b": "bool"}
    ek, rk = kinds.get(expected.kind, expected.kind), kinds.get(received.kind)
    if ek != rk:
        return True
    return ek in ("float", "complex") and expected.itemsize != received.itemsize


def _compare_one(label: str, expected, received, rtol, atol) -> Mismatch | None:
    exp = np.asarray(expected)
    if received is None:
        return Mismatch(label, NOT_ARRAY, {"received": None, "shape": exp.shape})
    try:
        rec = np.asarray(received)
    except Exception:  # ragged lists and the like
        rec = None
    if rec is None or rec.dtype == object:
        return Mismatch(label, NOT_ARRAY, {"received": type(received).__name__})
    if rec.shape != exp.shape:
        facts = {"expected": exp.shape, "received": rec.shape, "dtype": rec.dtype}
        return Mismatch(label, SHAPE, facts)
    if _dtype_clash(exp.dtype, rec.dtype):
        return Mismatch(label, DTYPE, {"expected": exp.dtype, "received": rec.dtype})
    close = np.isclose(rec, exp, rtol=rtol, atol=atol, equal_nan=True)
    if close.all():
        return None
    first = tuple(int(i) for i in np.argwhere(~close)[0]) if exp.ndim else ()
    wide = np.complex128 if np.iscomplexobj(exp) or np.iscomplexobj(rec) else float
    e64, r64 = exp.astype(wide), rec.astype(wide)
    with np.errstate(invalid="ignore", over="ignore"):
        scale = np.linalg.norm(e64) + np.linalg.norm(r64)
        diff = np.linalg.norm(r64 - e64)
        rel = diff / scale if scale > 0 else (0.0 if scale == 0 else float("nan"))
    nonfinite = int(np.size(rec) - np.isfinite(rec).sum())
    facts = {
        "differ": int((~close).sum()),
        "size": exp.size,
        "rtol": rtol,
        "atol": atol,
        "shape": exp.shape,
        "dtype": rec.dtype,
        "index": first,
        "expected": exp[first],
        "received": rec[first],
        "relative_error": rel,
        "nonfinite": nonfinite if np.isfinite(exp).all() else 0,
    }
    return Mismatch(label, VALUES, facts)


def compare_outputs(
    expected,
    received,
    rtol: float = 1e-7,
    atol: float = 1e-9,
    names: Sequence[str] = (),
) -> list[Mismatch]:
    """Compare an array (or a tuple of arrays) with the expected one(s).

    Empty when shapes, dtypes (float precision included) and values
    (``numpy.isclose``) agree; else one :class:`Mismatch` per wrong output
    (or one of kind :data:`COUNT` when the number of outputs is wrong).
    """
    exp_list, exp_tuple = as_outputs(expected)
    rec_list, rec_tuple = as_outputs(received)
    names = tuple(names)
    if exp_tuple and (not rec_tuple or len(rec_list) != len(exp_list)):
        got = f"a tuple of {len(rec_list)}" if rec_tuple else type(received).__name__
        facts = {"expected": len(exp_list), "received": got, "names": names}
        return [Mismatch("", COUNT, facts)]
    if not exp_tuple and rec_tuple:
        facts = {"expected": None, "received": f"a tuple of {len(rec_list)}"}
        return [Mismatch("", COUNT, facts)]
    found = []
    for i, (e, r) in enumerate(zip(exp_list, rec_list, strict=True)):
        if i < len(names):
            label = names[i]
        else:
            label = f"output {i}" if exp_tuple else "the output"
        mismatch = _compare_one(label, e, r, rtol, atol)
        if mismatch is not None:
            found.append(mismatch)
    return found


def compare_arrays(expected, received, rtol=1e-7, atol=1e-9, names=()) -> str | None:
    """:func:`compare_outputs` as text: None if it passes, else the message."""
    return render(compare_outputs(expected, received, rtol, atol, names))


# ------------------------------------------------------------ rendering


def _format_index(index) -> str:
    return "(" + ", ".join(str(int(i)) for i in index) + ")" if index else "()"


def _format_value(v) -> str:
    v = v.item() if isinstance(v, np.generic) else v
    return f"{v:.8g}" if isinstance(v, float) else repr(v)


def render_mismatch(mismatch: Mismatch) -> str:
    """The words for one mismatch (the only place they are written)."""
    kind, label, d = mismatch.kind, mismatch.label, mismatch.detail
    if kind == CUSTOM:
        return str(d["message"])
    if kind == COUNT:
        if d["expected"] is None:
            return f"expected a single array, received {d['received']}"
        what = f" ({', '.join(d['names'])})" if d["names"] else ""
        return (
            f"expected a tuple of {d['expected']} outputs{what}, received "
            f"{d['received']}"
        )
    if kind == NOT_ARRAY:
        if d["received"] is None:
            return f"{label}: expected an array of shape {d['shape']}, received None"
        return f"{label}: received a {d['received']} that is not an array"
    if kind == SHAPE:
        return (
            f"{label}: expected shape {d['expected']}, received shape "
            f"{d['received']} (dtype {d['dtype']})"
        )
    if kind == DTYPE:
        return (
            f"{label}: expected dtype {d['expected']}, received dtype {d['received']}"
        )
    text = (
        f"{label}: {d['differ']} of {d['size']} entries differ (rtol={d['rtol']:.0e}, "
        f"atol={d['atol']:.0e}); shape {d['shape']} and dtype {d['dtype']} are "
        f"right.\n  first mismatch at index {_format_index(d['index'])}: expected "
        f"{_format_value(d['expected'])}, received {_format_value(d['received'])}\n"
        f"  relative error ||received - expected|| / (||received|| + "
        f"||expected||) = {d['relative_error']:.2e}"
    )
    if d["nonfinite"]:
        text += f"\n  received {d['nonfinite']} NaN or infinite value(s)"
    return text


def render(mismatches: Sequence[Mismatch], limit: int | None = None) -> str | None:
    """The message for a list of mismatches; None when there are none.

    With ``limit``, only the first ``limit`` are spelled out and the others
    named in one line (the notebook keeps a failure short).
    """
    shown = list(mismatches) if limit is None else list(mismatches)[:limit]
    lines = [render_mismatch(m) for m in shown]
    rest = [m.label or "an output" for m in list(mismatches)[len(shown) :]]
    if rest:
        lines.append(f"(also wrong: {', '.join(rest)})")
    return "\n".join(lines) or None


def render_misconception(misconception: Misconception) -> str:
    """The words that name a recognised mistake (the only place they are written)."""
    return f"this looks like a known mistake: {misconception.message}"


# What a failed hidden check says of each kind of mismatch.
_HIDDEN_WORDS = {
    SHAPE: "wrong shape",
    DTYPE: "wrong dtype",
    VALUES: "wrong values",
    NOT_ARRAY: "not an array of numbers",
}


def hidden_summary(declared: Check, mismatches: Sequence[Mismatch]) -> str:
    """What a failed hidden check may tell: the kind of problem, no number.

    A hidden check's full message would quote values computed from the
    hidden inputs (the first mismatch, the received shape), and what the
    student's code returns or raises there could carry the inputs out, one
    resubmission at a time. So only which output is wrong and how (values,
    shape, dtype, count) is told, in words fixed here.
    """
    if declared.compare is not None:
        return "the result does not pass this check on the hidden inputs"
    if any(m.kind == COUNT for m in mismatches):
        return "the result has the wrong number of outputs"
    labels = set(declared.outputs) | {"the output"}
    problems = []
    for mismatch in mismatches:
        label = mismatch.label
        if label not in labels and not (
            label.startswith("output ") and label[7:].isdigit()
        ):
            label = "an output"
        problems.append(f"{label}: {_HIDDEN_WORDS.get(mismatch.kind, 'wrong')}")
    return "; ".join(problems) or "the result does not pass this check"
