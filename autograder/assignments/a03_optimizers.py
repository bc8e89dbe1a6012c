"""Graded checks of assignment 03_optimizers (solutions/03_optimizers/).

Each update rule is run for several steps on a small smooth test problem,
the gradient recomputed at every step from the current parameters, and the
whole trajectory (plus, where the notebook's state and PyTorch's agree, the
final state) is compared with the same run of the :mod:`dlcore.optim` class:
``SGD`` (with and without Nesterov momentum, with and without weight decay),
``Adagrad``, ``RMSprop``, ``Adam``, ``Adadelta``, ``Adamax`` and ``NAdam``.
The lectures' momentum and look-ahead Nesterov forms keep a velocity
``v = lr * b`` where PyTorch (and dlcore) keep the buffer ``b``; with a
constant learning rate the trajectories are the same, which is what the
checks rely on. Epsilons are large enough in every case that placing one
inside instead of after the square root fails.

The derivation steps are checked on their own: the weights of past
gradients in the momentum velocity, Nesterov's look-ahead point after one
step, Adam's zero-start factor and its first step without the correction.
The inline questions are zero-argument functions whose value is compared
with the number the derivation gives. ``early_stopping`` is compared with
:class:`dlcore.callbacks.EarlyStopping` replayed on the same curves.
"""

from __future__ import annotations

import math

import numpy as np

from autograder.declarations import Check, Misconception
from dlcore.callbacks import EarlyStopping
from dlcore.optim import SGD, Adadelta, Adagrad, Adam, Adamax, NAdam, RMSprop

# The optimizer classes stay available: the notebook's demos use them next to
# the students' functions, which are compared with them.
WITHHELD: list[str] = []

# --------------------------------------------------------------------- inputs
#
# The test problem: f(theta) = sum(curv * (theta - center)**2) / 2
# + 0.025 * sum(theta**4), a separable, mildly non-quadratic bowl with
# different curvatures per entry.


def _gradient(theta, curv, center):
    return curv * (theta - center) + 0.1 * theta**3


def _problem(rng, lr_range=(0.05, 0.2)):
    shape = ((3, 4), (5,), (2, 3, 2))[int(rng.integers(3))]
    return {
        "theta0": rng.normal(0.0, 1.5, size=shape),
        "curv": rng.uniform(0.2, 3.0, size=shape),
        "center": rng.normal(0.0, 1.0, size=shape),
        "lr": float(rng.uniform(*lr_range)),
        "steps": int(rng.integers(8, 16)),
    }


def _momentum_inputs(rng):
    return {**_problem(rng), "gamma": float(rng.uniform(0.5, 0.95))}


def _decay_inputs(rng):
    return {**_momentum_inputs(rng), "weight_decay": float(rng.uniform(0.05, 0.5))}


def _weights_inputs(rng):
    return {
        "t": int(rng.integers(2, 13)),
        "lr": float(rng.uniform(0.01, 0.5)),
        "gamma": float(rng.uniform(0.5, 0.99)),
    }


def _lookahead_inputs(rng):
    shape = (int(rng.integers(2, 6)), int(rng.integers(1, 4)))
    return {
        "phi": rng.normal(size=shape),
        "v_old": rng.normal(size=shape),
        "v_new": rng.normal(size=shape),
        "gamma": float(rng.uniform(0.5, 0.99)),
    }


def _adagrad_inputs(rng):
    return {**_problem(rng, (0.1, 0.5)), "eps": float(rng.choice([1e-3, 1e-2]))}


def _rmsprop_inputs(rng):
    return {
        **_problem(rng, (0.01, 0.05)),
        "alpha": float(rng.uniform(0.8, 0.99)),
        "eps": float(rng.choice([1e-3, 1e-2])),
    }


def _adam_inputs(rng):
    return {
        **_problem(rng, (0.02, 0.1)),
        "beta1": float(rng.uniform(0.8, 0.95)),
        "beta2": float(rng.uniform(0.9, 0.999)),
        "eps": float(rng.choice([1e-3, 1e-2])),
    }


def _nadam_inputs(rng):
    return {
        **_adam_inputs(rng),
        "momentum_decay": float(rng.choice([4e-3, 0.5, 2.0])),
    }


def _adadelta_inputs(rng):
    return {
        **_problem(rng, (0.5, 2.0)),
        "rho": float(rng.uniform(0.8, 0.99)),
        "eps": float(rng.choice([1e-3, 1e-2])),
    }


def _bias_inputs(rng):
    return {
        "betas": rng.uniform(0.5, 0.999, size=6),
        "ts": rng.integers(1, 40, size=6),
    }


def _first_step_inputs(rng):
    grad = rng.normal(size=(int(rng.integers(2, 8)),))
    return {
        "grad": np.where(np.abs(grad) < 0.1, 0.5, grad),  # no zero gradients
        "lr": float(rng.uniform(1e-3, 0.1)),
        "beta1": float(rng.uniform(0.5, 0.95)),
        "beta2": float(rng.uniform(0.9, 0.9999)),
    }


# Boundary cases where the convention decides: a loss that equals the best
# so far (min_delta 0), and one exactly min_delta below it (exact binary
# fractions), is no improvement.
_TIE_CURVES = (
    ([1.0, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5], 2, 0.0),
    ([1.0, 0.5, 0.375, 0.375, 0.375, 0.375, 0.375], 2, 0.125),
)


