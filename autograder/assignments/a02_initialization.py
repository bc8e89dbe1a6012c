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

import dlcore.functional as F
import dlcore.init
from autograder.declarations import Check, Misconception, compare_arrays
from dlcore.layers import Dense, ReLU, Tanh

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


def _variance_ratio_reference(x, W):
    s, _ = F.linear_forward(x, W, np.zeros(W.shape[0]))
    n_in, _ = dlcore.init.fans(W.shape)
    return np.float64(np.var(s) / (n_in * np.var(W) * np.mean(x**2)))


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


def _xavier_std(shape):
    return 1.0 / math.sqrt(math.prod(shape[1:]))


def _he_std(shape):
    return math.sqrt(2.0 / math.prod(shape[1:]))


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


def _stats_compare(expected, received):
    n_layers = len(expected) // 4
    names = [
        f"{what} of layer {l} ({activation})"
        for activation in ("tanh", "relu")
        for what in ("activations", "dJ/dW")
        for l in range(1, n_layers + 1)
    ]
    if isinstance(received, tuple) and len(received) != len(expected):
        return (
            f"the network has {n_layers} layers, so expected {n_layers} activations "
            f"and {n_layers} gradients; received {len(received) // 2} arrays in all"
        )
    return compare_arrays(expected, received, rtol=1e-9, atol=1e-12, names=names)


def _stats_reference(x, weights, dout):
    return _one_activation(x, weights, "tanh", dout) + _one_activation(
        x, weights, "relu", dout
    )


def _one_activation(x, weights, activation, dout):
    forward = F.tanh_forward if activation == "tanh" else F.relu_forward
    backward = F.tanh_backward if activation == "tanh" else F.relu_backward
    h, caches, activations = x, [], []
    for W in weights:
        s, linear_cache = F.linear_forward(h, W, np.zeros(W.shape[0]))
        h, act_cache = forward(s)
        caches.append((linear_cache, act_cache))
        activations.append(h)
    grads = [None] * len(weights)
    g = dout
    for l in reversed(range(len(weights))):
        linear_cache, act_cache = caches[l]
        g, grads[l], _ = F.linear_backward(backward(g, act_cache), linear_cache)
    return tuple(activations) + tuple(grads)


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


def _one_orthogonal(w, again, shape, gain):
    w, again = np.asarray(w), np.asarray(again)
    if w.shape != shape:
        return f"expected an array of shape {shape}, received shape {w.shape}"
    if w.dtype != np.float64:
        return f"expected dtype float64, received dtype {w.dtype}"
    if not np.array_equal(w, again):
        return (
            "two calls with generators made from the same seed gave different "
            "weights: draw every random number from the rng argument"
        )
    rows = shape[0]
    m = w.reshape(rows, -1)
    cols = m.shape[1]
    gram, which = (m @ m.T, "rows") if rows <= cols else (m.T @ m, "columns")
    err = np.abs(gram - gain**2 * np.eye(gram.shape[0])).max()
    if err > 1e-8:
        return (
            f"for shape {shape} (a {rows}x{cols} matrix) and gain {gain:.6g} the "
            f"{which} should be orthogonal with length gain, i.e. the Gram matrix "
            f"should be gain**2 * I; largest deviation {err:.3g}"
        )
    if np.abs(m - gain * np.eye(rows, cols)).max() < 1e-6:
        return "the result is the identity matrix, not a random orthogonal matrix"
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


def _lsuv_reference(weights, biases, x, tol, max_iter):
    outputs = ()
    for activation in ("tanh", "relu"):
        layers = []
        rng = np.random.default_rng(0)
        for W, b in zip(weights, biases, strict=True):
            dense = Dense(W.shape[0])
            dense.build((W.shape[1],), rng)
            dense.params["W"][...] = W
            dense.params["b"][...] = b
            layers += [dense, Tanh() if activation == "tanh" else ReLU()]
        report = dlcore.init.lsuv(
            layers, x, tol=tol, max_iter=max_iter, orthonormal=False
        )
        outputs += (
            tuple(layer.params["W"].copy() for layer in layers[::2])
            + (np.array([r.variance for r in report]),)
            + (np.array([r.iterations for r in report], dtype=np.int64),)
            + (np.array(True),)
        )
    return outputs


