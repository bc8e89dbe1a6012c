"""Tests of dlcore.losses: values against Keras's formulas (re-written here
independently, in Keras's argument order) and PyTorch, gradients against
centred finite differences through dlcore.gradcheck.check_gradients."""

import numpy as np
import pytest

from dlcore import losses
from dlcore.functional.activations import softmax_backward, softmax_forward
from dlcore.gradcheck import check_gradients

EPS = 1e-7  # Keras's K.epsilon()


# --------------------------------------------- Keras's formulas, (y_true, y_pred)
# Each returns the per-example loss; Keras then averages over the batch.


def _clip(x, low, high=None):
    return np.clip(x, low, np.inf if high is None else high)


def _l2_normalize(x):
    return x / np.sqrt(np.maximum(np.sum(x**2, axis=-1, keepdims=True), 1e-12))


KERAS = {
    "mean_squared_error": lambda t, p: np.mean(np.square(p - t), axis=-1),
    "mean_absolute_error": lambda t, p: np.mean(np.abs(p - t), axis=-1),
    "mean_absolute_percentage_error": lambda t, p: (
        100.0 * np.mean(np.abs((t - p) / _clip(np.abs(t), EPS)), axis=-1)
    ),
    "mean_squared_logarithmic_error": lambda t, p: np.mean(
        np.square(np.log(_clip(p, EPS) + 1.0) - np.log(_clip(t, EPS) + 1.0)), axis=-1
    ),
    "squared_hinge": lambda t, p: np.mean(
        np.square(np.maximum(1.0 - t * p, 0.0)), axis=-1
    ),
    "hinge": lambda t, p: np.mean(np.maximum(1.0 - t * p, 0.0), axis=-1),
    "categorical_hinge": lambda t, p: np.maximum(
        0.0, np.max((1.0 - t) * p, axis=-1) - np.sum(t * p, axis=-1) + 1.0
    ),
    "logcosh": lambda t, p: np.mean(np.log(np.cosh(p - t)), axis=-1),
    "categorical_crossentropy": lambda t, p: (
        -np.sum(
            t * np.log(_clip(p / np.sum(p, axis=-1, keepdims=True), EPS, 1 - EPS)),
            axis=-1,
        )
    ),
    "binary_crossentropy": lambda t, p: np.mean(
        -(
            t * np.log(_clip(p, EPS, 1 - EPS))
            + (1 - t) * np.log(1 - _clip(p, EPS, 1 - EPS))
        ),
        axis=-1,
    ),
    "kullback_leibler_divergence": lambda t, p: np.sum(
        _clip(t, EPS, 1) * np.log(_clip(t, EPS, 1) / _clip(p, EPS, 1)), axis=-1
    ),
    "poisson": lambda t, p: np.mean(p - t * np.log(p + EPS), axis=-1),
    "cosine_proximity": lambda t, p: (
        -np.sum(_l2_normalize(t) * _l2_normalize(p), axis=-1)
    ),
}


def keras_sparse(labels, p):
    q = _clip(p / np.sum(p, axis=-1, keepdims=True), EPS, 1 - EPS)
    return -np.log(q[np.arange(len(labels)), labels])


def reference_softmax_cross_entropy(scores, labels):
    p = np.exp(scores) / np.sum(np.exp(scores), axis=1, keepdims=True)
    return -np.log(p[np.arange(len(labels)), labels])


# ----------------------------------------------------------- test inputs
# Chosen away from kinks (|.|, max) and clipping points, where a finite
# difference would straddle a jump in the derivative.


def away_from_zero(rng, shape, low=0.05, high=2.0):
    return rng.uniform(low, high, shape) * rng.choice([-1.0, 1.0], shape)


def one_hot(labels, k):
    return (np.arange(k) == np.asarray(labels)[..., None]).astype(float)


def distribution(rng, shape):
    p = rng.uniform(0.1, 1.0, shape)
    return p / p.sum(axis=-1, keepdims=True)


