"""Tests of dlcore.functional's 1-D and 2-D convolution.

Gradients go through dlcore.gradcheck.check_gradients (centred differences,
relative error < 1e-7 in float64); values are checked against the lectures'
worked examples, against a naive loop reference and against PyTorch where
it is installed.
"""

import numpy as np
import pytest

from dlcore.functional import (
    conv1d_backward,
    conv1d_forward,
    conv2d_backward,
    conv2d_forward,
)
from dlcore.functional.conv import conv_output_size
from dlcore.gradcheck import check_gradients


def naive_conv2d(x, W, b, stride, padding):
    """Cross-correlation straight from the definition (seven loops)."""
    (sh, sw), (ph, pw) = stride, padding
    N, C, H, Wd = x.shape
    F, _, KH, KW = W.shape
    xp = np.zeros((N, C, H + 2 * ph, Wd + 2 * pw))
    xp[:, :, ph : ph + H, pw : pw + Wd] = x
    OH = (H + 2 * ph - KH) // sh + 1
    OW = (Wd + 2 * pw - KW) // sw + 1
    out = np.zeros((N, F, OH, OW))
    for n in range(N):
        for f in range(F):
            for i in range(OH):
                for j in range(OW):
                    window = xp[n, :, i * sh : i * sh + KH, j * sw : j * sw + KW]
                    out[n, f, i, j] = np.sum(window * W[f]) + b[f]
    return out


# (N, C, H, W), (F, KH, KW), stride, padding: odd sizes, strides > 1,
# non-square kernels, asymmetric pairs, every padding mode, padding > K - 1.
CONV2D_CASES = [
    ((2, 3, 7, 6), (4, 3, 3), 1, 1),
    ((2, 3, 7, 6), (4, 3, 3), 1, "same"),
    ((2, 2, 5, 7), (3, 3, 3), 1, "valid"),
    ((2, 2, 4, 5), (3, 3, 2), 1, "full"),
    ((2, 3, 9, 7), (2, 3, 2), 2, 0),
    ((1, 2, 9, 8), (3, 2, 3), (2, 1), (1, 0)),
    ((3, 1, 8, 9), (2, 5, 3), (3, 2), (2, 1)),
    ((2, 2, 5, 5), (5, 1, 1), 1, 0),
    ((2, 2, 4, 4), (3, 2, 3), 1, (3, 2)),
    ((2, 2, 6, 5), (3, 3, 3), 2, "valid"),
]

CONV1D_CASES = [
    ((2, 3, 11), (4, 3), 1, 1),
    ((2, 3, 10), (4, 5), 1, "same"),
    ((2, 2, 9), (3, 4), 1, "valid"),
    ((2, 2, 6), (3, 3), 1, "full"),
    ((3, 2, 13), (2, 3), 2, 0),
    ((2, 1, 12), (3, 4), 3, 2),
    ((2, 2, 5), (2, 2), 1, 4),
]


def _pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


def _case_id(case):
    return "-".join(str(part).replace(" ", "") for part in case)


# ---------------------------------------------------------------- gradients


@pytest.mark.parametrize("case", CONV2D_CASES, ids=_case_id)
def test_conv2d_gradients(rng, case):
    x_shape, (F, KH, KW), stride, padding = case
    inputs = {
        "x": rng.standard_normal(x_shape),
        "W": rng.standard_normal((F, x_shape[1], KH, KW)),
        "b": rng.standard_normal(F),
    }
    errors = check_gradients(
        conv2d_forward,
        conv2d_backward,
        inputs,
        kwargs={"stride": stride, "padding": padding},
    )
    assert max(errors.values()) < 1e-7


@pytest.mark.parametrize("case", CONV1D_CASES, ids=_case_id)
def test_conv1d_gradients(rng, case):
    x_shape, (F, K), stride, padding = case
    inputs = {
        "x": rng.standard_normal(x_shape),
        "W": rng.standard_normal((F, x_shape[1], K)),
        "b": rng.standard_normal(F),
    }
    errors = check_gradients(
        conv1d_forward,
        conv1d_backward,
        inputs,
        kwargs={"stride": stride, "padding": padding},
    )
    assert max(errors.values()) < 1e-7


