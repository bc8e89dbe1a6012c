"""Graded checks of 06_convolution: output size, conv1d/conv2d and max-pool.

The derivation steps (the 1-D input gradient as a correlation with the
flipped kernel, the weight gradient as a sum over positions, the gradient of
one max) are checked against the transposed Toeplitz matrix and the
definitions, not against dlcore. The inline questions are checks too: the
answer cell assigns a value; an unanswered question (``None``) counts as an
unfilled answer.

Every check runs a few fixed configurations (stride, padding, kernel) on
shapes and values drawn from the check's seed, so the hidden tests exercise
the same settings on other numbers. The backward checks build the cache the
notebook prescribes, ``(x, W, b, stride, padding)`` for the convolutions and
``(x, kernel_size, stride)`` for max-pool, so a backward pass is graded
independently of the student's forward pass.
"""

from __future__ import annotations

import numpy as np

import dlcore.functional as F
from autograder.assignments.mistakes.a06_convolution import MISCONCEPTIONS
from autograder.assignments.references.a06_convolution import (
    _conv_output_size,
    _exact_int,
    _exact_list,
    _input_grad_reference,
    _weight_grad_reference,
    _window_grad_reference,
)
from autograder.checks import Check

# The graded functions exist in dlcore; while grading, a submission may not
# call them (the notebook's demos use NumPy definitions and dlcore layers).
WITHHELD = [
    "dlcore.functional.conv1d_forward",
    "dlcore.functional.conv1d_backward",
    "dlcore.functional.conv2d_forward",
    "dlcore.functional.conv2d_backward",
    "dlcore.functional.maxpool2d_forward",
    "dlcore.functional.maxpool2d_backward",
]

# (stride, padding, kernel width): plain, strided and padded, an even kernel
# with a stride that does not divide the padded length.
CONV_CASES = ((1, 0, 3), (2, 1, 3), (3, 2, 4))
# (kernel_size, stride): non-overlapping (stride = kernel), the lecture's
# overlapping window 3 with stride 2, and stride 1.
POOL_CASES = ((2, None), (3, 2), (2, 1))


def _label(i: int, what: str) -> str:
    stride, padding, kernel = CONV_CASES[i]
    return f"{what} (stride={stride}, padding={padding}, kernel width {kernel})"


def _out_size(n: int, k: int, stride: int, padding: int) -> int:
    return (n + 2 * padding - k) // stride + 1


def _forward_output(result, name: str):
    """The ``out`` of a ``(out, cache)`` pair, refusing anything else."""
    if not (isinstance(result, tuple) and len(result) == 2):
        raise TypeError(
            f"{name} must return a pair (out, cache), got "
            f"{type(result).__name__}"
            + (f" of length {len(result)}" if isinstance(result, tuple) else "")
        )
    return result[0]


# ----------------------------------------------------------- output size

# Fixed cases: the notebook's examples, a stride that does not divide, and
# the impossible settings (each must raise ValueError).
_SIZE_CASES = (
    (7, 3, 1, 0),
    (7, 3, 2, 0),
    (7, 3, 1, 1),
    (8, 3, 2, 0),
    (20, 5, 3, 1),  # 17 / 3 = 5.67: floor, not round
    (9, 2, 4, 0),  # 7 / 4 = 1.75
    (5, 5, 1, 0),  # exactly one window
    (32, 5, 1, 2),  # "same"
    (64, 5, 1, 0),
    (3, 5, 1, 0),  # kernel wider than the input: impossible
    (3, 7, 1, 1),  # still wider than the padded input
    (0, 3, 1, 1),  # empty input
    (7, 0, 1, 0),  # empty kernel
    (7, 3, 0, 0),  # stride 0
    (7, 3, -1, 0),  # negative stride
    (7, 3, 1, -1),  # negative padding
)
_RAISED = -1  # a ValueError, in the result table
_NOT_INT = -2  # a value that is not an integer


def _size_inputs(rng):
    random_cases = []
    for _ in range(6):
        n = int(rng.integers(1, 40))
        k = int(rng.integers(1, 9))
        stride = int(rng.integers(1, 5))
        padding = int(rng.integers(0, 4))
        random_cases.append((n, k, stride, padding))
    return {"cases": np.array(_SIZE_CASES + tuple(random_cases), dtype=np.int64)}


