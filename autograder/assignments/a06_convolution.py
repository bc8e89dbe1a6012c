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
from autograder.declarations import Check, Misconception

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


def _conv_output_size(n, kernel_size, stride=1, padding=0):
    if min(n, kernel_size, stride) < 1 or padding < 0:
        raise ValueError("impossible setting")
    if kernel_size > n + 2 * padding:
        raise ValueError("no window fits")
    return (n + 2 * padding - kernel_size) // stride + 1


def _reference_sizes(cases):
    return _size_table(_conv_output_size, cases)


# ------------------------------------------------- 1-D derivation steps


def _toeplitz(w, n):
    """The (n - F + 1, n) matrix of a valid 1-D correlation with w."""
    T = np.zeros((n - len(w) + 1, n))
    for i in range(n - len(w) + 1):
        T[i, i : i + len(w)] = w
    return T


def _grad_1d_inputs(rng):
    k = int(rng.integers(2, 6))
    n = int(rng.integers(k + 1, k + 9))
    return {
        "g": rng.standard_normal(n - k + 1),
        "w": rng.standard_normal(k),
        "x": rng.standard_normal(n),
    }


def _input_grad_reference(g, w, x):
    return _toeplitz(w, len(x)).T @ g


def _weight_grad_reference(g, w, x):
    return np.array([g @ x[k : k + len(g)] for k in range(len(w))])


def _window_inputs(rng):
    windows = [rng.standard_normal((3, 3)), rng.standard_normal((2, 4))]
    tied = rng.integers(0, 3, size=(3, 3)).astype(np.float64)
    tied.flat[[2, 7]] = tied.max() + 1  # two maxima: the first gets it
    return {"windows": windows + [tied]}


def _window_grad_reference(windows):
    grads = []
    for window in windows:
        grad = np.zeros_like(window)
        grad.flat[np.argmax(window)] = 1.0
        grads.append(grad)
    return tuple(grads)


# ------------------------------------------------------ inline questions


def _answer(value, question):
    """The student's answer, or NotImplementedError while it is unanswered."""
    if value is None:
        raise NotImplementedError(f"answer {question} above")
    return value


def _exact_int(correct):
    def compare(expected, received):
        if isinstance(received, bool) or not isinstance(received, (int, np.integer)):
            return f"expected an int, received {received!r}"
        return None if received == correct else f"{received} is not the right value"

    return compare


def _exact_list(correct):
    def compare(expected, received):
        try:
            values = [float(v) for v in received]
        except (TypeError, ValueError):
            return f"expected a list of numbers, received {received!r}"
        if values == [float(v) for v in correct]:
            return None
        return f"{received!r} is not the right gradient"

    return compare


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


# ------------------------------------------------------- misconceptions
#
# Wrong answers written as a student would write them; each check names the
# one a failing result matches.


def _size_rule(rounding=np.floor, padding_sides=2, checks=True):
    def conv_output_size(n, kernel_size, stride=1, padding=0):
        if checks and (min(n, kernel_size, stride) < 1 or padding < 0):
            raise ValueError("impossible setting")
        if checks and kernel_size > n + 2 * padding:
            raise ValueError("no window fits")
        span = n + padding_sides * padding - kernel_size
        return int(rounding(span / stride)) + 1 if stride else 0

    return conv_output_size


def _conv_windows(x, W, stride, padding):
    """Padded input, output spatial sizes and the window slices of each output."""
    spatial = x.ndim - 2
    pad = ((0, 0), (0, 0)) + ((padding, padding),) * spatial
    x_pad = np.pad(x, pad)
    kernel = W.shape[2:]
    sizes = [
        (n - k) // stride + 1 for n, k in zip(x_pad.shape[2:], kernel, strict=True)
    ]
    positions = np.ndindex(*sizes)
    return (
        x_pad,
        sizes,
        [
            (
                at,
                tuple(
                    slice(i * stride, i * stride + k)
                    for i, k in zip(at, kernel, strict=True)
                ),
            )
            for at in positions
        ],
    )


def _conv(flip=False, swap_axes=False, use_padding=True, use_stride=True, bias=True):
    def conv_forward(x, W, b, stride=1, padding=0):
        kernel = W[..., ::-1] if flip and W.ndim == 3 else W
        if flip and W.ndim == 4:
            kernel = W[..., ::-1, ::-1]
        if swap_axes:
            kernel = np.swapaxes(W, 2, 3)
        step = stride if use_stride else 1
        x_pad, sizes, windows = _conv_windows(x, W, step, padding if use_padding else 0)
        out = np.empty((x.shape[0], W.shape[0], *sizes))
        axes = list(range(1, W.ndim))
        for at, window in windows:
            value = np.tensordot(
                x_pad[(slice(None), slice(None), *window)], kernel, (axes, axes)
            )
            out[(slice(None), slice(None), *at)] = value + (b if bias else 0.0)
        return out, (x, W, b, stride, padding)

    return conv_forward