def _stopping_inputs(rng, n_curves=8):
    """Noisy validation curves that fall, then (mostly) rise again, each with
    its own patience and min_delta (half of them 0); the last random one
    keeps falling, so that training never stops; then the tie curves."""
    curves, patiences, deltas = [], [], []
    for k in range(n_curves):
        n = int(rng.integers(25, 60))
        epochs = np.arange(n)
        turn = rng.uniform(0.3, 1.2) * n  # where over-fitting sets in
        noise = rng.normal(0.0, 0.015, size=n)
        if k == n_curves - 1:
            turn, noise = n, 0.0 * noise  # still improving: training never stops
        curves.append(
            0.2 + 1.5 / (1.0 + epochs) + 0.02 * np.maximum(epochs - turn, 0.0) + noise
        )
        patiences.append(int(rng.integers(1, 9)))
        deltas.append(0.0 if k % 2 == 0 else float(rng.choice([0.002, 0.005, 0.01])))
    for curve, patience, min_delta in _TIE_CURVES:
        curves.append(np.array(curve))
        patiences.append(patience)
        deltas.append(min_delta)
    return {"curves": curves, "patiences": patiences, "min_deltas": deltas}


# How the students' functions are run on the inputs: every step rule is
# iterated from zero state, its theta recorded after every step.


def _iterate(step, theta0, curv, center, steps, state):
    """Trajectory of ``theta, *state = step(t, theta, grad, *state)``."""
    theta, state = theta0.copy(), tuple(state)
    path = [theta.copy()]
    for t in range(1, steps + 1):
        theta, *state = step(t, theta, _gradient(theta, curv, center), *state)
        path.append(np.array(theta, copy=True))
    return np.stack(path), [np.asarray(s) for s in state]


def _momentum_call(fn, theta0, curv, center, lr, steps, gamma):
    def step(t, theta, grad, velocity):
        return fn(theta, grad, velocity, lr, gamma)

    path, (velocity,) = _iterate(
        step, theta0, curv, center, steps, [np.zeros_like(theta0)]
    )
    return path, velocity


def _decay_call(fn, theta0, curv, center, lr, steps, gamma, weight_decay):
    def step(t, theta, grad, velocity):
        return fn(theta, grad, velocity, lr, gamma, weight_decay)

    path, (velocity,) = _iterate(
        step, theta0, curv, center, steps, [np.zeros_like(theta0)]
    )
    return path, velocity


def _nesterov_call(fn, theta0, curv, center, lr, steps, gamma):
    theta, velocity = theta0.copy(), np.zeros_like(theta0)
    path = [theta.copy()]
    for _ in range(steps):
        theta, velocity = fn(
            theta, velocity, lambda point: _gradient(point, curv, center), lr, gamma
        )
        path.append(np.array(theta, copy=True))
    return np.stack(path), np.asarray(velocity)


def _library_call(fn, theta0, curv, center, lr, steps, gamma):
    def step(t, phi, grad, buffer):
        return fn(phi, grad, buffer, lr, gamma)

    path, (buffer,) = _iterate(
        step, theta0, curv, center, steps, [np.zeros_like(theta0)]
    )
    return path, buffer


def _adagrad_call(fn, theta0, curv, center, lr, steps, eps):
    def step(t, theta, grad, G):
        return fn(theta, grad, G, lr, eps=eps)

    path, (G,) = _iterate(step, theta0, curv, center, steps, [np.zeros_like(theta0)])
    return path, G


def _rmsprop_call(fn, theta0, curv, center, lr, steps, alpha, eps):
    def step(t, theta, grad, G):
        return fn(theta, grad, G, lr, alpha=alpha, eps=eps)

    path, (G,) = _iterate(step, theta0, curv, center, steps, [np.zeros_like(theta0)])
    return path, G


def _adam_call(fn, theta0, curv, center, lr, steps, beta1, beta2, eps):
    def step(t, theta, grad, m, v):
        return fn(theta, grad, m, v, t, lr, beta1=beta1, beta2=beta2, eps=eps)

    zeros = np.zeros_like(theta0)
    path, (m, v) = _iterate(step, theta0, curv, center, steps, [zeros, zeros])
    return path, m, v


def _adadelta_call(fn, theta0, curv, center, lr, steps, rho, eps):
    def step(t, theta, grad, G, U):
        return fn(theta, grad, G, U, lr, rho=rho, eps=eps)

    zeros = np.zeros_like(theta0)
    path, _ = _iterate(step, theta0, curv, center, steps, [zeros, zeros])
    return path


def _adamax_call(fn, theta0, curv, center, lr, steps, beta1, beta2, eps):
    def step(t, theta, grad, m, u):
        return fn(theta, grad, m, u, t, lr, beta1=beta1, beta2=beta2, eps=eps)

    zeros = np.zeros_like(theta0)
    path, _ = _iterate(step, theta0, curv, center, steps, [zeros, zeros])
    return path


def _nadam_call(fn, theta0, curv, center, lr, steps, beta1, beta2, eps, momentum_decay):
    def step(t, theta, grad, m, v, mu_product):
        return fn(
            theta,
            grad,
            m,
            v,
            mu_product,
            t,
            lr,
            beta1=beta1,
            beta2=beta2,
            eps=eps,
            momentum_decay=momentum_decay,
        )

    zeros = np.zeros_like(theta0)
    path, _ = _iterate(step, theta0, curv, center, steps, [zeros, zeros, 1.0])
    return path