def _lsuv_compare(expected, received):
    per_activation = len(expected) // 2
    n = per_activation - 3  # number of layers
    if not isinstance(received, tuple) or len(received) != len(expected):
        return (
            f"expected a list of {n} rescaled weights, a list of {n} variances and "
            f"a list of {n} iteration counts"
        )
    for k, activation in enumerate(("tanh", "relu")):
        exp = expected[k * per_activation : (k + 1) * per_activation]
        rec = received[k * per_activation : (k + 1) * per_activation]
        if not bool(rec[-1]):
            return (
                "the weights passed in were modified: copy them (W = W.copy()) "
                "before rescaling, and return the copies"
            )
        names = [f"weights[{i}] ({activation})" for i in range(n)] + [
            f"variances ({activation})",
            f"iterations ({activation})",
        ]
        problem = compare_arrays(
            tuple(exp[:-1]), tuple(rec[:-1]), rtol=1e-8, atol=1e-10, names=names
        )
        if problem:
            return problem
    return None


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


def _standardize_reference(x_train, x):
    mean, std = x_train.mean(axis=0), x_train.std(axis=0)
    return (x - mean) / np.where(std > 0, std, 1.0)


def _whiten_inputs(rng):
    inputs = _preprocessing_inputs(rng)
    inputs["eps"] = float(rng.choice([1e-2, 0.1]))
    return inputs


def _whiten_reference(x_train, x, eps):
    mean = x_train.mean(axis=0)
    centred = x_train - mean
    eigenvalues, vectors = np.linalg.eigh(centred.T @ centred / len(x_train))
    return (x - mean) @ vectors @ np.diag(1.0 / np.sqrt(eigenvalues + eps)) @ vectors.T


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


def _close_to(what, rtol):
    def compare(expected, received):
        if not np.isfinite(received):
            return f"expected a number for {what}, received {received}"
        if abs(received / expected - 1.0) > rtol:
            return f"{received:.6g} is not {what} (within {rtol:.0%})"
        return None

    return compare


def _whole(what):
    def compare(expected, received):
        if not np.isfinite(received) or received != round(received):
            return f"expected a whole number for {what}, received {received}"
        if received != expected:
            return f"{received:g} is not {what}"
        return None

    return compare


def _tanh_factor():
    """Std factor per layer near 0 (tanh ~ identity): sigma sqrt(n_in)."""
    return np.float64(0.01 * math.sqrt(500))


def _tanh_layers():
    """Layers until the std, times the factor per layer from 1, is < 1e-3."""
    return np.float64(math.ceil(math.log(1e-3) / math.log(0.01 * math.sqrt(500))))


def _lsuv_steps():
    """Rescalings under the model Var = a + v, a <- a / Var, a0 = 4, v = 0.1."""
    weight_part, bias_part, steps = 4.0, 0.1, 0
    while abs(weight_part + bias_part - 1.0) >= 1e-3:
        weight_part /= weight_part + bias_part
        steps += 1
    return np.float64(steps)


# ------------------------------------------------------- misconceptions
#
# Wrong answers written as a student would write them; each check names the
# one a failing result matches. The random initializers' mistakes are told
# apart by the spread and shape of their draws, not entry by entry.


def _ratio(second_moment=True, fan_axis=1):
    def variance_ratio(x, W):
        s = x @ W.T
        moment = np.mean(x**2) if second_moment else np.var(x)
        return np.var(s) / (W.shape[fan_axis] * np.var(W) * moment)

    return variance_ratio


def _stds(variance=False, he_factor=2.0, glorot_factor=2.0):
    def init_std(rule, n_in, n_out):
        var = {
            "xavier_lecture": 1.0 / n_in,
            "glorot": glorot_factor / (n_in + n_out),
            "he": he_factor / n_in,
        }[rule]
        return var if variance else math.sqrt(var)

    return init_std


def _normal_init(scale_of_shape, uniform=False):
    def init(shape, rng):
        std = scale_of_shape(shape)
        if uniform:  # same std, a flat distribution
            return rng.uniform(-math.sqrt(3.0) * std, math.sqrt(3.0) * std, shape)
        return std * rng.standard_normal(shape)

    return init


def _same_spread(mistake, received):
    """Same shapes, standard deviations within 3 % and similar kurtosis."""
    for wrong, got in zip(mistake, received, strict=True):
        wrong, got = np.asarray(wrong), np.asarray(got)
        if wrong.shape != got.shape or abs(got.std() / wrong.std() - 1.0) > 0.03:
            return False
        kurtosis = [np.mean((a - a.mean()) ** 4) / a.std() ** 4 for a in (wrong, got)]
        if abs(kurtosis[0] - kurtosis[1]) > 0.3:
            return False
    return True


