"""dlcore.optim: each rule against torch.optim, the docstring equations and the
lectures' momentum/Nesterov form; in-place updates, untouched gradients,
float32 preservation and argument checks."""

import math

import numpy as np
import pytest

from dlcore import optim
from dlcore.optim import SGD, Adadelta, Adagrad, Adam, Adamax, NAdam, RMSprop

# (dlcore class, torch.optim class name, hyper-parameters used for both)
CONFIGS = [
    (SGD, "SGD", dict(lr=0.1)),
    (SGD, "SGD", dict(lr=0.1, momentum=0.9)),
    (SGD, "SGD", dict(lr=0.05, momentum=0.8, dampening=0.3, weight_decay=0.01)),
    (SGD, "SGD", dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.1)),
    (Adagrad, "Adagrad", dict()),
    (
        Adagrad,
        "Adagrad",
        dict(lr=0.3, lr_decay=0.1, weight_decay=0.05, initial_accumulator_value=0.2),
    ),
    (RMSprop, "RMSprop", dict()),
    (RMSprop, "RMSprop", dict(lr=0.02, alpha=0.9, momentum=0.5, weight_decay=0.1)),
    (RMSprop, "RMSprop", dict(lr=0.01, centered=True, momentum=0.3, eps=1e-6)),
    (Adadelta, "Adadelta", dict()),
    (Adadelta, "Adadelta", dict(lr=0.5, rho=0.8, eps=1e-4, weight_decay=0.1)),
    (Adam, "Adam", dict()),
    (Adam, "Adam", dict(lr=0.1, betas=(0.8, 0.9), eps=1e-6, weight_decay=0.1)),
    (Adamax, "Adamax", dict()),
    (Adamax, "Adamax", dict(lr=0.1, betas=(0.5, 0.7), weight_decay=0.1)),
    (NAdam, "NAdam", dict()),
    (NAdam, "NAdam", dict(lr=0.1, betas=(0.8, 0.9), momentum_decay=0.1)),
    (NAdam, "NAdam", dict(lr=0.05, weight_decay=0.1, momentum_decay=0.0)),
]
ALL_CLASSES = [SGD, Adagrad, RMSprop, Adadelta, Adam, Adamax, NAdam]


def _problem(rng, dtype=np.float64):
    """A quadratic f = sum_k 0.5 p_k.A_k p_k - b_k.p_k over a 'W' and a 'b'."""
    params = {
        "W": rng.standard_normal((3, 4)).astype(dtype),
        "b": rng.standard_normal(4).astype(dtype),
    }
    scales = {"W": rng.uniform(0.5, 3.0, (3, 4)), "b": rng.uniform(0.5, 3.0, 4)}
    targets = {k: rng.standard_normal(v.shape) for k, v in params.items()}

    def gradient(p):
        return {k: (scales[k] * (p[k] - targets[k])).astype(p[k].dtype) for k in p}

    return params, gradient


def _configured(cls, kwargs, **extra):
    return cls(**{**kwargs, **extra})


@pytest.mark.parametrize("cls, torch_name, kwargs", CONFIGS)
def test_matches_torch_optim(cls, torch_name, kwargs, rng, torch):
    params, gradient = _problem(rng)
    tensors = {k: torch.tensor(v.copy(), requires_grad=True) for k, v in params.items()}
    reference = getattr(torch.optim, torch_name)(list(tensors.values()), **kwargs)
    opt = cls(**kwargs)
    for step in range(6):
        grads = gradient(params)
        opt.step(params, grads)
        for k, t in tensors.items():
            t.grad = torch.tensor(grads[k])
        reference.step()
        for k, t in tensors.items():
            expected = t.detach().numpy()
            err = np.max(np.abs(params[k] - expected))
            print(f"{cls.__name__} {kwargs} step {step + 1} {k}: max |diff| {err:.2e}")
            np.testing.assert_allclose(params[k], expected, rtol=1e-12, atol=1e-13)


# --- hand-written steps from the docstring equations (no torch needed) -------


def _one_step(opt, theta, g):
    params = {"w": np.array(theta, dtype=float)}
    opt.step(params, {"w": np.array(g, dtype=float)})
    return params["w"]


def test_sgd_momentum_two_steps_by_hand():
    opt = SGD(lr=0.1, momentum=0.9)
    params = {"w": np.array([1.0, -2.0])}
    opt.step(params, {"w": np.array([0.5, 1.0])})  # b1 = g1
    np.testing.assert_allclose(params["w"], [1.0 - 0.05, -2.0 - 0.1])
    opt.step(params, {"w": np.array([1.0, -1.0])})  # b2 = 0.9 b1 + g2
    np.testing.assert_allclose(
        params["w"], [0.95 - 0.1 * (0.45 + 1.0), -2.1 - 0.1 * (0.9 - 1.0)]
    )


