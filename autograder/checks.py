"""Graded checks declared as data, and the helper the test cells call.

Each assignment declares its checks once, in
``autograder/assignments/a<NN>_<name>.py`` (a list ``CHECKS`` of
:class:`Check`); a test cell in the notebook runs one of them::

    from autograder.checks import check
    check("01_backprop", "relu", (relu_forward, relu_backward))

    ### BEGIN HIDDEN TESTS
    check("01_backprop", "relu", (relu_forward, relu_backward), hidden=True)
    ### END HIDDEN TESTS

A check makes its inputs from a seeded generator, calls the student's
function the way the declaration says, and compares the result with the
dlcore reference (or with a custom ``compare``). Visible tests use a public
seed derived from the assignment and check names; hidden tests use a seed
derived from the course secret (kept in the instructor's state directory,
never in ``notebooks/``) and compare with reference outputs precomputed by
``python -m autograder references``. All the logic lives here, so a failing
hidden test shows the student only the verdict, never how it was computed.

While nbgrader autogrades (``NBGRADER_EXECUTION=autograde``), a hidden
check runs nothing in the student's kernel: it reads neither the secret nor
the references (code in that kernel could read them too) and leaves the
verdict to the trusted re-check (:mod:`autograder.trusted`), which runs the
same declaration outside the kernel. ``python -m autograder autograde``
says so to the kernels with :data:`DEFERRED_ENV`; without it (a bare
``nbgrader autograde``, which has no re-check) a hidden check fails, so
that no hidden test is ever passed unchecked.

The pieces are plain functions of a declaration and a seed
(:meth:`Check.inputs`, :meth:`Check.expected`, :meth:`Check.received`,
:meth:`Check.verdict`), so a trusted process can run the same declarations
outside the student's kernel.
"""

from __future__ import annotations

import hashlib
import importlib
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from . import paths
from .withhold import WithheldFunctionError, trusted

__all__ = [
    "Check",
    "CheckFailure",
    "check",
    "run_check",
    "compare_arrays",
    "load_assignment",
    "get_check",
    "visible_seed",
    "hidden_seed",
    "compute_references",
    "load_references",
    "hidden_summary",
    "DEFERRED_ENV",
    "DEFERRED_MESSAGE",
]

# Set (to "1") by `python -m autograder autograde` for the kernels nbgrader
# starts: the trusted re-check that follows scores the hidden tests.
DEFERRED_ENV = "AUTOGRADER_HIDDEN_BY_RECHECK"
DEFERRED_MESSAGE = "hidden test: scored by the trusted re-check after autograding"


class CheckFailure(AssertionError):
    """A graded check failed; the message says what was expected and what came."""


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
        The expected result, computed with dlcore. Withheld dlcore functions
        are callable here. May be omitted when ``compare`` needs no
        reference.
    rtol, atol : float
        Tolerances of the default comparison (``numpy.isclose``).
    compare : callable ``(expected, received) -> str | None``, optional
        Replaces the element-wise comparison (e.g. statistical checks):
        return ``None`` to pass or a message saying what is wrong.
    hint : str
        The usual mistake, shown when the check fails.
    outputs : tuple of str
        Names of the returned arrays (e.g. ``("dx", "dW", "db")``) for
        the messages.
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
        for field in ("make_inputs", "call"):
            if not callable(getattr(self, field)):
                raise TypeError(f"Check {self.name!r}: {field} must be callable")

    # -- the four steps, usable on their own (e.g. in a trusted process) --

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
        with trusted():
            return self.reference(**self.inputs(seed))

    def received(self, fn, seed: int):
        """What the student's ``fn`` returns on the inputs from ``seed``."""
        return self.call(fn, **self.inputs(seed))

    def verdict(self, expected, received) -> str | None:
        """None if ``received`` passes, else a message saying why not."""
        if self.compare is not None:
            return self.compare(expected, received)
        return compare_arrays(
            expected, received, rtol=self.rtol, atol=self.atol, names=self.outputs
        )


# --------------------------------------------------------------- seeds


def _seed_from(text: str) -> int:
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")


