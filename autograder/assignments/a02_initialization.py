"""Graded checks of assignment 02_initialization (solutions/02_initialization/).

The references come from :mod:`dlcore.init` and :mod:`dlcore.functional`.
The two Gaussian initializers and ``orthogonal`` are random, so their checks
are statistical (shape, determinism under a seed, mean, standard deviation
and kurtosis; orthogonality, gain and uniform signs) rather than
element-wise: any correct way of drawing passes. ``variance_ratio``,
``init_std``, ``standardize``, ``zca_whiten``, ``activations_and_gradients``
and ``lsuv`` are deterministic and compared entry by entry. The ``q_*``
checks grade the answers to the notebook's auto-graded questions (a number
the student assigns; ``...`` means not answered yet).

Names: the notebook's ``xavier_lecture`` is the lectures' Xavier,
N(0, 1/n_in), as :func:`dlcore.init.xavier_lecture`; Glorot and Bengio's
2/(n_in + n_out) is :func:`dlcore.init.glorot_normal`.
"""

from __future__ import annotations

import math

import numpy as np

import dlcore.init
from autograder.assignments.mistakes.a02_initialization import MISCONCEPTIONS
from autograder.assignments.references.a02_initialization import (
    _close_to,
    _he_std,
    _lsuv_compare,
    _lsuv_reference,
    _lsuv_steps,
    _one_orthogonal,
    _standardize_reference,
    _stats_compare,
    _stats_reference,
    _tanh_factor,
    _tanh_layers,
    _variance_ratio_reference,
    _whiten_reference,
    _whole,
    _xavier_std,
)
from autograder.checks import Check

# The notebook asks for the student's own versions of these.
WITHHELD = [
    "dlcore.init.xavier_lecture",
    "dlcore.init.he_normal",
    "dlcore.init.orthogonal",
    "dlcore.init.lsuv",
]


def _seeded(rng: np.random.Generator) -> int:
    return int(rng.integers(2**31))


# ------------------------------------------------------------ variance_ratio


def _variance_ratio_inputs(rng):
    n_in = int(rng.integers(40, 80))
    n_out = int(rng.integers(20, 50))
    x = rng.normal(0.3, 1.7, size=(int(rng.integers(30, 60)), n_in))
    if rng.random() < 0.5:
        x = np.maximum(x, 0.0)  # ReLU outputs: E[x^2] differs from Var[x]
    W = rng.normal(0.05, 0.2, size=(n_out, n_in))  # a non-zero mean on purpose
    return {"x": x, "W": W}


# ------------------------------------------------------ Gaussian initializers

_SHAPES = [(300, 400), (200, 150), (64, 16, 5, 5), (40, 12, 25)]


def _init_inputs(rng):
    return {"seed": _seeded(rng)}


def _draw_all(fn, seed):
    """For every shape of _SHAPES, two draws from generators with the same seed
    (they must agree): a tuple (first, second, first, second, ...)."""
    draws = ()
    for i, shape in enumerate(_SHAPES):
        for _ in range(2):
            draws += (np.asarray(fn(shape, np.random.default_rng(seed + i))),)
    return draws


def _statistical_normal(std_of_shape, name):
    """compare: the draws are N(0, std^2) samples with std from the shape."""

    def compare(expected, received):
        if not (isinstance(received, tuple) and len(received) == 2 * len(_SHAPES)):
            return "internal: expected two draws per shape from the check's call"
        for i, shape in enumerate(_SHAPES):
            problem = _one_normal(received[2 * i], received[2 * i + 1], shape)
            if problem:
                return problem
        return None

    def _one_normal(first, second, shape):
        first, second = np.asarray(first), np.asarray(second)
        if first.shape != shape:
            return f"expected an array of shape {shape}, received shape {first.shape}"
        if first.dtype != np.float64:
            return f"expected dtype float64, received dtype {first.dtype}"
        if not np.all(np.isfinite(first)):
            return "the weights contain NaN or infinite values"
        if not np.array_equal(first, second):
            return (
                "two calls with generators made from the same seed gave different "
                "weights: draw every random number from the rng argument (not from "
                "np.random.* or a new generator)"
            )
        target = std_of_shape(shape)
        n = first.size
        std = first.std()
        if abs(std / target - 1.0) > 0.03:
            fan_in = math.prod(shape[1:])
            return (
                f"standard deviation of the weights {std:.5g}, expected {target:.5g} "
                f"for shape {shape} (fan-in {fan_in}); measured over {n} samples, "
                "so a difference above 3 % is not chance"
            )
        if abs(first.mean()) > 5 * target / math.sqrt(n):
            return (
                f"mean of the weights {first.mean():.3g} for shape {shape}, expected "
                f"0 (within {5 * target / math.sqrt(n):.2g} for {n} samples)"
            )
        kurtosis = np.mean((first - first.mean()) ** 4) / std**4
        if abs(kurtosis - 3.0) > 0.3:
            return (
                f"the weights do not look normally distributed: kurtosis "
                f"{kurtosis:.2f}, a normal distribution has 3 (a uniform one 1.8)"
            )
        return None

    compare.__name__ = f"compare_{name}"
    return compare


