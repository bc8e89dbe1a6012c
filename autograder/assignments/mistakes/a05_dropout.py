"""Known wrong answers of assignment 05_dropout (solutions/05_dropout/).

Each check of ``autograder/assignments/a05_dropout.py`` that declares
misconceptions finds them in ``MISCONCEPTIONS`` under its name: the wrong
answer, written as a student would write it, and the message that names the
mistake without giving the answer (``autograder/AUTHORING.md`` § 1b).
"""

from __future__ import annotations

import itertools

import numpy as np

from autograder.declarations import Misconception


def _moments_variance_without_p(y, p):
    return y, y**2 * (1 - p)


def _dropout(keep_below="p", scale="p"):
    """dropout_forward with its own rule for what is kept and how it is scaled."""

    def dropout_forward(x, rate, rng):
        p = 1.0 - rate
        u = rng.random(x.shape)
        kept = u < (p if keep_below == "p" else rate)
        factor = {"p": 1.0 / p, "rate": 1.0 / rate, "none": 1.0}[scale]
        mask = kept * factor
        return x * mask, mask

    return dropout_forward


def _dropout_backward_unscaled(dout, mask):
    return dout * (mask > 0)


def _subnetworks(drop_probability=False, reverse=False):
    def enumerate_subnetworks(n, p):
        values = [1.0, 0.0] if reverse else [0.0, 1.0]
        masks = np.array(list(itertools.product(values, repeat=n))).reshape(2**n, n)
        kept = masks.sum(axis=1)
        keep = 1 - p if drop_probability else p
        return masks, keep**kept * (1 - keep) ** (n - kept)

    return enumerate_subnetworks


def _nwgm_arithmetic(outputs, probs):
    G, G_prime = probs @ outputs, probs @ (1 - outputs)
    return G, G_prime, G / (G + G_prime)


def _nwgm_unnormalised(outputs, probs):
    G = np.exp(np.sum(probs * np.log(outputs)))
    G_prime = np.exp(np.sum(probs * np.log1p(-outputs)))
    return G, G_prime, G


def _odds_through_sigmoid(s):
    sigma = 1.0 / (1.0 + np.exp(-s))
    return (1.0 - sigma) / sigma


def _log_ratio_through_sigmoid(scores, probs):
    sigma = 1.0 / (1.0 + np.exp(-scores))
    return float(probs @ np.log((1.0 - sigma) / sigma))


def _expected_score_drop_probability(w, x, b, p):
    return float(b + (1 - p) * w @ x)


def _net_input_without_p(W, b, mean_y, p):
    return b + mean_y @ W.T


def _scaled(first_too=False, factor="p", biases=False):
    def weight_scaled_params(params, p):
        scale = p if factor == "p" else 1.0 - p
        return [
            (
                W * scale if (i > 0 or first_too) else W.copy(),
                b * scale if (biases and i > 0) else b.copy(),
            )
            for i, (W, b) in enumerate(params)
        ]

    return weight_scaled_params


