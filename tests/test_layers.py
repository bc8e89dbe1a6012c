"""Layer objects: the common checks every layer passes, torch agreement, bad input.

The common checks (scikit-learn's ``check_estimator`` idea) live in one
place, :func:`dlcore.gradcheck.check_layer`: batch size and dtype kept
(float32 in, float32 out), ``grads`` keys and shapes, and centred finite
differences for ``dx`` and every parameter (relative error < 1e-7 in
float64). ``test_every_layer_passes_check_layer`` runs it over every layer
class in many configurations, and ``test_every_layer_class_is_checked`` makes
sure a new layer cannot be added without joining that list.
"""

from __future__ import annotations

import inspect

import numpy as np
import pytest

import dlcore.autoencoder
import dlcore.layers as L
import dlcore.model
from dlcore.autoencoder import KLSparsity, MaskingNoise
from dlcore.gradcheck import check_layer
from dlcore.model import Sequential
from dlcore.regularizers import L1L2


def _trained_batchnorm(shape):
    """A BatchNorm whose running statistics moved away from (0, 1)."""

    def make():
        bn = L.BatchNorm(momentum=0.5)
        rng = np.random.default_rng(7)
        for _ in range(3):
            bn.forward(2.0 + 3.0 * rng.standard_normal(shape), training=True)
        return bn

    return make


def _tied_pair():
    encoder = L.Dense(4, activation="sigmoid", input_dim=6)
    return L.Chain([encoder, L.TiedDense(encoder, activation="sigmoid")])


def _tied_decoder_alone():
    encoder = L.Dense(3, input_dim=5)
    encoder.forward(np.zeros((1, 5)))  # build it
    return L.TiedDense(encoder, activation="tanh")


def _small_cnn():
    return Sequential(
        [
            L.Conv2D(3, 3, padding="same", use_bias=False),  # BN follows: no bias
            L.BatchNorm(),
            L.ReLU(),
            L.MaxPool2D(2),
            L.Flatten(),
            L.Dense(4),
        ],
        seed=3,
    )


