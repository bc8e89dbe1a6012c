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

import numpy as np

from autograder.assignments.mistakes.a03_optimizers import MISCONCEPTIONS
from autograder.assignments.references.a03_optimizers import (
    _ADAM_BETA1,
    _HALF_LIFE,
    _VELOCITY_GAIN_GAMMA,
    _adadelta_reference,
    _adagrad_reference,
    _adam_reference,
    _adamax_reference,
    _bias_reference,
    _decay_reference,
    _first_step_reference,
    _library_reference,
    _lookahead_reference,
    _momentum_reference,
    _nadam_reference,
    _nesterov_reference,
    _number_near,
    _rmsprop_reference,
    _stopping_reference,
    _weights_reference,
)
from autograder.checks import Check

# What the students write: the optimizers' update steps and early stopping.
# No check here needs dlcore, so the re-check runs every answer where dlcore
# is neither loaded nor readable; the list names them for the static scan.
WITHHELD = [
    "dlcore.optim.SGD._update",
    "dlcore.optim.Adagrad._update",
    "dlcore.optim.RMSprop._update",
    "dlcore.optim.Adadelta._update",
    "dlcore.optim.Adam._update",
    "dlcore.optim.Adamax._update",
    "dlcore.optim.NAdam._update",
    "dlcore.callbacks.EarlyStopping",
]

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
        misconceptions=MISCONCEPTIONS["momentum_step"],
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
        misconceptions=MISCONCEPTIONS["momentum_weights"],
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
        misconceptions=MISCONCEPTIONS["q_velocity_gain"],
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
        misconceptions=MISCONCEPTIONS["nesterov_step"],
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
        misconceptions=MISCONCEPTIONS["lookahead_next"],
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
        misconceptions=MISCONCEPTIONS["nesterov_library_step"],
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
        misconceptions=MISCONCEPTIONS["adagrad_step"],
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
        misconceptions=MISCONCEPTIONS["rmsprop_step"],
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
        misconceptions=MISCONCEPTIONS["bias_factor"],
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
        misconceptions=MISCONCEPTIONS["uncorrected_first_step"],
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
        misconceptions=MISCONCEPTIONS["q_adam_beta2"],
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
        misconceptions=MISCONCEPTIONS["adam_step"],
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
        misconceptions=MISCONCEPTIONS["adadelta_step"],
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
        misconceptions=MISCONCEPTIONS["adamax_step"],
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
        misconceptions=MISCONCEPTIONS["nadam_step"],
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
        misconceptions=MISCONCEPTIONS["momentum_weight_decay_step"],
    ),
    Check(
        name="q_decay_half_life",
        points=1,
        make_inputs=lambda rng: {},
        call=_answer_call,
        compare=_number_near(_HALF_LIFE, 0.0, "the first whole step"),
        hint="Without a loss gradient each step multiplies a weight by the same "
        "factor; find the first step t at which the product is at most 1/2.",
        misconceptions=MISCONCEPTIONS["q_decay_half_life"],
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
        misconceptions=MISCONCEPTIONS["early_stopping"],
    ),
]