def visible_seed(assignment: str, name: str) -> int:
    """The public seed of a visible test: anyone can recompute it."""
    return _seed_from(f"visible/{assignment}/{name}")


def hidden_seed(assignment: str, name: str) -> int:
    """The seed of a hidden test, derived from the course secret."""
    return _seed_from(f"hidden/{paths.course_secret()}/{assignment}/{name}")


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


def _as_outputs(value) -> tuple[list, bool]:
    """A result as a list of outputs, and whether it was a tuple of them."""
    if isinstance(value, tuple):
        return list(value), True
    return [value], False


def _format_index(index) -> str:
    return "(" + ", ".join(str(int(i)) for i in index) + ")" if index else "()"


def _format_value(v) -> str:
    v = v.item() if isinstance(v, np.generic) else v
    return f"{v:.8g}" if isinstance(v, float) else repr(v)


def _dtype_clash(expected: np.dtype, received: np.dtype) -> bool:
    kinds = {"i": "int", "u": "int", "f": "float", "c": "complex", "b": "bool"}
    ek, rk = kinds.get(expected.kind, expected.kind), kinds.get(received.kind)
    if ek != rk:
        return True
    return ek in ("float", "complex") and expected.itemsize != received.itemsize


def _compare_one(label: str, expected, received, rtol: float, atol: float):
    exp = np.asarray(expected)
    if received is None:
        return f"{label}: expected an array of shape {exp.shape}, received None"
    try:
        rec = np.asarray(received)
    except Exception:  # ragged lists and the like
        return f"{label}: received a {type(received).__name__} that is not an array"
    if rec.dtype == object:
        return f"{label}: received a {type(received).__name__} that is not an array"
    if rec.shape != exp.shape:
        return (
            f"{label}: expected shape {exp.shape}, received shape {rec.shape} "
            f"(dtype {rec.dtype})"
        )
    if _dtype_clash(exp.dtype, rec.dtype):
        return f"{label}: expected dtype {exp.dtype}, received dtype {rec.dtype}"
    close = np.isclose(rec, exp, rtol=rtol, atol=atol, equal_nan=True)
    if close.all():
        return None
    first = tuple(np.argwhere(~close)[0]) if exp.ndim else ()
    wide = np.complex128 if np.iscomplexobj(exp) or np.iscomplexobj(rec) else float
    e64, r64 = exp.astype(wide), rec.astype(wide)
    with np.errstate(invalid="ignore", over="ignore"):
        scale = np.linalg.norm(e64) + np.linalg.norm(r64)
        diff = np.linalg.norm(r64 - e64)
        rel = diff / scale if scale > 0 else (0.0 if scale == 0 else float("nan"))
    n_bad = int((~close).sum())
    text = (
        f"{label}: {n_bad} of {exp.size} entries differ (rtol={rtol:.0e}, "
        f"atol={atol:.0e}); shape {exp.shape} and dtype {rec.dtype} are right.\n"
        f"  first mismatch at index {_format_index(first)}: expected "
        f"{_format_value(exp[first])}, received {_format_value(rec[first])}\n"
        f"  relative error ||received - expected|| / (||received|| + "
        f"||expected||) = {rel:.2e}"
    )
    n_bad_values = int(np.size(rec) - np.isfinite(rec).sum())
    if n_bad_values and np.isfinite(exp).all():
        text += f"\n  received {n_bad_values} NaN or infinite value(s)"
    return text