def test_gradient_check_catches_a_wrong_dW(rng):
    """The gradient test can fail: a backward that forgets one image's share."""

    def broken_backward(dout, cache):
        dx, dW, db = conv2d_backward(dout, cache)
        dout_first = np.zeros_like(dout)
        dout_first[:1] = dout[:1]
        return dx, conv2d_backward(dout_first, cache)[1], db

    inputs = {
        "x": rng.standard_normal((2, 2, 5, 5)),
        "W": rng.standard_normal((3, 2, 3, 3)),
        "b": rng.standard_normal(3),
    }
    with pytest.raises(AssertionError, match="gradient of W"):
        check_gradients(conv2d_forward, broken_backward, inputs, verbose=False)


# ---------------------------------------------------------- forward values


@pytest.mark.parametrize("case", CONV2D_CASES, ids=_case_id)
def test_conv2d_matches_naive_loops(rng, case):
    x_shape, (F, KH, KW), stride, padding = case
    x = rng.standard_normal(x_shape)
    W = rng.standard_normal((F, x_shape[1], KH, KW))
    b = rng.standard_normal(F)
    out, _ = conv2d_forward(x, W, b, stride=stride, padding=padding)
    if isinstance(padding, str):
        named = {"valid": (0, 0), "same": ((KH - 1) // 2, (KW - 1) // 2)}
        pad = named.get(padding, (KH - 1, KW - 1))
    else:
        pad = _pair(padding)
    expected = naive_conv2d(x, W, b, _pair(stride), pad)
    np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-12)


def test_lecture_5x5_binary_image_example():
    """Lecture 001: the 5x5 image, the 3x3 'x1 x0 x1' kernel, output 4 3 4 / ..."""
    image = np.array(
        [
            [1, 1, 1, 0, 0],
            [0, 1, 1, 1, 0],
            [0, 0, 1, 1, 1],
            [0, 0, 1, 1, 0],
            [0, 1, 1, 0, 0],
        ],
        dtype=float,
    )
    kernel = np.array([[1, 0, 1], [0, 1, 0], [1, 0, 1]], dtype=float)
    out, _ = conv2d_forward(image[None, None], kernel[None, None], np.zeros(1))
    expected = np.array([[4, 3, 4], [2, 4, 3], [2, 3, 4]], dtype=float)
    np.testing.assert_array_equal(out[0, 0], expected)


MAGIC = np.array(
    [
        [17, 24, 1, 8, 15],
        [23, 5, 7, 14, 16],
        [4, 6, 13, 20, 22],
        [10, 12, 19, 21, 3],
        [11, 18, 25, 2, 9],
    ],
    dtype=float,
)
MAGIC_KERNEL = np.array([[1, 3, 1], [0, 5, 0], [2, 1, 2]], dtype=float)
# Lecture 003's table: the full convolution of the magic square with the kernel.
MAGIC_FULL = np.array(
    [
        [17, 75, 90, 35, 40, 53, 15],
        [23, 159, 165, 45, 105, 137, 16],
        [38, 198, 120, 165, 205, 197, 52],
        [56, 95, 160, 200, 245, 184, 35],
        [19, 117, 190, 255, 235, 106, 53],
        [20, 89, 160, 210, 75, 90, 6],
        [22, 47, 90, 65, 70, 13, 18],
    ],
    dtype=float,
)


@pytest.mark.parametrize(
    "padding, expected",
    [
        ("full", MAGIC_FULL),
        ("same", MAGIC_FULL[1:-1, 1:-1]),
        ("valid", MAGIC_FULL[2:-2, 2:-2]),
    ],
)
def test_lecture_magic_square_table(padding, expected):
    """Lecture 003: true convolution = cross-correlation with the flipped kernel."""
    flipped = MAGIC_KERNEL[::-1, ::-1]
    out, _ = conv2d_forward(
        MAGIC[None, None], flipped[None, None], np.zeros(1), padding=padding
    )
    np.testing.assert_array_equal(out[0, 0], expected)


def test_magic_square_without_the_flip_is_a_different_table():
    """Cross-correlation with the unflipped kernel is not the lecture's table."""
    out, _ = conv2d_forward(
        MAGIC[None, None], MAGIC_KERNEL[None, None], np.zeros(1), padding="full"
    )
    assert out[0, 0, 0, 0] == MAGIC[0, 0] * MAGIC_KERNEL[2, 2] != MAGIC_FULL[0, 0]
    assert not np.array_equal(out[0, 0], MAGIC_FULL)


def test_conv1d_is_conv2d_of_height_one(rng):
    x = rng.standard_normal((3, 2, 10))
    W = rng.standard_normal((4, 2, 3))
    b = rng.standard_normal(4)
    out1, _ = conv1d_forward(x, W, b, stride=2, padding=1)
    out2, _ = conv2d_forward(
        x[:, :, None, :], W[:, :, None, :], b, stride=(1, 2), padding=(0, 1)
    )
    np.testing.assert_allclose(out1, out2[:, :, 0, :], rtol=1e-13, atol=1e-13)


def test_output_size_rule():
    """(n' - 1)S + F = n + 2P, rounded down when S does not fit exactly."""
    assert conv_output_size(32, 5) == 28
    assert conv_output_size(7, 3, stride=2, padding=1) == 4
    assert conv_output_size(8, 3, stride=2) == 3  # the last column is not covered
    assert conv_output_size(28, 3, padding="same") == 28
    assert conv_output_size(28, 3, padding="full") == 30
    assert conv_output_size(28, 3, padding="valid") == 26
    x = np.zeros((1, 1, 9, 8))
    out, _ = conv2d_forward(x, np.zeros((1, 1, 3, 2)), np.zeros(1), (2, 3), (1, 2))
    assert out.shape[2:] == (
        conv_output_size(9, 3, 2, 1),
        conv_output_size(8, 2, 3, 2),
    )


def test_accepts_non_contiguous_and_integer_input(rng):
    x = rng.standard_normal((2, 6, 3, 7)).transpose(0, 2, 1, 3)  # (2, 3, 6, 7)
    W = rng.standard_normal((2, 3, 3, 3))
    b = rng.standard_normal(2)
    out, _ = conv2d_forward(x, W, b, padding=1)
    expected = naive_conv2d(x, W, b, (1, 1), (1, 1))
    np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-12)
    ints = np.arange(2 * 1 * 4 * 4).reshape(2, 1, 4, 4)
    out, _ = conv2d_forward(ints, np.ones((1, 1, 2, 2), dtype=int), [0])
    assert out.dtype == np.float64 and out[0, 0, 0, 0] == 0 + 1 + 4 + 5