def _xavier_reference(seed):
    return _draw_all(dlcore.init.xavier_lecture, seed)


def _he_reference(seed):
    def plain_he(shape, rng):
        return dlcore.init.he_normal(shape, rng, truncated=False)

    return _draw_all(plain_he, seed)


# ---------------------------------------------------- forward/backward stats


def _stats_inputs(rng):
    widths = [int(w) for w in rng.integers(5, 16, size=int(rng.integers(3, 6)))]
    n = int(rng.integers(6, 15))
    weights = [
        rng.standard_normal((d_out, d_in)) / math.sqrt(d_in)
        for d_in, d_out in zip(widths[:-1], widths[1:], strict=True)
    ]
    return {
        "x": rng.standard_normal((n, widths[0])),
        "weights": weights,
        "dout": rng.standard_normal((n, widths[-1])),
    }


def _stats_call(fn, x, weights, dout):
    """Both activations on the same network: tanh's outputs, then ReLU's."""
    outputs = ()
    for activation in ("tanh", "relu"):
        activations, grads = fn(
            x.copy(), [W.copy() for W in weights], activation, dout.copy()
        )
        outputs += tuple(activations) + tuple(grads)
    return outputs


# ----------------------------------------------------------------- orthogonal

_ORTHO_CASES = [
    ((30, 30), 1.0),
    ((20, 45), 1.0),
    ((45, 20), math.sqrt(2.0)),
    ((12, 3, 3, 3), 1.0),
    ((50, 8, 2), 0.5),
]
_N_SMALL = 400  # draws of a 4x3 matrix to test that the signs are uniform


def _ortho_inputs(rng):
    return {"seed": _seeded(rng)}


def _ortho_call(fn, seed):
    """Per case of _ORTHO_CASES two draws with the same seed, then _N_SMALL
    draws of a (4, 3) matrix from one generator."""
    outputs = ()
    for i, (shape, gain) in enumerate(_ORTHO_CASES):
        for _ in range(2):
            rng = np.random.default_rng(seed + i)
            outputs += (np.asarray(fn(shape, rng, gain=gain)),)
    rng = np.random.default_rng(seed + len(_ORTHO_CASES))
    small = [np.asarray(fn((4, 3), rng, gain=1.0)) for _ in range(_N_SMALL)]
    if any(w.shape != (4, 3) for w in small):
        return outputs + (np.zeros(0),)
    return outputs + (np.stack(small),)


def _ortho_reference(seed):
    return _ortho_call(dlcore.init.orthogonal, seed)


def _ortho_compare(expected, received):
    if not (isinstance(received, tuple) and len(received) == len(expected)):
        return "internal: unexpected number of outputs from the check's call"
    for i, (shape, gain) in enumerate(_ORTHO_CASES):
        problem = _one_orthogonal(received[2 * i], received[2 * i + 1], shape, gain)
        if problem:
            return problem
    small = np.asarray(received[-1])
    if small.shape != (_N_SMALL, 4, 3):
        return "for shape (4, 3) the result does not have that shape"
    # Uniform (Haar) columns have entries with mean 0; without the sign fix
    # QR's conventions make e.g. the first entry of every column one-signed.
    means = small.mean(axis=0)
    worst = np.abs(means).max()
    if worst > 0.15:
        idx = tuple(
            int(i) for i in np.unravel_index(np.abs(means).argmax(), means.shape)
        )
        return (
            f"the matrices are orthogonal but not uniformly distributed: over "
            f"{_N_SMALL} draws of a (4, 3) matrix, entry {idx} has mean "
            f"{means[idx]:.3f} (expected about 0, |mean| < 0.15)"
        )
    return None


# ----------------------------------------------------------------------- lsuv


def _semi_orthogonal(rows, cols, rng):
    # Made here rather than with dlcore.init.orthogonal, which is withheld
    # (and so not callable from this module) while the assignment is graded.
    q, _ = np.linalg.qr(rng.standard_normal((max(rows, cols), min(rows, cols))))
    return q.T if rows < cols else q


