"""Tests of the dense-network building blocks of dlcore.functional: linear,
activations, batch normalization and dropout.

Gradients go through dlcore.gradcheck.check_gradients (centred differences,
relative error < 1e-7 in float64); values and gradients are compared with
PyTorch where it is installed.
"""

import dataclasses
import warnings

import numpy as np
import pytest

import dlcore.functional as F
from dlcore.functional import activations as act
from dlcore.functional.batchnorm import (
    BatchNormCache,
    batchnorm_affine,
    batchnorm_backward,
    batchnorm_backward_compact,
    batchnorm_forward,
    batchnorm_inference,
)
from dlcore.functional.dropout import dropout_backward, dropout_forward
from dlcore.functional.linear import linear_backward, linear_forward
from dlcore.gradcheck import check_gradients

ACTIVATIONS = {
    "relu": (act.relu_forward, act.relu_backward, {}),
    "sigmoid": (act.sigmoid_forward, act.sigmoid_backward, {}),
    "tanh": (act.tanh_forward, act.tanh_backward, {}),
    "leaky_relu": (act.leaky_relu_forward, act.leaky_relu_backward, {"alpha": 0.1}),
    "elu": (act.elu_forward, act.elu_backward, {"alpha": 0.7}),
    "sign": (act.sign_forward, act.sign_backward, {}),
    "softmax": (act.softmax_forward, act.softmax_backward, {}),
}

ANY_RANK_SHAPES = [(7,), (3, 5), (2, 3, 5), (2, 1, 3, 3)]
BN_SHAPES = [(5, 3), (9, 1), (4, 3, 5), (3, 2, 3, 2)]


def away_from_zero(rng, shape, low=0.05):
    """Random values with |x| >= low: finite differences never cross a kink."""
    return rng.uniform(low, 2.0, shape) * rng.choice([-1.0, 1.0], shape)


# ------------------------------------------------------------------- linear


@pytest.mark.parametrize("n, d_in, d_out", [(1, 1, 1), (3, 5, 4), (7, 3, 2)])
def test_linear_gradients(rng, n, d_in, d_out):
    inputs = {
        "x": rng.standard_normal((n, d_in)),
        "W": rng.standard_normal((d_out, d_in)),
        "b": rng.standard_normal(d_out),
    }
    errors = check_gradients(linear_forward, linear_backward, inputs)
    assert max(errors.values()) < 1e-7


def test_linear_forward_matches_lecture_formula(rng):
    x, W, b = rng.standard_normal((4, 3)), rng.standard_normal((2, 3)), np.ones(2)
    out, _ = linear_forward(x, W, b)
    # row i is (W x_i + b)^T, the lectures' s = W x + b for example i
    for i in range(4):
        np.testing.assert_allclose(out[i], W @ x[i] + b, rtol=1e-13)


def test_linear_backward_is_sum_of_outer_products(rng):
    x, W, b = rng.standard_normal((5, 3)), rng.standard_normal((2, 3)), np.zeros(2)
    g = rng.standard_normal((5, 2))
    _, cache = linear_forward(x, W, b)
    dx, dW, db = linear_backward(g, cache)
    np.testing.assert_allclose(dW, sum(np.outer(g[i], x[i]) for i in range(5)))
    np.testing.assert_allclose(db, g.sum(axis=0))
    np.testing.assert_allclose(dx, np.stack([g[i] @ W for i in range(5)]))


def test_linear_matches_torch(torch, rng):
    x, W, b = (rng.standard_normal(s) for s in [(6, 5), (3, 5), (3,)])
    dout = rng.standard_normal((6, 3))
    out, cache = linear_forward(x, W, b)
    dx, dW, db = linear_backward(dout, cache)

    tx, tW, tb = (torch.tensor(a, requires_grad=True) for a in (x, W, b))
    t_out = torch.nn.functional.linear(tx, tW, tb)
    t_out.backward(torch.tensor(dout))
    np.testing.assert_allclose(out, t_out.detach().numpy(), rtol=1e-12)
    for mine, theirs in [(dx, tx), (dW, tW), (db, tb)]:
        np.testing.assert_allclose(mine, theirs.grad.numpy(), rtol=1e-12, atol=1e-14)


