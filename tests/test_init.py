"""dlcore.init: the statistics of every initializer on dense and conv shapes,
orthogonality, determinism, dtypes, argument checks, lecture 004's
10-layer experiment and LSUV on a 10-layer tanh network."""

import math

import numpy as np
import pytest

from dlcore import init
from dlcore.layers.base import Layer

try:  # the real layers once they exist; tiny stand-ins before that
    from dlcore.layers import Dense, Residual, Tanh, TiedDense
except ImportError:
    Dense = Residual = Tanh = TiedDense = None
try:
    from dlcore.layers import Conv2D, Flatten, ReLU
except ImportError:
    Conv2D = None
try:
    from dlcore.model import Sequential
except ImportError:
    Sequential = None

DENSE = (400, 300)  # fan_in 300, fan_out 400
CONV2D = (64, 32, 3, 3)  # fan_in 288, fan_out 576
CONV1D = (48, 16, 5)  # fan_in 80, fan_out 240
SHAPES = [DENSE, CONV2D, CONV1D]


def _expected_std(name, shape):
    fan_in, fan_out = init.fans(shape)
    return {
        "glorot_normal": math.sqrt(2 / (fan_in + fan_out)),
        "glorot_uniform": math.sqrt(2 / (fan_in + fan_out)),
        "xavier_lecture": math.sqrt(1 / fan_in),
        "he_normal": math.sqrt(2 / fan_in),
        "he_uniform": math.sqrt(2 / fan_in),
        "normal": 0.01,
        "uniform": 0.05 / math.sqrt(3),
    }[name]


def test_fans_for_dense_and_conv_shapes():
    assert init.fans((10, 20)) == (20, 10)
    assert init.fans((8, 3, 5)) == (15, 40)
    assert init.fans((64, 32, 3, 3)) == (288, 576)
    with pytest.raises(ValueError, match="at least 2"):
        init.fans((5,))


def test_fans_agree_with_torch(torch):
    for shape in SHAPES + [(7, 2), (4, 3, 2, 5, 6)]:
        expected = torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(shape))
        assert init.fans(shape) == expected


@pytest.mark.parametrize("shape", SHAPES, ids=["dense", "conv2d", "conv1d"])
@pytest.mark.parametrize(
    "name",
    [
        "glorot_normal",
        "glorot_uniform",
        "xavier_lecture",
        "he_normal",
        "he_uniform",
        "normal",
        "uniform",
    ],
)
def test_statistics(name, shape):
    w = init.get(name)(shape, np.random.default_rng(7))
    expected = _expected_std(name, shape)
    std = w.std()
    print(f"{name} {shape}: std {std:.5f}, expected {expected:.5f}")
    assert w.shape == shape and w.dtype == np.float64
    # The standard error of a sample std is about std / sqrt(2 n): < 0.6 % here.
    assert std == pytest.approx(expected, rel=0.03)
    assert abs(w.mean()) < 4 * expected / math.sqrt(w.size)


@pytest.mark.parametrize("name", ["glorot_normal", "he_normal"])
def test_normal_initializers_are_truncated_like_keras(name):
    w = init.get(name)(CONV2D, 0)
    std = _expected_std(name, CONV2D)
    bound = 2 * std / 0.87962566103423978  # two pre-truncation deviations
    assert np.abs(w).max() <= bound
    assert np.abs(w).max() > 0.95 * bound
    plain = init.get(name)(CONV2D, 0, truncated=False)
    assert np.abs(plain).max() > bound  # a plain normal exceeds 2 sigma
    assert plain.std() == pytest.approx(std, rel=0.03)


@pytest.mark.parametrize(
    "name, limit",
    [
        ("glorot_uniform", math.sqrt(6 / (300 + 400))),
        ("he_uniform", math.sqrt(6 / 300)),
        ("uniform", 0.05),
    ],
)
def test_uniform_initializers_stay_within_their_limit(name, limit):
    w = init.get(name)(DENSE, 3)
    assert np.abs(w).max() <= limit
    assert np.abs(w).max() > 0.99 * limit


def test_zeros_and_ones():
    np.testing.assert_array_equal(init.zeros((3, 4), 0), np.zeros((3, 4)))
    assert init.zeros(5).shape == (5,)  # a bias: rank 1 is fine here
    assert init.ones((2,), dtype=np.float32).dtype == np.float32
    np.testing.assert_array_equal(init.ones((2, 2), None), 1.0)