def _lsuv_inputs(rng):
    widths = [int(w) for w in rng.integers(8, 20, size=int(rng.integers(3, 5)))]
    weights = [
        _semi_orthogonal(d_out, d_in, rng)
        * float(rng.uniform(0.5, 2.0))  # an off-scale start to be rescaled
        for d_in, d_out in zip(widths[:-1], widths[1:], strict=True)
    ]
    biases = [0.3 * rng.standard_normal(d) for d in widths[1:]]
    return {
        "weights": weights,
        "biases": biases,
        "x": rng.standard_normal((int(rng.integers(30, 60)), widths[0])) * 1.5,
        "tol": float(rng.choice([0.1, 0.01, 1e-3])),
        "max_iter": int(rng.integers(2, 11)),
    }


def _lsuv_call(fn, weights, biases, x, tol, max_iter):
    """tanh's results, then ReLU's: per activation the rescaled weights, the
    variances, the iteration counts and whether the inputs stayed untouched."""
    outputs = ()
    for activation in ("tanh", "relu"):
        given = [w.copy() for w in weights]
        new_weights, variances, iterations = fn(
            given,
            [b.copy() for b in biases],
            x.copy(),
            activation,
            tol=tol,
            max_iter=max_iter,
        )
        untouched = all(
            np.array_equal(a, b) for a, b in zip(given, weights, strict=True)
        )
        outputs += (
            tuple(np.asarray(w) for w in new_weights)
            + (np.asarray(variances, dtype=np.float64),)
            + (np.asarray(iterations, dtype=np.int64), np.array(untouched))
        )
    return outputs


# ------------------------------------------------------------- init_std

_STD_CASES = [
    ("xavier_lecture", 500, 500),
    ("xavier_lecture", 300, 64),
    ("glorot", 300, 64),
    ("glorot", 27, 144),
    ("he", 500, 500),
    ("he", 144, 32),
]


def _std_call(fn):
    return tuple(np.float64(fn(rule, n_in, n_out)) for rule, n_in, n_out in _STD_CASES)


def _std_reference():
    stds = {
        "xavier_lecture": lambda n_in, n_out: math.sqrt(1.0 / n_in),
        "glorot": lambda n_in, n_out: math.sqrt(2.0 / (n_in + n_out)),
        "he": lambda n_in, n_out: math.sqrt(2.0 / n_in),
    }
    return tuple(
        np.float64(stds[rule](n_in, n_out)) for rule, n_in, n_out in _STD_CASES
    )


# ---------------------------------------------------- input preprocessing


def _preprocessing_inputs(rng):
    n, d = int(rng.integers(40, 80)), int(rng.integers(4, 8))
    mixing = rng.standard_normal((d, d))
    x_train = rng.standard_normal((n, d)) @ mixing * 3.0 + rng.normal(0, 5, d)
    x_train[:, 0] = 2.5  # a constant feature, like the digits' border pixels
    x = rng.standard_normal((7, d)) @ mixing * 3.0
    return {"x_train": x_train, "x": x}


def _whiten_inputs(rng):
    inputs = _preprocessing_inputs(rng)
    inputs["eps"] = float(rng.choice([1e-2, 0.1]))
    return inputs


# ------------------------------------------------------------- questions


def _no_inputs(rng):
    return {}


def _answered(answer):
    """The student's answer as a float64 scalar; ``...`` is no answer yet."""
    if answer is Ellipsis:
        raise NotImplementedError("replace ... by your answer")
    try:
        return np.float64(answer)
    except (TypeError, ValueError):
        return np.float64(np.nan)