# (id, factory, input shape, training)
CASES = [
    ("Dense", lambda: L.Dense(5), (4, 3), True),
    ("Dense-relu", lambda: L.Dense(5, activation="relu"), (4, 3), True),
    (
        "Dense-tanh-nobias",
        lambda: L.Dense(2, activation="tanh", use_bias=False),
        (3, 7),
        True,
    ),
    ("Dense-softmax", lambda: L.Dense(4, activation="softmax"), (3, 5), True),
    ("Dense-he-init", lambda: L.Dense(3, kernel_initializer="he_normal"), (2, 4), True),
    ("Conv1D", lambda: L.Conv1D(3, 3), (2, 2, 7), True),
    (
        "Conv1D-stride2-pad1",
        lambda: L.Conv1D(2, 4, stride=2, padding=1),
        (3, 3, 9),
        True,
    ),
    (
        "Conv1D-same",
        lambda: L.Conv1D(2, 3, padding="same", activation="elu"),
        (2, 1, 6),
        True,
    ),
    ("Conv1D-full", lambda: L.Conv1D(2, 3, padding="full"), (2, 2, 5), True),
    ("Conv2D", lambda: L.Conv2D(2, 3), (2, 3, 5, 6), True),
    (
        "Conv2D-nonsquare-stride",
        lambda: L.Conv2D(3, (2, 3), stride=(2, 1)),
        (2, 2, 7, 6),
        True,
    ),
    (
        "Conv2D-pad-pair",
        lambda: L.Conv2D(2, (3, 2), stride=2, padding=(1, 2)),
        (2, 2, 5, 5),
        True,
    ),
    (
        "Conv2D-same-relu",
        lambda: L.Conv2D(2, 3, padding="same", activation="relu"),
        (2, 1, 5, 4),
        True,
    ),
    ("Conv2D-valid", lambda: L.Conv2D(1, 2, padding="valid"), (3, 2, 3, 4), True),
    ("MaxPool1D", lambda: L.MaxPool1D(2), (2, 3, 7), True),
    ("MaxPool1D-overlap", lambda: L.MaxPool1D(3, stride=2), (2, 2, 8), True),
    ("AvgPool1D", lambda: L.AvgPool1D(3), (2, 2, 9), True),
    ("MaxPool2D", lambda: L.MaxPool2D(2), (2, 3, 5, 4), True),
    ("MaxPool2D-overlap", lambda: L.MaxPool2D(3, stride=2), (2, 2, 7, 7), True),
    ("AvgPool2D-rect", lambda: L.AvgPool2D((2, 3), stride=(1, 2)), (2, 2, 5, 7), True),
    ("Flatten", lambda: L.Flatten(), (3, 2, 3, 4), True),
    ("BatchNorm-2D", lambda: L.BatchNorm(), (6, 4), True),
    ("BatchNorm-conv", lambda: L.BatchNorm(), (3, 2, 3, 4), True),
    ("BatchNorm-1Dsignal", lambda: L.BatchNorm(), (3, 2, 5), True),
    ("BatchNorm-2D-inference", _trained_batchnorm((8, 4)), (5, 4), False),
    ("BatchNorm-conv-inference", _trained_batchnorm((4, 3, 2, 2)), (2, 3, 3, 3), False),
    ("Dropout", lambda: L.Dropout(0.5, seed=1), (4, 6), True),
    ("Dropout-conv", lambda: L.Dropout(0.2, seed=2), (2, 3, 4, 4), True),
    ("Dropout-inference", lambda: L.Dropout(0.5, seed=1), (4, 6), False),
    ("ReLU", lambda: L.ReLU(), (4, 5), True),
    ("Sigmoid", lambda: L.Sigmoid(), (4, 5), True),
    ("Tanh", lambda: L.Tanh(), (4, 5), True),
    ("LeakyReLU", lambda: L.LeakyReLU(0.1), (4, 5), True),
    ("ELU", lambda: L.ELU(0.7), (4, 5), True),
    ("Softmax", lambda: L.Softmax(), (4, 5), True),
    ("Sign", lambda: L.Sign(), (4, 5), True),
    ("Activation-tanh", lambda: L.Activation("tanh"), (2, 3, 4), True),
    ("Activation-leaky", lambda: L.Activation("leaky_relu", alpha=0.2), (3, 4), True),
    ("Activation-linear", lambda: L.Activation("linear"), (3, 4), True),
    ("Residual-Dense-ReLU", lambda: L.Residual([L.Dense(5), L.ReLU()]), (4, 5), True),
    (
        "Residual-conv-block",
        lambda: L.Residual(
            [L.Conv2D(2, 3, padding=1, use_bias=False), L.BatchNorm(), L.Tanh()]
        ),
        (2, 2, 4, 4),
        True,
    ),
    (
        "Residual-of-Sequential",
        lambda: L.Residual(Sequential([L.Dense(3), L.ELU()])),
        (3, 3),
        True,
    ),
    ("TiedDense-pair", _tied_pair, (5, 6), True),
    ("TiedDense-alone", _tied_decoder_alone, (4, 3), True),
    ("Chain", lambda: L.Chain([L.Dense(4), L.Sigmoid(), L.Dense(2)]), (3, 5), True),
    ("Sequential-cnn", _small_cnn, (3, 1, 6, 6), True),
    ("MaskingNoise", lambda: MaskingNoise(0.3, seed=4), (4, 6), True),
]