@pytest.mark.parametrize(
    "shape", [(50, 50), (20, 70), (70, 20), (16, 3, 3, 3), (4, 2, 5)]
)
@pytest.mark.parametrize("gain", [1.0, 2.5])
def test_orthogonal(shape, gain):
    w = init.orthogonal(shape, np.random.default_rng(1), gain=gain)
    assert w.shape == shape
    m = w.reshape(shape[0], -1)
    rows, cols = m.shape
    if rows <= cols:
        np.testing.assert_allclose(m @ m.T, gain**2 * np.eye(rows), atol=1e-12)
    else:
        np.testing.assert_allclose(m.T @ m, gain**2 * np.eye(cols), atol=1e-12)
    np.testing.assert_allclose(np.linalg.svd(m, compute_uv=False), gain, rtol=1e-12)


def test_orthogonal_signs_are_not_biased():
    # Without the sign correction, numpy's QR makes R's diagonal negative
    # and the first column of Q would be anti-correlated with the Gaussian's.
    firsts = [init.orthogonal((3, 3), seed)[0, 0] for seed in range(400)]
    assert abs(np.mean(firsts)) < 0.1


ALL = [
    "zeros",
    "ones",
    "normal",
    "uniform",
    "glorot_normal",
    "glorot_uniform",
    "xavier_lecture",
    "he_normal",
    "he_uniform",
    "orthogonal",
]


@pytest.mark.parametrize("name", ALL)
def test_deterministic_from_the_seed_and_dtype(name):
    fn = init.get(name)
    a = fn((30, 20), 42)
    b = fn((30, 20), np.random.default_rng(42))
    np.testing.assert_array_equal(a, b)
    w32 = fn((30, 20), 42, dtype=np.float32)
    assert w32.dtype == np.float32
    np.testing.assert_allclose(w32, a, rtol=1e-6)
    if name not in ("zeros", "ones"):
        assert not np.array_equal(a, fn((30, 20), 43))


def test_registry():
    assert init.get("he_normal") is init.he_normal
    assert init.get("Glorot_Uniform") is init.glorot_uniform
    assert init.get("xavier_lecture") is init.xavier_lecture
    assert init.get("kaiming_uniform") is init.he_uniform

    def custom(shape, rng):
        return np.zeros(shape)

    assert init.get(custom) is custom
    with pytest.raises(ValueError, match="lecun_uniform"):
        init.get("lecun_uniform")
    with pytest.raises(TypeError, match="initializer"):
        init.get(3.0)


@pytest.mark.parametrize(
    "name, meant",
    [("xavier_normal", "glorot_normal"), ("Xavier_Uniform", "glorot_uniform")],
)
def test_bare_xavier_names_say_which_variance_to_pick(name, meant):
    # The lectures' Xavier (1/n_in) and Glorot's (2/(n_in + n_out)) share the
    # name; a bare "xavier_*" would silently mean one of them.
    with pytest.raises(ValueError, match="ambiguous") as caught:
        init.get(name)
    assert "xavier_lecture" in str(caught.value) and meant in str(caught.value)


def test_argument_checks():
    with pytest.raises(ValueError, match=r"at least 2 dimensions.*\(10,\)"):
        init.glorot_uniform((10,), 0)
    with pytest.raises(ValueError, match="at least 2"):
        init.orthogonal((10,), 0)
    with pytest.raises(ValueError, match="shape"):
        init.he_normal((10, 0), 0)
    with pytest.raises(TypeError, match="shape"):
        init.normal("10x10", 0)
    with pytest.raises(ValueError, match="std"):
        init.normal((3, 3), 0, std=0.0)
    with pytest.raises(ValueError, match="limit"):
        init.uniform((3, 3), 0, limit=-1.0)
    with pytest.raises(ValueError, match="gain"):
        init.orthogonal((3, 3), 0, gain=0.0)
    with pytest.raises(TypeError, match="rng"):
        init.he_normal((3, 3), None)
    with pytest.raises(TypeError, match="dtype"):
        init.he_normal((3, 3), 0, dtype=np.int32)
    with pytest.raises(TypeError, match="truncated"):
        init.he_normal((3, 3), 0, truncated="no")