CHECKS = [
    Check(
        name="variance_ratio",
        points=1,
        make_inputs=_variance_ratio_inputs,
        call=lambda fn, x, W: np.float64(fn(x, W)),
        reference=_variance_ratio_reference,
        rtol=1e-9,
        hint=(
            "The lecture's variance formula for one score, with every statistic "
            "measured over all entries; look again at which moment of the inputs it "
            "uses, and which dimension of W is the fan-in."
        ),
        misconceptions=MISCONCEPTIONS["variance_ratio"],
    ),
    Check(
        name="init_std",
        points=1,
        make_inputs=_no_inputs,
        call=_std_call,
        reference=_std_reference,
        rtol=1e-9,
        outputs=tuple(
            f"{rule} ({n_in} in, {n_out} out)" for rule, n_in, n_out in _STD_CASES
        ),
        hint=(
            "Each rule sets Var[w] so that one variance condition holds: the "
            "forward one for xavier_lecture, the average of the forward and "
            "backward ones for glorot, the forward one with ReLU's halved "
            "second moment for he. The function returns a standard deviation."
        ),
        misconceptions=MISCONCEPTIONS["init_std"],
    ),
    Check(
        name="q_tanh_factor",
        points=1,
        make_inputs=_no_inputs,
        call=_answered,
        reference=_tanh_factor,
        compare=_close_to("the factor per layer", 0.01),
        hint="Near 0 tanh is the identity: the factor is the one a linear layer "
        "applies to the standard deviation.",
        misconceptions=MISCONCEPTIONS["q_tanh_factor"],
    ),
    Check(
        name="q_tanh_layers",
        points=1,
        make_inputs=_no_inputs,
        call=_answered,
        reference=_tanh_layers,
        compare=_whole("the first layer whose activations have std below 1e-3"),
        hint="The input has std 1; each layer multiplies it by your factor.",
        misconceptions=MISCONCEPTIONS["q_tanh_layers"],
    ),
    Check(
        name="standardize",
        points=1,
        make_inputs=_preprocessing_inputs,
        call=lambda fn, x_train, x: fn(x_train, x),
        reference=_standardize_reference,
        hint="Per feature (column), with statistics of the training set only; "
        "think about a feature that never changes in the training set.",
        misconceptions=MISCONCEPTIONS["standardize"],
    ),
    Check(
        name="zca_whiten",
        points=2,
        make_inputs=_whiten_inputs,
        call=lambda fn, x_train, x, eps: fn(x_train, x, eps),
        reference=_whiten_reference,
        hint="Everything comes from the training set: its mean, its covariance "
        "(divided by N) and that covariance's eigendecomposition. ZCA rescales "
        "each eigen-direction and rotates back.",
        misconceptions=MISCONCEPTIONS["zca_whiten"],
    ),
    Check(
        name="xavier_lecture",
        points=1,
        make_inputs=_init_inputs,
        call=lambda fn, seed: _draw_all(fn, seed),
        reference=_xavier_reference,
        compare=_statistical_normal(_xavier_std, "xavier_lecture"),
        hint=(
            "Your init_std('xavier_lecture', ...) with the fan-in: the number of "
            "inputs one output unit sums over (for a conv kernel (F, C, KH, KW), "
            "every channel and kernel position); draw from a normal distribution "
            "with the given rng."
        ),
        misconceptions=MISCONCEPTIONS["xavier_lecture"],
    ),
    Check(
        name="he_normal",
        points=1,
        make_inputs=_init_inputs,
        call=lambda fn, seed: _draw_all(fn, seed),
        reference=_he_reference,
        compare=_statistical_normal(_he_std, "he_normal"),
        hint=(
            "Your init_std('he', ...) with the fan-in (as for xavier_lecture); "
            "draw from a normal distribution with the given rng."
        ),
        misconceptions=MISCONCEPTIONS["he_normal"],
    ),
    Check(
        name="activations_and_gradients",
        points=2,
        make_inputs=_stats_inputs,
        call=_stats_call,
        reference=_stats_reference,
        compare=_stats_compare,
        hint=(
            "Outputs are the activations of layers 1..L, then dJ/dW_1..dJ/dW_L. "
            "Backward, layer by layer: through the activation's slope at that "
            "layer's scores, then the weight gradient from the layer's input, "
            "then on through W."
        ),
        misconceptions=MISCONCEPTIONS["activations_and_gradients"],
    ),
    Check(
        name="q_xavier_relu_factor",
        points=1,
        make_inputs=_no_inputs,
        call=_answered,
        reference=lambda: np.float64(math.sqrt(0.5)),
        compare=_close_to("the factor per layer", 0.01),
        hint="With n_in Var[w] = 1, Var[s] equals the second moment of the "
        "layer's input; what does a ReLU do to the second moment of a symmetric s?",
        misconceptions=MISCONCEPTIONS["q_xavier_relu_factor"],
    ),
    Check(
        name="orthogonal",
        points=2,
        make_inputs=_ortho_inputs,
        call=_ortho_call,
        reference=_ortho_reference,
        compare=_ortho_compare,
        hint=(
            "A QR decomposition of a Gaussian matrix of the right (tall) shape "
            "gives orthonormal columns; view the weight as a (shape[0], rest) "
            "matrix. Mind the sign conventions of QR, which make the result "
            "non-uniform, and the gain."
        ),
        misconceptions=MISCONCEPTIONS["orthogonal"],
    ),
    Check(
        name="lsuv",
        points=2,
        make_inputs=_lsuv_inputs,
        call=_lsuv_call,
        reference=_lsuv_reference,
        compare=_lsuv_compare,
        hint=(
            "Layer by layer, from the first: rescale W until the variance of the "
            "layer's scores is within tol of 1 (or max_iter rescalings are "
            "done), then pass the activations on to the next layer."
        ),
    ),
    Check(
        name="q_lsuv_steps",
        points=1,
        make_inputs=_no_inputs,
        call=_answered,
        reference=_lsuv_steps,
        compare=_whole("the number of rescalings"),
        hint="Iterate the model of the question by hand (or in a loop) and count "
        "the rescalings until the variance is within tol of 1.",
    ),
]