def _softmax_rows(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _mc(dropout=True, rescale_at_end=False):
    def mc_dropout_predict(x, params, rate, n_samples, rng):
        total = 0.0
        for _ in range(n_samples):
            h = x
            for W, b in params[:-1]:
                h = np.maximum(h @ W.T + b, 0.0)
                if dropout:
                    keep = rng.random(h.shape) < 1.0 - rate
                    h = h * keep if rescale_at_end else h * keep / (1.0 - rate)
            W, b = params[-1]
            if rescale_at_end:
                W = W * (1.0 - rate)
            total = total + _softmax_rows(h @ W.T + b)
        return total / n_samples

    return mc_dropout_predict


def _dropconnect_forward(inverted=True):
    def dropconnect_forward(x, W, b, rate, rng):
        p = 1.0 - rate
        mask = (rng.random(W.shape) < p) / (p if inverted else 1.0)
        return x @ (W * mask).T + b, (x, W, mask)

    return dropconnect_forward


def _dropconnect_backward(mask_dW=True, mask_dx=True):
    def dropconnect_backward(dout, cache):
        x, W, mask = cache
        dx = dout @ (W * mask if mask_dx else W)
        dW = dout.T @ x * (mask if mask_dW else 1.0)
        return dx, dW, dout.sum(axis=0)

    return (_dropconnect_forward(), dropconnect_backward)


def _max_norm(axis=1, only_long=True):
    def max_norm_project(W, c):
        norms = np.linalg.norm(W, axis=axis, keepdims=True)
        return W * (np.minimum(1.0, c / norms) if only_long else c / norms)

    return max_norm_project


# ------------------------------------------------------------------ checks


# ------------------------------------------------------------ per check

MISCONCEPTIONS = {
    "inverted_dropout_moments": (
        Misconception(
            "variance_without_inversion",
            "your variance is that of plain dropout, without the 1/p scaling squared.",
            answer=_moments_variance_without_p,
        ),
    ),
    "dropout_forward": (
        Misconception(
            "rate_as_keep_probability",
            "you keep each unit with probability rate; rate is the probability "
            "of dropping it.",
            answer=_dropout(keep_below="rate", scale="rate"),
        ),
        Misconception(
            "not_inverted",
            "your mask is 0 or 1: the kept units are not scaled, so the "
            "expected output is p * x, not x (inverted dropout).",
            answer=_dropout(scale="none"),
        ),
        Misconception(
            "scaled_by_rate",
            "your kept units are scaled by 1 / rate; the scale that keeps the "
            "expected output equal to x uses the probability of keeping.",
            answer=_dropout(scale="rate"),
        ),
    ),
    "dropout_backward": (
        Misconception(
            "scaling_lost",
            "your gradient passes where units were kept but without the 1/p "
            "scale the forward pass applied.",
            answer=_dropout_backward_unscaled,
        ),
    ),
    "enumerate_subnetworks": (
        Misconception(
            "p_as_drop_probability",
            "your probabilities treat p as the probability of dropping an "
            "input; it is the probability of keeping one.",
            answer=_subnetworks(drop_probability=True),
        ),
        Misconception(
            "order_reversed",
            "your rows are in the reverse order: the first mask keeps nothing.",
            answer=_subnetworks(reverse=True),
        ),
    ),
    "nwgm": (
        Misconception(
            "arithmetic_means",
            "your G and G' are weighted arithmetic means; the NWGM uses "
            "geometric ones.",
            answer=_nwgm_arithmetic,
        ),
        Misconception(
            "not_normalised",
            "your third output is G itself; the NWGM normalises it with G'.",
            answer=_nwgm_unnormalised,
        ),
    ),
    "complement_odds": (
        Misconception(
            "through_the_sigmoid",
            "you compute the ratio through the sigmoid, which loses it for "
            "large scores; simplify it on paper first.",
            answer=_odds_through_sigmoid,
        ),
    ),
    "log_complement_ratio": (
        Misconception(
            "through_the_sigmoid",
            "you go through the sigmoid, which loses large scores (a log of 0 "
            "or of 0 / 0); use the simplified complement odds.",
            answer=_log_ratio_through_sigmoid,
        ),
    ),
    "expected_score": (
        Misconception(
            "p_as_drop_probability",
            "your expectation weighs each input with the probability of "
            "dropping it; p is the probability of keeping it.",
            answer=_expected_score_drop_probability,
        ),
    ),
    "expected_net_input": (
        Misconception(
            "keep_probability_missing",
            "your expectation forgets that each input is kept only with probability p.",
            answer=_net_input_without_p,
        ),
    ),
    "weight_scaled_params": (
        Misconception(
            "first_layer_scaled",
            "you scale the first layer's weights too, but the inputs are not "
            "dropped in this network.",
            answer=_scaled(first_too=True),
        ),
        Misconception(
            "scaled_by_drop_rate",
            "your weights are scaled by 1 - p, the probability of dropping; "
            "the expected dropout variable is the probability of keeping.",
            answer=_scaled(factor="rate"),
        ),
        Misconception(
            "biases_scaled",
            "your biases are scaled too; a bias is never dropped.",
            answer=_scaled(biases=True),
        ),
    ),
    "mc_dropout_predict": (
        Misconception(
            "dropout_off",
            "every one of your samples is the same: dropout is switched off. "
            "Monte Carlo dropout keeps it on at prediction time.",
            answer=_mc(dropout=False),
        ),
        Misconception(
            "rescaled_at_the_end",
            "your samples use plain dropout and rescale the last weights; "
            "with inverted dropout the scaling is already in the mask.",
            answer=_mc(rescale_at_end=True),
        ),
    ),
    "dropconnect_forward": (
        Misconception(
            "not_inverted",
            "your mask is 0 or 1: the kept weights are not scaled, so the "
            "expected output is not the full layer's.",
            answer=_dropconnect_forward(inverted=False),
        ),
    ),
    "dropconnect_backward": (
        Misconception(
            "dropped_weights_get_gradient",
            "your dW gives dropped weights a gradient; a weight that was "
            "dropped had no effect on the loss.",
            answer=_dropconnect_backward(mask_dW=False),
        ),
        Misconception(
            "dx_through_full_weights",
            "your dx goes through the full weights; the forward pass used the "
            "masked ones.",
            answer=_dropconnect_backward(mask_dx=False),
        ),
    ),
    "max_norm_project": (
        Misconception(
            "columns_not_rows",
            "your norms are those of the columns (the outgoing weights of an "
            "input); max-norm bounds each unit's incoming weights.",
            answer=_max_norm(axis=0),
        ),
        Misconception(
            "short_rows_stretched",
            "you rescale every row to norm c; rows already within the bound "
            "stay as they are.",
            answer=_max_norm(only_long=False),
        ),
    ),
    "q_keras_axis": (
        Misconception(
            "our_layout",
            "that is the axis in our (D_out, D_in) layout; Keras's kernel is "
            "the transpose.",
            variant=lambda: 1,
        ),
    ),
}