def make_inputs(name, rng, shape):
    """(y_pred, y_true) for loss ``name`` of the given shape."""
    k = shape[-1]
    if name in ("mean_squared_error", "logcosh"):
        return rng.standard_normal(shape), rng.standard_normal(shape)
    if name == "mean_absolute_error":
        t = rng.standard_normal(shape)
        return t + away_from_zero(rng, shape), t
    if name == "mean_absolute_percentage_error":
        t = away_from_zero(rng, shape, 0.2)
        return t + away_from_zero(rng, shape), t
    if name == "mean_squared_logarithmic_error":
        return rng.uniform(0.1, 3.0, shape), rng.uniform(0.0, 3.0, shape)
    if name in ("hinge", "squared_hinge"):
        t = rng.choice([-1.0, 1.0], shape)
        margin = away_from_zero(rng, shape)  # 1 - t * y_pred
        return t * (1 - margin), t
    if name == "categorical_hinge":
        t = one_hot(rng.integers(0, k, shape[:-1]), k)
        # distinct scores for the other classes (no tie for the max), and a
        # true-class score that puts the example 0.2 to 0.8 inside or outside
        # the margin (away from the hinge's kink)
        spaced = np.broadcast_to(np.linspace(-1.5, 0.5, k - 1), (*shape[:-1], k - 1))
        p = np.zeros(shape)
        p[t == 0] = rng.permuted(spaced, axis=-1).ravel()  # row by row
        neg = np.max((1 - t) * p, axis=-1)
        pos = (
            neg + 1 + away_from_zero(rng, shape[:-1], 0.2, 0.8)
        )  # loss = -(+-0.2..0.8)
        return np.where(t == 1, pos[..., None], p), t
    if name == "categorical_crossentropy":
        # un-normalised positive rows: exercises Keras's renormalisation
        return rng.uniform(0.1, 2.0, shape), distribution(rng, shape)
    if name == "binary_crossentropy":
        return rng.uniform(0.05, 0.95, shape), rng.uniform(0.0, 1.0, shape)
    if name == "kullback_leibler_divergence":
        return distribution(rng, shape), distribution(rng, shape)
    if name == "poisson":
        return rng.uniform(0.1, 3.0, shape), rng.poisson(1.5, shape).astype(float)
    if name == "cosine_proximity":
        return rng.standard_normal(shape), rng.standard_normal(shape)
    raise KeyError(name)


SHAPES = [(1, 1), (5, 3), (4, 7), (2, 3, 4)]
PER_VECTOR = {
    "categorical_hinge",
    "categorical_crossentropy",
    "kullback_leibler_divergence",
    "cosine_proximity",
}


def shapes_for(name):
    # a one-class categorical problem is degenerate (the hinge has no "other")
    return [s for s in SHAPES if not (name in PER_VECTOR and s[-1] == 1)]


CASES = [(name, shape) for name in KERAS for shape in shapes_for(name)]


def check_loss_gradient(loss, y_pred, y_true):
    """Finite-difference check of ``dy_pred`` through the shared checker."""

    def forward(y_pred):
        value, dy_pred = loss(y_pred, y_true)
        return np.asarray(value), dy_pred

    def backward(dout, dy_pred):
        return dout * dy_pred

    return check_gradients(forward, backward, {"y_pred": y_pred})["y_pred"]


# ------------------------------------------------------------------ values