def test_lecture_004_ten_layer_tanh_experiment():
    """10 layers of 500 tanh units on N(0, 1) data (lecture 004): sigma 0.01
    kills the signal, sigma 1 saturates the units, Xavier keeps it alive."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((500, 500))

    def last_activations(make):
        h = x
        for _ in range(10):
            h = np.tanh(h @ make((500, 500), rng).T)
        return h

    small = last_activations(lambda s, r: init.normal(s, r, std=0.01))
    large = last_activations(lambda s, r: init.normal(s, r, std=1.0))
    xavier = last_activations(init.xavier_lecture)
    print("layer-10 std:", small.std(), large.std(), xavier.std())
    assert small.std() < 1e-6
    assert np.mean(np.abs(large) > 0.99) > 0.8  # saturated: zero local gradient
    assert 0.1 < xavier.std() < 0.5
    assert np.mean(np.abs(xavier) > 0.99) < 0.01


# --- LSUV --------------------------------------------------------------------------


class _StandInDense(Layer):
    """Used only while dlcore.layers.Dense does not exist."""

    def __init__(self, d_in, d_out, rng):
        super().__init__()
        self.params = {"W": init.normal((d_out, d_in), rng), "b": np.zeros(d_out)}
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}
        self.built = True

    def forward(self, x, training=True):
        return x @ self.params["W"].T + self.params["b"]


class _StandInTanh(Layer):
    def forward(self, x, training=True):
        return np.tanh(x)


class _Branch(Layer):
    """Used only while dlcore.layers.Residual does not exist: out = x + block(x),
    the block's layers as sublayers()."""

    def __init__(self, layers):
        super().__init__()
        self.layers = layers

    def sublayers(self):
        return self.layers

    def forward(self, x, training=True):
        h = x
        for layer in self.layers:
            h = layer.forward(h, training=training)
        return x + h


def _dense(d_in, d_out, rng, **kwargs):
    if Dense is None:
        return _StandInDense(d_in, d_out, rng)
    layer = Dense(d_out, kernel_initializer="normal", seed=rng, **kwargs)
    layer.forward(np.zeros((1, d_in)), training=False)  # builds it
    return layer


def _tanh():
    return _StandInTanh() if Tanh is None else Tanh()


def _ten_layer_tanh_mlp(rng, width=64, d_in=32):
    layers = []
    for i in range(10):
        layers += [_dense(d_in if i == 0 else width, width, rng), _tanh()]
    return Sequential(layers) if Sequential is not None else layers


def _layers(model):
    return model.layers if hasattr(model, "layers") else model


def _pre_activation_variances(layers, x):
    variances = []
    h = x
    for layer in layers:
        if "W" in layer.params:
            h = h @ layer.params["W"].T + layer.params["b"]
            variances.append(h.var())
            if getattr(layer, "activation", None) is not None:
                h = layer.activation.forward(h, training=False)
        else:
            h = layer.forward(h, training=False)
    return variances


def test_lsuv_gives_unit_variance_in_a_ten_layer_tanh_mlp():
    rng = np.random.default_rng(0)
    model = _ten_layer_tanh_mlp(rng)
    x = rng.standard_normal((256, 32))
    before = _pre_activation_variances(_layers(model), x)
    weights = [layer.params["W"] for layer in _layers(model) if "W" in layer.params]
    results = init.lsuv(model, x, tol=0.1, max_iter=10, rng=1)
    after = _pre_activation_variances(_layers(model), x)
    print("Var before:", np.round(before, 6))
    print("Var after: ", np.round(after, 4))
    assert before[-1] < 1e-6  # std 0.01 weights: the signal has died
    assert len(results) == 10
    for result, variance in zip(results, after, strict=True):
        assert abs(variance - 1.0) < 0.1
        assert result.variance == pytest.approx(variance)
        assert 1 <= result.iterations <= 10
    # In place: the layers still hold the very same arrays.
    assert all(
        w is layer.params["W"]
        for w, layer in zip(
            weights, [l for l in _layers(model) if "W" in l.params], strict=True
        )
    )


def test_lsuv_tight_tolerance_and_float32():
    rng = np.random.default_rng(2)
    layers = _layers(_ten_layer_tanh_mlp(rng, width=40, d_in=20))
    x = rng.standard_normal((200, 20)).astype(np.float32)
    init.lsuv(layers, x, tol=1e-3, max_iter=20, rng=0)
    for variance in _pre_activation_variances(layers, x.astype(np.float64)):
        assert abs(variance - 1.0) < 2e-3
    for layer in layers:
        if "W" in layer.params:
            assert layer.params["W"].dtype == np.float64  # not changed by lsuv


