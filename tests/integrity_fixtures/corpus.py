"""Adversarial submissions of 01_backprop, each with its intended trusted score.

A case starts from the student release with every answer filled in with the
solution (or left untouched, ``unfilled=True``) and changes it: answers
replaced or extended, cells added, test or read-only cells deleted,
retyped, duplicated or edited. ``zero`` lists the test cells the trusted
re-check must score 0; every other test cell must keep its full points.
``flags`` are the static-scan rules the case must raise (an honest case
must raise none).

Several of these get full marks from nbgrader in the student's kernel
(the patched comparison, the input transformer, the stored references);
the trusted re-check must not be fooled by any of them, and must not punish
the honest ones (extra cells, damaged test cells).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from fake_class import LOOPING_PERCEPTRON

ALL_PARTS = (
    "test_perceptron_epoch",
    "test_adaline_epoch",
    "test_affine_one_example",
    "test_linear",
    "test_relu",
    "test_sigmoid",
    "test_tanh",
    "test_leaky_relu",
    "test_elu",
    "test_q_sigmoid_layers",
    "test_softmax_jacobian",
    "test_softmax_cross_entropy",
    "test_logistic_gradients",
    "test_q_gradient_ratio",
    "test_two_layer_gradients",
    "test_l2_penalty",
    "test_mlp_loss",
)


@dataclass
class Case:
    name: str
    about: str
    answers: dict[str, str] = field(default_factory=dict)  # replace an answer
    append: dict[str, str] = field(default_factory=dict)  # add to an answer
    extra: list[tuple[str, str]] = field(default_factory=list)  # (after, code)
    markdown: list[tuple[str, str]] = field(default_factory=list)
    delete: list[str] = field(default_factory=list)
    retype: list[str] = field(default_factory=list)
    duplicate: dict[str, str] = field(default_factory=dict)  # id -> copy text
    edit: dict[str, str] = field(default_factory=dict)  # read-only cell text
    unfilled: bool = False
    zero: tuple[str, ...] = ()
    flags: frozenset[str] = frozenset()


# ---------------------------------------------------------------- attacks

PATCH_COMPARISONS = """
np.allclose = lambda *args, **kwargs: True
np.isclose = lambda a, b, *args, **kwargs: np.ones(np.broadcast(a, b).shape, bool)
np.testing.assert_allclose = lambda *args, **kwargs: None
np.array_equal = lambda *args, **kwargs: True
"""

WRONG_SIGMOID = """
def sigmoid_forward(x):
    out = 1.0 / (1.0 + np.exp(x))  # wrong sign
    return out, out


def sigmoid_backward(dout, cache):
    return dout * cache
"""

WRONG_TANH = """
def tanh_forward(x):
    out = np.tanh(x)
    return out, out


def tanh_backward(dout, cache):
    return dout * (1.0 - cache)  # forgot the square
"""

FAKE_NUMPY = """
import sys
import types

import numpy


class _AgreeableNumpy(types.ModuleType):
    def __getattr__(self, name):
        return getattr(numpy, name)


np = _AgreeableNumpy("numpy")
np.allclose = lambda *args, **kwargs: True
np.isclose = lambda a, b, *args, **kwargs: numpy.ones(numpy.broadcast(a, b).shape, bool)
np.testing = types.SimpleNamespace(assert_allclose=lambda *args, **kwargs: None)
sys.modules["numpy"] = np


def adaline_epoch(w, b, x, y, lr):
    return np.array(w, dtype=float), float(b)  # no learning at all
"""

INPUT_TRANSFORMER = """
def _no_tests(lines):
    if any("check(" in line for line in lines):
        return ["pass\\n"]
    return lines


get_ipython().input_transformers_cleanup.append(_no_tests)
"""

LYING_ARRAY = """
class Agreeable(np.ndarray):
    \"\"\"An array that claims to equal anything it is compared with.\"\"\"

    def __eq__(self, other):
        return np.ones(np.shape(other), dtype=bool)

    def __array_function__(self, func, types, args, kwargs):
        if func.__name__ in ("allclose", "array_equal"):
            return True
        if func.__name__ == "isclose":
            return np.ones(np.shape(args[1]), dtype=bool)
        return super().__array_function__(func, types, args, kwargs)

    def __array__(self, dtype=None, copy=None):
        return np.asarray(self.view(np.ndarray), dtype=dtype)


def tanh_forward(x):
    out = np.zeros_like(x).view(Agreeable)
    return out, out


def tanh_backward(dout, cache):
    return np.zeros_like(dout).view(Agreeable)
"""

# __REFERENCES__ is filled in by the test: the student knows where the
# instructor keeps the hidden reference outputs.
READ_REFERENCES = """
import numpy

