"""Tests of dlcore.functional's max- and average-pooling, 1-D and 2-D.

Gradients go through dlcore.gradcheck.check_gradients (relative error
< 1e-7 in float64), including overlapping windows; values are compared with
a naive reference and with PyTorch where it is installed.
"""

import numpy as np
import pytest

from dlcore.functional import (
    avgpool1d_backward,
    avgpool1d_forward,
    avgpool2d_backward,
    avgpool2d_forward,
    maxpool1d_backward,
    maxpool1d_forward,
    maxpool2d_backward,
    maxpool2d_forward,
)
from dlcore.gradcheck import check_gradients

POOL = {
    ("max", 1): (maxpool1d_forward, maxpool1d_backward),
    ("max", 2): (maxpool2d_forward, maxpool2d_backward),
    ("avg", 1): (avgpool1d_forward, avgpool1d_backward),
    ("avg", 2): (avgpool2d_forward, avgpool2d_backward),
}

# shape, kernel_size, stride: default stride, overlapping windows (3 / 2),
# non-square windows, uncovered last rows, a window as large as the input.
CASES_2D = [
    ((2, 3, 6, 8), 2, None),
    ((2, 3, 7, 7), 3, 2),
    ((2, 2, 7, 9), (3, 2), (1, 2)),
    ((1, 2, 9, 8), (2, 4), (3, 1)),
    ((2, 1, 5, 4), (5, 4), None),
]
CASES_1D = [
    ((2, 3, 10), 2, None),
    ((2, 3, 11), 3, 2),
    ((2, 2, 9), 4, 1),
    ((3, 1, 7), 7, None),
]


def naive_pool(x, kernel, stride, reduce):
    """Pooling from the definition, on (N, C, H, W) with pair arguments."""
    (kh, kw), (sh, sw) = kernel, stride
    N, C, H, W = x.shape
    OH, OW = (H - kh) // sh + 1, (W - kw) // sw + 1
    out = np.zeros((N, C, OH, OW))
    for i in range(OH):
        for j in range(OW):
            window = x[:, :, i * sh : i * sh + kh, j * sw : j * sw + kw]
            out[:, :, i, j] = reduce(window, axis=(2, 3))
    return out


def _pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


def _case_id(case):
    return "-".join(str(part).replace(" ", "") for part in case)


def _distinct(rng, shape):
    """Values at least 0.01 apart: finite differences never swap a maximum."""
    values = rng.permutation(np.prod(shape)) * 0.01 + 0.5
    return (values * rng.choice([-1.0, 1.0], values.shape)).reshape(shape)


@pytest.mark.parametrize("kind", ["max", "avg"])
@pytest.mark.parametrize("case", CASES_2D + CASES_1D, ids=_case_id)
def test_pool_gradients(rng, kind, case):
    shape, kernel, stride = case
    forward, backward = POOL[kind, len(shape) - 2]
    errors = check_gradients(
        forward,
        backward,
        {"x": _distinct(rng, shape)},
        kwargs={"kernel_size": kernel, "stride": stride},
    )
    assert errors["x"] < 1e-7


@pytest.mark.parametrize("kind, reduce", [("max", np.max), ("avg", np.mean)])
@pytest.mark.parametrize("case", CASES_2D, ids=_case_id)
def test_pool2d_matches_naive_reference(rng, kind, reduce, case):
    shape, kernel, stride = case
    x = rng.standard_normal(shape)
    out, _ = POOL[kind, 2][0](x, kernel, stride)
    step = kernel if stride is None else stride
    expected = naive_pool(x, _pair(kernel), _pair(step), reduce)
    np.testing.assert_allclose(out, expected, rtol=1e-14, atol=1e-14)


@pytest.mark.parametrize("kind, reduce", [("max", np.max), ("avg", np.mean)])
@pytest.mark.parametrize("case", CASES_1D, ids=_case_id)
def test_pool1d_matches_naive_reference(rng, kind, reduce, case):
    shape, kernel, stride = case
    x = rng.standard_normal(shape)
    out, _ = POOL[kind, 1][0](x, kernel, stride)
    step = kernel if stride is None else stride
    expected = naive_pool(x[:, :, None, :], (1, kernel), (1, step), reduce)
    np.testing.assert_allclose(out, expected[:, :, 0, :], rtol=1e-14, atol=1e-14)


