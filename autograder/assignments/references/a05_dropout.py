"""Reference functions and custom comparisons of 05_dropout.

The parent's side of ``autograder/assignments/a05_dropout.py``: what only
the grading process computes (expected outputs, judgements of a result).
The re-check's child never runs it, so it may use anything of dlcore.
"""

import numpy as np

import dlcore.functional as F


def _moments_reference(y, p):
    return y, y**2 * (1 - p) / p


def _forward_reference(x, rate, rng):
    out, cache = F.dropout_forward(x, rate, rng)
    return out, cache.mask


def _nwgm_reference(outputs, probs):
    G = np.exp(np.sum(probs * np.log(outputs)))
    G_prime = np.exp(np.sum(probs * np.log1p(-outputs)))
    return G, G_prime, G / (G + G_prime)


def _mc_reference(x, params, rate, n_samples, rng):
    total = 0.0
    for _ in range(n_samples):
        h = x
        for W, b in params[:-1]:
            h, _ = F.relu_forward(h @ W.T + b)
            h, _ = F.dropout_forward(h, rate, rng)
        W, b = params[-1]
        total = total + F.softmax_forward(h @ W.T + b)[0]
    return total / n_samples


def _dropconnect_forward_reference(x, W, b, rate, rng, dout):
    p = 1.0 - rate
    mask = (rng.random(W.shape) < p) / p
    return x @ (W * mask).T + b, mask


def _dropconnect_backward_reference(x, W, b, rate, rng, dout):
    _, mask = _dropconnect_forward_reference(x, W, b, rate, rng, dout)
    masked = W * mask
    return dout @ masked, (dout.T @ x) * mask, dout.sum(axis=0)


def _max_norm_reference(W, c):
    norms = np.linalg.norm(W, axis=1, keepdims=True)
    return W * np.minimum(1.0, c / norms)


# ------------------------------------------------------ inline questions


def _close_to(correct, rtol):
    def compare(expected, received):
        try:
            value = float(received)
        except (TypeError, ValueError):
            return f"expected a number, received {received!r}"
        if np.isclose(value, correct, rtol=rtol, atol=0.0):
            return None
        return f"{value:.6g} is not the right value"

    return compare


def _choice(correct, options):
    def compare(expected, received):
        if received not in options:
            return f"answer one of {sorted(options)}, received {received!r}"
        return None if received == correct else f"{received!r} is not the right choice"

    return compare


# The n = 1 unit of the question: w = 2, x = 1.5, b = -1, p = 0.25.
_N1_LOG_RATIO = -(0.75 * -1.0 + 0.25 * (-1.0 + 2.0 * 1.5))