def _bias_call(fn, betas, ts):
    return np.array([float(fn(b, int(t))) for b, t in zip(betas, ts, strict=True)])


def _stopping_call(fn, curves, patiences, min_deltas):
    results = []
    for curve, patience, min_delta in zip(curves, patiences, min_deltas, strict=True):
        stop, best = fn(list(curve), patience, min_delta=min_delta)
        results.append([-1 if stop is None else int(stop), int(best)])
    return np.array(results, dtype=np.int64)


def _answer_call(fn):
    """An inline question: the student's zero-argument function returns the answer."""
    return fn()


# ----------------------------------------------------------------- references


def _run_library(optimizer, theta0, curv, center, steps, after_step=None):
    """Trajectory of a dlcore optimizer; ``after_step(param, state)`` maps the
    parameter to what is recorded (default: the parameter itself)."""
    params = {"theta": theta0.copy()}
    record = after_step or (lambda param, state: param.copy())
    path = [theta0.copy()]
    for _ in range(steps):
        grads = {"theta": _gradient(params["theta"], curv, center)}
        optimizer.step(params, grads)
        path.append(record(params["theta"], optimizer.state_of(params["theta"])))
    return np.stack(path), optimizer.state_of(params["theta"])


def _momentum_reference(theta0, curv, center, lr, steps, gamma):
    path, state = _run_library(SGD(lr=lr, momentum=gamma), theta0, curv, center, steps)
    return path, lr * state["momentum_buffer"]


def _decay_reference(theta0, curv, center, lr, steps, gamma, weight_decay):
    optimizer = SGD(lr=lr, momentum=gamma, weight_decay=weight_decay)
    path, state = _run_library(optimizer, theta0, curv, center, steps)
    return path, lr * state["momentum_buffer"]


def _weights_reference(t, lr, gamma):
    """Feed gradient e_k at step k: the buffer then holds each step's weight."""
    optimizer = SGD(lr=lr, momentum=gamma)
    params = {"theta": np.zeros(t)}
    for k in range(t):
        optimizer.step(params, {"theta": np.eye(t)[k]})
    return lr * optimizer.state_of(params["theta"])["momentum_buffer"]


def _lookahead_reference(phi, v_old, v_new, gamma):
    # theta^t = phi^t + gamma v^t, theta^{t+1} = theta^t - v^{t+1},
    # phi^{t+1} = theta^{t+1} - gamma v^{t+1}
    return phi + gamma * v_old - (1.0 + gamma) * v_new


def _nesterov_reference(theta0, curv, center, lr, steps, gamma):
    # dlcore's SGD(nesterov=True) holds the look-ahead point phi = theta - gamma v
    # with v = lr * b; undo the substitution to get the lectures' theta.
    def lecture_theta(phi, state):
        return phi + gamma * lr * state["momentum_buffer"]

    optimizer = SGD(lr=lr, momentum=gamma, nesterov=True)
    path, state = _run_library(optimizer, theta0, curv, center, steps, lecture_theta)
    return path, lr * state["momentum_buffer"]


def _library_reference(theta0, curv, center, lr, steps, gamma):
    optimizer = SGD(lr=lr, momentum=gamma, nesterov=True)
    path, state = _run_library(optimizer, theta0, curv, center, steps)
    return path, state["momentum_buffer"].copy()


def _adagrad_reference(theta0, curv, center, lr, steps, eps):
    path, state = _run_library(Adagrad(lr=lr, eps=eps), theta0, curv, center, steps)
    return path, state["sum"].copy()


def _rmsprop_reference(theta0, curv, center, lr, steps, alpha, eps):
    optimizer = RMSprop(lr=lr, alpha=alpha, eps=eps)
    path, state = _run_library(optimizer, theta0, curv, center, steps)
    return path, state["square_avg"].copy()


def _bias_reference(betas, ts):
    """Adam's first average after t constant unit gradients, per (beta, t)."""
    factors = []
    for beta, t in zip(betas, ts, strict=True):
        optimizer = Adam(lr=1e-3, betas=(float(beta), 0.999))
        params = {"theta": np.zeros(1)}
        for _ in range(int(t)):
            optimizer.step(params, {"theta": np.ones(1)})
        factors.append(float(optimizer.state_of(params["theta"])["exp_avg"][0]))
    return np.array(factors)


def _first_step_reference(grad, lr, beta1, beta2):
    m, v = (1.0 - beta1) * grad, (1.0 - beta2) * grad**2
    return -lr * m / np.sqrt(v)


def _adam_reference(theta0, curv, center, lr, steps, beta1, beta2, eps):
    optimizer = Adam(lr=lr, betas=(beta1, beta2), eps=eps)
    path, state = _run_library(optimizer, theta0, curv, center, steps)
    return path, state["exp_avg"].copy(), state["exp_avg_sq"].copy()


def _adadelta_reference(theta0, curv, center, lr, steps, rho, eps):
    optimizer = Adadelta(lr=lr, rho=rho, eps=eps)
    return _run_library(optimizer, theta0, curv, center, steps)[0]


def _adamax_reference(theta0, curv, center, lr, steps, beta1, beta2, eps):
    optimizer = Adamax(lr=lr, betas=(beta1, beta2), eps=eps)
    return _run_library(optimizer, theta0, curv, center, steps)[0]


