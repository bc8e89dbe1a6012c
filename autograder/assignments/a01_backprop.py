"""Graded checks of assignment 01_backprop (solutions/01_backprop/)."""

import numpy as np

import dlcore.functional as F
import dlcore.losses
from autograder.checks import Check

# --------------------------------------------------------------- inputs


def _separable(rng, n=24, d=3):
    """Points labelled +-1 by a random hyperplane (a margin keeps it clean)."""
    w_true = rng.standard_normal(d)
    x = rng.standard_normal((n, d))
    margin = x @ w_true + 0.3
    x = x[np.abs(margin) > 0.2]
    return x, np.where(x @ w_true + 0.3 > 0, 1.0, -1.0)


def _perceptron_inputs(rng):
    x, y = _separable(rng)
    return {"w": 0.1 * rng.standard_normal(x.shape[1]), "b": 0.0, "x": x, "y": y}


def _adaline_inputs(rng):
    x = rng.standard_normal((20, 3))
    y = x @ rng.standard_normal(3) + 0.5 + 0.1 * rng.standard_normal(20)
    return {
        "w": 0.1 * rng.standard_normal(3),
        "b": 0.0,
        "x": x,
        "y": y,
        "lr": 0.05,
    }


def _pair_inputs(shape):
    def make(rng):
        x = rng.standard_normal(shape) * 2.0
        return {"x": x, "dout": rng.standard_normal(shape)}

    return make


def _linear_inputs(rng):
    n, d_in, d_out = 5, 4, 3
    return {
        "x": rng.standard_normal((n, d_in)),
        "W": rng.standard_normal((d_out, d_in)),
        "b": rng.standard_normal(d_out),
        "dout": rng.standard_normal((n, d_out)),
    }


def _softmax_inputs(rng):
    scores = 3.0 * rng.standard_normal((6, 5))
    scores[0] += 1000.0  # overflows a softmax that does not subtract the max
    return {"scores": scores, "labels": rng.integers(0, 5, size=6)}


def _mlp_inputs(rng):
    sizes = [4, 6, 5, 3]
    params = [
        (0.5 * rng.standard_normal((m, n)), 0.1 * rng.standard_normal(m))
        for n, m in zip(sizes[:-1], sizes[1:], strict=True)
    ]
    return {
        "x": rng.standard_normal((7, sizes[0])),
        "y": rng.integers(0, sizes[-1], size=7),
        "params": params,
        "lam": 0.1,
    }


# ----------------------------------------------------------- references


def _perceptron_epoch(w, b, x, y):
    w, b, mistakes = np.array(w, dtype=float), float(b), 0
    for x_i, y_i in zip(x, y, strict=True):
        if y_i * (x_i @ w + b) <= 0:
            w = w + y_i * x_i
            b = b + y_i
            mistakes += 1
    return w, b, mistakes


def _adaline_epoch(w, b, x, y, lr):
    w, b = np.array(w, dtype=float), float(b)
    for x_i, y_i in zip(x, y, strict=True):
        error = y_i - (x_i @ w + b)
        w = w + lr * error * x_i
        b = b + lr * error
    return w, b


def _pair_reference(forward, backward):
    def reference(x, dout):
        out, cache = forward(x)
        return out, backward(dout, cache)

    return reference


def _call_pair(fns, x, dout):
    forward, backward = fns
    out, cache = forward(x)
    return out, backward(dout, cache)


def _call_linear(fns, x, W, b, dout):
    forward, backward = fns
    out, cache = forward(x, W, b)
    dx, dW, db = backward(dout, cache)
    return out, dx, dW, db


def _linear_reference(x, W, b, dout):
    out, cache = F.linear_forward(x, W, b)
    return (out, *F.linear_backward(dout, cache))


def _mlp_reference(x, y, params, lam):
    """k-layer ReLU network, softmax cross-entropy, lam * sum ||W||^2."""
    caches, h = [], x
    for i, (W, b) in enumerate(params):
        h, linear_cache = F.linear_forward(h, W, b)
        relu_cache = None
        if i < len(params) - 1:
            h, relu_cache = F.relu_forward(h)
        caches.append((linear_cache, relu_cache))
    loss, g = dlcore.losses.softmax_cross_entropy(h, y)
    loss += lam * sum(np.sum(W * W) for W, _ in params)
    grads = [None] * len(params)
    for i in reversed(range(len(params))):
        linear_cache, relu_cache = caches[i]
        if relu_cache is not None:
            g = F.relu_backward(g, relu_cache)
        g, dW, db = F.linear_backward(g, linear_cache)
        grads[i] = (dW + 2 * lam * params[i][0], db)
    return (loss, *[a for pair in grads for a in pair])