def test_sgd_nesterov_and_weight_decay_two_steps_by_hand():
    opt = SGD(lr=0.1, momentum=0.5, nesterov=True, weight_decay=0.2)
    params = {"w": np.array([2.0])}
    opt.step(params, {"w": np.array([1.0])})
    g1 = 1.0 + 0.2 * 2.0  # 1.4
    b1 = g1
    theta1 = 2.0 - 0.1 * (g1 + 0.5 * b1)
    np.testing.assert_allclose(params["w"], [theta1])
    opt.step(params, {"w": np.array([-1.0])})
    g2 = -1.0 + 0.2 * theta1
    b2 = 0.5 * b1 + g2
    np.testing.assert_allclose(params["w"], [theta1 - 0.1 * (g2 + 0.5 * b2)])


def test_sgd_dampening_by_hand():
    opt = SGD(lr=1.0, momentum=0.5, dampening=0.25)
    params = {"w": np.array([0.0])}
    opt.step(params, {"w": np.array([2.0])})  # b1 = g1 (no dampening at t=1)
    opt.step(params, {"w": np.array([2.0])})  # b2 = 0.5*2 + 0.75*2 = 2.5
    np.testing.assert_allclose(params["w"], [-2.0 - 2.5])


def test_adagrad_two_steps_by_hand():
    opt = Adagrad(lr=0.5, lr_decay=0.5, initial_accumulator_value=1.0, eps=1e-10)
    params = {"w": np.array([1.0])}
    opt.step(params, {"w": np.array([2.0])})  # G = 1 + 4, lr_1 = 0.5
    theta1 = 1.0 - 0.5 * 2.0 / (math.sqrt(5.0) + 1e-10)
    np.testing.assert_allclose(params["w"], [theta1], rtol=1e-14)
    opt.step(params, {"w": np.array([-1.0])})  # G = 6, lr_2 = 0.5 / 1.5
    theta2 = theta1 + (0.5 / 1.5) * 1.0 / (math.sqrt(6.0) + 1e-10)
    np.testing.assert_allclose(params["w"], [theta2], rtol=1e-14)


def test_rmsprop_two_steps_by_hand():
    opt = RMSprop(lr=0.01, alpha=0.9, eps=1e-8)
    w = _one_step(opt, [1.0], [2.0])
    v1 = 0.1 * 4.0
    np.testing.assert_allclose(w, [1.0 - 0.01 * 2.0 / (math.sqrt(v1) + 1e-8)])
    opt2 = RMSprop(lr=0.01, alpha=0.9, centered=True)
    params = {"w": np.array([1.0])}
    opt2.step(params, {"w": np.array([2.0])})
    opt2.step(params, {"w": np.array([1.0])})
    v = 0.9 * 0.4 + 0.1 * 1.0
    g_avg = 0.9 * 0.2 + 0.1 * 1.0
    first = 2.0 / (math.sqrt(0.4 - 0.04) + 1e-8)
    second = 1.0 / (math.sqrt(v - g_avg**2) + 1e-8)
    np.testing.assert_allclose(params["w"], [1.0 - 0.01 * (first + second)])


def test_adadelta_first_step_by_hand():
    w = _one_step(Adadelta(lr=1.0, rho=0.9, eps=1e-6), [0.0], [3.0])
    v1 = 0.1 * 9.0
    delta = math.sqrt(1e-6) / math.sqrt(v1 + 1e-6) * 3.0
    np.testing.assert_allclose(w, [-delta], rtol=1e-14)


def test_adam_steps_by_hand():
    # Step 1: m_hat = g and v_hat = g^2, so the step is lr * g / (|g| + eps).
    w = _one_step(Adam(lr=0.1), [1.0, 1.0], [4.0, -0.5])
    np.testing.assert_allclose(w, [1.0 - 0.1 * 4 / (4 + 1e-8), 1.0 + 0.1 * 0.5 / 0.5])
    opt = Adam(lr=0.1, betas=(0.5, 0.75), eps=0.0 + 1e-3)
    params = {"w": np.array([0.0])}
    opt.step(params, {"w": np.array([1.0])})
    opt.step(params, {"w": np.array([3.0])})
    m2 = 0.5 * 0.5 + 0.5 * 3.0  # m1 = 0.5
    v2 = 0.75 * 0.25 + 0.25 * 9.0  # v1 = 0.25
    m_hat, v_hat = m2 / (1 - 0.25), v2 / (1 - 0.75**2)
    theta1 = -0.1 * 1.0 / (1.0 + 1e-3)
    np.testing.assert_allclose(
        params["w"], [theta1 - 0.1 * m_hat / (math.sqrt(v_hat) + 1e-3)]
    )


