"""Loss functions: the Keras set from the lectures, with exact gradients.

Every loss is called as ``loss(y_pred, y_true) -> (value, dy_pred)``
(prediction first, the reverse of Keras's ``loss(y_true, y_pred)``):

* ``value`` (a Python float) follows Keras's formula: each example is
  reduced over its last axis (a *mean* for the element-wise losses, a *sum*
  for the categorical cross-entropies, the KL divergence, the categorical
  hinge and the cosine proximity, which compare whole distributions or
  vectors), then the per-example values are averaged over the batch (over
  every leading axis, for inputs of shape ``(N, ..., K)``);
* ``dy_pred`` (shape and dtype of ``y_pred``) is the exact gradient of that
  ``value`` with respect to ``y_pred``: the ``g`` that starts the backward
  pass. The ``1/N`` of the batch mean is already in it, so the layers' backward
  passes simply sum over the batch.

Keras's clipping conventions are kept (with ``EPSILON = 1e-7``, Keras's
``K.epsilon()``), because they are what makes the values finite when a
prediction hits 0 or 1; where a prediction is clipped, the loss no longer
depends on it and its gradient is 0. ``y_true`` is never differentiated.

Which Keras? The formulas are Keras 2's (the API the lectures show) and
agree with Keras 3, with one deliberate choice: ``hinge`` and
``squared_hinge`` convert labels given as 0/1 to -1/+1 first, as tf.keras and
Keras 3 do (Keras 2.0-2.2 silently computed a meaningless value).

Use :func:`get` to look a loss up by name, as in
``Sequential.compile(loss="categorical_crossentropy")``.
"""

from __future__ import annotations

import math

import numpy as np

from ._validation import as_float_array, check_labels, check_ndim, check_shape

__all__ = [
    "EPSILON",
    "mean_squared_error",
    "mean_absolute_error",
    "mean_absolute_percentage_error",
    "mean_squared_logarithmic_error",
    "squared_hinge",
    "hinge",
    "categorical_hinge",
    "logcosh",
    "categorical_crossentropy",
    "sparse_categorical_crossentropy",
    "binary_crossentropy",
    "kullback_leibler_divergence",
    "poisson",
    "cosine_proximity",
    "softmax_cross_entropy",
    "get",
]

EPSILON = 1e-7
"""Keras's fuzz factor ``K.epsilon()``, used to clip probabilities and
denominators."""

_L2_NORMALIZE_EPSILON = 1e-12
"""``tf.math.l2_normalize``'s floor on the squared norm (cosine proximity)."""


# ------------------------------------------------------------------ helpers


def _check_pair(y_pred, y_true, min_ndim: int = 1, layout: str = "(N, ...)"):
    """Validate ``y_pred`` and ``y_true``; ``y_true`` takes ``y_pred``'s dtype."""
    y_pred = as_float_array(y_pred, "y_pred")
    y_true = as_float_array(y_true, "y_true")
    if y_pred.ndim < min_ndim:
        raise ValueError(
            f"y_pred must be an array of at least {min_ndim}-D {layout}, "
            f"got shape {y_pred.shape} ({y_pred.ndim}-D)"
        )
    if y_pred.size == 0:
        raise ValueError(f"y_pred must not be empty, got shape {y_pred.shape}")
    check_shape(y_true, "y_true", y_pred.shape, "the shape of y_pred")
    return y_pred, y_true.astype(y_pred.dtype, copy=False)


def _n_examples(y_pred: np.ndarray) -> int:
    """How many per-example values a ``(N, ..., K)`` array yields."""
    return y_pred.size // y_pred.shape[-1]


def _inside(x: np.ndarray, low: float, high: float = np.inf) -> np.ndarray:
    """Where ``clip(x, low, high)`` passes ``x`` through (gradient 1, else 0)."""
    return (x >= low) & (x <= high)


def _plus_minus_one(y_true: np.ndarray) -> np.ndarray:
    """Labels given as 0/1 become -1/+1 (tf.keras and Keras 3 do the same)."""
    if np.all((y_true == 0) | (y_true == 1)):
        return 2 * y_true - 1
    return y_true