def _nadam_reference(
    theta0, curv, center, lr, steps, beta1, beta2, eps, momentum_decay
):
    optimizer = NAdam(
        lr=lr, betas=(beta1, beta2), eps=eps, momentum_decay=momentum_decay
    )
    return _run_library(optimizer, theta0, curv, center, steps)[0]


class _Recorder:
    """The minimum of a model that EarlyStopping touches."""

    stop_training = False


def _stopping_reference(curves, patiences, min_deltas):
    results = []
    for curve, patience, min_delta in zip(curves, patiences, min_deltas, strict=True):
        callback = EarlyStopping(
            monitor="val_loss", patience=patience, min_delta=min_delta
        )
        model = _Recorder()
        callback.set_model(model)
        callback.on_train_begin()
        stop = -1
        for epoch, value in enumerate(curve):
            callback.on_epoch_end(epoch, {"val_loss": float(value)})
            if model.stop_training:
                stop = epoch
                break
        results.append([stop, callback.best_epoch])
    return np.array(results, dtype=np.int64)


# The inline questions' answers, from the derivations in the notebook.
_VELOCITY_GAIN_GAMMA = 0.95  # q_velocity_gain: v -> lr * g / (1 - gamma)
_ADAM_BETA1 = 0.9  # q_adam_beta2: (1 - beta1) = sqrt(1 - beta2)
_DECAY_LR, _DECAY_LAMBDA = 0.1, 1e-3  # q_decay_half_life: (1 - lr lam)^t <= 1/2


def _number_near(expected, tolerance, hint):
    """A compare for a numeric answer: within ``tolerance`` of ``expected``."""

    def compare(_, received):
        try:
            value = float(received)
        except (TypeError, ValueError):
            return f"expected a number, received {type(received).__name__}"
        if abs(value - expected) <= tolerance:
            return None
        return f"{value:g} is not the value the derivation gives ({hint})"

    return compare


_HALF_LIFE = math.ceil(math.log(0.5) / math.log(1.0 - _DECAY_LR * _DECAY_LAMBDA))


# ------------------------------------------------------------- misconceptions
#
# Wrong update rules written as a student would write them; each check names
# the one a failing result matches.


def _momentum_old_velocity(theta, grad, velocity, lr, gamma):
    return theta - velocity, gamma * velocity + lr * grad


def _momentum_buffer(theta, grad, velocity, lr, gamma):
    velocity = gamma * velocity + grad
    return theta - lr * velocity, velocity


def _momentum_uphill(theta, grad, velocity, lr, gamma):
    velocity = gamma * velocity + lr * grad
    return theta + velocity, velocity


def _momentum_average(theta, grad, velocity, lr, gamma):
    velocity = gamma * velocity + (1 - gamma) * lr * grad
    return theta - velocity, velocity


def _weights_newest_first(t, lr, gamma):
    return lr * gamma ** np.arange(t)


def _weights_extra_factor(t, lr, gamma):
    return lr * gamma ** (t - np.arange(t))


def _weights_without_lr(t, lr, gamma):
    return gamma ** (t - 1 - np.arange(t))


def _nesterov_at_theta(theta, velocity, grad_fn, lr, gamma):
    velocity = gamma * velocity + lr * grad_fn(theta)
    return theta - velocity, velocity


def _nesterov_behind(theta, velocity, grad_fn, lr, gamma):
    velocity = gamma * velocity + lr * grad_fn(theta + gamma * velocity)
    return theta - velocity, velocity


def _lookahead_no_old(phi, v_old, v_new, gamma):
    return phi - (1 + gamma) * v_new


def _lookahead_plain(phi, v_old, v_new, gamma):
    return phi - v_new


def _library_velocity(phi, grad, buffer, lr, momentum):
    buffer = momentum * buffer + lr * grad
    return phi - (lr * grad + momentum * buffer), buffer


def _library_plain(phi, grad, buffer, lr, momentum):
    buffer = momentum * buffer + grad
    return phi - lr * buffer, buffer


def _adagrad_eps_inside(theta, grad, G, lr, eps=1e-10):
    G = G + grad**2
    return theta - lr * grad / np.sqrt(G + eps), G


def _adagrad_old_sum(theta, grad, G, lr, eps=1e-10):
    return theta - lr * grad / (np.sqrt(G) + eps), G + grad**2


def _adagrad_no_root(theta, grad, G, lr, eps=1e-10):
    G = G + grad**2
    return theta - lr * grad / (G + eps), G


def _rmsprop_eps_inside(theta, grad, G, lr, alpha=0.99, eps=1e-8):
    G = alpha * G + (1 - alpha) * grad**2
    return theta - lr * grad / np.sqrt(G + eps), G


def _rmsprop_weights_swapped(theta, grad, G, lr, alpha=0.99, eps=1e-8):
    G = (1 - alpha) * G + alpha * grad**2
    return theta - lr * grad / (np.sqrt(G) + eps), G


def _rmsprop_sum(theta, grad, G, lr, alpha=0.99, eps=1e-8):
    G = G + grad**2
    return theta - lr * grad / (np.sqrt(G) + eps), G


def _bias_one_step_short(beta, t):
    return 1 - beta ** (t - 1)


def _bias_power_only(beta, t):
    return beta**t


def _first_step_uphill(grad, lr, beta1, beta2):
    return lr * (1 - beta1) / np.sqrt(1 - beta2) * np.sign(grad)


def _first_step_corrected(grad, lr, beta1, beta2):
    return -lr * np.sign(grad)