def compare_arrays(
    expected,
    received,
    rtol: float = 1e-7,
    atol: float = 1e-9,
    names: Sequence[str] = (),
) -> str | None:
    """Compare an array (or a tuple of arrays) with the expected one(s).

    Returns None when shapes, dtypes (float precision included) and values
    (``numpy.isclose``) agree, else a message naming the first problem:
    the output, expected vs received shape or dtype, or the first
    mismatching index with both values and the norm-wise relative error.
    """
    exp_list, exp_tuple = _as_outputs(expected)
    rec_list, rec_tuple = _as_outputs(received)
    names = list(names)
    if exp_tuple and (not rec_tuple or len(rec_list) != len(exp_list)):
        what = f" ({', '.join(names)})" if names else ""
        got = f"a tuple of {len(rec_list)}" if rec_tuple else type(received).__name__
        return f"expected a tuple of {len(exp_list)} outputs{what}, received {got}"
    if not exp_tuple and rec_tuple:
        return f"expected a single array, received a tuple of {len(rec_list)}"
    problems = []
    for i, (e, r) in enumerate(zip(exp_list, rec_list, strict=True)):
        if i < len(names):
            label = names[i]
        else:
            label = f"output {i}" if exp_tuple else "the output"
        problem = _compare_one(label, e, r, rtol, atol)
        if problem:
            problems.append(problem)
    return "\n".join(problems) or None


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
        outputs, is_tuple = _as_outputs(declared.expected(seed))
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


def run_check(
    declared: Check, fn, seed: int, expected=None, *, have_expected: bool = False
) -> str | None:
    """Run one declaration on ``fn``: None if it passes, else the message.

    ``expected`` (with ``have_expected=True``) replaces the reference
    computed from ``seed``. Exceptions raised by ``fn`` propagate, except a
    call to a withheld dlcore function, which is a failure message.
    """
    if not have_expected:
        expected = declared.expected(seed)
    try:
        received = declared.received(fn, seed)
    except WithheldFunctionError as err:
        return f"your code called a withheld dlcore function: {err}"
    return declared.verdict(expected, received)


def hidden_summary(declared: Check, message: str) -> str:
    """What a failed hidden check may tell: the kind of problem, no number.

    A hidden check's full message would quote values computed from the
    hidden inputs (the first mismatch, the received shape), and what the
    student's code returns or raises there could carry the inputs out, one
    resubmission at a time. So the trusted re-check reports only which
    output is wrong and how (values, shape, dtype, count), in words the
    declaration and this module fix.
    """
    if declared.compare is not None:
        return "the result does not pass this check on the hidden inputs"
    first = message.splitlines()[0] if message else ""
    if first.startswith(("expected a tuple", "expected a single array")):
        return "the result has the wrong number of outputs"
    labels = set(declared.outputs) | {"the output"}
    problems = []
    for line in message.splitlines():
        if line.startswith(" "):
            continue  # a detail line: values
        label, _, rest = line.partition(": ")
        if label not in labels and not (
            label.startswith("output ") and label[7:].isdigit()
        ):
            label = "an output"
        if "entries differ" in rest:
            what = "wrong values"
        elif rest.startswith("expected shape"):
            what = "wrong shape"
        elif rest.startswith("expected dtype"):
            what = "wrong dtype"
        else:
            what = "not an array of numbers"
        problems.append(f"{label}: {what}")
    return "; ".join(problems) or "the result does not pass this check"


def _failure_text(name: str, kind: str, message: str, hint: str) -> str:
    text = f"check {name!r} failed ({kind} test)\n{message}"
    if hint:
        text += f"\nhint: {hint}"
    return text


def check(assignment: str, name: str, fn, *, hidden: bool = False) -> None:
    """Run the declared check ``name`` of ``assignment`` on the student's ``fn``.

    Prints a one-line ``ok`` on success. On failure raises
    :class:`CheckFailure` naming the check, what was expected and what was
    received, and the hint. A ``NotImplementedError`` from an unfilled
    answer propagates unchanged; any other exception from the student's
    code is reported as a failure of this check (chained, so the student
    still sees where it happened).
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
    failure = None
    try:
        message = run_check(declared, fn, seed, expected, have_expected=True)
    except NotImplementedError:
        raise
    except Exception as err:  # the student's code raised: report it as this check
        failure = err
        message = f"your code raised {type(err).__name__}: {err}"
    if message is not None:
        text = _failure_text(name, kind, message, declared.hint)
        if failure is not None:
            raise CheckFailure(text) from failure
        raise CheckFailure(text) from None
    if declared.compare is None:
        detail = (
            f"matches the reference within rtol={declared.rtol:.0e}, "
            f"atol={declared.atol:.0e}"
        )
    else:
        detail = "passed"
    print(f"ok  {name} ({kind} test): {detail}")