def _size_table(fn, cases):
    rows = []
    for n, k, stride, padding in cases.tolist():
        try:
            value = fn(n, k, stride=stride, padding=padding)
        except ValueError:
            value = _RAISED
        else:
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
                value = _NOT_INT
        rows.append((n, k, stride, padding, int(value)))
    return np.array(rows, dtype=np.int64)


def _describe(value: int) -> str:
    if value == _RAISED:
        return "a ValueError"
    if value == _NOT_INT:
        return "a value that is not an int"
    return str(value)


def _compare_sizes(expected, received):
    expected = np.asarray(expected)
    received = np.asarray(received)
    for want, got in zip(expected, received, strict=True):
        if want[4] != got[4]:
            n, k, stride, padding = (int(v) for v in want[:4])
            why = ""
            if want[4] == _RAISED:
                why = " (this setting is impossible)"
            return (
                f"conv_output_size({n}, {k}, stride={stride}, padding={padding}): "
                f"expected {_describe(int(want[4]))}{why}, received "
                f"{_describe(int(got[4]))}"
            )
    return None


def _reference_sizes(cases):
    return _size_table(_conv_output_size, cases)


# ------------------------------------------------- 1-D derivation steps


def _grad_1d_inputs(rng):
    k = int(rng.integers(2, 6))
    n = int(rng.integers(k + 1, k + 9))
    return {
        "g": rng.standard_normal(n - k + 1),
        "w": rng.standard_normal(k),
        "x": rng.standard_normal(n),
    }


def _window_inputs(rng):
    windows = [rng.standard_normal((3, 3)), rng.standard_normal((2, 4))]
    tied = rng.integers(0, 3, size=(3, 3)).astype(np.float64)
    tied.flat[[2, 7]] = tied.max() + 1  # two maxima: the first gets it
    return {"windows": windows + [tied]}


# ------------------------------------------------------ inline questions


def _answer(value, question):
    """The student's answer, or NotImplementedError while it is unanswered."""
    if value is None:
        raise NotImplementedError(f"answer {question} above")
    return value


# ------------------------------------------------------------ convolutions


def _conv_inputs(rng, spatial: int):
    """Inputs of every case: x, W, b and an upstream gradient dout."""
    inputs = {}
    for i, (stride, padding, k) in enumerate(CONV_CASES):
        n, c, f = (int(v) for v in rng.integers(1, 4, size=3))
        sizes = [int(rng.integers(k, k + 7)) for _ in range(spatial)]
        out_sizes = [_out_size(s, k, stride, padding) for s in sizes]
        inputs[f"x{i}"] = rng.standard_normal((n, c, *sizes))
        inputs[f"W{i}"] = rng.standard_normal((f, c, *([k] * spatial)))
        inputs[f"b{i}"] = rng.standard_normal(f)
        inputs[f"dout{i}"] = rng.standard_normal((n, f, *out_sizes))
    return inputs


def _conv_forward_call(name):
    def call(fn, **inputs):
        return tuple(
            _forward_output(
                fn(
                    inputs[f"x{i}"],
                    inputs[f"W{i}"],
                    inputs[f"b{i}"],
                    stride=stride,
                    padding=padding,
                ),
                name,
            )
            for i, (stride, padding, _) in enumerate(CONV_CASES)
        )

    return call


def _conv_forward_reference(forward):
    def reference(**inputs):
        return tuple(
            forward(
                inputs[f"x{i}"],
                inputs[f"W{i}"],
                inputs[f"b{i}"],
                stride=stride,
                padding=padding,
            )[0]
            for i, (stride, padding, _) in enumerate(CONV_CASES)
        )

    return reference


def _conv_backward_call(name):
    def call(fn, **inputs):
        grads = []
        for i, (stride, padding, _) in enumerate(CONV_CASES):
            cache = (inputs[f"x{i}"], inputs[f"W{i}"], inputs[f"b{i}"], stride, padding)
            result = fn(inputs[f"dout{i}"], cache)
            if not (isinstance(result, tuple) and len(result) == 3):
                raise TypeError(
                    f"{name} must return a tuple (dx, dW, db), got "
                    f"{type(result).__name__}"
                )
            grads.extend(result)
        return tuple(grads)

    return call