def _conv_backward(average_dW=False, overwrite_dx=False, average_db=False):
    def conv_backward(dout, cache):
        x, W, b, stride, padding = cache
        x_pad, _, windows = _conv_windows(x, W, stride, padding)
        dx_pad, dW = np.zeros_like(x_pad), np.zeros_like(W)
        spatial_axes = tuple(range(2, dout.ndim))
        for at, window in windows:
            g = dout[(slice(None), slice(None), *at)]
            region = (slice(None), slice(None), *window)
            dW += np.tensordot(g, x_pad[region], axes=([0], [0]))
            share = np.tensordot(g, W, axes=([1], [0]))
            if overwrite_dx:
                dx_pad[region] = share
            else:
                dx_pad[region] += share
        uses = dout.shape[0] * int(np.prod(dout.shape[2:]))
        crop = tuple(slice(padding, padding + n) for n in x.shape[2:])
        dx = dx_pad[(slice(None), slice(None), *crop)]
        db = dout.sum(axis=(0, *spatial_axes))
        return dx, dW / uses if average_dW else dW, db / uses if average_db else db

    return conv_backward


def _input_grad_not_flipped(g, w):
    return np.correlate(np.pad(g, len(w) - 1), w, mode="valid")


def _weight_grad_flipped(g, x, F):
    return np.convolve(x, g, mode="valid")


def _window_grad(ties="first"):
    def maxpool_window_grad(window):
        if ties == "all":
            return (window == window.max()).astype(float)
        grad = np.zeros_like(window)
        last = window.size - 1 - np.argmax(window.ravel()[::-1])
        grad.flat[last] = 1.0
        return grad

    return maxpool_window_grad


def _pool(reduce=np.max, default_stride="kernel"):
    def maxpool2d_forward(x, kernel_size, stride=None):
        if stride is None:
            stride = kernel_size if default_stride == "kernel" else 1
        k = kernel_size
        H_out = (x.shape[2] - k) // stride + 1
        W_out = (x.shape[3] - k) // stride + 1
        out = np.empty((*x.shape[:2], H_out, W_out))
        for i in range(H_out):
            for j in range(W_out):
                window = x[
                    :, :, i * stride : i * stride + k, j * stride : j * stride + k
                ]
                out[:, :, i, j] = reduce(window, axis=(2, 3))
        return out, (x, kernel_size, stride)

    return maxpool2d_forward


def _pool_backward(route="first", accumulate=True):
    def maxpool2d_backward(dout, cache):
        x, k, stride = cache
        dx = np.zeros_like(x)
        for i in range(dout.shape[2]):
            for j in range(dout.shape[3]):
                rows = slice(i * stride, i * stride + k)
                cols = slice(j * stride, j * stride + k)
                window = x[:, :, rows, cols]
                g = dout[:, :, i, j][:, :, None, None]
                if route == "all":
                    top = window.max(axis=(2, 3), keepdims=True)
                    share = g * (window == top)
                else:
                    flat = window.reshape(*window.shape[:2], k * k)
                    share = np.zeros_like(flat)
                    np.put_along_axis(
                        share, flat.argmax(axis=2)[..., None], 1.0, axis=2
                    )
                    share = g * share.reshape(window.shape)
                if accumulate:
                    dx[:, :, rows, cols] += share
                else:
                    dx[:, :, rows, cols] = np.where(
                        share != 0, share, dx[:, :, rows, cols]
                    )
        return dx

    return maxpool2d_backward


def _sizes_of(rule):
    def variant(cases):
        return _size_table(rule, cases)

    return variant