def test_linear_float32_stays_float32(rng):
    x = rng.standard_normal((4, 3)).astype(np.float32)
    W = rng.standard_normal((2, 3)).astype(np.float32)
    b = np.zeros(2, np.float32)
    out, cache = linear_forward(x, W, b)
    grads = linear_backward(np.ones_like(out), cache)
    assert out.dtype == np.float32
    assert [g.dtype for g in grads] == [np.float32] * 3
    # float32 data through float64 parameters still gives float32
    out64w, cache = linear_forward(x, W.astype(np.float64), b.astype(np.float64))
    assert out64w.dtype == np.float32
    assert linear_backward(np.ones_like(out64w), cache)[0].dtype == np.float32


def test_linear_bad_input(rng):
    x, W, b = rng.standard_normal((2, 5)), rng.standard_normal((3, 5)), np.zeros(3)
    with pytest.raises(
        ValueError, match=r"x must be a 2-D array \(N, D_in\), got shape \(5,\)"
    ):
        linear_forward(x[0], W, b)
    with pytest.raises(
        ValueError, match=r"W must be a 2-D array \(D_out, D_in\), got shape \(15,\)"
    ):
        linear_forward(x, W.ravel(), b)
    with pytest.raises(
        ValueError,
        match=r"W.shape\[1\] \(D_in\) must equal x.shape\[1\]: expected 5, got 4",
    ):
        linear_forward(x, W[:, :4], b)
    with pytest.raises(ValueError, match=r"b must have shape \(3,\).*got \(4,\)"):
        linear_forward(x, W, np.zeros(4))
    with pytest.raises(ValueError, match=r"b must have shape \(3,\).*got \(1, 3\)"):
        linear_forward(x, W, np.zeros((1, 3)))
    with pytest.raises(
        TypeError, match=r"x must be a real floating-point array.*got dtype complex128"
    ):
        linear_forward(x.astype(complex), W, b)
    _, cache = linear_forward(x, W, b)
    with pytest.raises(
        ValueError, match=r"dout must have shape \(2, 3\).*got \(3, 2\)"
    ):
        linear_backward(np.zeros((3, 2)), cache)


# -------------------------------------------------------------- activations


@pytest.mark.parametrize("shape", ANY_RANK_SHAPES, ids=str)
@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_activation_gradients(rng, name, shape):
    forward, backward, kwargs = ACTIVATIONS[name]
    x = away_from_zero(rng, shape)
    errors = check_gradients(forward, backward, {"x": x}, kwargs=kwargs)
    assert errors["x"] < 1e-7


@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_activation_keeps_shape_and_float32(rng, name):
    forward, backward, kwargs = ACTIVATIONS[name]
    x = away_from_zero(rng, (2, 3, 4)).astype(np.float32)
    out, cache = forward(x, **kwargs)
    dx = backward(np.ones_like(out), cache)
    assert out.shape == dx.shape == x.shape
    assert out.dtype == np.float32 and dx.dtype == np.float32