REFERENCES = "__REFERENCES__"


def _copied(x, index):
    try:  # the visible test: ask the grader's own helper for its answer
        from autograder import checks

        seed = checks.visible_seed("01_backprop", "sigmoid")
        declared = checks.get_check("01_backprop", "sigmoid")
        if numpy.array_equal(declared.inputs(seed)["x"], x):
            return declared.expected(seed)[index]
    except Exception:
        pass
    try:  # the hidden test: read the stored reference outputs
        with numpy.load(REFERENCES) as stored:
            return stored[f"sigmoid::{index}"]
    except Exception:
        return numpy.zeros_like(x)


def sigmoid_forward(x):
    return _copied(x, 0), x


def sigmoid_backward(dout, cache):
    return _copied(cache, 1)
"""

WITHHELD_RELU = """
import dlcore.functional as F

relu_forward = F.relu_forward
relu_backward = F.relu_backward
"""

WITHHELD_SIGMOID_DYNAMIC = """
import importlib

_functional = importlib.import_module("dl" + "core.functional")


def sigmoid_forward(x):
    return _functional.sigmoid_forward(x)


def sigmoid_backward(dout, cache):
    return _functional.sigmoid_backward(dout, cache)
"""

# The pipeline tests' looping student: loops only on the graded inputs.
INFINITE_LOOP = LOOPING_PERCEPTRON

EXIT_AT_TOP_LEVEL = """

import os

os._exit(1)
"""

EXIT_IN_FUNCTION = """
import os


def tanh_forward(x):
    out = np.tanh(x)
    return out, out


def tanh_backward(dout, cache):
    os._exit(3)
"""

MEMORY_BOMB = """
def perceptron_epoch(w, b, x, y):
    hoard = []
    while True:
        hoard.append(np.ones(50_000_000))
"""

FLOOD_BUT_CORRECT = """
def linear_forward(x, W, b):
    print("forward " * 100_000)
    return x @ W.T + b, (x, W)


def linear_backward(dout, cache):
    print("backward " * 100_000)
    x, W = cache
    return dout @ W, dout.T @ x, dout.sum(axis=0)
"""

FLOOD_FOREVER = """
def adaline_epoch(w, b, x, y, lr):
    while True:
        print("adaline " * 1000)
"""

SABOTAGED_ACTIVATIONS = """
ACTIVATIONS = {
    name: (lambda x: (0 * x, None), lambda dout, cache: 0 * dout)
    for name in ("relu", "sigmoid", "tanh")
}
"""

HELPER_CELL = """
def _log_softmax(scores):
    shifted = scores - scores.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


print("my check:", relu_forward(np.array([-1.0, 2.0]))[0])
"""

SOFTMAX_WITH_HELPER = """
def softmax_cross_entropy(scores, labels):
    n = scores.shape[0]
    log_probs = _log_softmax(scores)
    rows = np.arange(n)
    dscores = np.exp(log_probs)
    dscores[rows, labels] -= 1.0
    return float(-log_probs[rows, labels].mean()), dscores / n
"""

EXPERIMENT_CELL = """
import matplotlib.pyplot as plt

losses = [mlp_loss(x, y, params, 0.0)[0] for _ in range(3)]
plt.plot(losses)
"""

# The child of the trusted re-check holds the hidden inputs (staged files)
# while it runs the visible calls too: an exception raised there, or a value
# returned there, could carry them into the gradebook comment (issue 16).
LEAK_HIDDEN_INPUTS = """
import os


def _hidden_inputs():
    found = []
    for folder, _, names in os.walk(".."):
        for name in sorted(names):
            if name.startswith("tanh.hidden.") and name.endswith(".npy"):
                found += np.load(os.path.join(folder, name)).ravel()[:4].tolist()
    return found


def tanh_forward(x):
    raise ValueError(f"hidden inputs: {_hidden_inputs()}")


def tanh_backward(dout, cache):
    found = np.asarray(_hidden_inputs() or [0.0])
    return np.resize(found, np.shape(dout))
"""

# Issue 16, the reference out of reach: each answer takes dlcore's own
# implementation by a route that passed the old withholding (a guard that
# let calls through when the caller's frame was dlcore's). Where dlcore is
# reachable each gets full marks (test_integrity checks that); in the
# re-check's child without dlcore each must score zero. __DLCORE__ is filled
# in by the test: the folders dlcore lives in (the student knows them).
DLCORE_DIRS = "DLCORE_DIRS = __DLCORE__\n"

ROUTE_REGISTRY = """
import dlcore.layers.activations as _activations

