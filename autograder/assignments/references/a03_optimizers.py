"""Reference functions and custom comparisons of 03_optimizers.

The parent's side of ``autograder/assignments/a03_optimizers.py``: what only
the grading process computes (expected outputs, judgements of a result).
The re-check's child never runs it, so it may use anything of dlcore.
"""

from __future__ import annotations

import math

import numpy as np

from dlcore.callbacks import EarlyStopping
from dlcore.optim import SGD, Adadelta, Adagrad, Adam, Adamax, NAdam, RMSprop


# The test problem of the inputs section, f(theta) = sum(curv * (theta -
# center)**2) / 2 + 0.025 * sum(theta**4): the re-check's child cannot import
# this module, nor this module the declarations (a circle), so the formula is
# written in both; the solution's full marks (tests/test_notebooks.py) prove
# that the two agree.
def _gradient(theta, curv, center):
    return curv * (theta - center) + 0.1 * theta**3


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
