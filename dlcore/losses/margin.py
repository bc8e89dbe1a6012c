"""Margin losses (the hinge family): labels in {-1, +1}, 0/1 labels converted."""

from __future__ import annotations

import numpy as np

from ._common import check_pair, n_examples

__all__ = ["hinge", "squared_hinge", "categorical_hinge"]


def _plus_minus_one(y_true: np.ndarray) -> np.ndarray:
    """Labels given as 0/1 become -1/+1 (tf.keras and Keras 3 do the same)."""
    if np.all((y_true == 0) | (y_true == 1)):
        return 2 * y_true - 1
    return y_true


def hinge(y_pred, y_true):
    """Hinge loss (Keras), for labels -1/+1 (or 0/1, converted) and raw scores.

    .. math::

        L = \\frac{1}{NK} \\sum_{i,k} \\max(0, 1 - y_{ik} \\hat{y}_{ik}),
        \\qquad
        \\frac{\\partial L}{\\partial \\hat{y}_{ik}} = -\\frac{y_{ik}}{NK}
        \\, \\mathrm{Ind}(1 - y_{ik}\\hat{y}_{ik} > 0).

    Only examples inside the margin (:math:`y\\hat{y} < 1`) contribute a
    gradient. If every label is 0 or 1 they are first mapped to -1/+1.

    Same arguments and returns as :func:`mean_squared_error`.
    """
    y_pred, y_true = check_pair(y_pred, y_true)
    y_true = _plus_minus_one(y_true)
    margin = 1 - y_true * y_pred
    active = margin > 0
    value = np.mean(np.where(active, margin, 0))
    grad = np.where(active, -y_true, 0) / y_pred.size
    return float(value), grad.astype(y_pred.dtype, copy=False)


def squared_hinge(y_pred, y_true):
    """Squared hinge loss (Keras), a differentiable version of :func:`hinge`.

    .. math::

        L = \\frac{1}{NK} \\sum_{i,k} \\max(0, 1 - y_{ik}\\hat{y}_{ik})^2,
        \\qquad
        \\frac{\\partial L}{\\partial \\hat{y}_{ik}} = -\\frac{2 y_{ik}}{NK}
        \\max(0, 1 - y_{ik}\\hat{y}_{ik}).

    Labels that are all 0 or 1 are first mapped to -1/+1.

    Same arguments and returns as :func:`mean_squared_error`.
    """
    y_pred, y_true = check_pair(y_pred, y_true)
    y_true = _plus_minus_one(y_true)
    violation = np.maximum(1 - y_true * y_pred, 0)
    value = np.mean(violation * violation)
    return float(value), -2 * y_true * violation / y_pred.size


def categorical_hinge(y_pred, y_true):
    """Categorical (multi-class, Crammer-Singer style) hinge loss (Keras).

    For a one-hot target, ``pos`` is the score of the true class and
    ``neg`` the largest score of the other classes:

    .. math::

        \\mathrm{pos}_i = \\sum_k y_{ik}\\hat{y}_{ik}, \\quad
        \\mathrm{neg}_i = \\max_k (1 - y_{ik})\\hat{y}_{ik}, \\quad
        L = \\frac{1}{N} \\sum_i \\max(0, \\mathrm{neg}_i - \\mathrm{pos}_i + 1).

    For examples with a positive loss,
    :math:`\\partial L / \\partial \\hat{y}_{ik} = \\frac{1}{N}\\big(
    (1 - y_{ik})\\,\\mathrm{Ind}(k = k^*_i) - y_{ik}\\big)`, where
    :math:`k^*_i` is the arg-max in ``neg`` (the first one on ties).

    Parameters
    ----------
    y_pred : ndarray, shape (N, K)
        Scores (or shape ``(N, ..., K)``; the last axis holds the classes).
    y_true : ndarray, same shape
        One-hot targets.

    Returns
    -------
    value : float
    dy_pred : ndarray, shape and dtype of ``y_pred``
    """
    y_pred, y_true = check_pair(y_pred, y_true, 2, "(N, K)")
    pos = np.sum(y_true * y_pred, axis=-1)
    others = (1 - y_true) * y_pred
    runner_up = np.argmax(others, axis=-1)
    neg = np.max(others, axis=-1)
    per_example = np.maximum(neg - pos + 1, 0)

    is_runner_up = np.arange(y_pred.shape[-1]) == runner_up[..., None]
    grad = np.where(is_runner_up, 1 - y_true, 0) - y_true
    grad = grad * (per_example > 0)[..., None] / n_examples(y_pred)
    return float(np.mean(per_example)), grad.astype(y_pred.dtype, copy=False)