def test_output_size_is_floor_of_n_minus_k_over_s_plus_one():
    out, _ = maxpool2d_forward(np.zeros((1, 1, 7, 8)), 3, 2)
    assert out.shape == (1, 1, (7 - 3) // 2 + 1, (8 - 3) // 2 + 1) == (1, 1, 3, 3)
    out, _ = avgpool1d_forward(np.zeros((2, 3, 9)), 2)  # stride defaults to 2
    assert out.shape == (2, 3, 4)


# --------------------------------------------------------- max-pool routing


def test_maxpool_routes_gradient_to_the_maximum():
    x = np.array([[[[1.0, 5.0], [3.0, 2.0]]]])
    out, cache = maxpool2d_forward(x, 2)
    assert out[0, 0, 0, 0] == 5.0
    dx = maxpool2d_backward(np.array([[[[7.0]]]]), cache)
    np.testing.assert_array_equal(dx[0, 0], [[0.0, 7.0], [0.0, 0.0]])


def test_maxpool_ties_go_to_the_first_maximum_in_row_major_order():
    x = np.array([[[[0.0, 4.0, 1.0], [4.0, 4.0, 2.0]]]])
    _, cache = maxpool2d_forward(x, (2, 3))
    dx = maxpool2d_backward(np.ones((1, 1, 1, 1)), cache)
    np.testing.assert_array_equal(dx[0, 0], [[0, 1, 0], [0, 0, 0]])
    # A constant window: the corner wins.
    _, cache = maxpool2d_forward(np.full((1, 1, 2, 2), 3.0), 2)
    dx = maxpool2d_backward(np.ones((1, 1, 1, 1)), cache)
    np.testing.assert_array_equal(dx[0, 0], [[1, 0], [0, 0]])
    # 1-D, two windows each with a tie.
    _, cache = maxpool1d_forward(np.array([[[2.0, 2.0, 1.0, 1.0]]]), 2)
    dx = maxpool1d_backward(np.array([[[10.0, 20.0]]]), cache)
    np.testing.assert_array_equal(dx[0, 0], [10, 0, 20, 0])


def test_overlapping_windows_accumulate():
    """One input that is the maximum of three windows collects three gradients."""
    x = np.array([[[0.0, 1.0, 9.0, 1.0, 0.0]]])
    out, cache = maxpool1d_forward(x, 3, 1)
    np.testing.assert_array_equal(out[0, 0], [9, 9, 9])
    dx = maxpool1d_backward(np.array([[[1.0, 10.0, 100.0]]]), cache)
    np.testing.assert_array_equal(dx[0, 0], [0, 0, 111, 0, 0])
    # Average-pooling: the middle input is in all three windows.
    _, cache = avgpool1d_forward(x, 3, 1)
    dx = avgpool1d_backward(np.array([[[3.0, 30.0, 300.0]]]), cache)
    np.testing.assert_allclose(dx[0, 0], [1, 11, 111, 110, 100])


@pytest.mark.parametrize("kernel", [2, 3])  # the unrolled 2x2 path and the loops
def test_maxpool_propagates_nan_to_the_first_nan(kernel):
    x = np.zeros((1, 1, kernel, kernel))
    x[0, 0, 0, 0] = -1.0
    x[0, 0, kernel - 1, 0] = x[0, 0, kernel - 1, kernel - 1] = np.nan
    x[0, 0, 0, kernel - 1] = 5.0
    out, cache = maxpool2d_forward(x, kernel)
    assert np.isnan(out[0, 0, 0, 0])
    dx = maxpool2d_backward(np.ones((1, 1, 1, 1)), cache)
    expected = np.zeros((kernel, kernel))
    expected[kernel - 1, 0] = 1.0
    np.testing.assert_array_equal(dx[0, 0], expected)


# ------------------------------------------------------------------ dtypes


@pytest.mark.parametrize("kind", ["max", "avg"])
@pytest.mark.parametrize("dims", [1, 2])
def test_float32_stays_float32(rng, kind, dims):
    forward, backward = POOL[kind, dims]
    x = rng.standard_normal((2, 3, 8, 8)[: dims + 2]).astype(np.float32)
    out, cache = forward(x, 2)
    dx = backward(np.ones(out.shape), cache)  # float64 dout: dx keeps x's dtype
    assert out.dtype == np.float32 and dx.dtype == np.float32


# --------------------------------------------------------- against PyTorch


TORCH_CASES = [
    ((2, 3, 8, 8), 2, None),
    ((2, 3, 9, 7), 3, 2),
    ((2, 2, 9, 10), (2, 3), (1, 2)),
    ((2, 3, 10), 2, None),
    ((2, 3, 11), 3, 2),
]


@pytest.mark.parametrize("kind", ["max", "avg"])
@pytest.mark.parametrize("case", TORCH_CASES, ids=_case_id)
def test_pool_matches_torch(torch, rng, kind, case):
    shape, kernel, stride = case
    dims = len(shape) - 2
    forward, backward = POOL[kind, dims]
    x = rng.standard_normal(shape)
    out, cache = forward(x, kernel, stride)
    dout = rng.standard_normal(out.shape)
    dx = backward(dout, cache)
    tx = torch.tensor(x, requires_grad=True)
    pool = getattr(torch.nn.functional, f"{kind}_pool{dims}d")
    t_out = pool(tx, kernel, stride)
    t_out.backward(torch.tensor(dout))
    np.testing.assert_allclose(out, t_out.detach().numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(dx, tx.grad.numpy(), rtol=1e-12, atol=1e-12)


def test_maxpool_tie_rule_matches_torch(torch):
    x = np.zeros((1, 1, 4, 4))
    x[0, 0, 1, 1] = x[0, 0, 1, 0] = x[0, 0, 2, 3] = x[0, 0, 3, 2] = 1.0
    out, cache = maxpool2d_forward(x, 2)
    dx = maxpool2d_backward(np.ones(out.shape), cache)
    tx = torch.tensor(x, requires_grad=True)
    torch.nn.functional.max_pool2d(tx, 2).sum().backward()
    np.testing.assert_array_equal(dx, tx.grad.numpy())


# -------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    "call, error, pattern",
    [
        (
            lambda: maxpool2d_forward(np.zeros((2, 3, 4)), 2),
            ValueError,
            r"x must be a 4-D array \(N, C, H, W\), got shape \(2, 3, 4\)",
        ),
        (
            lambda: avgpool1d_forward(np.zeros((2, 3, 4, 4)), 2),
            ValueError,
            r"x must be a 3-D array \(N, C, L\), got shape \(2, 3, 4, 4\)",
        ),
        (
            lambda: maxpool2d_forward(np.zeros((1, 1, 4, 3)), 4),
            ValueError,
            r"kernel_size must be at most the input size \(H, W\) = \(4, 3\) \(pooling adds no padding\), got \(4, 4\)",
        ),
        (
            lambda: maxpool1d_forward(np.zeros((1, 1, 3)), 4),
            ValueError,
            r"kernel_size must be at most the input size L = 3 .*got 4",
        ),
        (
            lambda: avgpool2d_forward(np.zeros((1, 1, 4, 4)), 0),
            ValueError,
            r"kernel_size must be a positive integer \(>= 1\), got 0",
        ),
        (
            lambda: maxpool2d_forward(np.zeros((1, 1, 4, 4)), 2, 0),
            ValueError,
            r"stride must be a positive integer \(>= 1\), got 0",
        ),
        (
            lambda: maxpool2d_forward(np.zeros((1, 1, 4, 4)), 2, (1, 2, 3)),
            ValueError,
            r"stride must be an int or a sequence of 2 ints, got \(1, 2, 3\)",
        ),
        (
            lambda: avgpool1d_forward(np.zeros((1, 1, 4)), 2.0),
            TypeError,
            r"kernel_size must be a positive integer, got 2.0 \(float\)",
        ),
        (
            lambda: maxpool2d_backward(
                np.zeros((1, 1, 2, 3)), maxpool2d_forward(np.zeros((1, 1, 4, 4)), 2)[1]
            ),
            ValueError,
            r"dout must have shape \(1, 1, 2, 2\) \(the shape of maxpool2d_forward's output\), got \(1, 1, 2, 3\)",
        ),
        (
            lambda: avgpool2d_backward(
                np.zeros((1, 1, 2, 2)), maxpool2d_forward(np.zeros((1, 1, 4, 4)), 2)[1]
            ),
            TypeError,
            r"cache must be the AvgPool2dCache returned by avgpool2d_forward, got MaxPool2dCache",
        ),
    ],
)
def test_pooling_rejects_bad_input(call, error, pattern):
    with pytest.raises(error, match=pattern):
        call()
