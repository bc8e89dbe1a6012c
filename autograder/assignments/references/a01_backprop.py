"""Reference functions and custom comparisons of 01_backprop.

The parent's side of ``autograder/assignments/a01_backprop.py``: what only
the grading process computes (expected outputs, judgements of a result).
The re-check's child never runs it, so it may use anything of dlcore.
"""

import math

import numpy as np

import dlcore.functional as F
import dlcore.losses


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
    def reference(x, dout, **hyper):
        out, cache = forward(x, **hyper)
        return out, backward(dout, cache)

    return reference


def _one_example_reference(x, W, g):
    _, cache = F.linear_forward(x[None, :], W, np.zeros(W.shape[0]))
    dx, dW, db = F.linear_backward(g[None, :], cache)
    return dx[0], dW, db


def _linear_reference(x, W, b, dout):
    out, cache = F.linear_forward(x, W, b)
    return (out, *F.linear_backward(dout, cache))


def _jacobian_reference(s):
    p = F.softmax_forward(s)[0]
    return np.diag(p) - np.outer(p, p)


def _logistic_reference(s, y):
    p = F.sigmoid_forward(s)[0]
    return (p - y) * p * (1.0 - p), p - y


def _two_layer_reference(x, y, W1, b1, w2, b2):
    """The lecture's network: tanh hidden units, sigmoid output, (y_hat - y)^2 / 2."""
    hidden = np.tanh(W1 @ x + b1)
    y_hat = F.sigmoid_forward(np.array(w2 @ hidden + b2))[0]
    e2 = (y_hat - y) * y_hat * (1.0 - y_hat)
    e1 = e2 * w2 * (1.0 - hidden**2)
    return np.float64(e2), e1, np.outer(e1, x), e1, e2 * hidden, np.float64(e2)


def _penalty_reference(params, lam):
    value = lam * sum(np.sum(W * W) for W, _ in params)
    return (np.float64(value), *[2.0 * lam * W for W, _ in params])


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


# ------------------------------------------------------------ questions


def _sigmoid_layers():
    """Layers of sigmoid slopes (at most 1/4 each) until the product <= 1e-3."""
    return np.float64(math.ceil(math.log(1e-3) / math.log(0.25)))


def _compare_count(expected, received):
    if not np.isfinite(received) or received != round(received):
        return f"expected a whole number of layers, received {received}"
    if received != expected:
        return (
            f"{received:g} layers is not the smallest number for which the "
            "product of the largest possible slopes is at most 1e-3"
        )
    return None


def _gradient_ratio():
    """|dJ/ds| of the NLL over that of the squared error, s = -6 and y = 1."""
    p = 1.0 / (1.0 + math.exp(6.0))
    return np.float64(1.0 / (p * (1.0 - p)))


def _compare_ratio(expected, received):
    if not np.isfinite(received) or received <= 0:
        return f"expected a positive ratio, received {received}"
    if abs(received / expected - 1.0) > 1e-3:
        if received < 1:
            return (
                f"your ratio {received:.4g} is below 1: divide the NLL's gradient "
                "by the squared error's, not the other way round"
            )
        return f"your ratio {received:.6g} is not the one at s = -6, y = 1"
    return None