def _standardize(own_statistics=False, guard=True, ddof=0):
    def standardize(x_train, x):
        source = x if own_statistics else x_train
        mean, std = source.mean(axis=0), source.std(axis=0, ddof=ddof)
        with np.errstate(all="ignore"):
            return (x - mean) / (np.where(std > 0, std, 1.0) if guard else std)

    return standardize


def _whiten(ddof=0, rotate_back=True, own_mean=False):
    def zca_whiten(x_train, x, eps):
        mean = x_train.mean(axis=0)
        centred = x_train - mean
        covariance = centred.T @ centred / (len(x_train) - ddof)
        eigenvalues, vectors = np.linalg.eigh(covariance)
        W = vectors @ np.diag(1.0 / np.sqrt(eigenvalues + eps))
        W = W @ vectors.T if rotate_back else W
        return (x - (x.mean(axis=0) if own_mean else mean)) @ W

    return zca_whiten


def _network_stats(slope=True, transpose=False):
    def activations_and_gradients(x, weights, activation, dout):
        f = np.tanh if activation == "tanh" else (lambda s: np.maximum(s, 0.0))
        hs, ss, h = [x], [], x
        for W in weights:
            ss.append(h @ W.T)
            h = f(ss[-1])
            hs.append(h)
        grads, g = [None] * len(weights), dout
        for l in reversed(range(len(weights))):
            if slope:
                s = ss[l]
                g = g * (1.0 - np.tanh(s) ** 2 if activation == "tanh" else s > 0)
            grads[l] = hs[l].T @ g if transpose else g.T @ hs[l]
            g = g @ weights[l]
        return hs[1:], grads

    return activations_and_gradients


def _orthogonal(sign_fix=True, use_gain=True):
    def orthogonal(shape, rng, gain=1.0):
        rows, cols = shape[0], math.prod(shape[1:])
        q, r = np.linalg.qr(rng.standard_normal((max(rows, cols), min(rows, cols))))
        if sign_fix:
            q = q * np.sign(np.diag(r))
        q = q.T if rows < cols else q
        return q.reshape(shape) * (gain if use_gain else 1.0)

    return orthogonal


_FAN_OUT = (
    "the spread of your weights follows the number of outputs (shape[0]); "
    "the forward condition counts the inputs each unit sums over."
)