def _first_step_no_root(grad, lr, beta1, beta2):
    return -lr * (1 - beta1) / (1 - beta2) * np.sign(grad)


def _adam(correct=True, eps_inside=False, shift_t=0, keep_corrected=False):
    """An Adam step with one thing changed."""

    def step(theta, grad, m, v, t, lr, beta1=0.9, beta2=0.999, eps=1e-8):
        m = beta1 * m + (1 - beta1) * grad
        v = beta2 * v + (1 - beta2) * grad**2
        m_hat, v_hat = m, v
        if correct:
            m_hat = m / (1 - beta1 ** (t + shift_t))
            v_hat = v / (1 - beta2 ** (t + shift_t))
        root = np.sqrt(v_hat + eps) if eps_inside else np.sqrt(v_hat) + eps
        theta = theta - lr * m_hat / root
        return (theta, m_hat, v_hat) if keep_corrected else (theta, m, v)

    return step


def _adadelta(eps_outside=False, old_G=False, use_lr=True):
    """An Adadelta step with one thing changed."""

    def step(theta, grad, G, U, lr=1.0, rho=0.9, eps=1e-6):
        new_G = rho * G + (1 - rho) * grad**2
        scale_G = G if old_G else new_G
        if eps_outside:
            delta = (np.sqrt(U) + eps) / (np.sqrt(scale_G) + eps) * grad
        else:
            delta = np.sqrt(U + eps) / np.sqrt(scale_G + eps) * grad
        U = rho * U + (1 - rho) * delta**2
        return theta - (lr if use_lr else 1.0) * delta, new_G, U

    return step


def _adamax(correct_m=True, correct_u=False, absolute=True):
    """An Adamax step with one thing changed."""

    def step(theta, grad, m, u, t, lr=2e-3, beta1=0.9, beta2=0.999, eps=1e-8):
        m = beta1 * m + (1 - beta1) * grad
        size = np.abs(grad) if absolute else grad
        u = np.maximum(beta2 * u, size + eps)
        m_hat = m / (1 - beta1**t) if correct_m else m
        u_hat = u / (1 - beta2**t) if correct_u else u
        return theta - lr * m_hat / u_hat, m, u

    return step


def _nadam(product_late=False, eps_inside=False):
    """A NAdam step with one thing changed."""

    def step(
        theta,
        grad,
        m,
        v,
        mu_product,
        t,
        lr,
        beta1=0.9,
        beta2=0.999,
        eps=1e-8,
        momentum_decay=4e-3,
    ):
        mu = beta1 * (1 - 0.5 * 0.96 ** (t * momentum_decay))
        mu_next = beta1 * (1 - 0.5 * 0.96 ** ((t + 1) * momentum_decay))
        before = mu_product
        mu_product = mu_product * mu
        used = before if product_late else mu_product
        m = beta1 * m + (1 - beta1) * grad
        v = beta2 * v + (1 - beta2) * grad**2
        m_hat = mu_next * m / (1 - used * mu_next) + (1 - mu) * grad / (1 - used)
        v_hat = v / (1 - beta2**t)
        root = np.sqrt(v_hat + eps) if eps_inside else np.sqrt(v_hat) + eps
        return theta - lr * m_hat / root, m, v, mu_product

    return step


def _decay_decoupled(theta, grad, velocity, lr, gamma, weight_decay):
    velocity = gamma * velocity + lr * grad
    return theta - velocity - lr * weight_decay * theta, velocity


def _decay_uphill(theta, grad, velocity, lr, gamma, weight_decay):
    velocity = gamma * velocity + lr * (grad - weight_decay * theta)
    return theta - velocity, velocity


def _stopping(improves, stops, shift=0):
    """Early stopping with its own rule for an improvement and for stopping."""

    def early_stopping(val_losses, patience, min_delta=0.0):
        best, best_epoch, waited = np.inf, 0, 0
        for epoch, loss in enumerate(val_losses):
            if improves(loss, best, min_delta):
                best, best_epoch, waited = loss, epoch, 0
            else:
                waited += 1
                if stops(waited, patience):
                    return epoch + shift, best_epoch + shift
        return None, best_epoch + shift

    return early_stopping


def _strictly_better(loss, best, min_delta):
    return loss < best - min_delta


def _tie_improves(loss, best, min_delta):
    return loss <= best - min_delta


def _delta_ignored(loss, best, min_delta):
    return loss < best


def _patience_reached(waited, patience):
    return waited >= patience


def _patience_exceeded(waited, patience):
    return waited > patience


_EPS_INSIDE = (
    "eps sits inside your square root. It only guards the division, so here it "
    "is added to the root itself; inside, it changes every step while the "
    "squared gradients are small."
)