def test_adamax_two_steps_by_hand():
    opt = Adamax(lr=0.2, betas=(0.5, 0.9), eps=1e-8)
    params = {"w": np.array([0.0])}
    opt.step(params, {"w": np.array([2.0])})
    u1 = 2.0 + 1e-8
    theta1 = -0.2 / 0.5 * (0.5 * 2.0) / u1
    np.testing.assert_allclose(params["w"], [theta1])
    opt.step(params, {"w": np.array([0.5])})
    m2 = 0.5 * 1.0 + 0.5 * 0.5
    u2 = max(0.9 * u1, 0.5 + 1e-8)  # the decayed maximum wins
    np.testing.assert_allclose(params["w"], [theta1 - 0.2 / 0.75 * m2 / u2])


def test_nadam_two_steps_by_hand():
    beta1, beta2, psi, lr, eps = 0.9, 0.999, 4e-3, 0.1, 1e-8
    opt = NAdam(lr=lr, betas=(beta1, beta2), eps=eps, momentum_decay=psi)
    params = {"w": np.array([1.0])}
    mu = [beta1 * (1 - 0.5 * 0.96 ** (t * psi)) for t in (1, 2, 3)]
    theta, m, v = 1.0, 0.0, 0.0
    for t, g in enumerate([0.5, -2.0], start=1):
        opt.step(params, {"w": np.array([g])})
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g * g
        prod_t = math.prod(mu[:t])
        prod_next = math.prod(mu[: t + 1])
        m_hat = mu[t] * m / (1 - prod_next) + (1 - mu[t - 1]) * g / (1 - prod_t)
        v_hat = v / (1 - beta2**t)
        theta -= lr * m_hat / (math.sqrt(v_hat) + eps)
        np.testing.assert_allclose(params["w"], [theta], rtol=1e-13)


# --- the lectures' formulation --------------------------------------------------


def _quadratic(rng, n=5):
    q = np.linalg.qr(rng.standard_normal((n, n)))[0]
    a = q @ np.diag(np.linspace(0.1, 4.0, n)) @ q.T  # SPD, known gradient A theta
    return a, rng.standard_normal(n)


def test_momentum_is_the_lectures_velocity_form(rng):
    a, theta0 = _quadratic(rng)
    eta, gamma = 0.05, 0.9
    theta, v = theta0.copy(), np.zeros_like(theta0)
    params = {"theta": theta0.copy()}
    opt = SGD(lr=eta, momentum=gamma)
    for _ in range(50):
        v = gamma * v + eta * (a @ theta)  # v = gamma v + eta grad f(theta)
        theta = theta - v
        opt.step(params, {"theta": a @ params["theta"]})
        np.testing.assert_allclose(params["theta"], theta, rtol=1e-12, atol=1e-14)
        # PyTorch's buffer is the lectures' velocity without the learning rate.
        np.testing.assert_allclose(
            eta * opt.state_of(params["theta"])["momentum_buffer"], v, atol=1e-14
        )


def test_nesterov_is_the_lectures_lookahead_form(rng):
    """Lecture: v = gamma v + eta grad f(theta - gamma v), theta = theta - v.
    SGD(nesterov=True) stores phi = theta - gamma v (the look-ahead point)."""
    a, theta0 = _quadratic(rng)
    eta, gamma = 0.05, 0.9
    theta, v = theta0.copy(), np.zeros_like(theta0)
    params = {"phi": theta0.copy()}
    opt = SGD(lr=eta, momentum=gamma, nesterov=True)
    for _ in range(50):
        v = gamma * v + eta * (a @ (theta - gamma * v))
        theta = theta - v
        opt.step(params, {"phi": a @ params["phi"]})
        np.testing.assert_allclose(
            params["phi"], theta - gamma * v, rtol=1e-12, atol=1e-14
        )
    # Momentum pays on this ill-conditioned bowl: after 50 steps Nesterov is
    # far closer to the minimum at 0 than plain gradient descent (same eta).
    plain = theta0.copy()
    for _ in range(50):
        plain -= eta * (a @ plain)
    assert np.linalg.norm(theta) < 0.1 * np.linalg.norm(plain)