def test_lsuv_pre_initializes_with_orthonormal_rows():
    rng = np.random.default_rng(3)
    layers = [_dense(30, 20, rng), _tanh(), _dense(20, 20, rng)]
    x = rng.standard_normal((100, 30))
    init.lsuv(layers, x, rng=0)
    # After LSUV each W is an orthonormal matrix times one scale factor.
    for layer in (layers[0], layers[2]):
        w = layer.params["W"]
        gram = w @ w.T
        np.testing.assert_allclose(gram, gram[0, 0] * np.eye(20), atol=1e-10)


@pytest.mark.skipif(Dense is None, reason="dlcore.layers.Dense not written yet")
def test_lsuv_measures_a_fused_activation_before_it():
    rng = np.random.default_rng(4)
    layers = [
        _dense(16, 32, rng, activation="tanh"),
        _dense(32, 32, rng, activation="tanh"),
    ]
    x = rng.standard_normal((128, 16))
    init.lsuv(layers, x, tol=0.05)
    for variance in _pre_activation_variances(layers, x):
        assert abs(variance - 1.0) < 0.05
    assert layers[0].activation is not None  # restored after the measurement


@pytest.mark.skipif(TiedDense is None, reason="dlcore.layers.TiedDense not written yet")
def test_lsuv_scales_a_shared_weight_once():
    rng = np.random.default_rng(7)
    encoder = _dense(20, 8, rng)
    decoder = TiedDense(encoder)
    layers = [encoder, _tanh(), decoder]
    x = rng.standard_normal((200, 20))
    decoder.forward(np.tanh(encoder.forward(x, training=False)))  # builds it
    results = init.lsuv(layers, x, tol=0.05)
    assert [r.layer for r in results] == [encoder]
    assert decoder.params["W"] is encoder.params["W"]
    assert abs(_pre_activation_variances(layers[:1], x)[0] - 1) < 0.05


def test_lsuv_enters_containers():
    rng = np.random.default_rng(5)
    first = _dense(12, 12, rng)
    inner = [_dense(12, 12, rng), _tanh(), _dense(12, 12, rng)]
    last = _dense(12, 3, rng)
    branch = _Branch(inner) if Residual is None else Residual(inner)
    layers = [first, _tanh(), branch, last]
    x = rng.standard_normal((300, 12))
    results = init.lsuv(layers, x, tol=0.05)
    assert [r.layer for r in results] == [first, inner[0], inner[2], last]
    h = np.tanh(first.forward(x, training=False))
    h1 = np.tanh(inner[0].forward(h, training=False))
    assert abs(inner[0].forward(h, training=False).var() - 1) < 0.05
    assert abs(inner[2].forward(h1, training=False).var() - 1) < 0.05
    out = last.forward(layers[2].forward(h, training=False), training=False)
    assert abs(out.var() - 1) < 0.05


@pytest.mark.skipif(Conv2D is None, reason="dlcore.layers.Conv2D not written yet")
def test_lsuv_on_a_conv_net():
    rng = np.random.default_rng(8)
    layers = [
        Conv2D(6, 3, padding=1, kernel_initializer="normal"),
        ReLU(),
        Conv2D(4, 3, kernel_initializer="normal"),
        ReLU(),
        Flatten(),
        Dense(10, kernel_initializer="normal"),
    ]
    x = rng.uniform(0, 1, (64, 1, 8, 8))
    h = x
    for layer in layers:  # builds them
        h = layer.forward(h, training=False)
    results = init.lsuv(layers, x, tol=0.05, rng=3)
    assert [r.layer for r in results] == [layers[0], layers[2], layers[5]]
    h = x
    for layer in layers:
        h = layer.forward(h, training=False)
        if "W" in layer.params:  # no fused activation: the output is B_L
            assert abs(h.var() - 1.0) < 0.05
    w = layers[0].params["W"].reshape(6, -1)  # (6, 9): orthonormal rows, scaled
    gram = w @ w.T
    np.testing.assert_allclose(gram, gram[0, 0] * np.eye(6), atol=1e-10)


def test_lsuv_errors():
    rng = np.random.default_rng(6)
    with pytest.raises(ValueError, match="no layer with a weight"):
        init.lsuv([_tanh()], rng.standard_normal((4, 3)))
    layers = [_dense(3, 4, rng)]
    with pytest.raises(ValueError, match="variance 0"):
        init.lsuv(layers, np.zeros((8, 3)))
    with pytest.raises(ValueError, match="tol"):
        init.lsuv(layers, np.ones((8, 3)), tol=0.0)
    with pytest.raises(TypeError, match="max_iter"):
        init.lsuv(layers, np.ones((8, 3)), max_iter=2.5)
    with pytest.raises(TypeError, match="model"):
        init.lsuv("model", np.ones((8, 3)))