CHECKS = [
    Check(
        name="momentum_step",
        points=1,
        make_inputs=_momentum_inputs,
        call=_momentum_call,
        reference=_momentum_reference,
        rtol=1e-9,
        atol=1e-12,
        outputs=("trajectory of theta (one row per step)", "final velocity"),
        hint="Two updates in order: first the velocity (the decayed old velocity "
        "plus this step's gradient contribution), then theta moves by the velocity "
        "you just computed.",
        more_hints=(
            "In this notebook's form the velocity already holds the learning rate: "
            "theta moves by the velocity itself, downhill.",
        ),
        misconceptions=(
            Misconception(
                "moves_by_old_velocity",
                "theta moves by the velocity of the previous step: your first step "
                "does not move at all. Update the velocity before using it.",
                answer=_momentum_old_velocity,
            ),
            Misconception(
                "velocity_without_lr",
                "your trajectory is right but your velocity is lr times too large: "
                "you keep PyTorch's buffer. Here the velocity includes the step size.",
                answer=_momentum_buffer,
            ),
            Misconception(
                "uphill",
                "your theta climbs: the velocity points uphill, along the gradient.",
                answer=_momentum_uphill,
            ),
            Misconception(
                "averaged_gradient",
                "your velocity is a weighted average (the gradient scaled by "
                "1 - gamma); the lecture's momentum adds the whole lr * gradient "
                "contribution at each step.",
                answer=_momentum_average,
            ),
        ),
    ),
    Check(
        name="momentum_weights",
        points=1,
        make_inputs=_weights_inputs,
        call=lambda fn, t, lr, gamma: np.asarray(fn(t, lr, gamma), dtype=float),
        reference=_weights_reference,
        rtol=1e-9,
        atol=1e-12,
        outputs=("weights of grad f(theta^0), ..., grad f(theta^(t-1)) in v^t",),
        hint="Unroll the recurrence from v^0 = 0 and read off each gradient's "
        "coefficient: each step that passes after a gradient enters multiplies it "
        "once more by gamma.",
        misconceptions=(
            Misconception(
                "newest_first",
                "your weights are in the reverse order: entry k belongs to the "
                "gradient of step k, so the oldest comes first and has the smallest "
                "weight.",
                answer=_weights_newest_first,
            ),
            Misconception(
                "one_factor_too_many",
                "each of your weights has one factor gamma too many: the newest "
                "gradient has not been decayed yet.",
                answer=_weights_extra_factor,
            ),
            Misconception(
                "without_lr",
                "your weights miss the learning rate that each gradient enters the "
                "velocity with.",
                answer=_weights_without_lr,
            ),
        ),
    ),
    Check(
        name="q_velocity_gain",
        points=1,
        make_inputs=lambda rng: {},
        call=_answer_call,
        compare=_number_near(
            1.0 / (1.0 - _VELOCITY_GAIN_GAMMA), 1e-6, "sum the geometric series"
        ),
        hint="Let t grow in your unrolled sum with a constant gradient g.",
        misconceptions=(
            Misconception(
                "series_from_one",
                "your geometric series leaves out its first term, the newest "
                "gradient's (the power 0).",
                variant=lambda: _VELOCITY_GAIN_GAMMA / (1.0 - _VELOCITY_GAIN_GAMMA),
            ),
        ),
    ),
    Check(
        name="nesterov_step",
        points=1,
        make_inputs=_momentum_inputs,
        call=_nesterov_call,
        reference=_nesterov_reference,
        rtol=1e-9,
        atol=1e-12,
        outputs=("trajectory of theta (one row per step)", "final velocity"),
        hint="Nesterov's only change to momentum is where the gradient is taken: "
        "at the point the old velocity is about to carry theta to.",
        misconceptions=(
            Misconception(
                "gradient_at_theta",
                "your gradient is taken at theta itself: that is plain momentum. "
                "Nesterov looks ahead first.",
                answer=_nesterov_at_theta,
            ),
            Misconception(
                "looks_behind",
                "your look-ahead point lies on the wrong side of theta: the "
                "velocity is about to move theta downhill.",
                answer=_nesterov_behind,
            ),
        ),
    ),
    Check(
        name="lookahead_next",
        points=1,
        make_inputs=_lookahead_inputs,
        call=lambda fn, phi, v_old, v_new, gamma: fn(phi, v_old, v_new, gamma),
        reference=_lookahead_reference,
        outputs=("phi^(t+1)",),
        hint="Write theta^t and theta^(t+1) in terms of phi and the velocities, "
        "then use the momentum step between them.",
        misconceptions=(
            Misconception(
                "old_velocity_dropped",
                "your phi^(t+1) has no term in the old velocity: it enters when you "
                "write theta^t in terms of phi^t.",
                answer=_lookahead_no_old,
            ),
            Misconception(
                "plain_step",
                "your phi moves like theta does; phi is the look-ahead point, so "
                "both its definition at t and at t+1 add velocity terms.",
                answer=_lookahead_plain,
            ),
        ),
    ),
    Check(
        name="nesterov_library_step",
        points=1,
        make_inputs=_momentum_inputs,
        call=_library_call,
        reference=_library_reference,
        rtol=1e-9,
        atol=1e-12,
        outputs=("trajectory of phi (one row per step)", "final buffer"),
        hint="Update the buffer first; the step on phi then uses the gradient and "
        "the buffer as your derivation gives them.",
        misconceptions=(
            Misconception(
                "buffer_holds_lr",
                "your trajectory is right but your buffer is lr times too large: "
                "the library form keeps the buffer of gradients, without the "
                "learning rate.",
                answer=_library_velocity,
            ),
            Misconception(
                "plain_momentum",
                "your step on phi uses the buffer from before this step's update, "
                "which makes it plain momentum; the derivation gives the updated "
                "one.",
                answer=_library_plain,
            ),
        ),
    ),
    Check(
        name="adagrad_step",
        points=1,
        make_inputs=_adagrad_inputs,
        call=_adagrad_call,
        reference=_adagrad_reference,
        rtol=1e-9,
        atol=1e-12,
        outputs=("trajectory of theta (one row per step)", "final G"),
        hint="G accumulates every squared gradient so far, this step's included; "
        "each coordinate's step is divided by the root of its own G, and eps only "
        "guards that division.",
        misconceptions=(
            Misconception("eps_inside_root", _EPS_INSIDE, answer=_adagrad_eps_inside),
            Misconception(
                "step_before_accumulating",
                "your step divides by G before this step's squared gradient is added.",
                answer=_adagrad_old_sum,
            ),
            Misconception(
                "no_square_root",
                "your step divides by G itself; AdaGrad divides by a root, so the "
                "step keeps the units of the gradient.",
                answer=_adagrad_no_root,
            ),
        ),
    ),
    Check(
        name="rmsprop_step",
        points=1,
        make_inputs=_rmsprop_inputs,
        call=_rmsprop_call,
        reference=_rmsprop_reference,
        rtol=1e-9,
        atol=1e-12,
        outputs=("trajectory of theta (one row per step)", "final G"),
        hint="Like AdaGrad, but G is an exponential moving average of the squared "
        "gradients: alpha is the weight of the old average.",
        misconceptions=(
            Misconception("eps_inside_root", _EPS_INSIDE, answer=_rmsprop_eps_inside),
            Misconception(
                "weights_swapped",
                "in your average alpha weighs the new squared gradient; alpha is "
                "the weight of the old average.",
                answer=_rmsprop_weights_swapped,
            ),
            Misconception(
                "sum_not_average",
                "your G adds up the squared gradients (AdaGrad); RMSprop forgets "
                "old ones with its moving average.",
                answer=_rmsprop_sum,
            ),
        ),
    ),
    Check(
        name="bias_factor",
        points=1,
        make_inputs=_bias_inputs,
        call=_bias_call,
        reference=_bias_reference,
        rtol=1e-9,
        atol=1e-12,
        outputs=("the factor c_t, one per (beta, t)",),
        hint="Unroll M_t from M_0 = 0 with a constant gradient and sum the finite "
        "geometric series.",
        more_hints=("Check your formula at t = 1, where M_1 is easy to write down.",),
        misconceptions=(
            Misconception(
                "one_step_short",
                "your factor is the one of the step before: it is 0 at t = 1, "
                "where M_1 is already a fraction of the gradient.",
                answer=_bias_one_step_short,
            ),
            Misconception(
                "weight_of_the_start",
                "your factor is the weight left on the zero start, the part that "
                "is missing; c_t is the part that is there.",
                answer=_bias_power_only,
            ),
        ),
    ),
    Check(
        name="uncorrected_first_step",
        points=1,
        make_inputs=_first_step_inputs,
        call=lambda fn, grad, lr, beta1, beta2: fn(grad, lr, beta1, beta2),
        reference=_first_step_reference,
        outputs=("theta_1 - theta_0",),
        hint="After one step from zero, both averages are known in closed form; "
        "put them into the step without the correction.",
        misconceptions=(
            Misconception(
                "uphill",
                "your step goes uphill: the change of theta has the opposite sign "
                "of the gradient.",
                answer=_first_step_uphill,
            ),
            Misconception(
                "corrected",
                "your step is the corrected one (exactly lr long); the question is "
                "about the step without the bias correction.",
                answer=_first_step_corrected,
            ),
            Misconception(
                "root_forgotten",
                "the second average enters your step without its square root.",
                answer=_first_step_no_root,
            ),
        ),
    ),
    Check(
        name="q_adam_beta2",
        points=1,
        make_inputs=lambda rng: {},
        call=_answer_call,
        compare=_number_near(
            1.0 - (1.0 - _ADAM_BETA1) ** 2, 1e-9, "set your first step equal to lr"
        ),
        hint="Your uncorrected first step has length lr times a factor of beta1 "
        "and beta2: when is that factor 1?",
        misconceptions=(
            Misconception(
                "root_ignored",
                "with your beta2 the factor is not 1: the second average enters "
                "under a square root.",
                variant=lambda: _ADAM_BETA1,
            ),
        ),
    ),
    Check(
        name="adam_step",
        points=2,
        make_inputs=_adam_inputs,
        call=_adam_call,
        reference=_adam_reference,
        rtol=1e-9,
        atol=1e-12,
        outputs=("trajectory of theta (one row per step)", "final m", "final v"),
        hint="Keep the two running averages as they are (they are the state); the "
        "step uses their bias-corrected versions, with t counted from 1.",
        more_hints=(
            "Your bias_factor is the correction of each average; eps only guards "
            "the division.",
        ),
        misconceptions=(
            Misconception(
                "no_bias_correction",
                "your first steps are too short: the averages start at zero and are "
                "not corrected for it.",
                answer=_adam(correct=False),
            ),
            Misconception(
                "eps_inside_root", _EPS_INSIDE, answer=_adam(eps_inside=True)
            ),
            Misconception(
                "t_off_by_one",
                "your correction uses the factor of the next step: t already counts "
                "from 1 when the first step is taken.",
                answer=_adam(shift_t=1),
            ),
            Misconception(
                "corrected_state",
                "you return the corrected averages as the new state, so the next "
                "step corrects them a second time; the state holds the plain "
                "running averages.",
                answer=_adam(keep_corrected=True),
            ),
        ),
    ),
    Check(
        name="adadelta_step",
        points=2,
        make_inputs=_adadelta_inputs,
        call=_adadelta_call,
        reference=_adadelta_reference,
        rtol=1e-9,
        atol=1e-12,
        outputs=("trajectory of theta (one row per step)",),
        hint="Order matters: G first, then the step Delta from the ratio of the two "
        "RMS values (U as it was before this step), then U, then theta.",
        more_hints=(
            "In Adadelta eps goes inside both roots: without it the very first "
            "step, with U = 0, would be zero.",
        ),
        misconceptions=(
            Misconception(
                "eps_outside_roots",
                "your eps is added after the square roots; in Adadelta it sits "
                "inside both, which is what lets the first step (U = 0) move.",
                answer=_adadelta(eps_outside=True),
            ),
            Misconception(
                "step_before_G",
                "your step uses G from before this step's squared gradient.",
                answer=_adadelta(old_G=True),
            ),
            Misconception(
                "lr_ignored",
                "your theta moves by Delta without the learning rate (dlcore and "
                "PyTorch scale it by lr).",
                answer=_adadelta(use_lr=False),
            ),
        ),
    ),
    Check(
        name="adamax_step",
        points=1,
        make_inputs=_adam_inputs,
        call=_adamax_call,
        reference=_adamax_reference,
        rtol=1e-9,
        atol=1e-12,
        outputs=("trajectory of theta (one row per step)",),
        hint="Adamax replaces the second average by a running maximum of gradient "
        "sizes (an infinity norm); think about which of the two needs a bias "
        "correction.",
        misconceptions=(
            Misconception(
                "max_corrected",
                "you bias-correct the running maximum too; a maximum is not pulled "
                "towards its zero start, only the average m is.",
                answer=_adamax(correct_u=True),
            ),
            Misconception(
                "signed_gradient",
                "your running maximum compares signed gradients; it tracks their size.",
                answer=_adamax(absolute=False),
            ),
            Misconception(
                "m_not_corrected",
                "your first average is used without its bias correction.",
                answer=_adamax(correct_m=False),
            ),
        ),
    ),
    Check(
        name="nadam_step",
        points=2,
        make_inputs=_nadam_inputs,
        call=_nadam_call,
        reference=_nadam_reference,
        rtol=1e-9,
        atol=1e-12,
        outputs=("trajectory of theta (one row per step)",),
        hint="mu_t and mu_(t+1) come from the momentum schedule; the running product "
        "must already include this step's mu_t when it is used.",
        misconceptions=(
            Misconception(
                "product_used_before_update",
                "your step uses the product of the mu's before this step's mu_t is "
                "multiplied in.",
                answer=_nadam(product_late=True),
            ),
            Misconception(
                "eps_inside_root", _EPS_INSIDE, answer=_nadam(eps_inside=True)
            ),
        ),
    ),
    Check(
        name="momentum_weight_decay_step",
        points=1,
        make_inputs=_decay_inputs,
        call=_decay_call,
        reference=_decay_reference,
        rtol=1e-9,
        atol=1e-12,
        outputs=("trajectory of theta (one row per step)", "final velocity"),
        hint="L2 weight decay is the gradient of the penalty added to the loss: it "
        "joins the gradient before the momentum update, at theta before the step.",
        misconceptions=(
            Misconception(
                "decoupled_decay",
                "your decay shrinks theta after the momentum step (decoupled, as in "
                "AdamW); here the penalty's gradient goes through the velocity.",
                answer=_decay_decoupled,
            ),
            Misconception(
                "decay_uphill",
                "your decay pushes the weights away from zero: the penalty's "
                "gradient has the sign of theta.",
                answer=_decay_uphill,
            ),
        ),
    ),
    Check(
        name="q_decay_half_life",
        points=1,
        make_inputs=lambda rng: {},
        call=_answer_call,
        compare=_number_near(_HALF_LIFE, 0.0, "the first whole step"),
        hint="Without a loss gradient each step multiplies a weight by the same "
        "factor; find the first step t at which the product is at most 1/2.",
        misconceptions=(
            Misconception(
                "rounded_down",
                "after your number of steps the weight is still a little above "
                "half: the answer is the first whole step at or below it.",
                variant=lambda: _HALF_LIFE - 1,
            ),
        ),
    ),
    Check(
        name="early_stopping",
        points=2,
        make_inputs=_stopping_inputs,
        call=_stopping_call,
        reference=_stopping_reference,
        rtol=0,
        atol=0,
        outputs=("one row per curve: (stop epoch, -1 for None; best epoch)",),
        hint="An epoch improves only if it beats the best so far by more than "
        "min_delta (a tie is no improvement); count the epochs since the last "
        "improvement and stop as soon as that count reaches patience. Epochs are "
        "numbered from 0.",
        misconceptions=(
            Misconception(
                "tie_improves",
                "your rule counts a loss exactly min_delta below the best (or equal "
                "to it, with min_delta 0) as an improvement; an improvement must be "
                "strictly better.",
                answer=_stopping(_tie_improves, _patience_reached),
            ),
            Misconception(
                "patience_exceeded",
                "you stop one epoch late: training stops at the epoch where the "
                "count of epochs without improvement reaches patience.",
                answer=_stopping(_strictly_better, _patience_exceeded),
            ),
            Misconception(
                "min_delta_ignored",
                "your rule ignores min_delta: tiny improvements reset your count.",
                answer=_stopping(_delta_ignored, _patience_reached),
            ),
            Misconception(
                "epochs_from_one",
                "your epochs are numbered from 1; they count from 0, like enumerate.",
                answer=_stopping(_strictly_better, _patience_reached, shift=1),
            ),
        ),
    ),
]