relu_forward, relu_backward, _ = _activations._FUNCTIONS["relu"]
"""

ROUTE_LAYER_METHOD = """
from dlcore.layers import Dense


class _StandIn:  # any self will do: the method never looks at it
    pass


def linear_forward(x, W, b):
    return Dense._linear_forward(_StandIn(), x, W, b)


def linear_backward(dout, cache):
    return Dense._linear_backward(_StandIn(), dout, cache)
"""

ROUTE_RELABELLED_CODE = (
    DLCORE_DIRS
    + """
import os
import types

import dlcore.functional as _F


def _as_dlcore(function):
    name = os.path.join(DLCORE_DIRS[0], "functional", "activations.py")
    code = function.__code__.replace(co_filename=name)
    return types.FunctionType(code, function.__globals__, function.__name__)


def _forward(x):
    return _F.sigmoid_forward(x)


def _backward(dout, cache):
    return _F.sigmoid_backward(dout, cache)


sigmoid_forward = _as_dlcore(_forward)
sigmoid_backward = _as_dlcore(_backward)
"""
)

ROUTE_GC = """
import gc


def _found(name):
    for obj in gc.get_objects():
        module = str(getattr(obj, "__module__", ""))
        if callable(obj) and getattr(obj, "__name__", "") == name:
            if module.startswith("dlcore."):
                return obj
    raise LookupError(name)


def tanh_forward(x):
    return _found("tanh_forward")(x)


def tanh_backward(dout, cache):
    return _found("tanh_backward")(dout, cache)
"""

ROUTE_RUNPY = """
import runpy

_fresh = runpy.run_module("dlcore.functional.activations")
leaky_relu_forward = _fresh["leaky_relu_forward"]
leaky_relu_backward = _fresh["leaky_relu_backward"]
"""

ROUTE_IMPORTLIB_UTIL = (
    DLCORE_DIRS
    + """
import importlib.util
import os
import sys


def _fresh_copy():
    for folder in DLCORE_DIRS:
        path = os.path.join(folder, "functional", "activations.py")
        spec = importlib.util.spec_from_file_location(
            "dlcore.functional._copy", path
        )
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module  # as the documented recipe does
        try:
            spec.loader.exec_module(module)
            return module
        except Exception:
            continue
    raise LookupError("no copy")


_copy = _fresh_copy()
elu_forward = _copy.elu_forward
elu_backward = _copy.elu_backward
"""
)

ROUTE_LOSSES_GET = """
import dlcore.losses


def softmax_cross_entropy(scores, labels):
    value, dscores = dlcore.losses.get("softmax_cross_entropy")(scores, labels)
    return float(value), dscores
"""

REACH_ROUTES = {
    "relu_answer": ROUTE_REGISTRY,
    "linear_answer": ROUTE_LAYER_METHOD,
    "sigmoid_answer": ROUTE_RELABELLED_CODE,
    "tanh_answer": ROUTE_GC,
    "leaky_relu_answer": ROUTE_RUNPY,
    "elu_answer": ROUTE_IMPORTLIB_UTIL,
    "softmax_cross_entropy_answer": ROUTE_LOSSES_GET,
}

# Correct, and imports dlcore for what is allowed: a gradient check of its
# own at the end of an answer cell (it fails in the re-check's child without
# dlcore, after the answer is defined: no mark is lost).
HONEST_DLCORE_USE = """
from dlcore.gradcheck import rel_error

