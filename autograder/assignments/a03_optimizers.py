"""Graded checks of assignment 03_optimizers (solutions/03_optimizers/).

Each update rule is run for several steps on a small smooth test problem,
the gradient recomputed at every step from the current parameters, and the
whole trajectory (plus the final state) is compared with the same run of
the :mod:`dlcore.optim` class: ``SGD`` (with and without Nesterov momentum),
``Adagrad``, ``RMSprop`` and ``Adam``. The lectures' momentum and
look-ahead Nesterov forms keep a velocity ``v = lr * b`` where PyTorch (and
dlcore) keep the buffer ``b``; with a constant learning rate the
trajectories are the same, which is what the checks rely on. Epsilons are
large enough in every case that placing one inside instead of after the
square root fails. ``early_stopping`` is compared with
:class:`dlcore.callbacks.EarlyStopping` replayed on the same curves (several
per check, with and without ``min_delta``).
"""

from __future__ import annotations

import numpy as np

from autograder.checks import Check
from dlcore.callbacks import EarlyStopping
from dlcore.optim import SGD, Adagrad, Adam, RMSprop

# ----------------------------------------------------------- the test problem
#
# f(theta) = sum(curv * (theta - center)**2) / 2 + 0.025 * sum(theta**4): a
# separable, mildly non-quadratic bowl with different curvatures per entry.


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


# ------------------------------------------------------------------ momentum


def _momentum_inputs(rng):
    return {**_problem(rng), "gamma": float(rng.uniform(0.5, 0.95))}


def _momentum_call(fn, theta0, curv, center, lr, steps, gamma):
    theta, velocity = theta0.copy(), np.zeros_like(theta0)
    path = [theta.copy()]
    for _ in range(steps):
        theta, velocity = fn(theta, _gradient(theta, curv, center), velocity, lr, gamma)
        path.append(np.array(theta, copy=True))
    return np.stack(path), np.asarray(velocity)


def _momentum_reference(theta0, curv, center, lr, steps, gamma):
    path, state = _run_library(SGD(lr=lr, momentum=gamma), theta0, curv, center, steps)
    return path, lr * state["momentum_buffer"]


# ----------------------------------------------------------------- Nesterov


def _nesterov_call(fn, theta0, curv, center, lr, steps, gamma):
    theta, velocity = theta0.copy(), np.zeros_like(theta0)
    path = [theta.copy()]
    for _ in range(steps):
        theta, velocity = fn(
            theta, velocity, lambda point: _gradient(point, curv, center), lr, gamma
        )
        path.append(np.array(theta, copy=True))
    return np.stack(path), np.asarray(velocity)


def _nesterov_reference(theta0, curv, center, lr, steps, gamma):
    # dlcore's SGD(nesterov=True) holds the look-ahead point phi = theta - gamma v
    # with v = lr * b; undo the substitution to get the lectures' theta.
    def lecture_theta(phi, state):
        return phi + gamma * lr * state["momentum_buffer"]

    optimizer = SGD(lr=lr, momentum=gamma, nesterov=True)
    path, state = _run_library(optimizer, theta0, curv, center, steps, lecture_theta)
    return path, lr * state["momentum_buffer"]


def _library_call(fn, theta0, curv, center, lr, steps, gamma):
    phi, buffer = theta0.copy(), np.zeros_like(theta0)
    path = [phi.copy()]
    for _ in range(steps):
        phi, buffer = fn(phi, _gradient(phi, curv, center), buffer, lr, gamma)
        path.append(np.array(phi, copy=True))
    return np.stack(path), np.asarray(buffer)


def _library_reference(theta0, curv, center, lr, steps, gamma):
    optimizer = SGD(lr=lr, momentum=gamma, nesterov=True)
    path, state = _run_library(optimizer, theta0, curv, center, steps)
    return path, state["momentum_buffer"].copy()


# ---------------------------------------------------------- Adagrad, RMSprop


def _adagrad_inputs(rng):
    return {**_problem(rng, (0.1, 0.5)), "eps": float(rng.choice([1e-3, 1e-2]))}


def _adagrad_call(fn, theta0, curv, center, lr, steps, eps):
    theta, G = theta0.copy(), np.zeros_like(theta0)
    path = [theta.copy()]
    for _ in range(steps):
        theta, G = fn(theta, _gradient(theta, curv, center), G, lr, eps=eps)
        path.append(np.array(theta, copy=True))
    return np.stack(path), np.asarray(G)


def _adagrad_reference(theta0, curv, center, lr, steps, eps):
    path, state = _run_library(Adagrad(lr=lr, eps=eps), theta0, curv, center, steps)
    return path, state["sum"].copy()


def _rmsprop_inputs(rng):
    return {
        **_problem(rng, (0.01, 0.05)),
        "alpha": float(rng.uniform(0.8, 0.99)),
        "eps": float(rng.choice([1e-3, 1e-2])),
    }