# --------------------------------------------------- regression (element-wise)


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
    y_pred, y_true = _check_pair(y_pred, y_true)
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
    y_pred, y_true = _check_pair(y_pred, y_true)
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
    y_pred, y_true = _check_pair(y_pred, y_true)
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
    y_pred, y_true = _check_pair(y_pred, y_true)
    clipped = np.maximum(y_pred, EPSILON)
    diff = np.log1p(clipped) - np.log1p(np.maximum(y_true, EPSILON))
    value = np.mean(diff * diff)
    grad = 2 * diff / (1 + clipped) * _inside(y_pred, EPSILON) / diff.size
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
    y_pred, y_true = _check_pair(y_pred, y_true)
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
    y_pred, y_true = _check_pair(y_pred, y_true)
    if np.any(y_pred < 0):
        raise ValueError(
            "y_pred must be >= 0 (a Poisson rate, e.g. the output of an "
            f"exponential or softplus), got minimum {y_pred.min()}"
        )
    value = np.mean(y_pred - y_true * np.log(y_pred + EPSILON))
    return float(value), (1 - y_true / (y_pred + EPSILON)) / y_pred.size


# ------------------------------------------------------------ hinge losses


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
    y_pred, y_true = _check_pair(y_pred, y_true)
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
    y_pred, y_true = _check_pair(y_pred, y_true)
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
    y_pred, y_true = _check_pair(y_pred, y_true, 2, "(N, K)")
    pos = np.sum(y_true * y_pred, axis=-1)
    others = (1 - y_true) * y_pred
    runner_up = np.argmax(others, axis=-1)
    neg = np.max(others, axis=-1)
    per_example = np.maximum(neg - pos + 1, 0)

    is_runner_up = np.arange(y_pred.shape[-1]) == runner_up[..., None]
    grad = np.where(is_runner_up, 1 - y_true, 0) - y_true
    grad = grad * (per_example > 0)[..., None] / _n_examples(y_pred)
    return float(np.mean(per_example)), grad.astype(y_pred.dtype, copy=False)


# ----------------------------------------------- probabilistic classification


def _check_probabilities(y_pred: np.ndarray) -> None:
    """The categorical cross-entropies need non-negative rows with a positive sum."""
    if np.any(y_pred < 0):
        raise ValueError(
            "y_pred must hold probabilities (>= 0), e.g. a softmax output, got "
            f"minimum {y_pred.min()}; for raw scores use softmax_cross_entropy"
        )
    if np.any(np.sum(y_pred, axis=-1) <= 0):
        raise ValueError(
            "y_pred must have a positive sum along its last axis (the classes), "
            "got a row of zeros"
        )


def _categorical_crossentropy(y_pred: np.ndarray, y_true: np.ndarray):
    """Keras's categorical cross-entropy on validated arrays, with its gradient.

    Steps (Keras): renormalise each row, ``q = p / sum(p)``; clip ``q`` to
    ``[eps, 1 - eps]``; ``-sum(y * log(q))`` per row. The gradient goes back
    through the clipping (zero outside) and the normalisation, whose
    Jacobian is :math:`\\partial q_k / \\partial p_j = (\\delta_{kj} - q_k)/s`
    with :math:`s = \\sum_j p_j`, so :math:`\\partial L/\\partial p_j =
    (g_j - \\sum_k g_k q_k) / s` for :math:`g = \\partial L/\\partial q`.
    """
    row_sum = np.sum(y_pred, axis=-1, keepdims=True)
    q = y_pred / row_sum
    q_clipped = np.clip(q, EPSILON, 1 - EPSILON)
    per_example = -np.sum(y_true * np.log(q_clipped), axis=-1)
    value = np.mean(per_example)

    n = _n_examples(y_pred)
    g = -y_true / q_clipped * _inside(q, EPSILON, 1 - EPSILON) / n
    grad = (g - np.sum(g * q, axis=-1, keepdims=True)) / row_sum
    return float(value), grad.astype(y_pred.dtype, copy=False)