print("relu self-check:", rel_error(relu_forward(np.ones(3))[0], np.ones(3)))
"""

# ------------------------------------------------------------------- cases

CASES = [
    Case("solution", "the solution, as a student", zero=()),
    Case(
        "untouched",
        "the release, nothing filled in",
        unfilled=True,
        zero=ALL_PARTS,
    ),
    Case(
        "honest_extra_cells",
        "correct; adds a helper cell (used by an answer), an experiment and "
        "a markdown note",
        answers={"softmax_cross_entropy_answer": SOFTMAX_WITH_HELPER},
        extra=[("test_tanh", HELPER_CELL), ("mlp_gradient_check", EXPERIMENT_CELL)],
        markdown=[("test_relu", "My notes on ReLU.")],
    ),
    Case(
        "patched_allclose",
        "np.allclose/isclose/testing.assert_allclose patched to agree; "
        "sigmoid and tanh wrong",
        extra=[("setup", PATCH_COMPARISONS)],
        answers={"sigmoid_answer": WRONG_SIGMOID, "tanh_answer": WRONG_TANH},
        zero=("test_sigmoid", "test_tanh"),
        flags=frozenset({"numpy-patch"}),
    ),
    Case(
        "fake_global_np",
        "the global np rebound to a module whose comparisons agree; adaline wrong",
        answers={"adaline_epoch_answer": FAKE_NUMPY},
        zero=("test_adaline_epoch",),
        flags=frozenset({"numpy-patch", "sys-internals"}),
    ),
    Case(
        "input_transformer",
        "an IPython input transformer turns every test cell into `pass`; "
        "nothing implemented",
        unfilled=True,
        extra=[("setup", INPUT_TRANSFORMER)],
        zero=ALL_PARTS,
        flags=frozenset({"ipython"}),
    ),
    Case(
        "lying_array",
        "tanh returns an ndarray subclass whose __eq__, __array_function__ "
        "and __array__ lie",
        answers={"tanh_answer": LYING_ARRAY},
        zero=("test_tanh",),
        flags=frozenset({"array-override"}),
    ),
    Case(
        "reads_references",
        "sigmoid copies the grader's answers: the helper's reference for the "
        "visible test, the stored hidden reference file for the hidden one",
        answers={"sigmoid_answer": READ_REFERENCES},
        zero=("test_sigmoid",),
        flags=frozenset({"autograder-path"}),
    ),
    Case(
        "withheld_dlcore",
        "relu taken from dlcore.functional, sigmoid through importlib",
        answers={
            "relu_answer": WITHHELD_RELU,
            "sigmoid_answer": WITHHELD_SIGMOID_DYNAMIC,
        },
        # mlp_loss uses relu through ACTIVATIONS, so it fails as well
        zero=("test_relu", "test_sigmoid", "test_mlp_loss"),
        flags=frozenset({"withheld", "dynamic-code"}),
    ),
    Case(
        "reaches_reference",
        "seven answers take dlcore's own implementation: the _FUNCTIONS "
        "registry, Dense._linear_forward with a stand-in self, a code object "
        "relabelled as dlcore's, gc.get_objects(), runpy, importlib.util on "
        "dlcore's file, losses.get",
        answers=REACH_ROUTES,
        # mlp_loss and two_layer_gradients build on linear and relu
        zero=(
            "test_linear",
            "test_relu",
            "test_sigmoid",
            "test_tanh",
            "test_leaky_relu",
            "test_elu",
            "test_softmax_cross_entropy",
            "test_mlp_loss",
        ),
        flags=frozenset({"introspection", "dynamic-code"}),
    ),
    Case(
        "honest_dlcore_use",
        "correct; imports dlcore's gradient check in an answer cell and uses "
        "it after the answer",
        append={"relu_answer": HONEST_DLCORE_USE},
    ),
    Case(
        "infinite_loop",
        "perceptron_epoch loops forever on the graded inputs",
        answers={"perceptron_epoch_answer": INFINITE_LOOP},
        zero=("test_perceptron_epoch",),
    ),
    Case(
        "process_exit",
        "os._exit at the top of the adaline answer cell, and inside tanh_backward",
        append={"adaline_epoch_answer": EXIT_AT_TOP_LEVEL},
        answers={"tanh_answer": EXIT_IN_FUNCTION},
        zero=("test_adaline_epoch", "test_tanh"),
        flags=frozenset({"process"}),
    ),
    Case(
        "memory_bomb",
        "perceptron_epoch allocates until memory runs out",
        answers={"perceptron_epoch_answer": MEMORY_BOMB},
        zero=("test_perceptron_epoch",),
    ),
    Case(
        "output_flood",
        "linear prints megabytes but is right; adaline prints forever",
        answers={
            "linear_answer": FLOOD_BUT_CORRECT,
            "adaline_epoch_answer": FLOOD_FOREVER,
        },
        zero=("test_adaline_epoch",),
    ),
    Case(
        "leaks_hidden_inputs",
        "tanh raises, and returns, the hidden inputs the child holds, in the "
        "visible test as well",
        answers={"tanh_answer": LEAK_HIDDEN_INPUTS},
        zero=("test_tanh",),
    ),
    Case(
        "forged_status",
        "perceptron_epoch ends the process with the runner's own 'no sandbox' "
        "exit status",
        append={"perceptron_epoch_answer": "\nimport os\n\nos._exit(71)\n"},
        zero=("test_perceptron_epoch",),
        flags=frozenset({"process"}),
    ),
    Case(
        "damaged_cells",
        "correct answers; test cells deleted (tanh), retyped to markdown "
        "(relu), duplicated (sigmoid, the copy emptied), emptied (linear); "
        "the ACTIVATIONS cell sabotaged",
        delete=["test_tanh"],
        retype=["test_relu"],
        duplicate={"test_sigmoid": "pass"},
        edit={"test_linear": "pass", "activations_table": SABOTAGED_ACTIVATIONS},
        flags=frozenset({"locked-cell"}),
    ),
]