_FLIPPED = (
    "your output is a convolution with the kernel flipped; the layer computes "
    "a cross-correlation: the kernel slides over the input as it is."
)
_DW_AVERAGED = (
    "your dW is too small by the number of places the kernel was used: did "
    "you average? A shared weight's gradient is the sum over every use."
)
_DX_OVERWRITTEN = (
    "your dx keeps only one window's share where windows overlap: an input "
    "used by several windows collects all their contributions."
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
        misconceptions=(
            Misconception(
                "rounded_not_floored",
                "you round the number of strides; a last window that does not fit "
                "whole is not visited, so it is rounded down.",
                variant=_sizes_of(_size_rule(rounding=np.round)),
            ),
            Misconception(
                "padding_on_one_side",
                "your size adds the padding once; it is added at both ends.",
                variant=_sizes_of(_size_rule(padding_sides=1)),
            ),
            Misconception(
                "impossible_settings_accepted",
                "your function returns a size for settings where no window fits or "
                "the arguments make no sense; it raises ValueError there.",
                variant=_sizes_of(_size_rule(checks=False)),
            ),
        ),
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
        misconceptions=(
            Misconception(
                "rounded_up",
                "your count includes a last window that does not fit whole.",
                variant=lambda: 16,
            ),
        ),
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
        misconceptions=(
            Misconception("kernel_flipped", _FLIPPED, answer=_conv(flip=True)),
            Misconception(
                "padding_ignored",
                "your output has the size of the unpadded input: the padding is "
                "not applied.",
                answer=_conv(use_padding=False),
            ),
            Misconception(
                "stride_ignored",
                "your windows are one step apart whatever the stride.",
                answer=_conv(use_stride=False),
            ),
            Misconception(
                "bias_missing",
                "your outputs leave out the filters' biases.",
                answer=_conv(bias=False),
            ),
        ),
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
        misconceptions=(
            Misconception(
                "kernel_not_flipped",
                "your taps meet g in the forward order; going backward they meet it "
                "in the reverse order (a full correlation with the flipped kernel).",
                answer=_input_grad_not_flipped,
            ),
        ),
    ),
    Check(
        name="conv1d_weight_grad",
        points=1,
        make_inputs=_grad_1d_inputs,
        call=lambda fn, g, w, x: fn(g, x, len(w)),
        reference=_weight_grad_reference,
        hint="Each tap multiplied one input in every output: its gradient adds up "
        "the upstream gradient times that input over all the outputs.",
        misconceptions=(
            Misconception(
                "flipped",
                "your weight gradient is in the reverse tap order: you convolved "
                "where the forward pass correlated.",
                answer=_weight_grad_flipped,
            ),
        ),
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
        misconceptions=(
            Misconception("dW_averaged", _DW_AVERAGED, answer=_conv_backward(True)),
            Misconception(
                "dx_overwritten",
                _DX_OVERWRITTEN,
                answer=_conv_backward(overwrite_dx=True),
            ),
            Misconception(
                "db_averaged",
                "your db is an average; the bias was used at every output of its "
                "filter, so its gradient is the sum.",
                answer=_conv_backward(average_db=True),
            ),
        ),
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
        misconceptions=(
            Misconception("kernel_flipped", _FLIPPED, answer=_conv(flip=True)),
            Misconception(
                "kernel_axes_swapped",
                "your kernel's two spatial axes are swapped: W[f, c, u, v] meets "
                "the input u rows down and v columns across.",
                answer=_conv(swap_axes=True),
            ),
            Misconception(
                "padding_ignored",
                "your output has the size of the unpadded input: the padding is "
                "not applied.",
                answer=_conv(use_padding=False),
            ),
            Misconception(
                "bias_missing",
                "your outputs leave out the filters' biases.",
                answer=_conv(bias=False),
            ),
        ),
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
        misconceptions=(
            Misconception("dW_averaged", _DW_AVERAGED, answer=_conv_backward(True)),
            Misconception(
                "dx_overwritten",
                _DX_OVERWRITTEN,
                answer=_conv_backward(overwrite_dx=True),
            ),
            Misconception(
                "db_averaged",
                "your db is an average; the bias was used at every output of its "
                "filter, so its gradient is the sum.",
                answer=_conv_backward(average_db=True),
            ),
        ),
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
        misconceptions=(
            Misconception(
                "every_tied_maximum",
                "on a tie your gradient goes to every maximum; the convention "
                "routes it to the first one only (row-major), so the gradient "
                "still sums to 1.",
                answer=_window_grad(ties="all"),
            ),
            Misconception(
                "last_tied_maximum",
                "on a tie your gradient goes to the last maximum; the convention "
                "is the first one in row-major order.",
                answer=_window_grad(ties="last"),
            ),
        ),
    ),
    Check(
        name="q_pool_overlap",
        points=1,
        make_inputs=lambda rng: {},
        call=lambda value: _answer(value, "q_pool_overlap"),
        compare=_exact_list([0, 1, 0, 2, 0]),
        hint="List the three windows, find the arg-max of each, and add up the "
        "gradients each input receives.",
        misconceptions=(
            Misconception(
                "overlap_not_added",
                "an input that is the maximum of two windows receives both "
                "windows' gradients.",
                variant=lambda: [0, 1, 0, 1, 0],
            ),
        ),
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
        misconceptions=(
            Misconception(
                "default_stride_one",
                "with stride=None your windows move one step at a time; by "
                "default they tile the input (stride = kernel_size).",
                answer=_pool(default_stride="one"),
            ),
            Misconception(
                "average_pooling",
                "your windows are averaged; max-pooling keeps each window's "
                "largest entry.",
                answer=_pool(reduce=np.mean),
            ),
        ),
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
        misconceptions=(
            Misconception(
                "every_tied_maximum",
                "on ties your gradient goes to every maximum of the window; the "
                "convention routes it to the first one (row-major) only.",
                answer=_pool_backward(route="all"),
            ),
            Misconception(
                "overlap_overwritten",
                "where windows overlap an input keeps one window's gradient; it "
                "collects the gradient of every window whose maximum it is.",
                answer=_pool_backward(accumulate=False),
            ),
        ),
    ),
]