# ------------------------------------------------------------------ dtypes


def test_float32_stays_float32(rng):
    x = rng.standard_normal((2, 3, 6, 5)).astype(np.float32)
    W = rng.standard_normal((4, 3, 3, 3))  # float64 parameters
    b = rng.standard_normal(4)
    out, cache = conv2d_forward(x, W, b, stride=2, padding=1)
    grads = conv2d_backward(np.ones_like(out), cache)
    assert out.dtype == np.float32
    assert [g.dtype for g in grads] == [np.float32] * 3
    reference, _ = conv2d_forward(x.astype(np.float64), W, b, stride=2, padding=1)
    np.testing.assert_allclose(out, reference, rtol=1e-5, atol=1e-5)

    x1 = rng.standard_normal((2, 3, 9)).astype(np.float32)
    out1, cache1 = conv1d_forward(x1, W[:, :, 0].astype(np.float32), b, padding=1)
    grads1 = conv1d_backward(np.ones_like(out1), cache1)
    assert out1.dtype == np.float32
    assert [g.dtype for g in grads1] == [np.float32] * 3


# --------------------------------------------------------- against PyTorch


TORCH_2D = [
    ((2, 3, 9, 8), (4, 3, 3), 1, 1),
    ((2, 3, 9, 8), (4, 3, 2), (2, 1), (0, 1)),
    ((3, 2, 11, 10), (5, 5, 3), 2, 2),
    ((2, 4, 6, 6), (3, 1, 1), 1, 0),
    ((2, 3, 7, 7), (2, 3, 3), 1, "same"),
    ((2, 3, 7, 7), (2, 3, 3), 3, "valid"),
]
TORCH_1D = [
    ((2, 3, 17), (4, 3), 1, 1),
    ((2, 3, 17), (4, 4), 2, 0),
    ((3, 2, 12), (5, 5), 3, 2),
    ((2, 3, 9), (2, 3), 1, "same"),
]