CHECKS = [
    Check(
        name="variance_ratio",
        points=1,
        make_inputs=_variance_ratio_inputs,
        call=lambda fn, x, W: np.float64(fn(x, W)),
        reference=_variance_ratio_reference,
        rtol=1e-9,
        hint="The lecture's variance formula for one score, with every statistic "
        "measured over all entries; look again at which moment of the inputs it "
        "uses, and which dimension of W is the fan-in.",
        misconceptions=(
            Misconception(
                "variance_of_inputs",
                "you use the variance of the inputs; the formula needs their "
                "second moment, which differs when the inputs do not have mean 0 "
                "(ReLU outputs, for one).",
                answer=_ratio(second_moment=False),
            ),
            Misconception("fan_out", _FAN_OUT, answer=_ratio(fan_axis=0)),
        ),
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
        misconceptions=(
            Misconception(
                "variance_not_std",
                "your values are variances; the function returns the standard "
                "deviation of the weights.",
                answer=_stds(variance=True),
            ),
            Misconception(
                "he_without_relu_factor",
                "your he equals xavier_lecture: ReLU zeroes half of the inputs, "
                "which the variance must make up for.",
                answer=_stds(he_factor=1.0),
            ),
            Misconception(
                "glorot_not_averaged",
                "your glorot is half of what averaging the forward and backward "
                "conditions gives.",
                answer=_stds(glorot_factor=1.0),
            ),
        ),
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
        misconceptions=(
            Misconception(
                "variance_factor",
                "your factor multiplies the variance; the question asks for the "
                "factor of the standard deviation.",
                variant=lambda: _tanh_factor() ** 2,
                matches=lambda mistake, got: abs(got / mistake - 1.0) <= 0.01,
            ),
        ),
    ),
    Check(
        name="q_tanh_layers",
        points=1,
        make_inputs=_no_inputs,
        call=_answered,
        reference=_tanh_layers,
        compare=_whole("the first layer whose activations have std below 1e-3"),
        hint="The input has std 1; each layer multiplies it by your factor.",
        misconceptions=(
            Misconception(
                "one_layer_short",
                "after your number of layers the std is still at least 1e-3: the "
                "answer is the first layer below it.",
                variant=lambda: _tanh_layers() - 1,
            ),
        ),
    ),
    Check(
        name="standardize",
        points=1,
        make_inputs=_preprocessing_inputs,
        call=lambda fn, x_train, x: fn(x_train, x),
        reference=_standardize_reference,
        hint="Per feature (column), with statistics of the training set only; "
        "think about a feature that never changes in the training set.",
        misconceptions=(
            Misconception(
                "own_statistics",
                "you standardise x with its own statistics; new data is "
                "transformed with the training set's, so train and test see the "
                "same map.",
                answer=_standardize(own_statistics=True),
            ),
            Misconception(
                "constant_feature",
                "a constant training feature has standard deviation 0 and your "
                "division gives NaN or infinity there; such a feature is only "
                "centred.",
                answer=_standardize(guard=False),
            ),
            Misconception(
                "unbiased_std",
                "your standard deviation divides by N - 1 (ddof=1); the course "
                "uses the training set's own, np.std's default.",
                answer=_standardize(ddof=1),
            ),
        ),
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
        misconceptions=(
            Misconception(
                "unbiased_covariance",
                "your covariance divides by N - 1; the course whitens with the "
                "training set's own covariance.",
                answer=_whiten(ddof=1),
            ),
            Misconception(
                "pca_whitening",
                "your map rescales the eigen-directions but does not rotate back: "
                "that is PCA whitening. ZCA stays as close as possible to the "
                "original features.",
                answer=_whiten(rotate_back=False),
            ),
            Misconception(
                "own_mean",
                "you centre x with its own mean; new data is centred with the "
                "training mean.",
                answer=_whiten(own_mean=True),
            ),
        ),
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
        misconceptions=(
            Misconception(
                "fan_out",
                _FAN_OUT,
                answer=_normal_init(lambda shape: 1.0 / math.sqrt(shape[0])),
                matches=_same_spread,
            ),
            Misconception(
                "kernel_size_ignored",
                "your fan-in of a convolution kernel counts the input channels "
                "only; each output sums over the kernel positions too.",
                answer=_normal_init(lambda shape: 1.0 / math.sqrt(shape[1])),
                matches=_same_spread,
            ),
            Misconception(
                "uniform_draw",
                "your weights have the right spread but come from a uniform "
                "distribution; this initializer is a normal one.",
                answer=_normal_init(_xavier_std, uniform=True),
                matches=_same_spread,
            ),
        ),
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
        misconceptions=(
            Misconception(
                "xavier_spread",
                "your weights have the spread of xavier_lecture: ReLU zeroes half "
                "of the inputs, which He's variance makes up for.",
                answer=_normal_init(_xavier_std),
                matches=_same_spread,
            ),
            Misconception(
                "fan_out",
                _FAN_OUT,
                answer=_normal_init(lambda shape: math.sqrt(2.0 / shape[0])),
                matches=_same_spread,
            ),
        ),
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
        misconceptions=(
            Misconception(
                "slope_missing",
                "your backward pass goes through the weights but not through the "
                "activations' slopes.",
                answer=_network_stats(slope=False),
            ),
            Misconception(
                "dW_transposed",
                "your weight gradients have the shape of W transposed: a gradient "
                "has the shape of its variable.",
                answer=_network_stats(transpose=True),
            ),
        ),
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
        misconceptions=(
            Misconception(
                "variance_factor",
                "your factor is the one of the variance; the question asks for the "
                "factor of the standard deviation.",
                variant=lambda: 0.5,
                matches=lambda mistake, got: abs(got / mistake - 1.0) <= 0.01,
            ),
        ),
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
        misconceptions=(
            Misconception(
                "signs_not_fixed",
                "your matrices are orthogonal but not uniformly distributed: QR "
                "makes the diagonal of R one-signed, which biases Q. Undo that "
                "with the signs of R's diagonal.",
                answer=_orthogonal(sign_fix=False),
            ),
            Misconception(
                "gain_ignored",
                "your rows (or columns) have length 1 whatever the gain.",
                answer=_orthogonal(use_gain=False),
            ),
        ),
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