# --- in place, read-only gradients, dtypes, state --------------------------------


@pytest.mark.parametrize("cls", ALL_CLASSES)
def test_updates_in_place_and_leaves_grads_alone(cls, rng):
    params, gradient = _problem(rng)
    kwargs = dict(weight_decay=0.1)
    if cls is SGD:
        kwargs.update(lr=0.1, momentum=0.9, nesterov=True)
    opt = cls(**kwargs)
    arrays = dict(params)
    for _ in range(3):
        before = {k: v.copy() for k, v in params.items()}
        grads = gradient(params)
        grads_copy = {k: v.copy() for k, v in grads.items()}
        grad_arrays = dict(grads)
        opt.step(params, grads)
        for k in params:
            assert params[k] is arrays[k], "the dict entry was rebound"
            assert not np.array_equal(params[k], before[k]), "no update happened"
            assert grads[k] is grad_arrays[k]
            np.testing.assert_array_equal(grads[k], grads_copy[k])


@pytest.mark.parametrize("cls", ALL_CLASSES)
def test_float32_stays_float32(cls, rng):
    params32, gradient = _problem(rng, np.float32)
    params64 = {k: v.astype(np.float64) for k, v in params32.items()}
    kwargs = dict(weight_decay=0.01, lr=0.01)
    if cls is SGD:
        kwargs.update(momentum=0.9)
    if cls is RMSprop:
        kwargs.update(momentum=0.5, centered=True)
    opt32, opt64 = cls(**kwargs), cls(**kwargs)
    for _ in range(5):
        # A float64 gradient for a float32 parameter is cast, not upcasting it.
        opt32.step(
            params32, {k: g.astype(np.float64) for k, g in gradient(params32).items()}
        )
        opt64.step(params64, gradient(params64))
    for k, p in params32.items():
        assert p.dtype == np.float32
        for name, value in opt32.state_of(p).items():
            if isinstance(value, np.ndarray):
                assert value.dtype == np.float32, name
        np.testing.assert_allclose(p, params64[k], rtol=1e-4, atol=1e-5)


def test_state_is_per_array_not_per_name(rng):
    """Two layers both calling their weight 'W' must not share momentum."""
    layer1 = {"W": rng.standard_normal((2, 3))}
    layer2 = {"W": rng.standard_normal((2, 3))}
    flat = {"0.W": layer1["W"].copy(), "1.W": layer2["W"].copy()}
    per_layer, together = Adam(lr=0.1), Adam(lr=0.1)
    for _ in range(4):
        g1, g2 = rng.standard_normal((2, 3)), rng.standard_normal((2, 3))
        per_layer.step(layer1, {"W": g1})
        per_layer.step(layer2, {"W": g2})
        together.step(flat, {"0.W": g1, "1.W": g2})
    np.testing.assert_allclose(layer1["W"], flat["0.W"], rtol=1e-15)
    np.testing.assert_allclose(layer2["W"], flat["1.W"], rtol=1e-15)
    assert per_layer.state_of(layer1["W"])["step"] == 4
    assert per_layer.state_of(np.zeros(3)) == {}
    per_layer.reset()
    assert per_layer.state == {}


def test_lr_can_be_changed_between_steps():
    opt = SGD(lr=0.1)
    params = {"w": np.array([1.0])}
    opt.step(params, {"w": np.array([1.0])})
    opt.lr = 0.5
    opt.step(params, {"w": np.array([1.0])})
    np.testing.assert_allclose(params["w"], [1.0 - 0.1 - 0.5])
    with pytest.raises(ValueError, match="lr"):
        opt.lr = 0.0


def test_schedules():
    assert optim.step_decay(0.1, 0) == 0.1
    assert optim.step_decay(0.1, 9) == 0.1
    assert optim.step_decay(0.1, 10) == pytest.approx(0.05)
    assert optim.step_decay(0.1, 25, drop=0.1, epochs_per_drop=10) == pytest.approx(
        0.001
    )
    assert optim.exponential_decay(1.0, 3, decay_rate=0.5) == pytest.approx(0.125)
    assert optim.exponential_decay(1.0, 2, decay_rate=math.exp(-0.3)) == (
        pytest.approx(math.exp(-0.6))
    )
    with pytest.raises(ValueError, match="epoch"):
        optim.step_decay(0.1, -1)
    with pytest.raises(ValueError, match="decay_rate"):
        optim.exponential_decay(0.1, 1, decay_rate=1.5)