@pytest.mark.parametrize("name, shape", CASES, ids=str)
def test_value_matches_keras_formula(rng, name, shape):
    y_pred, y_true = make_inputs(name, rng, shape)
    value, dy_pred = getattr(losses, name)(y_pred, y_true)
    assert isinstance(value, float)
    assert dy_pred.shape == y_pred.shape
    expected = np.mean(KERAS[name](y_true, y_pred))
    np.testing.assert_allclose(value, expected, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("name, shape", CASES, ids=str)
def test_gradient_matches_finite_differences(rng, name, shape):
    y_pred, y_true = make_inputs(name, rng, shape)
    assert check_loss_gradient(getattr(losses, name), y_pred, y_true) < 1e-7


@pytest.mark.parametrize("shape", [(1, 2), (5, 3), (6, 10)], ids=str)
def test_sparse_categorical_crossentropy(rng, shape):
    labels = rng.integers(0, shape[1], shape[0])
    y_pred = rng.uniform(0.1, 2.0, shape)
    value, grad = losses.sparse_categorical_crossentropy(y_pred, labels)
    np.testing.assert_allclose(value, np.mean(keras_sparse(labels, y_pred)), rtol=1e-12)
    assert (
        check_loss_gradient(losses.sparse_categorical_crossentropy, y_pred, labels)
        < 1e-7
    )
    # the same as the dense version with one-hot targets, and (N, 1) labels work
    dense_value, dense_grad = losses.categorical_crossentropy(
        y_pred, one_hot(labels, shape[1])
    )
    assert value == pytest.approx(dense_value, rel=1e-14)
    np.testing.assert_allclose(grad, dense_grad, rtol=1e-14)
    column = losses.sparse_categorical_crossentropy(y_pred, labels[:, None])
    assert column[0] == value


@pytest.mark.parametrize("shape", [(1, 1), (1, 4), (5, 3), (8, 10)], ids=str)
def test_softmax_cross_entropy(rng, shape):
    scores = 3 * rng.standard_normal(shape)
    labels = rng.integers(0, shape[1], shape[0])
    value, dscores = losses.softmax_cross_entropy(scores, labels)
    np.testing.assert_allclose(
        value, np.mean(reference_softmax_cross_entropy(scores, labels)), rtol=1e-12
    )
    assert check_loss_gradient(losses.softmax_cross_entropy, scores, labels) < 1e-7
    # gradient (p - y) / N, the lectures' g = -(y - p)^T divided by the batch size
    p, _ = softmax_forward(scores)
    np.testing.assert_allclose(
        dscores, (p - one_hot(labels, shape[1])) / shape[0], rtol=1e-12
    )


def test_softmax_cross_entropy_is_softmax_then_categorical_crossentropy(rng):
    scores = rng.standard_normal((6, 4))
    labels = rng.integers(0, 4, 6)
    fused_value, fused_grad = losses.softmax_cross_entropy(scores, labels)
    p, cache = softmax_forward(scores)
    value, dp = losses.categorical_crossentropy(p, one_hot(labels, 4))
    assert fused_value == pytest.approx(value, rel=1e-12)
    np.testing.assert_allclose(fused_grad, softmax_backward(dp, cache), rtol=1e-10)


def test_softmax_cross_entropy_is_stable_and_uniform_scores_give_log_k():
    value, _ = losses.softmax_cross_entropy(np.zeros((3, 10)), [0, 4, 9])
    assert value == pytest.approx(np.log(10), rel=1e-15)
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        value, grad = losses.softmax_cross_entropy(np.array([[1e4, 0.0, -1e4]]), [2])
    assert value == pytest.approx(2e4, rel=1e-15)
    np.testing.assert_allclose(grad, [[1.0, 0.0, -1.0]])


def test_keras_clipping_keeps_values_finite():
    y_true = np.array([[0.0, 1.0, 0.0]])
    y_pred = np.array([[0.0, 1.0, 0.0]])  # perfectly confident: log(0) without clipping
    value, grad = losses.binary_crossentropy(y_pred, y_true)
    assert value == pytest.approx(-np.log(1 - EPS), rel=1e-6)
    assert not np.any(grad)  # every entry clipped: no gradient
    value, grad = losses.binary_crossentropy(np.array([[0.0]]), np.array([[1.0]]))
    assert value == pytest.approx(-np.log(EPS))
    value, _ = losses.categorical_crossentropy(np.array([[1.0, 0.0, 0.0]]), y_true)
    assert value == pytest.approx(-np.log(EPS))
    value, _ = losses.kullback_leibler_divergence(np.array([[0.5, 0.5, 0.0]]), y_true)
    # y_true's zeros are clipped to eps:
    # eps log(eps / 0.5) + 1 log(1 / 0.5) + eps log(eps / eps)
    assert value == pytest.approx(EPS * np.log(2 * EPS) + np.log(2), rel=1e-12)
    value, grad = losses.mean_absolute_percentage_error(
        np.array([[1.0]]), np.array([[0.0]])
    )
    assert value == pytest.approx(100 / EPS) and grad[0, 0] == pytest.approx(100 / EPS)
    value, grad = losses.mean_squared_logarithmic_error(
        np.array([[-1.0]]), np.array([[1.0]])
    )
    assert value == pytest.approx((np.log1p(EPS) - np.log(2)) ** 2) and grad[0, 0] == 0


def test_hinge_converts_zero_one_labels(rng):
    y_pred = rng.standard_normal((5, 3))
    labels01 = rng.integers(0, 2, (5, 3)).astype(float)
    for loss in (losses.hinge, losses.squared_hinge):
        value01, grad01 = loss(y_pred, labels01)
        value, grad = loss(y_pred, 2 * labels01 - 1)
        assert value01 == value
        np.testing.assert_array_equal(grad01, grad)


def test_logcosh_does_not_overflow():
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        value, grad = losses.logcosh(np.array([[1000.0, -1000.0]]), np.zeros((1, 2)))
    assert value == pytest.approx(1000 - np.log(2))
    np.testing.assert_allclose(grad, [[0.5, -0.5]])


def test_cosine_proximity_of_parallel_and_opposite_vectors():
    y = np.array([[1.0, 2.0, 3.0], [1.0, 0.0, 0.0]])
    assert losses.cosine_proximity(3 * y, y)[0] == pytest.approx(-1.0)
    assert losses.cosine_proximity(-y, y)[0] == pytest.approx(1.0)
    # scaling the prediction changes nothing, so the gradient is orthogonal to it
    _, grad = losses.cosine_proximity(np.array([[1.0, 1.0, 0.0]]), y[1:])
    assert np.dot(grad[0], [1.0, 1.0, 0.0]) == pytest.approx(0.0, abs=1e-15)


# ---------------------------------------------------------------- vs torch


def _torch_loss(torch, name):
    F = torch.nn.functional
    return {
        "mean_squared_error": F.mse_loss,
        "mean_absolute_error": F.l1_loss,
        "binary_crossentropy": F.binary_cross_entropy,
        "kullback_leibler_divergence": lambda p, t: F.kl_div(
            torch.log(p), t, reduction="batchmean"
        ),
        "poisson": lambda p, t: F.poisson_nll_loss(p, t, log_input=False, eps=EPS),
        "cosine_proximity": lambda p, t: -F.cosine_similarity(p, t, dim=-1).mean(),
    }[name]


@pytest.mark.parametrize(
    "name",
    [
        "mean_squared_error",
        "mean_absolute_error",
        "binary_crossentropy",
        "kullback_leibler_divergence",
        "poisson",
        "cosine_proximity",
    ],
)
def test_matches_torch(torch, rng, name):
    y_pred, y_true = make_inputs(name, rng, (6, 4))
    value, grad = getattr(losses, name)(y_pred, y_true)
    tp = torch.tensor(y_pred, requires_grad=True)
    t_value = _torch_loss(torch, name)(tp, torch.tensor(y_true))
    t_value.backward()
    assert value == pytest.approx(t_value.item(), rel=1e-12)
    np.testing.assert_allclose(grad, tp.grad.numpy(), rtol=1e-10, atol=1e-15)


def test_softmax_cross_entropy_matches_torch(torch, rng):
    scores = 3 * rng.standard_normal((7, 5))
    labels = rng.integers(0, 5, 7)
    value, grad = losses.softmax_cross_entropy(scores, labels)
    ts = torch.tensor(scores, requires_grad=True)
    t_value = torch.nn.functional.cross_entropy(ts, torch.tensor(labels))
    t_value.backward()
    assert value == pytest.approx(t_value.item(), rel=1e-12)
    np.testing.assert_allclose(grad, ts.grad.numpy(), rtol=1e-10, atol=1e-15)


# ------------------------------------------------------------ dtype, registry


@pytest.mark.parametrize("name", list(KERAS))
def test_float32_gradient_stays_float32(rng, name):
    y_pred, y_true = make_inputs(name, rng, (4, 3))
    value, grad = getattr(losses, name)(y_pred.astype(np.float32), y_true)
    assert isinstance(value, float) and grad.dtype == np.float32
    expected = np.mean(KERAS[name](y_true, y_pred))
    assert value == pytest.approx(expected, rel=1e-4)


def test_float32_for_the_label_losses(rng):
    y_pred = rng.uniform(0.1, 1.0, (4, 3)).astype(np.float32)
    labels = np.array([0, 2, 1, 1])
    for loss in (losses.sparse_categorical_crossentropy, losses.softmax_cross_entropy):
        value, grad = loss(y_pred, labels)
        assert isinstance(value, float) and grad.dtype == np.float32


def test_registry():
    assert losses.get("categorical_crossentropy") is losses.categorical_crossentropy
    assert losses.get("mse") is losses.get("MSE") is losses.mean_squared_error
    assert losses.get("kld") is losses.kullback_leibler_divergence
    assert losses.get("softmax_cross_entropy") is losses.softmax_cross_entropy
    for name in list(KERAS) + ["sparse_categorical_crossentropy"]:
        assert losses.get(name) is getattr(losses, name)

    def custom(y_pred, y_true):
        return 0.0, np.zeros_like(y_pred)

    assert losses.get(custom) is custom
    with pytest.raises(
        ValueError, match=r"loss must be one of .*mean_squared_error.*; got 'msee'"
    ):
        losses.get("msee")
    with pytest.raises(
        TypeError, match=r"loss must be a loss name \(str\) or a callable, got 3"
    ):
        losses.get(3)


# ----------------------------------------------------------------- bad input


@pytest.mark.parametrize("name", list(KERAS))
def test_shape_mismatch_is_rejected(name):
    with pytest.raises(
        ValueError,
        match=r"y_true must have shape \(4, 3\) \(the shape of y_pred\), got \(4,\)",
    ):
        getattr(losses, name)(np.full((4, 3), 0.5), np.ones(4))


def test_bad_input():
    p = np.full((4, 3), 1 / 3)
    with pytest.raises(
        ValueError,
        match=r"y_pred must be an array of at least 2-D \(N, K\), got shape \(3,\)",
    ):
        losses.categorical_crossentropy(p[0], p[0])
    with pytest.raises(
        ValueError, match=r"y_pred must be an array of at least 1-D .*got shape \(\)"
    ):
        losses.mean_squared_error(np.float64(1.0), np.float64(1.0))
    with pytest.raises(
        ValueError, match=r"y_pred must not be empty, got shape \(0, 3\)"
    ):
        losses.mean_squared_error(np.zeros((0, 3)), np.zeros((0, 3)))
    with pytest.raises(
        ValueError, match=r"y_pred must hold probabilities \(>= 0\).*got minimum -1.0"
    ):
        losses.categorical_crossentropy(np.array([[-1.0, 2.0]]), np.array([[0.0, 1.0]]))
    with pytest.raises(
        ValueError, match=r"y_pred must be >= 0 \(a Poisson rate.*got minimum -0.5"
    ):
        losses.poisson(np.array([[-0.5]]), np.array([[1.0]]))
    with pytest.raises(
        ValueError, match=r"labels must be in \[0, 2\] for 3 classes, got 3"
    ):
        losses.softmax_cross_entropy(p, [0, 1, 2, 3])
    with pytest.raises(
        ValueError, match=r"labels must be in \[0, 2\] for 3 classes, got -1"
    ):
        losses.softmax_cross_entropy(p, [0, -1, 2, 1])
    with pytest.raises(
        ValueError,
        match=r"labels must have shape \(4,\), one label per example, got \(3,\)",
    ):
        losses.softmax_cross_entropy(p, [0, 1, 2])
    with pytest.raises(
        TypeError, match=r"labels must hold integer class labels, got dtype float64"
    ):
        losses.softmax_cross_entropy(p, [0, 1.5, 2, 1])
    with pytest.raises(
        ValueError, match=r"scores must be a 2-D array \(N, K\), got shape \(3,\)"
    ):
        losses.softmax_cross_entropy(p[0], [0])
    with pytest.raises(
        ValueError, match=r"y_true must be in \[0, 2\] for 3 classes, got 5"
    ):
        losses.sparse_categorical_crossentropy(p, [0, 1, 5, 2])
    with pytest.raises(
        ValueError, match=r"y_pred must be a 2-D array \(N, K\), got shape \(2, 2, 3\)"
    ):
        losses.sparse_categorical_crossentropy(np.ones((2, 2, 3)), [0, 1])
