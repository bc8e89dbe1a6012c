"""Element-wise losses for regression targets: each example's value is the mean
over its last axis of a per-entry error, then the batch mean."""

from __future__ import annotations

import math

import numpy as np

from ._common import EPSILON, check_pair, inside

__all__ = [
    "mean_squared_error",
    "mean_absolute_error",
    "mean_absolute_percentage_error",
    "mean_squared_logarithmic_error",
    "logcosh",
    "poisson",
]


def mean_squared_error(y_pred, y_true):
    """Mean squared error, Keras's ``mean(square(y_pred - y_true), axis=-1)``.

    .. math::

        L = \\frac{1}{N} \\sum_{i=1}^N \\frac{1}{K} \\sum_{k=1}^K
        (\\hat{y}_{ik} - y_{ik})^2, \\qquad
        \\frac{\\partial L}{\\partial \\hat{y}_{ik}} =
        \\frac{2}{NK} (\\hat{y}_{ik} - y_{ik}).

    The lectures' squared difference :math:`\\|\\hat{\\mathbf{y}} -
    \\mathbf{y}\\|^2` is :math:`K` times the per-example value.

    Parameters
    ----------
    y_pred : ndarray, shape (N, ...)
    y_true : ndarray, same shape

    Returns
    -------
    value : float
    dy_pred : ndarray, shape and dtype of ``y_pred``
    """
    y_pred, y_true = check_pair(y_pred, y_true)
    diff = y_pred - y_true
    # mean over the last axis, then over the batch = mean over every entry
    value = np.mean(diff * diff)
    return float(value), 2 * diff / diff.size


def mean_absolute_error(y_pred, y_true):
    """Mean absolute error, Keras's ``mean(abs(y_pred - y_true), axis=-1)``.

    .. math::

        L = \\frac{1}{NK} \\sum_{i,k} |\\hat{y}_{ik} - y_{ik}|, \\qquad
        \\frac{\\partial L}{\\partial \\hat{y}_{ik}} =
        \\frac{\\mathrm{sign}(\\hat{y}_{ik} - y_{ik})}{NK}

    (0 where the prediction is exact, where :math:`|\\cdot|` has a kink).
    Same arguments and returns as :func:`mean_squared_error`.
    """
    y_pred, y_true = check_pair(y_pred, y_true)
    diff = y_pred - y_true
    return float(np.mean(np.abs(diff))), np.sign(diff) / diff.size


def mean_absolute_percentage_error(y_pred, y_true):
    """Mean absolute percentage error (Keras).

    Keras: ``100 * mean(abs((y_true - y_pred) / clip(abs(y_true), eps,
    None)), axis=-1)``; the clipping avoids dividing by a zero target.

    .. math::

        L = \\frac{100}{NK} \\sum_{i,k}
        \\frac{|\\hat{y}_{ik} - y_{ik}|}{\\max(|y_{ik}|, \\epsilon)}, \\qquad
        \\frac{\\partial L}{\\partial \\hat{y}_{ik}} = \\frac{100}{NK}
        \\frac{\\mathrm{sign}(\\hat{y}_{ik} - y_{ik})}{\\max(|y_{ik}|,
        \\epsilon)}.

    Same arguments and returns as :func:`mean_squared_error`.
    """
    y_pred, y_true = check_pair(y_pred, y_true)
    diff = y_pred - y_true
    scale = np.maximum(np.abs(y_true), EPSILON)
    value = 100 * np.mean(np.abs(diff) / scale)
    return float(value), 100 * np.sign(diff) / scale / diff.size


def mean_squared_logarithmic_error(y_pred, y_true):
    """Mean squared logarithmic error (Keras).

    Keras: ``mean(square(log(clip(y_pred, eps, None) + 1) -
    log(clip(y_true, eps, None) + 1)), axis=-1)``. With
    :math:`a = \\log(1 + \\max(\\hat{y}, \\epsilon))` and
    :math:`b = \\log(1 + \\max(y, \\epsilon))`:

    .. math::

        L = \\frac{1}{NK} \\sum_{i,k} (a_{ik} - b_{ik})^2, \\qquad
        \\frac{\\partial L}{\\partial \\hat{y}_{ik}} = \\frac{2}{NK}
        \\frac{a_{ik} - b_{ik}}{1 + \\hat{y}_{ik}} \\
        \\text{(0 where } \\hat{y}_{ik} < \\epsilon).

    Same arguments and returns as :func:`mean_squared_error`.
    """
    y_pred, y_true = check_pair(y_pred, y_true)
    clipped = np.maximum(y_pred, EPSILON)
    diff = np.log1p(clipped) - np.log1p(np.maximum(y_true, EPSILON))
    value = np.mean(diff * diff)
    grad = 2 * diff / (1 + clipped) * inside(y_pred, EPSILON) / diff.size
    return float(value), grad.astype(y_pred.dtype, copy=False)


def logcosh(y_pred, y_true):
    """Log-cosh loss (Keras), like MSE for small errors and MAE for large ones.

    .. math::

        L = \\frac{1}{NK} \\sum_{i,k} \\log\\cosh(\\hat{y}_{ik} - y_{ik}),
        \\qquad
        \\frac{\\partial L}{\\partial \\hat{y}_{ik}} =
        \\frac{\\tanh(\\hat{y}_{ik} - y_{ik})}{NK}.

    As in Keras, :math:`\\log\\cosh x` is computed as
    :math:`x + \\mathrm{softplus}(-2x) - \\log 2`, which cannot overflow
    (``cosh`` itself does for :math:`|x| > 710`).

    Same arguments and returns as :func:`mean_squared_error`.
    """
    y_pred, y_true = check_pair(y_pred, y_true)
    diff = y_pred - y_true
    log_cosh = diff + np.logaddexp(0, -2 * diff) - math.log(2)
    return float(np.mean(log_cosh)), np.tanh(diff) / diff.size


def poisson(y_pred, y_true):
    """Poisson loss (Keras), for count targets and a predicted rate.

    Keras: ``mean(y_pred - y_true * log(y_pred + eps), axis=-1)``, the
    negative log-likelihood of :math:`y \\sim \\mathrm{Poisson}(\\hat{y})`
    without the constant :math:`\\log y!`:

    .. math::

        L = \\frac{1}{NK} \\sum_{i,k} \\big(\\hat{y}_{ik} - y_{ik}
        \\log(\\hat{y}_{ik} + \\epsilon)\\big), \\qquad
        \\frac{\\partial L}{\\partial \\hat{y}_{ik}} = \\frac{1}{NK}
        \\Big(1 - \\frac{y_{ik}}{\\hat{y}_{ik} + \\epsilon}\\Big).

    The same as ``torch.nn.PoissonNLLLoss(log_input=False, eps=1e-7)``.
    A rate must not be negative, so negative ``y_pred`` raises ValueError
    (Keras would return NaN).

    Same arguments and returns as :func:`mean_squared_error`.
    """
    y_pred, y_true = check_pair(y_pred, y_true)
    if np.any(y_pred < 0):
        raise ValueError(
            "y_pred must be >= 0 (a Poisson rate, e.g. the output of an "
            f"exponential or softplus), got minimum {y_pred.min()}"
        )
    value = np.mean(y_pred - y_true * np.log(y_pred + EPSILON))
    return float(value), (1 - y_true / (y_pred + EPSILON)) / y_pred.size