@pytest.mark.parametrize(
    "make, shape, training", [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_every_layer_passes_check_layer(make, shape, training):
    layer = make()
    # not seed 0: check_layer draws dout from seed 0, and dout == x would make
    # some gradients (BatchNorm's dx) vanish identically
    x = np.random.default_rng(2024).standard_normal(shape)
    errors = check_layer(layer, x, training=training)
    print({k: f"{v:.1e}" for k, v in errors.items()})
    assert set(errors) == {"x", *layer.params}
    assert max(errors.values()) < 1e-7


def _layer_classes():
    modules = [L, dlcore.autoencoder, dlcore.model]
    found = set()
    for module in modules:
        for name in getattr(module, "__all__", dir(module)):
            obj = getattr(module, name)
            if inspect.isclass(obj) and issubclass(obj, L.Layer) and obj is not L.Layer:
                found.add(obj)
    return found


def test_every_layer_class_is_checked():
    checked = set()
    for _, make, _, _ in CASES:
        layer = make()
        checked.add(type(layer))
        checked.update(type(child) for child in L.walk(layer))
    missing = {cls.__name__ for cls in _layer_classes()} - {c.__name__ for c in checked}
    assert not missing, f"layers without a check_layer case: {sorted(missing)}"


# ------------------------------------------------------------------ dtypes


def test_float32_parameters_when_built_on_float32():
    layer = L.Dense(3)
    out = layer.forward(np.ones((2, 4), np.float32))
    assert out.dtype == np.float32
    assert layer.params["W"].dtype == np.float32
    assert layer.grads["W"].dtype == np.float32
    dx = layer.backward(np.ones_like(out))
    assert dx.dtype == np.float32


def test_float64_input_on_float32_layer_stays_float64():
    layer = L.Dense(3, dtype=np.float32)
    out = layer.forward(np.ones((2, 4)))
    assert layer.params["W"].dtype == np.float32
    assert out.dtype == np.float64


# ----------------------------------------------------------- layer semantics


def test_residual_backward_adds_the_identity_path(rng):
    block = L.Dense(4)
    res = L.Residual([block])
    x = rng.standard_normal((3, 4))
    out = res.forward(x)
    np.testing.assert_allclose(out, x + x @ block.params["W"].T + block.params["b"])
    dout = rng.standard_normal((3, 4))
    dx = res.backward(dout)
    np.testing.assert_allclose(dx, dout + dout @ block.params["W"])


def test_residual_rejects_a_block_that_changes_the_shape(rng):
    with pytest.raises(ValueError, match="keep the shape"):
        L.Residual([L.Dense(3)]).forward(rng.standard_normal((2, 4)))


def test_tied_weights_are_one_array_with_summed_gradient(rng):
    encoder = L.Dense(3, input_dim=5)
    decoder = L.TiedDense(encoder)
    chain = L.Chain([encoder, L.Sigmoid(), decoder])
    x = rng.standard_normal((4, 5))
    out = chain.forward(x)
    assert decoder.params["W"] is encoder.params["W"]
    assert list(chain.params) == ["0.W", "0.b", "2.b"]  # W listed once
    chain.backward(rng.standard_normal(out.shape))
    np.testing.assert_allclose(
        chain.grads["0.W"], encoder.grads["W"] + decoder.grads["W"], rtol=1e-12
    )


def test_dropout_rate_and_inference_identity(rng):
    x = np.ones((200, 500))
    layer = L.Dropout(0.3, seed=0)
    out = layer.forward(x, training=True)
    dropped = np.mean(out == 0)
    assert abs(dropped - 0.3) < 5 * np.sqrt(0.3 * 0.7 / x.size)
    np.testing.assert_allclose(out[out != 0], 1 / 0.7)
    assert layer.forward(x, training=False) is x


def test_dropout_in_a_model_gets_a_seeded_generator():
    def masks(seed):
        model = Sequential([L.Dropout(0.5)], seed=seed)
        model.build((10,))
        return model.forward(np.ones((4, 10)), training=True)

    np.testing.assert_array_equal(masks(1), masks(1))
    assert not np.array_equal(masks(1), masks(2))


def test_batchnorm_running_statistics_pytorch_update(rng):
    bn = L.BatchNorm(momentum=0.1)
    x = rng.standard_normal((5, 3)) * 2 + 1
    bn.forward(x)
    m = x.shape[0]
    np.testing.assert_allclose(bn.buffers["running_mean"], 0.1 * x.mean(axis=0))
    np.testing.assert_allclose(
        bn.buffers["running_var"], 0.9 + 0.1 * x.var(axis=0) * m / (m - 1)
    )


def test_batchnorm_training_needs_more_than_one_value():
    with pytest.raises(ValueError, match="more than one value"):
        L.BatchNorm().forward(np.ones((1, 3)), training=True)


# -------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    "make, x, error, match",
    [
        (lambda: L.Dense(3), np.ones((2, 3, 4)), ValueError, "Flatten"),
        (lambda: L.Dense(3), np.ones(4), ValueError, "2-D"),
        (lambda: L.Conv2D(2, 3), np.ones((2, 8, 8)), ValueError, "4-D"),
        (lambda: L.Conv1D(2, 3), np.ones((2, 8)), ValueError, "3-D"),
        (lambda: L.BatchNorm(), np.ones((2, 3, 4, 5, 6)), ValueError, "BatchNorm"),
        (lambda: L.Dense(3), np.array([["a", "b"]]), TypeError, "x"),
    ],
)
def test_wrong_input_raises_a_clear_error(make, x, error, match):
    with pytest.raises(error, match=match):
        make().forward(x)


def test_mismatched_input_features_after_build(rng):
    layer = L.Dense(3)
    layer.forward(rng.standard_normal((2, 4)))
    with pytest.raises(ValueError, match="D_in"):
        layer.forward(rng.standard_normal((2, 5)))


def test_conv_channels_mismatch_after_build(rng):
    layer = L.Conv2D(2, 3)
    layer.forward(rng.standard_normal((1, 3, 5, 5)))
    with pytest.raises(ValueError):
        layer.forward(rng.standard_normal((1, 2, 5, 5)))


@pytest.mark.parametrize(
    "make, error, match",
    [
        (lambda: L.Dense(0), ValueError, "units"),
        (lambda: L.Dense(2.5), TypeError, "units"),
        (lambda: L.Dense(3, activation="swish"), ValueError, "activation"),
        (lambda: L.Dense(3, kernel_regularizer="l3"), ValueError, "regularizer"),
        (lambda: L.Dense(3, kernel_constraint="positive"), ValueError, "constraint"),
        (lambda: L.Dense(3, input_dim=4, input_shape=(4,)), ValueError, "input_dim"),
        (lambda: L.Conv2D(2, 0), ValueError, "kernel_size"),
        (lambda: L.Conv2D(2, 3, stride=0), ValueError, "stride"),
        (lambda: L.Conv2D(2, 3, stride=-1), ValueError, "stride"),
        (lambda: L.Conv2D(2, 3, padding=-1), ValueError, "padding"),
        (lambda: L.Conv2D(2, 3, padding="half"), ValueError, "padding"),
        (lambda: L.Conv1D(2, (3, 3)), ValueError, "kernel_size"),
        (lambda: L.MaxPool2D(0), ValueError, "kernel_size"),
        (lambda: L.Dropout(1.0), ValueError, "rate"),
        (lambda: L.Dropout(-0.1), ValueError, "rate"),
        (lambda: L.BatchNorm(momentum=1.5), ValueError, "momentum"),
        (lambda: L.BatchNorm(eps=0), ValueError, "eps"),
        (lambda: L.BatchNorm(inference_statistics="batch"), ValueError, "inference"),
        (lambda: L.Activation("leaky_relu", beta=1), TypeError, "hyper"),
        (lambda: L.TiedDense(L.ReLU()), TypeError, "tied_to"),
        (lambda: L.Residual([]), TypeError, "block"),
        (lambda: L.Chain([L.Dense(2), "relu"]), TypeError, "layer"),
    ],
)
def test_bad_hyper_parameters_raise(make, error, match):
    with pytest.raises(error, match=match):
        make()


def test_kernel_larger_than_padded_input_raises(rng):
    with pytest.raises(ValueError):
        L.Conv2D(1, 5).forward(rng.standard_normal((1, 1, 3, 3)))


def test_population_statistics_required_before_use(rng):
    bn = L.BatchNorm(inference_statistics="population")
    with pytest.raises(ValueError, match="estimate_population_statistics"):
        bn.forward(rng.standard_normal((3, 2)), training=False)


# --------------------------------------------------------- against PyTorch


def _t(torch, a):
    return torch.tensor(np.asarray(a), requires_grad=True)


def test_dense_matches_torch_linear(torch, rng):
    layer = L.Dense(4, kernel_regularizer=None)
    x = rng.standard_normal((5, 3))
    out = layer.forward(x)
    dout = rng.standard_normal(out.shape)
    dx = layer.backward(dout)
    lin = torch.nn.Linear(3, 4)
    with torch.no_grad():
        lin.weight.copy_(torch.tensor(layer.params["W"]))
        lin.bias.copy_(torch.tensor(layer.params["b"]))
    xt = _t(torch, x)
    lin(xt).backward(torch.tensor(dout))
    np.testing.assert_allclose(out, lin(xt).detach().numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(dx, xt.grad.numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(layer.grads["W"], lin.weight.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(layer.grads["b"], lin.bias.grad.numpy(), rtol=1e-12)


@pytest.mark.parametrize(
    "kernel, stride, padding", [(3, 1, 0), ((2, 3), (2, 1), (1, 2)), (3, 1, "same")]
)
def test_conv2d_matches_torch(torch, rng, kernel, stride, padding):
    layer = L.Conv2D(4, kernel, stride=stride, padding=padding, activation="relu")
    x = rng.standard_normal((2, 3, 7, 6))
    out = layer.forward(x)
    dout = rng.standard_normal(out.shape)
    dx = layer.backward(dout)
    conv = torch.nn.Conv2d(3, 4, kernel, stride=stride, padding=padding)
    with torch.no_grad():
        conv.weight.copy_(torch.tensor(layer.params["W"]))
        conv.bias.copy_(torch.tensor(layer.params["b"]))
    xt = _t(torch, x)
    yt = torch.relu(conv(xt))
    yt.backward(torch.tensor(dout))
    np.testing.assert_allclose(out, yt.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(dx, xt.grad.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(layer.grads["W"], conv.weight.grad.numpy(), rtol=1e-10)
    np.testing.assert_allclose(layer.grads["b"], conv.bias.grad.numpy(), rtol=1e-10)


def test_conv1d_and_pools_match_torch(torch, rng):
    tf = torch.nn.functional
    x = rng.standard_normal((2, 3, 11))
    layer = L.Conv1D(2, 4, stride=2, padding=1)
    out = layer.forward(x)
    ref = tf.conv1d(
        torch.tensor(x),
        torch.tensor(layer.params["W"]),
        torch.tensor(layer.params["b"]),
        stride=2,
        padding=1,
    )
    np.testing.assert_allclose(out, ref.numpy(), rtol=1e-10, atol=1e-12)
    img = rng.standard_normal((2, 2, 7, 8))
    for ours, theirs in [
        (L.MaxPool2D(3, stride=2), lambda t: tf.max_pool2d(t, 3, stride=2)),
        (L.AvgPool2D(2), lambda t: tf.avg_pool2d(t, 2)),
    ]:
        xt = _t(torch, img)
        yt = theirs(xt)
        out = ours.forward(img)
        dout = rng.standard_normal(out.shape)
        yt.backward(torch.tensor(dout))
        np.testing.assert_allclose(out, yt.detach().numpy(), rtol=1e-12)
        np.testing.assert_allclose(ours.backward(dout), xt.grad.numpy(), rtol=1e-12)
    for ours, theirs in [
        (L.MaxPool1D(2), lambda t: tf.max_pool1d(t, 2)),
        (L.AvgPool1D(3, stride=2), lambda t: tf.avg_pool1d(t, 3, stride=2)),
    ]:
        np.testing.assert_allclose(
            ours.forward(x), theirs(torch.tensor(x)).numpy(), rtol=1e-12
        )


@pytest.mark.parametrize("shape", [(8, 3), (4, 3, 5), (4, 3, 3, 2)])
def test_batchnorm_matches_torch_training_and_eval(torch, rng, shape):
    """Several training steps: outputs, gradients and running statistics
    (PyTorch semantics: momentum 0.1, unbiased running variance)."""
    ours = L.BatchNorm()
    theirs = {
        2: torch.nn.BatchNorm1d,
        3: torch.nn.BatchNorm1d,
        4: torch.nn.BatchNorm2d,
    }[len(shape)](shape[1])
    for step in range(3):
        x = rng.standard_normal(shape) * (step + 1) + step
        dout = rng.standard_normal(shape)
        xt = _t(torch, x)
        yt = theirs(xt)
        yt.backward(torch.tensor(dout))
        out = ours.forward(x)
        dx = ours.backward(dout)
        np.testing.assert_allclose(out, yt.detach().numpy(), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(dx, xt.grad.numpy(), rtol=1e-8, atol=1e-12)
        np.testing.assert_allclose(
            ours.grads["gamma"], theirs.weight.grad.numpy(), rtol=1e-10
        )
        theirs.zero_grad()
    np.testing.assert_allclose(
        ours.buffers["running_mean"], theirs.running_mean.numpy()
    )
    np.testing.assert_allclose(ours.buffers["running_var"], theirs.running_var.numpy())
    theirs.eval()
    x = rng.standard_normal(shape)
    np.testing.assert_allclose(
        ours.forward(x, training=False),
        theirs(torch.tensor(x)).detach().numpy(),
        rtol=1e-10,
        atol=1e-12,
    )


@pytest.mark.parametrize(
    "ours, theirs",
    [
        (L.ReLU, lambda torch: torch.nn.ReLU()),
        (L.Sigmoid, lambda torch: torch.nn.Sigmoid()),
        (L.Tanh, lambda torch: torch.nn.Tanh()),
        (lambda: L.LeakyReLU(0.2), lambda torch: torch.nn.LeakyReLU(0.2)),
        (lambda: L.ELU(0.5), lambda torch: torch.nn.ELU(0.5)),
        (L.Softmax, lambda torch: torch.nn.Softmax(dim=-1)),
        (L.Flatten, lambda torch: torch.nn.Flatten()),
    ],
)
def test_parameter_free_layers_match_torch(torch, rng, ours, theirs):
    layer, module = ours(), theirs(torch)
    x = rng.standard_normal((3, 2, 4))
    out = layer.forward(x)
    dout = rng.standard_normal(out.shape)
    xt = _t(torch, x)
    yt = module(xt)
    yt.backward(torch.tensor(dout))
    np.testing.assert_allclose(out, yt.detach().numpy(), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(
        layer.backward(dout), xt.grad.numpy(), rtol=1e-12, atol=1e-15
    )


def test_regularized_dense_gradient_includes_penalties(rng):
    """backward adds the penalty gradients; check the total by finite differences."""
    from dlcore.gradcheck import numerical_gradient, rel_error

    layer = L.Dense(
        3,
        activation="sigmoid",
        kernel_regularizer=L1L2(l1=0.01, l2=0.1),
        bias_regularizer=L1L2(l2=0.5),
        activity_regularizer=KLSparsity(rho=0.2, beta=0.7),
    )
    x = rng.standard_normal((6, 4))
    dout = rng.standard_normal((6, 3))

    def total(_):
        out = layer.forward(x)
        return np.sum(out * dout) + layer.penalty()

    total(None)
    layer.backward(dout)
    for name in ("W", "b"):
        analytic = layer.grads[name].copy()
        numeric = numerical_gradient(total, layer.params[name], 1.0)
        err = rel_error(analytic, numeric)
        print(name, f"{err:.1e}")
        assert err < 1e-7