def test_registry():
    assert type(optim.get("adam")) is Adam
    assert type(optim.get("SGD")) is SGD
    assert optim.get("nadam").momentum_decay == 4e-3
    for name, cls in [
        ("adagrad", Adagrad),
        ("rmsprop", RMSprop),
        ("adadelta", Adadelta),
        ("adamax", Adamax),
    ]:
        assert type(optim.get(name)) is cls
    mine = SGD(lr=0.3, momentum=0.5)
    assert optim.get(mine) is mine
    assert type(optim.get(Adam)) is Adam
    with pytest.raises(ValueError, match="adamw"):
        optim.get("adamw")
    with pytest.raises(TypeError, match="optimizer"):
        optim.get(3)


def test_defaults_follow_torch():
    assert SGD().lr == 1e-3 and SGD().momentum == 0.0
    assert (Adagrad().lr, Adagrad().eps) == (1e-2, 1e-10)
    assert (RMSprop().lr, RMSprop().alpha, RMSprop().eps) == (1e-2, 0.99, 1e-8)
    assert (Adadelta().lr, Adadelta().rho, Adadelta().eps) == (1.0, 0.9, 1e-6)
    assert (Adam().lr, Adam().betas, Adam().eps) == (1e-3, (0.9, 0.999), 1e-8)
    assert (Adamax().lr, NAdam().lr) == (2e-3, 2e-3)
    assert "lr=0.001" in repr(Adam())


# --- argument checks --------------------------------------------------------------


@pytest.mark.parametrize(
    "cls, kwargs, name",
    [
        (SGD, dict(lr=0.0), "lr"),
        (SGD, dict(lr=-0.1), "lr"),
        (SGD, dict(momentum=-0.5), "momentum"),
        (SGD, dict(nesterov=True), "momentum"),
        (SGD, dict(momentum=0.9, dampening=0.1, nesterov=True), "dampening"),
        (SGD, dict(weight_decay=-1e-4), "weight_decay"),
        (Adagrad, dict(eps=0.0), "eps"),
        (Adagrad, dict(lr_decay=-1.0), "lr_decay"),
        (Adagrad, dict(initial_accumulator_value=-1.0), "initial_accumulator_value"),
        (RMSprop, dict(alpha=1.5), "alpha"),
        (RMSprop, dict(momentum=-0.1), "momentum"),
        (Adadelta, dict(rho=-0.1), "rho"),
        (Adam, dict(betas=(1.0, 0.999)), r"betas\[0\]"),
        (Adam, dict(betas=(0.9, -0.1)), r"betas\[1\]"),
        (Adam, dict(eps=-1e-8), "eps"),
        (Adamax, dict(betas=(0.9, 1.2)), r"betas\[1\]"),
        (NAdam, dict(momentum_decay=-1.0), "momentum_decay"),
        (NAdam, dict(betas=(0.9,)), "betas"),
    ],
)
def test_bad_hyper_parameters_name_the_argument(cls, kwargs, name):
    with pytest.raises(ValueError, match=name):
        cls(**kwargs)


def test_type_errors():
    with pytest.raises(TypeError, match="lr"):
        Adam(lr="fast")
    with pytest.raises(TypeError, match="nesterov"):
        SGD(momentum=0.9, nesterov="yes")


def test_mismatched_params_and_grads():
    opt = SGD(lr=0.1)
    w = np.zeros((2, 3))
    with pytest.raises(ValueError, match="same keys"):
        opt.step({"W": w, "b": np.zeros(2)}, {"W": np.zeros((2, 3))})
    with pytest.raises(ValueError, match=r"grads\['W'\].*\(2, 3\).*\(3, 2\)"):
        opt.step({"W": w}, {"W": np.zeros((3, 2))})
    with pytest.raises(TypeError, match=r"params\['W'\].*float"):
        opt.step({"W": [[0.0, 1.0]]}, {"W": [[1.0, 1.0]]})
    with pytest.raises(TypeError, match=r"params\['W'\].*int64"):
        opt.step({"W": np.zeros(2, dtype=np.int64)}, {"W": np.ones(2)})
    with pytest.raises(ValueError, match="same array"):
        opt.step({"a": w, "b": w}, {"a": np.ones((2, 3)), "b": np.ones((2, 3))})
    with pytest.raises(TypeError, match="params must be a dict"):
        opt.step([w], [w])
    # Nothing was updated by the failed calls.
    np.testing.assert_array_equal(w, 0.0)