def _conv_backward_reference(forward, backward):
    def reference(**inputs):
        grads = []
        for i, (stride, padding, _) in enumerate(CONV_CASES):
            _, cache = forward(
                inputs[f"x{i}"],
                inputs[f"W{i}"],
                inputs[f"b{i}"],
                stride=stride,
                padding=padding,
            )
            grads.extend(backward(inputs[f"dout{i}"], cache))
        return tuple(grads)

    return reference


_FORWARD_NAMES = tuple(_label(i, "out") for i in range(len(CONV_CASES)))
_BACKWARD_NAMES = tuple(
    _label(i, what) for i in range(len(CONV_CASES)) for what in ("dx", "dW", "db")
)

# ----------------------------------------------------------------- pooling


def _pool_inputs(rng):
    inputs = {}
    for i, (k, stride) in enumerate(POOL_CASES):
        s = k if stride is None else stride
        n, c = (int(v) for v in rng.integers(1, 4, size=2))
        height, width = (int(v) for v in rng.integers(k, k + 7, size=2))
        if i == 1:
            # Small integers: ties inside windows, where the first arg-max
            # (row-major) must receive the gradient.
            x = rng.integers(0, 3, size=(n, c, height, width)).astype(np.float64)
        else:
            x = rng.standard_normal((n, c, height, width))
        inputs[f"x{i}"] = x
        inputs[f"dout{i}"] = rng.standard_normal(
            (n, c, (height - k) // s + 1, (width - k) // s + 1)
        )
    return inputs


def _pool_label(i: int, what: str) -> str:
    k, stride = POOL_CASES[i]
    return f"{what} (kernel_size={k}, stride={stride})"


def _pool_forward_call(fn, **inputs):
    return tuple(
        _forward_output(fn(inputs[f"x{i}"], k, stride), "maxpool2d_forward")
        for i, (k, stride) in enumerate(POOL_CASES)
    )


def _pool_forward_reference(**inputs):
    return tuple(
        F.maxpool2d_forward(inputs[f"x{i}"], k, stride)[0]
        for i, (k, stride) in enumerate(POOL_CASES)
    )


def _pool_backward_call(fn, **inputs):
    return tuple(
        fn(inputs[f"dout{i}"], (inputs[f"x{i}"], k, k if stride is None else stride))
        for i, (k, stride) in enumerate(POOL_CASES)
    )


def _pool_backward_reference(**inputs):
    return tuple(
        F.maxpool2d_backward(
            inputs[f"dout{i}"], F.maxpool2d_forward(inputs[f"x{i}"], k, stride)[1]
        )
        for i, (k, stride) in enumerate(POOL_CASES)
    )


CHECKS = [
    Check(
        name="conv_output_size",
        points=1,
        make_inputs=_size_inputs,
        call=lambda fn, cases: _size_table(fn, cases),
        reference=_reference_sizes,
        compare=_compare_sizes,
        hint=(
            "Count the window positions along the padded input (padding on both "
            "ends): a window that does not fit whole is not visited. Raise "
            "ValueError (not return 0 or a negative number) for every impossible "
            "setting."
        ),
        misconceptions=MISCONCEPTIONS["conv_output_size"],
    ),
    Check(
        name="q_output_size",
        points=1,
        make_inputs=lambda rng: {},
        call=lambda value: _answer(value, "q_output_size"),
        compare=_exact_int(15),
        hint="Walk along the padded input: each window but the last uses up S "
        "positions, the last one F; positions that do not fit a whole window are "
        "not visited.",
        misconceptions=MISCONCEPTIONS["q_output_size"],
    ),
    Check(
        name="conv1d_forward",
        points=2,
        make_inputs=lambda rng: _conv_inputs(rng, 1),
        call=_conv_forward_call("conv1d_forward"),
        reference=_conv_forward_reference(F.conv1d_forward),
        outputs=_FORWARD_NAMES,
        hint=(
            "Pad first, then place the windows on the padded signal, stride apart; "
            "each output sums over channels and taps, plus the filter's bias. The "
            "layer is a cross-correlation."
        ),
        misconceptions=MISCONCEPTIONS["conv1d_forward"],
    ),
    Check(
        name="conv1d_input_grad",
        points=2,
        make_inputs=_grad_1d_inputs,
        call=lambda fn, g, w, x: fn(g, w),
        reference=_input_grad_reference,
        hint="Each input collects the gradient of every window that covers it, "
        "weighted by the tap it met. Pad g at both ends and slide the kernel over "
        "it: in which order do the taps of w meet the entries of g?",
        misconceptions=MISCONCEPTIONS["conv1d_input_grad"],
    ),
    Check(
        name="conv1d_weight_grad",
        points=1,
        make_inputs=_grad_1d_inputs,
        call=lambda fn, g, w, x: fn(g, x, len(w)),
        reference=_weight_grad_reference,
        hint="Each tap multiplied one input in every output: its gradient adds up "
        "the upstream gradient times that input over all the outputs.",
        misconceptions=MISCONCEPTIONS["conv1d_weight_grad"],
    ),
    Check(
        name="conv1d_backward",
        points=3,
        make_inputs=lambda rng: _conv_inputs(rng, 1),
        call=_conv_backward_call("conv1d_backward"),
        reference=_conv_backward_reference(F.conv1d_forward, F.conv1d_backward),
        outputs=_BACKWARD_NAMES,
        hint=(
            "A shared weight collects the contributions of every position and "
            "example where it was used; an input collects the share of every "
            "window that covers it (work on the padded input, then remove the "
            "padding); the bias was used at every output."
        ),
        misconceptions=MISCONCEPTIONS["conv1d_backward"],
    ),
    Check(
        name="conv2d_forward",
        points=2,
        make_inputs=lambda rng: _conv_inputs(rng, 2),
        call=_conv_forward_call("conv2d_forward"),
        reference=_conv_forward_reference(F.conv2d_forward),
        outputs=_FORWARD_NAMES,
        hint=(
            "As in 1-D, on both spatial axes: pad both, place the windows stride "
            "apart along rows and along columns, and count only windows that fit "
            "whole. Cross-correlation: the kernel is used as it is."
        ),
        misconceptions=MISCONCEPTIONS["conv2d_forward"],
    ),
    Check(
        name="conv2d_backward",
        points=3,
        make_inputs=lambda rng: _conv_inputs(rng, 2),
        call=_conv_backward_call("conv2d_backward"),
        reference=_conv_backward_reference(F.conv2d_forward, F.conv2d_backward),
        outputs=_BACKWARD_NAMES,
        hint=(
            "Loop over the output positions: each one adds to dW (its upstream "
            "gradient against its window, summed over the examples) and to the "
            "window's part of the padded dx (against W, summed over the "
            "filters). Remove the padding from dx at the end."
        ),
        misconceptions=MISCONCEPTIONS["conv2d_backward"],
    ),
    Check(
        name="maxpool_window_grad",
        points=1,
        make_inputs=_window_inputs,
        call=lambda fn, windows: tuple(fn(w) for w in windows),
        reference=_window_grad_reference,
        outputs=("window 3x3", "window 2x4", "window with a tie"),
        hint="Only one entry decides the maximum: the gradient goes to it alone. "
        "On ties the convention is the first maximum in row-major order.",
        misconceptions=MISCONCEPTIONS["maxpool_window_grad"],
    ),
    Check(
        name="q_pool_overlap",
        points=1,
        make_inputs=lambda rng: {},
        call=lambda value: _answer(value, "q_pool_overlap"),
        compare=_exact_list([0, 1, 0, 2, 0]),
        hint="List the three windows, find the arg-max of each, and add up the "
        "gradients each input receives.",
        misconceptions=MISCONCEPTIONS["q_pool_overlap"],
    ),
    Check(
        name="maxpool2d_forward",
        points=1,
        make_inputs=_pool_inputs,
        call=_pool_forward_call,
        reference=_pool_forward_reference,
        outputs=tuple(_pool_label(i, "out") for i in range(len(POOL_CASES))),
        hint=(
            "stride=None means windows that tile the input without overlap; no "
            "padding; count only the windows that fit whole. Windows overlap when "
            "the stride is smaller than the kernel."
        ),
        misconceptions=MISCONCEPTIONS["maxpool2d_forward"],
    ),
    Check(
        name="maxpool2d_backward",
        points=2,
        make_inputs=_pool_inputs,
        call=_pool_backward_call,
        reference=_pool_backward_reference,
        outputs=tuple(_pool_label(i, "dx") for i in range(len(POOL_CASES))),
        hint=(
            "Each upstream gradient goes entirely to the maximum of its window (on "
            "ties, the first one in row-major order); with overlapping windows an "
            "input can collect several gradients."
        ),
        misconceptions=MISCONCEPTIONS["maxpool2d_backward"],
    ),
]