def categorical_crossentropy(y_pred, y_true):
    """Categorical cross-entropy (Keras), for probabilities and one-hot targets.

    The lectures' negative log-likelihood
    :math:`J = -\\mathbf{y}^T \\log \\hat{\\mathbf{y}} = -\\log \\hat{y}_l`
    (for a one-hot :math:`\\mathbf{y}` with the 1 at class :math:`l`),
    averaged over the batch:

    .. math::

        L = -\\frac{1}{N} \\sum_{i=1}^N \\sum_{k=1}^K y_{ik} \\log \\hat{y}_{ik}.

    As in Keras, each row of ``y_pred`` is first divided by its sum and then
    clipped to :math:`[\\epsilon, 1 - \\epsilon]` (so :math:`\\log 0` never
    happens); for rows that already sum to 1 and no clipping,
    :math:`\\partial L / \\partial \\hat{y}_{ik} = -y_{ik} / (N
    \\hat{y}_{ik})` plus a term constant along the row (from the
    renormalisation), which the softmax before it cancels.

    Prefer :func:`softmax_cross_entropy` on raw scores in a classifier: it
    is the same loss composed with the softmax, numerically stable and with
    the simple gradient :math:`(\\mathbf{p} - \\mathbf{y})/N`.

    Parameters
    ----------
    y_pred : ndarray, shape (N, K)
        Probabilities (non-negative; or shape ``(N, ..., K)``).
    y_true : ndarray, same shape
        One-hot targets (or any target distribution).

    Returns
    -------
    value : float
    dy_pred : ndarray, shape and dtype of ``y_pred``
    """
    y_pred, y_true = _check_pair(y_pred, y_true, 2, "(N, K)")
    _check_probabilities(y_pred)
    return _categorical_crossentropy(y_pred, y_true)


def sparse_categorical_crossentropy(y_pred, y_true):
    """Categorical cross-entropy with integer class labels (Keras).

    The same as :func:`categorical_crossentropy` with ``y_true`` replaced by
    its one-hot encoding: :math:`L = -\\frac{1}{N} \\sum_i \\log
    \\hat{y}_{i, l_i}` (after Keras's renormalisation and clipping).

    Parameters
    ----------
    y_pred : ndarray, shape (N, K)
        Probabilities.
    y_true : array of int, shape (N,) or (N, 1)
        Class labels in ``[0, K)``.

    Returns
    -------
    value : float
    dy_pred : ndarray, shape and dtype of ``y_pred``
    """
    y_pred = as_float_array(y_pred, "y_pred")
    check_ndim(y_pred, "y_pred", 2, "(N, K)")
    n, k = y_pred.shape
    labels = np.asarray(y_true)
    if labels.shape == (n, 1):  # Keras accepts a column of labels too
        labels = labels[:, 0]
    labels = check_labels(labels, "y_true", k, n)
    _check_probabilities(y_pred)
    one_hot = (np.arange(k) == labels[:, None]).astype(y_pred.dtype)
    return _categorical_crossentropy(y_pred, one_hot)


def binary_crossentropy(y_pred, y_true):
    """Binary cross-entropy (Keras), for probabilities of independent 0/1 targets.

    The lectures' 2-class negative log-likelihood (003, eq. 15), with
    Keras's clipping :math:`\\tilde{y} = \\mathrm{clip}(\\hat{y}, \\epsilon,
    1 - \\epsilon)`, and averaged (Keras takes the *mean* over the last axis
    here: every output is its own binary problem):

    .. math::

        L = -\\frac{1}{NK} \\sum_{i,k} \\big( y_{ik} \\log \\tilde{y}_{ik} +
        (1 - y_{ik}) \\log(1 - \\tilde{y}_{ik}) \\big),

    .. math::

        \\frac{\\partial L}{\\partial \\hat{y}_{ik}} = \\frac{1}{NK}
        \\Big( \\frac{1 - y_{ik}}{1 - \\tilde{y}_{ik}} -
        \\frac{y_{ik}}{\\tilde{y}_{ik}} \\Big) \\
        \\text{(0 where clipped)}.

    Parameters
    ----------
    y_pred : ndarray, shape (N, ...)
        Probabilities, e.g. a sigmoid output.
    y_true : ndarray, same shape
        Targets in [0, 1].

    Returns
    -------
    value : float
    dy_pred : ndarray, shape and dtype of ``y_pred``
    """
    y_pred, y_true = _check_pair(y_pred, y_true)
    p = np.clip(y_pred, EPSILON, 1 - EPSILON)
    value = -np.mean(y_true * np.log(p) + (1 - y_true) * np.log(1 - p))
    grad = (
        ((1 - y_true) / (1 - p) - y_true / p)
        * _inside(y_pred, EPSILON, 1 - EPSILON)
        / y_pred.size
    )
    return float(value), grad.astype(y_pred.dtype, copy=False)


