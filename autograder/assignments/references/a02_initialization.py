"""Reference functions and custom comparisons of 02_initialization.

The parent's side of ``autograder/assignments/a02_initialization.py``: what only
the grading process computes (expected outputs, judgements of a result).
The re-check's child never runs it, so it may use anything of dlcore.
"""

from __future__ import annotations

import math

import numpy as np

import dlcore.functional as F
import dlcore.init
from autograder.checks import compare_arrays
from dlcore.layers import Dense, ReLU, Tanh

# ------------------------------------------------------------ variance_ratio


def _variance_ratio_reference(x, W):
    s, _ = F.linear_forward(x, W, np.zeros(W.shape[0]))
    n_in, _ = dlcore.init.fans(W.shape)
    return np.float64(np.var(s) / (n_in * np.var(W) * np.mean(x**2)))


# ------------------------------------------------------ Gaussian initializers


def _xavier_std(shape):
    return 1.0 / math.sqrt(math.prod(shape[1:]))


def _he_std(shape):
    return math.sqrt(2.0 / math.prod(shape[1:]))


# ---------------------------------------------------- forward/backward stats


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


# ---------------------------------------------------- input preprocessing


def _standardize_reference(x_train, x):
    mean, std = x_train.mean(axis=0), x_train.std(axis=0)
    return (x - mean) / np.where(std > 0, std, 1.0)


def _whiten_reference(x_train, x, eps):
    mean = x_train.mean(axis=0)
    centred = x_train - mean
    eigenvalues, vectors = np.linalg.eigh(centred.T @ centred / len(x_train))
    return (x - mean) @ vectors @ np.diag(1.0 / np.sqrt(eigenvalues + eps)) @ vectors.T


# ------------------------------------------------------------- questions


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