def _call_mlp(fn, x, y, params, lam):
    loss, grads = fn(x, y, params, lam)
    return (loss, *[a for pair in grads for a in pair])


# ------------------------------------------------------------------ checks

CHECKS = [
    Check(
        name="perceptron_epoch",
        points=1,
        make_inputs=_perceptron_inputs,
        call=lambda fn, w, b, x, y: tuple(fn(w, b, x, y)),
        reference=_perceptron_epoch,
        outputs=("w", "b", "mistakes"),
        hint="Visit the examples in order and update only when y_i (w.x_i + b) <= 0 "
        "(a point on the boundary counts as a mistake); the bias moves by y_i.",
    ),
    Check(
        name="adaline_epoch",
        points=1,
        make_inputs=_adaline_inputs,
        call=lambda fn, w, b, x, y, lr: tuple(fn(w, b, x, y, lr)),
        reference=_adaline_epoch,
        outputs=("w", "b"),
        hint="ADALINE uses the linear output y_hat = w.x + b (no sign) in the error "
        "y - y_hat, and updates after every example, not once per epoch.",
    ),
    Check(
        name="linear",
        points=2,
        make_inputs=_linear_inputs,
        call=_call_linear,
        reference=_linear_reference,
        outputs=("out", "dx", "dW", "db"),
        hint="With one example per row, out = x @ W.T + b, dx = dout @ W, "
        "dW = dout.T @ x and db = dout.sum(axis=0).",
    ),
    Check(
        name="relu",
        points=1,
        make_inputs=_pair_inputs((4, 6)),
        call=_call_pair,
        reference=_pair_reference(F.relu_forward, F.relu_backward),
        outputs=("out", "dx"),
        hint="The gradient passes only where x > 0 (use the input, not dout, for "
        "the mask).",
    ),
    Check(
        name="sigmoid",
        points=1,
        make_inputs=_pair_inputs((4, 6)),
        call=_call_pair,
        reference=_pair_reference(F.sigmoid_forward, F.sigmoid_backward),
        outputs=("out", "dx"),
        hint="sigma'(x) = sigma(x) (1 - sigma(x)): keep the output in the cache.",
    ),
    Check(
        name="tanh",
        points=1,
        make_inputs=_pair_inputs((4, 6)),
        call=_call_pair,
        reference=_pair_reference(F.tanh_forward, F.tanh_backward),
        outputs=("out", "dx"),
        hint="tanh'(x) = 1 - tanh(x)^2.",
    ),
    Check(
        name="softmax_cross_entropy",
        points=2,
        make_inputs=_softmax_inputs,
        call=lambda fn, scores, labels: tuple(fn(scores, labels)),
        reference=lambda scores, labels: dlcore.losses.softmax_cross_entropy(
            scores, labels
        ),
        outputs=("loss", "dscores"),
        hint="Subtract each row's maximum before exponentiating (one row has scores "
        "near 1000), average the loss over the batch, and divide dscores = p - y "
        "by N too.",
    ),
    Check(
        name="mlp_loss",
        points=3,
        make_inputs=_mlp_inputs,
        call=_call_mlp,
        reference=_mlp_reference,
        outputs=("loss", "dW1", "db1", "dW2", "db2", "dW3", "db3"),
        hint="The penalty lam * sum ||W_i||^2 adds 2 lam W_i to each weight "
        "gradient (not to the biases); the last layer has no ReLU.",
    ),
]

WITHHELD = [
    "dlcore.functional.linear_forward",
    "dlcore.functional.linear_backward",
    "dlcore.functional.relu_forward",
    "dlcore.functional.relu_backward",
    "dlcore.functional.sigmoid_forward",
    "dlcore.functional.sigmoid_backward",
    "dlcore.functional.tanh_forward",
    "dlcore.functional.tanh_backward",
    "dlcore.losses.softmax_cross_entropy",
]