@pytest.mark.parametrize("name", [n for n in ACTIVATIONS if n != "sign"])
def test_activation_matches_torch(torch, rng, name):
    forward, backward, kwargs = ACTIVATIONS[name]
    F = torch.nn.functional
    torch_fn = {
        "relu": torch.relu,
        "sigmoid": torch.sigmoid,
        "tanh": torch.tanh,
        "leaky_relu": lambda t: F.leaky_relu(t, negative_slope=kwargs["alpha"]),
        "elu": lambda t: F.elu(t, alpha=kwargs["alpha"]),
        "softmax": lambda t: torch.softmax(t, dim=-1),
    }[name]
    x = 3 * rng.standard_normal((4, 2, 5))
    dout = rng.standard_normal(x.shape)
    out, cache = forward(x, **kwargs)
    dx = backward(dout, cache)

    tx = torch.tensor(x, requires_grad=True)
    t_out = torch_fn(tx)
    t_out.backward(torch.tensor(dout))
    np.testing.assert_allclose(out, t_out.detach().numpy(), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(dx, tx.grad.numpy(), rtol=1e-10, atol=1e-15)


def test_activation_values():
    x = np.array([-2.0, -0.5, 0.0, 0.5, 2.0])
    assert np.array_equal(act.relu_forward(x)[0], [0, 0, 0, 0.5, 2])
    assert np.array_equal(act.sign_forward(x)[0], [-1, -1, 0, 1, 1])
    np.testing.assert_allclose(
        act.leaky_relu_forward(x, alpha=0.1)[0], [-0.2, -0.05, 0, 0.5, 2]
    )
    np.testing.assert_allclose(
        act.elu_forward(x, alpha=2.0)[0],
        [2 * np.expm1(-2), 2 * np.expm1(-0.5), 0, 0.5, 2],
    )
    np.testing.assert_allclose(
        act.sigmoid_forward(x)[0], 1 / (1 + np.exp(-x)), rtol=1e-15
    )
    np.testing.assert_allclose(act.tanh_forward(x)[0], np.tanh(x))
    # derivatives at the lectures' favourite points: sigma'(0) = 1/4, tanh'(0) = 1
    _, cache = act.sigmoid_forward(np.zeros(1))
    assert act.sigmoid_backward(np.ones(1), cache)[0] == 0.25
    _, cache = act.tanh_forward(np.zeros(1))
    assert act.tanh_backward(np.ones(1), cache)[0] == 1.0
    # relu' at 0 is taken as 0, as in the lectures' Ind(s > 0)
    _, cache = act.relu_forward(x)
    assert np.array_equal(act.relu_backward(np.ones(5), cache), [0, 0, 0, 1, 1])


def test_sigmoid_and_softmax_are_stable_for_large_inputs():
    x = np.array([-1e4, -800.0, -40.0, 0.0, 40.0, 800.0, 1e4])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an overflow in exp would raise here
        with np.errstate(over="raise", invalid="raise", divide="raise"):
            s, _ = act.sigmoid_forward(x)
            p, _ = act.softmax_forward(
                np.array([[1000.0, 1001.0, 999.0], [-1e4, 0, 1e4]])
            )
    assert np.all(np.isfinite(s)) and s[0] == 0.0 and s[-1] == 1.0 and s[3] == 0.5
    np.testing.assert_allclose(s[2], np.exp(-40) / (1 + np.exp(-40)), rtol=1e-14)
    assert np.all(np.isfinite(p))
    np.testing.assert_allclose(p[0], act.softmax_forward(np.array([1.0, 2.0, 0.0]))[0])
    np.testing.assert_allclose(p[1], [0, 0, 1])


def test_softmax_sums_to_one_and_is_shift_invariant(rng):
    x = rng.standard_normal((3, 4, 6))
    p, _ = act.softmax_forward(x)
    np.testing.assert_allclose(p.sum(axis=-1), 1.0, rtol=1e-14)
    np.testing.assert_allclose(act.softmax_forward(x + 123.0)[0], p, rtol=1e-12)


def test_softmax_backward_equals_full_jacobian(rng):
    z = rng.standard_normal(5)
    g = rng.standard_normal(5)
    p, cache = act.softmax_forward(z)
    jacobian = np.diag(p) - np.outer(p, p)  # lecture: dp/dz = diag(p) - p p^T
    np.testing.assert_allclose(act.softmax_backward(g, cache), g @ jacobian, rtol=1e-12)


def test_sign_backward_is_zero(rng):
    x = rng.standard_normal((4, 3))
    _, cache = act.sign_forward(x)
    dx = act.sign_backward(rng.standard_normal((4, 3)), cache)
    assert dx.shape == (4, 3) and not np.any(dx)


def test_activation_bad_input(rng):
    with pytest.raises(ValueError, match=r"alpha must be >= 0, got -0.1"):
        act.leaky_relu_forward(np.ones(3), alpha=-0.1)
    with pytest.raises(TypeError, match=r"alpha must be a real number, got 'big'"):
        act.elu_forward(np.ones(3), alpha="big")
    with pytest.raises(
        ValueError, match=r"x must be an array of at least 1-D .*got shape \(\)"
    ):
        act.softmax_forward(np.float64(3.0))
    with pytest.raises(
        TypeError, match=r"x must be a real floating-point array.*got dtype <U1"
    ):
        act.relu_forward(np.array(["a"]))
    for forward, backward, kwargs in ACTIVATIONS.values():
        _, cache = forward(np.ones((2, 3)), **kwargs)
        with pytest.raises(
            ValueError, match=r"dout must have shape \(2, 3\).*got \(3, 2\)"
        ):
            backward(np.ones((3, 2)), cache)


# ------------------------------------------------------- batch normalization


def bn_inputs(rng, shape):
    c = shape[1]
    return {
        "x": 2 * rng.standard_normal(shape) + 1,
        "gamma": rng.uniform(0.5, 1.5, c),
        "beta": rng.standard_normal(c),
    }


@pytest.mark.parametrize("shape", BN_SHAPES, ids=str)
@pytest.mark.parametrize("backward", [batchnorm_backward, batchnorm_backward_compact])
def test_batchnorm_gradients(rng, shape, backward):
    errors = check_gradients(batchnorm_forward, backward, bn_inputs(rng, shape))
    assert max(errors.values()) < 1e-7


@pytest.mark.parametrize("shape", BN_SHAPES, ids=str)
def test_batchnorm_graph_and_compact_backward_agree(rng, shape):
    inputs = bn_inputs(rng, shape)
    out, cache = batchnorm_forward(**inputs)
    dout = rng.standard_normal(out.shape)
    for graph, compact in zip(
        batchnorm_backward(dout, cache),
        batchnorm_backward_compact(dout, cache),
        strict=True,
    ):
        np.testing.assert_allclose(graph, compact, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("shape", BN_SHAPES, ids=str)
def test_batchnorm_normalizes_each_feature(rng, shape):
    inputs = bn_inputs(rng, shape)
    c = shape[1]
    out, cache = batchnorm_forward(inputs["x"], np.ones(c), np.zeros(c))
    axes = (0,) + tuple(range(2, len(shape)))
    np.testing.assert_allclose(out.mean(axis=axes), 0, atol=1e-12)
    np.testing.assert_allclose(out.var(axis=axes), 1, rtol=1e-4)  # eps=1e-5 in there
    assert isinstance(cache, BatchNormCache)
    np.testing.assert_allclose(cache.mean, inputs["x"].mean(axis=axes), rtol=1e-13)
    np.testing.assert_allclose(cache.var, inputs["x"].var(axis=axes), rtol=1e-13)
    assert cache.m == inputs["x"].size // c


@pytest.mark.parametrize("shape", BN_SHAPES, ids=str)
def test_batchnorm_matches_torch(torch, rng, shape):
    inputs = bn_inputs(rng, shape)
    out, cache = batchnorm_forward(**inputs)
    dout = rng.standard_normal(out.shape)
    grads = batchnorm_backward(dout, cache)

    tx, tg, tb = (torch.tensor(inputs[k], requires_grad=True) for k in inputs)
    t_out = torch.nn.functional.batch_norm(
        tx, None, None, weight=tg, bias=tb, training=True, eps=1e-5
    )
    t_out.backward(torch.tensor(dout))
    np.testing.assert_allclose(out, t_out.detach().numpy(), rtol=1e-10, atol=1e-12)
    for mine, theirs in zip(grads, (tx, tg, tb), strict=True):
        np.testing.assert_allclose(mine, theirs.grad.numpy(), rtol=1e-9, atol=1e-12)


def test_batchnorm_inference_with_batch_statistics_reproduces_training(rng):
    inputs = bn_inputs(rng, (6, 3, 2, 2))
    out, cache = batchnorm_forward(**inputs)
    again = batchnorm_inference(
        inputs["x"], inputs["gamma"], inputs["beta"], cache.mean, cache.var
    )
    np.testing.assert_allclose(again, out, rtol=1e-12, atol=1e-12)


def test_batchnorm_folds_into_preceding_linear_layer(rng):
    x = rng.standard_normal((5, 4))
    W, b = rng.standard_normal((3, 4)), rng.standard_normal(3)
    gamma, beta = rng.uniform(0.5, 2, 3), rng.standard_normal(3)
    mean, var = rng.standard_normal(3), rng.uniform(0.5, 2, 3)
    s, _ = linear_forward(x, W, b)
    expected = batchnorm_inference(s, gamma, beta, mean, var)

    scale, shift = batchnorm_affine(gamma, beta, mean, var)
    folded, _ = linear_forward(x, scale[:, None] * W, scale * b + shift)
    np.testing.assert_allclose(folded, expected, rtol=1e-12)
    np.testing.assert_allclose(scale, gamma / np.sqrt(var + 1e-5))


def test_batchnorm_float32_stays_float32(rng):
    inputs = bn_inputs(rng, (4, 3, 2, 2))
    x32 = inputs["x"].astype(np.float32)
    out, cache = batchnorm_forward(x32, inputs["gamma"], inputs["beta"])
    assert out.dtype == np.float32
    for backward in (batchnorm_backward, batchnorm_backward_compact):
        grads = backward(np.ones_like(out), cache)
        assert [g.dtype for g in grads] == [np.float32] * 3
    stats = (cache.mean, cache.var)
    assert (
        batchnorm_inference(x32, inputs["gamma"], inputs["beta"], *stats).dtype
        == np.float32
    )


def test_batchnorm_bad_input(rng):
    x = rng.standard_normal((4, 3, 2, 2))
    with pytest.raises(
        ValueError, match=r"x must be a 2-D or 3-D or 4-D array .*got shape \(4,\)"
    ):
        batchnorm_forward(x[:, 0, 0, 0], np.ones(1), np.zeros(1))
    with pytest.raises(
        ValueError,
        match=r"gamma must have shape \(3,\) \(one per channel, C = x.shape\[1\]\), "
        r"got \(2,\)",
    ):
        batchnorm_forward(x, np.ones(2), np.zeros(3))
    with pytest.raises(
        ValueError,
        match=r"beta must have shape \(5,\) \(one per feature, D = x.shape\[1\]\), "
        r"got \(3,\)",
    ):
        batchnorm_forward(np.ones((4, 5)), np.ones(5), np.zeros(3))
    with pytest.raises(ValueError, match=r"eps must be > 0, got -1"):
        batchnorm_forward(x, np.ones(3), np.zeros(3), eps=-1)
    with pytest.raises(ValueError, match=r"var must have shape \(3,\).*got \(4,\)"):
        batchnorm_inference(x, np.ones(3), np.zeros(3), np.zeros(3), np.ones(4))
    with pytest.raises(
        ValueError, match=r"var must be >= 0 \(a variance\), got minimum -1"
    ):
        batchnorm_affine(np.ones(2), np.zeros(2), np.zeros(2), np.array([1.0, -1.0]))
    _, cache = batchnorm_forward(x, np.ones(3), np.zeros(3))
    with pytest.raises(
        ValueError, match=r"dout must have shape \(4, 3, 2, 2\).*got \(4, 3\)"
    ):
        batchnorm_backward(np.ones((4, 3)), cache)


# ------------------------------------------------------------------ dropout


@pytest.mark.parametrize("rate", [0.0, 0.3, 0.75])
@pytest.mark.parametrize("shape", [(7,), (5, 3), (2, 3, 4, 5)], ids=str)
def test_dropout_gradients(rng, rate, shape):
    def forward(x):
        # a fresh generator from a fixed seed: every call draws the same mask
        return dropout_forward(x, rate, np.random.default_rng(42))

    errors = check_gradients(
        forward, dropout_backward, {"x": rng.standard_normal(shape)}
    )
    assert errors["x"] < 1e-7


def test_dropout_is_inverted_and_drops_the_right_fraction():
    x = np.ones((400, 500))
    rate = 0.3
    out, cache = dropout_forward(x, rate, np.random.default_rng(0))
    mask = cache.mask
    kept = mask != 0
    assert abs(kept.mean() - (1 - rate)) < 0.005  # ~6 standard deviations
    np.testing.assert_allclose(mask[kept], 1 / (1 - rate))
    np.testing.assert_allclose(out, x * mask)
    assert abs(out.mean() - 1.0) < 0.01  # E[out] = x: no rescaling at test time
    dx = dropout_backward(np.ones_like(x), cache)
    assert np.array_equal(dx == 0, ~kept)  # dropped units get no gradient


def test_dropout_rate_zero_is_identity_and_seeds_reproduce(rng):
    x = rng.standard_normal((3, 4))
    out, cache = dropout_forward(x, 0.0, np.random.default_rng(0))
    assert np.array_equal(out, x) and np.array_equal(cache.mask, np.ones_like(x))
    first, _ = dropout_forward(x, 0.5, 7)  # an int seed is accepted
    second, _ = dropout_forward(x, 0.5, np.random.default_rng(7))
    assert np.array_equal(first, second)
    other, _ = dropout_forward(x, 0.5, np.random.default_rng(8))
    assert not np.array_equal(first, other)


def test_dropout_float32_stays_float32_with_the_same_mask(rng):
    x = rng.standard_normal((6, 5))
    out32, cache32 = dropout_forward(x.astype(np.float32), 0.4, 3)
    _, cache64 = dropout_forward(x, 0.4, 3)
    assert out32.dtype == cache32.mask.dtype == np.float32
    assert dropout_backward(np.ones_like(out32), cache32).dtype == np.float32
    np.testing.assert_allclose(cache32.mask, cache64.mask, rtol=1e-7)


def test_dropout_bad_input(rng):
    x = rng.standard_normal((2, 3))
    with pytest.raises(ValueError, match=r"rate must be in \[0, 1\), got 1.0"):
        dropout_forward(x, 1.0, rng)
    with pytest.raises(ValueError, match=r"rate must be in \[0, 1\), got -0.1"):
        dropout_forward(x, -0.1, rng)
    with pytest.raises(TypeError, match=r"rate must be a real number, got '0.5'"):
        dropout_forward(x, "0.5", rng)
    with pytest.raises(
        TypeError,
        match=r"rng must be a numpy.random.Generator or an int seed, got None",
    ):
        dropout_forward(x, 0.5, None)
    _, mask = dropout_forward(x, 0.5, rng)
    with pytest.raises(ValueError, match=r"dout must have shape \(2, 3\).*got \(3,\)"):
        dropout_backward(np.ones(3), mask)


FORWARDS = [
    ("linear", lambda x: F.linear_forward(x, np.ones((2, 3)), np.zeros(2))),
    ("relu", F.relu_forward),
    ("sigmoid", F.sigmoid_forward),
    ("tanh", F.tanh_forward),
    ("leaky_relu", F.leaky_relu_forward),
    ("elu", F.elu_forward),
    ("sign", F.sign_forward),
    ("softmax", F.softmax_forward),
    ("batchnorm", lambda x: F.batchnorm_forward(x, np.ones(3), np.zeros(3))),
    ("dropout", lambda x: F.dropout_forward(x, 0.5, 0)),
    (
        "conv1d",
        lambda x: F.conv1d_forward(x[:, :, None], np.ones((2, 3, 1)), np.ones(2)),
    ),
    ("maxpool1d", lambda x: F.maxpool1d_forward(x[:, :, None], 1)),
    ("avgpool1d", lambda x: F.avgpool1d_forward(x[:, :, None], 1)),
    (
        "conv2d",
        lambda x: F.conv2d_forward(
            x[:, :, None, None], np.ones((2, 3, 1, 1)), np.ones(2)
        ),
    ),
    ("maxpool2d", lambda x: F.maxpool2d_forward(x[:, :, None, None], 1)),
    ("avgpool2d", lambda x: F.avgpool2d_forward(x[:, :, None, None], 1)),
]


def test_every_cache_is_a_frozen_record_of_its_own_type(rng):
    """The convention of dlcore.functional: one frozen dataclass per operation."""
    x = rng.standard_normal((4, 3))
    types = {}
    for name, forward in FORWARDS:
        out, cache = forward(x)
        assert dataclasses.is_dataclass(cache), name
        field = dataclasses.fields(cache)[0].name
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(cache, field, None)
        types[name] = type(cache)
    assert len(set(types.values())) == len(types), types
    # Another operation's cache is refused, naming the expected type.
    _, relu_cache = F.relu_forward(x)
    for name, forward in FORWARDS:
        out, _ = forward(x)
        backward = getattr(F, f"{name}_backward")
        expected = types[name].__name__
        with pytest.raises(TypeError, match=rf"cache must be the {expected} "):
            backward(np.ones_like(out), relu_cache if name != "relu" else None)