def kullback_leibler_divergence(y_pred, y_true):
    """Kullback-Leibler divergence :math:`KL(y \\| \\hat{y})` (Keras).

    Keras clips both distributions to :math:`[\\epsilon, 1]` (written
    :math:`\\tilde{y}`, :math:`\\tilde{\\hat{y}}`) and sums over the last
    axis:

    .. math::

        L = \\frac{1}{N} \\sum_i \\sum_k \\tilde{y}_{ik}
        \\log\\frac{\\tilde{y}_{ik}}{\\tilde{\\hat{y}}_{ik}}, \\qquad
        \\frac{\\partial L}{\\partial \\hat{y}_{ik}} =
        -\\frac{\\tilde{y}_{ik}}{N\\, \\tilde{\\hat{y}}_{ik}} \\
        \\text{(0 where clipped)}.

    It differs from :func:`categorical_crossentropy` only by the entropy of
    :math:`y`, which does not depend on the prediction. (The sparse
    autoencoder's penalty in lecture 000 is the same quantity for Bernoulli
    distributions.)

    Parameters
    ----------
    y_pred : ndarray, shape (N, K)
        Predicted distribution (or shape ``(N, ..., K)``).
    y_true : ndarray, same shape
        Target distribution.

    Returns
    -------
    value : float
    dy_pred : ndarray, shape and dtype of ``y_pred``
    """
    y_pred, y_true = _check_pair(y_pred, y_true, 2, "(N, K)")
    t = np.clip(y_true, EPSILON, 1)
    p = np.clip(y_pred, EPSILON, 1)
    n = _n_examples(y_pred)
    value = np.sum(t * np.log(t / p)) / n
    grad = -t / p * _inside(y_pred, EPSILON, 1) / n
    return float(value), grad.astype(y_pred.dtype, copy=False)


def cosine_proximity(y_pred, y_true):
    """Negative cosine similarity per example (Keras 2's ``cosine_proximity``).

    Keras: ``-sum(l2_normalize(y_true, -1) * l2_normalize(y_pred, -1), -1)``,
    where ``l2_normalize(x) = x / sqrt(max(sum(x**2), 1e-12))``. With
    :math:`\\mathbf{u}_i = \\hat{\\mathbf{y}}_i / \\|\\hat{\\mathbf{y}}_i\\|`
    and :math:`\\mathbf{v}_i = \\mathbf{y}_i / \\|\\mathbf{y}_i\\|`:

    .. math::

        L = -\\frac{1}{N} \\sum_i \\mathbf{u}_i \\cdot \\mathbf{v}_i, \\qquad
        \\frac{\\partial L}{\\partial \\hat{\\mathbf{y}}_i} = -\\frac{1}{N}
        \\frac{\\mathbf{v}_i - (\\mathbf{u}_i \\cdot \\mathbf{v}_i)
        \\mathbf{u}_i}{\\|\\hat{\\mathbf{y}}_i\\|},

    the part of :math:`\\mathbf{v}_i` orthogonal to the prediction: the loss
    cannot change by scaling :math:`\\hat{\\mathbf{y}}_i`. (Where the norm is
    floored at :math:`10^{-6}`, it is a constant and the gradient is just
    :math:`-\\mathbf{v}_i / (10^{-6} N)`.) The value lies in [-1, 1]; -1
    means the vectors point the same way.

    Parameters
    ----------
    y_pred : ndarray, shape (N, K)
        (or shape ``(N, ..., K)``; vectors along the last axis).
    y_true : ndarray, same shape

    Returns
    -------
    value : float
    dy_pred : ndarray, shape and dtype of ``y_pred``
    """
    y_pred, y_true = _check_pair(y_pred, y_true, 2, "(N, K)")

    def l2_normalize(x):
        squared_norm = np.sum(x * x, axis=-1, keepdims=True)
        norm = np.sqrt(np.maximum(squared_norm, _L2_NORMALIZE_EPSILON))
        return x / norm, norm, squared_norm > _L2_NORMALIZE_EPSILON

    u, norm_pred, not_floored = l2_normalize(y_pred)
    v, _, _ = l2_normalize(y_true)
    cosine = np.sum(u * v, axis=-1, keepdims=True)
    n = _n_examples(y_pred)
    grad = -(v - not_floored * cosine * u) / norm_pred / n
    return float(-np.mean(cosine)), grad.astype(y_pred.dtype, copy=False)