def _rmsprop_call(fn, theta0, curv, center, lr, steps, alpha, eps):
    theta, G = theta0.copy(), np.zeros_like(theta0)
    path = [theta.copy()]
    for _ in range(steps):
        theta, G = fn(
            theta, _gradient(theta, curv, center), G, lr, alpha=alpha, eps=eps
        )
        path.append(np.array(theta, copy=True))
    return np.stack(path), np.asarray(G)


def _rmsprop_reference(theta0, curv, center, lr, steps, alpha, eps):
    optimizer = RMSprop(lr=lr, alpha=alpha, eps=eps)
    path, state = _run_library(optimizer, theta0, curv, center, steps)
    return path, state["square_avg"].copy()


# ---------------------------------------------------------------------- Adam


def _adam_inputs(rng):
    return {
        **_problem(rng, (0.02, 0.1)),
        "beta1": float(rng.uniform(0.8, 0.95)),
        "beta2": float(rng.uniform(0.9, 0.999)),
        "eps": float(rng.choice([1e-3, 1e-2])),
    }


def _adam_call(fn, theta0, curv, center, lr, steps, beta1, beta2, eps):
    theta, m, v = theta0.copy(), np.zeros_like(theta0), np.zeros_like(theta0)
    path = [theta.copy()]
    for t in range(1, steps + 1):
        theta, m, v = fn(
            theta,
            _gradient(theta, curv, center),
            m,
            v,
            t,
            lr,
            beta1=beta1,
            beta2=beta2,
            eps=eps,
        )
        path.append(np.array(theta, copy=True))
    return np.stack(path), np.asarray(m), np.asarray(v)


def _adam_reference(theta0, curv, center, lr, steps, beta1, beta2, eps):
    optimizer = Adam(lr=lr, betas=(beta1, beta2), eps=eps)
    path, state = _run_library(optimizer, theta0, curv, center, steps)
    return path, state["exp_avg"].copy(), state["exp_avg_sq"].copy()


# ------------------------------------------------------------ early stopping


_N_CURVES = 8


def _stopping_inputs(rng):
    """Noisy validation curves that fall, then (mostly) rise again, each with
    its own patience and min_delta (half of them 0); the last one keeps
    falling, so that training never stops."""
    curves, patiences, deltas = [], [], []
    for k in range(_N_CURVES):
        n = int(rng.integers(25, 60))
        epochs = np.arange(n)
        turn = rng.uniform(0.3, 1.2) * n  # where over-fitting sets in
        noise = rng.normal(0.0, 0.015, size=n)
        if k == _N_CURVES - 1:
            turn, noise = n, 0.0 * noise  # still improving: training never stops
        curves.append(
            0.2 + 1.5 / (1.0 + epochs) + 0.02 * np.maximum(epochs - turn, 0.0) + noise
        )
        patiences.append(int(rng.integers(1, 9)))
        deltas.append(0.0 if k % 2 == 0 else float(rng.choice([0.002, 0.005, 0.01])))
    return {"curves": curves, "patiences": patiences, "min_deltas": deltas}


def _stopping_call(fn, curves, patiences, min_deltas):
    results = []
    for curve, patience, min_delta in zip(curves, patiences, min_deltas, strict=True):
        stop, best = fn(list(curve), patience, min_delta=min_delta)
        results.append([-1 if stop is None else int(stop), int(best)])
    return np.array(results, dtype=np.int64)


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
        hint=(
            "v = gamma * v + lr * grad, then theta = theta - v (the lecture's form; "
            "return both)."
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
        hint=(
            "Evaluate the gradient at the look-ahead point: "
            "v = gamma * v + lr * grad_fn(theta - gamma * v), then theta = theta - v."
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
        hint=(
            "buffer = momentum * buffer + grad, then "
            "phi = phi - lr * (grad + momentum * buffer) with the *new* buffer."
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
        hint=(
            "G = G + grad**2 first, then theta = theta - lr * grad / (sqrt(G) + eps): "
            "eps is added after the square root."
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
        hint=(
            "G = alpha * G + (1 - alpha) * grad**2, then "
            "theta = theta - lr * grad / (sqrt(G) + eps) (eps after the root)."
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
        hint=(
            "m and v are the running averages without correction; the step uses "
            "m / (1 - beta1**t) and v / (1 - beta2**t) with t starting at 1, and "
            "eps is added after the square root."
        ),
    ),
    Check(
        name="early_stopping",
        points=1,
        make_inputs=_stopping_inputs,
        call=_stopping_call,
        reference=_stopping_reference,
        rtol=0,
        atol=0,
        outputs=("one row per curve: (stop epoch, -1 for None; best epoch)",),
        hint=(
            "An epoch improves if its loss is below best - min_delta; count the "
            "epochs since the last improvement and stop at the epoch where that "
            "count reaches patience. Epochs are numbered from 0."
        ),
    ),
]