@pytest.mark.parametrize("case", TORCH_2D, ids=_case_id)
def test_conv2d_matches_torch(torch, rng, case):
    x_shape, (F, KH, KW), stride, padding = case
    x = rng.standard_normal(x_shape)
    W = rng.standard_normal((F, x_shape[1], KH, KW))
    b = rng.standard_normal(F)
    out, cache = conv2d_forward(x, W, b, stride=stride, padding=padding)
    dout = rng.standard_normal(out.shape)
    dx, dW, db = conv2d_backward(dout, cache)

    tx, tW, tb = (torch.tensor(a, requires_grad=True) for a in (x, W, b))
    t_out = torch.nn.functional.conv2d(tx, tW, tb, stride=stride, padding=padding)
    t_out.backward(torch.tensor(dout))
    np.testing.assert_allclose(out, t_out.detach().numpy(), rtol=1e-10, atol=1e-10)
    for mine, theirs in ((dx, tx), (dW, tW), (db, tb)):
        np.testing.assert_allclose(mine, theirs.grad.numpy(), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("case", TORCH_1D, ids=_case_id)
def test_conv1d_matches_torch(torch, rng, case):
    x_shape, (F, K), stride, padding = case
    x = rng.standard_normal(x_shape)
    W = rng.standard_normal((F, x_shape[1], K))
    b = rng.standard_normal(F)
    out, cache = conv1d_forward(x, W, b, stride=stride, padding=padding)
    dout = rng.standard_normal(out.shape)
    dx, dW, db = conv1d_backward(dout, cache)

    tx, tW, tb = (torch.tensor(a, requires_grad=True) for a in (x, W, b))
    t_out = torch.nn.functional.conv1d(tx, tW, tb, stride=stride, padding=padding)
    t_out.backward(torch.tensor(dout))
    np.testing.assert_allclose(out, t_out.detach().numpy(), rtol=1e-10, atol=1e-10)
    for mine, theirs in ((dx, tx), (dW, tW), (db, tb)):
        np.testing.assert_allclose(mine, theirs.grad.numpy(), rtol=1e-10, atol=1e-10)


def test_conv2d_matches_torch_in_float32(torch, rng):
    x = rng.standard_normal((4, 8, 14, 14)).astype(np.float32)
    W = rng.standard_normal((16, 8, 3, 3)).astype(np.float32)
    b = rng.standard_normal(16).astype(np.float32)
    out, cache = conv2d_forward(x, W, b, padding=1)
    dout = rng.standard_normal(out.shape).astype(np.float32)
    dx, dW, db = conv2d_backward(dout, cache)
    tx, tW, tb = (torch.tensor(a, requires_grad=True) for a in (x, W, b))
    t_out = torch.nn.functional.conv2d(tx, tW, tb, padding=1)
    t_out.backward(torch.tensor(dout))
    assert t_out.dtype == torch.float32
    np.testing.assert_allclose(out, t_out.detach().numpy(), rtol=1e-4, atol=1e-4)
    for mine, theirs in ((dx, tx), (dW, tW), (db, tb)):
        np.testing.assert_allclose(mine, theirs.grad.numpy(), rtol=1e-4, atol=1e-3)


# -------------------------------------------------------------- bad input


def _args(x_shape=(2, 3, 6, 6), w_shape=(4, 3, 3, 3), b_shape=(4,)):
    return np.zeros(x_shape), np.zeros(w_shape), np.zeros(b_shape)


@pytest.mark.parametrize(
    "kwargs, error, pattern",
    [
        (
            {"x_shape": (3, 6, 6)},
            ValueError,
            r"x must be a 4-D array \(N, C, H, W\), got shape \(3, 6, 6\)",
        ),
        (
            {"w_shape": (4, 3, 3)},
            ValueError,
            r"W must be a 4-D array \(F, C, KH, KW\), got shape \(4, 3, 3\)",
        ),
        (
            {"w_shape": (4, 2, 3, 3)},
            ValueError,
            r"W must have as many input channels as x: expected W.shape\[1\] == x.shape\[1\] = 3, got W of shape \(4, 2, 3, 3\)",
        ),
        (
            {"b_shape": (3,)},
            ValueError,
            r"b must have shape \(4,\) \(one bias per filter.*got \(3,\)",
        ),
        ({"b_shape": (4, 1)}, ValueError, r"b must have shape \(4,\).*got \(4, 1\)"),
        (
            {"w_shape": (4, 3, 9, 3)},
            ValueError,
            r"W's kernel size must be at most the padded input size: expected kernel <= \(H, W\) \+ 2\*padding = \(6, 6\) \+ 2\*\(1, 1\) = \(8, 8\), got kernel size \(9, 3\)",
        ),
    ],
)
def test_conv2d_rejects_bad_shapes(kwargs, error, pattern):
    x, W, b = _args(**kwargs)
    with pytest.raises(error, match=pattern):
        conv2d_forward(x, W, b, padding=1)


@pytest.mark.parametrize(
    "stride, padding, error, pattern",
    [
        (0, 0, ValueError, r"stride must be a positive integer \(>= 1\), got 0"),
        (-2, 0, ValueError, r"stride must be a positive integer \(>= 1\), got -2"),
        (1.5, 0, TypeError, r"stride must be a positive integer, got 1.5 \(float\)"),
        (
            (1, 2, 3),
            0,
            ValueError,
            r"stride must be an int or a sequence of 2 ints, got \(1, 2, 3\)",
        ),
        (1, -1, ValueError, r"padding must be a non-negative integer \(>= 0\), got -1"),
        (
            1,
            (0, -2),
            ValueError,
            r"padding must be a non-negative integer \(>= 0\), got -2",
        ),
        (
            1,
            "half",
            ValueError,
            r"padding must be an int, a pair of ints or one of 'valid', 'same', 'full', got 'half'",
        ),
        (2, "same", ValueError, r"padding='same' needs stride 1, got stride=\(2, 2\)"),
        (
            (1, 2),
            "full",
            ValueError,
            r"padding='full' needs stride 1, got stride=\(1, 2\)",
        ),
    ],
)
def test_conv2d_rejects_bad_hyperparameters(stride, padding, error, pattern):
    x, W, b = _args()
    with pytest.raises(error, match=pattern):
        conv2d_forward(x, W, b, stride=stride, padding=padding)


def test_same_padding_needs_an_odd_kernel():
    x, W, b = _args(w_shape=(4, 3, 3, 2))
    with pytest.raises(
        ValueError, match=r"'same' needs an odd kernel size.*got kernel size \(3, 2\)"
    ):
        conv2d_forward(x, W, b, padding="same")
    with pytest.raises(
        ValueError, match=r"'same' needs an odd kernel size.*got kernel size 4"
    ):
        conv1d_forward(
            np.zeros((1, 1, 9)), np.zeros((1, 1, 4)), np.zeros(1), padding="same"
        )


def test_conv1d_rejects_bad_input():
    with pytest.raises(
        ValueError, match=r"x must be a 3-D array \(N, C, L\), got shape \(2, 3, 6, 6\)"
    ):
        conv1d_forward(np.zeros((2, 3, 6, 6)), np.zeros((4, 3, 3)), np.zeros(4))
    with pytest.raises(
        ValueError, match=r"W must be a 3-D array \(F, C, K\), got shape \(4, 3, 3, 3\)"
    ):
        conv1d_forward(np.zeros((2, 3, 6)), np.zeros((4, 3, 3, 3)), np.zeros(4))
    with pytest.raises(
        ValueError,
        match=r"expected W.shape\[1\] == x.shape\[1\] = 3, got W of shape \(4, 1, 3\)",
    ):
        conv1d_forward(np.zeros((2, 3, 6)), np.zeros((4, 1, 3)), np.zeros(4))
    with pytest.raises(
        ValueError,
        match=r"expected kernel <= L \+ 2\*padding = 4 \+ 2\*0 = 4, got kernel size 5",
    ):
        conv1d_forward(np.zeros((2, 3, 4)), np.zeros((4, 3, 5)), np.zeros(4))
    with pytest.raises(
        TypeError,
        match=r"x must be a real floating-point array .* got dtype complex128",
    ):
        conv1d_forward(np.zeros((2, 3, 4), complex), np.zeros((4, 3, 3)), np.zeros(4))


def test_backward_rejects_wrong_dout_and_cache(rng):
    out, cache = conv2d_forward(*_args(), padding=1)
    with pytest.raises(
        ValueError,
        match=r"dout must have shape \(2, 4, 6, 6\) \(the shape of conv2d_forward's output\), got \(2, 4, 6, 5\)",
    ):
        conv2d_backward(np.zeros((2, 4, 6, 5)), cache)
    out1, cache1 = conv1d_forward(np.zeros((2, 3, 7)), np.zeros((4, 3, 3)), np.zeros(4))
    with pytest.raises(
        ValueError,
        match=r"dout must have shape \(2, 4, 5\) \(the shape of conv1d_forward's output\), got \(2, 4, 1, 5\)",
    ):
        conv1d_backward(np.zeros((2, 4, 1, 5)), cache1)
    with pytest.raises(
        TypeError,
        match=r"cache must be the Conv2dCache returned by conv2d_forward, got Conv1dCache",
    ):
        conv2d_backward(out1, cache1)


@pytest.mark.parametrize(
    "args, error, pattern",
    [
        ((0, 3), ValueError, r"n must be a positive integer \(>= 1\), got 0"),
        ((5, 0), ValueError, r"kernel_size must be a positive integer \(>= 1\), got 0"),
        ((5, 3, 0), ValueError, r"stride must be a positive integer \(>= 1\), got 0"),
        (
            (5, 3, 1, -1),
            ValueError,
            r"padding must be a non-negative integer \(>= 0\), got -1",
        ),
        (
            (5, 3, 1, 1.0),
            TypeError,
            r"padding must be a non-negative integer, got 1.0 \(float\)",
        ),
        (
            (4, 7, 1, 1),
            ValueError,
            r"kernel_size must be at most the padded input size n \+ 2\*padding = 4 \+ 2\*1 = 6, got 7",
        ),
        (
            (5, 2, 1, "same"),
            ValueError,
            r"'same' needs an odd kernel size.*got kernel size 2",
        ),
        ((5, 3, 2, "same"), ValueError, r"padding='same' needs stride 1, got stride=2"),
        ((5, 3, 1, "half"), ValueError, r"one of 'valid', 'same', 'full', got 'half'"),
    ],
)
def test_conv_output_size_rejects_impossible_configurations(args, error, pattern):
    with pytest.raises(error, match=pattern):
        conv_output_size(*args)