def softmax_cross_entropy(scores, labels):
    """Softmax followed by the cross-entropy, fused: the classifier's loss.

    For raw scores :math:`\\mathbf{s}_i` (no softmax layer before it) and
    integer labels :math:`l_i`, with :math:`\\mathbf{p}_i =
    \\mathrm{softmax}(\\mathbf{s}_i)`:

    .. math::

        L = -\\frac{1}{N} \\sum_i \\log p_{i, l_i}
          = \\frac{1}{N} \\sum_i \\Big( \\log \\sum_k e^{s_{ik}} - s_{i, l_i}
          \\Big), \\qquad
        \\frac{\\partial L}{\\partial \\mathbf{s}_i} =
        \\frac{\\mathbf{p}_i - \\mathbf{y}_i}{N},

    with :math:`\\mathbf{y}_i` the one-hot label: the lectures'
    :math:`\\mathbf{g} = -(\\mathbf{y} - \\mathbf{p})^T`, divided by the batch
    size. Working with log-probabilities and subtracting the row maximum
    first (log-sum-exp) keeps it finite for any scores, where
    ``softmax`` then ``log`` would give ``log(0) = -inf`` for very
    unlikely classes. No clipping is involved. This equals PyTorch's
    ``torch.nn.functional.cross_entropy``.

    Parameters
    ----------
    scores : ndarray, shape (N, K)
    labels : array of int, shape (N,)
        Class labels in ``[0, K)``.

    Returns
    -------
    value : float
    dscores : ndarray, shape and dtype of ``scores``
    """
    scores = as_float_array(scores, "scores")
    check_ndim(scores, "scores", 2, "(N, K)")
    n, k = scores.shape
    if n == 0:
        raise ValueError(f"scores must not be empty, got shape {scores.shape}")
    labels = check_labels(labels, "labels", k, n)

    shifted = scores - scores.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))
    rows = np.arange(n)
    value = -np.mean(log_probs[rows, labels])

    dscores = np.exp(log_probs)  # the probabilities p_i
    dscores[rows, labels] -= 1
    return float(value), dscores / n


# ----------------------------------------------------------------- registry

_LOSSES = {
    f.__name__: f
    for f in (
        mean_squared_error,
        mean_absolute_error,
        mean_absolute_percentage_error,
        mean_squared_logarithmic_error,
        squared_hinge,
        hinge,
        categorical_hinge,
        logcosh,
        categorical_crossentropy,
        sparse_categorical_crossentropy,
        binary_crossentropy,
        kullback_leibler_divergence,
        poisson,
        cosine_proximity,
        softmax_cross_entropy,
    )
}

_ALIASES = {  # Keras's short names, and the newer Keras spellings
    "mse": "mean_squared_error",
    "mae": "mean_absolute_error",
    "mape": "mean_absolute_percentage_error",
    "msle": "mean_squared_logarithmic_error",
    "kld": "kullback_leibler_divergence",
    "kl_divergence": "kullback_leibler_divergence",
    "log_cosh": "logcosh",
    "cosine": "cosine_proximity",
    "cosine_similarity": "cosine_proximity",
}


def get(name):
    """Look up a loss by name, as ``Sequential.compile(loss="...")`` does.

    Parameters
    ----------
    name : str or callable
        One of the function names of this module (``"categorical_crossentropy"``,
        ...) or a Keras alias (``"mse"``, ``"mae"``, ``"mape"``, ``"msle"``,
        ``"kld"``, ``"cosine"``); case does not matter. A callable (a custom
        ``loss(y_pred, y_true) -> (value, dy_pred)``) is returned unchanged.

    Returns
    -------
    loss : callable
    """
    if callable(name):
        return name
    if not isinstance(name, str):
        raise TypeError(
            f"loss must be a loss name (str) or a callable, got {name!r} "
            f"({type(name).__name__})"
        )
    key = name.lower()
    key = _ALIASES.get(key, key)
    if key not in _LOSSES:
        known = ", ".join(sorted(_LOSSES) + sorted(_ALIASES))
        raise ValueError(f"loss must be one of {known}; got {name!r}")
    return _LOSSES[key]
