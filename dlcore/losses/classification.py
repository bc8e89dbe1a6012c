"""Losses that compare distributions or directions: the cross-entropies, the KL
divergence, the cosine proximity, and the fused softmax cross-entropy."""

from __future__ import annotations

import numpy as np

from .._validation import as_float_array, check_labels, check_ndim
from ._common import EPSILON, check_pair, inside, n_examples

__all__ = [
    "categorical_crossentropy",
    "sparse_categorical_crossentropy",
    "binary_crossentropy",
    "kullback_leibler_divergence",
    "cosine_proximity",
    "softmax_cross_entropy",
]

_L2_NORMALIZE_EPSILON = 1e-12
"""``tf.math.l2_normalize``'s floor on the squared norm (cosine proximity)."""


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


def _rows_and_labels(rows, labels, rows_name: str, labels_name: str):
    """Validate ``(N, K)`` scores or probabilities and ``N`` integer labels in
    ``[0, K)``; return them as a float array and an index array."""
    rows = as_float_array(rows, rows_name)
    check_ndim(rows, rows_name, 2, "(N, K)")
    n, k = rows.shape
    if n == 0:
        raise ValueError(f"{rows_name} must not be empty, got shape {rows.shape}")
    return rows, check_labels(labels, labels_name, k, n)


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

    n = n_examples(y_pred)
    g = -y_true / q_clipped * inside(q, EPSILON, 1 - EPSILON) / n
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
    y_pred, y_true = check_pair(y_pred, y_true, 2, "(N, K)")
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
    labels = np.asarray(y_true)
    if labels.ndim == 2 and labels.shape[1] == 1:  # Keras accepts a column too
        labels = labels[:, 0]
    y_pred, labels = _rows_and_labels(y_pred, labels, "y_pred", "y_true")
    _check_probabilities(y_pred)
    one_hot = (np.arange(y_pred.shape[1]) == labels[:, None]).astype(y_pred.dtype)
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
    y_pred, y_true = check_pair(y_pred, y_true)
    p = np.clip(y_pred, EPSILON, 1 - EPSILON)
    value = -np.mean(y_true * np.log(p) + (1 - y_true) * np.log(1 - p))
    grad = (
        ((1 - y_true) / (1 - p) - y_true / p)
        * inside(y_pred, EPSILON, 1 - EPSILON)
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
    y_pred, y_true = check_pair(y_pred, y_true, 2, "(N, K)")
    t = np.clip(y_true, EPSILON, 1)
    p = np.clip(y_pred, EPSILON, 1)
    n = n_examples(y_pred)
    value = np.sum(t * np.log(t / p)) / n
    grad = -t / p * inside(y_pred, EPSILON, 1) / n
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
    y_pred, y_true = check_pair(y_pred, y_true, 2, "(N, K)")

    def l2_normalize(x):
        squared_norm = np.sum(x * x, axis=-1, keepdims=True)
        norm = np.sqrt(np.maximum(squared_norm, _L2_NORMALIZE_EPSILON))
        return x / norm, norm, squared_norm > _L2_NORMALIZE_EPSILON

    u, norm_pred, not_floored = l2_normalize(y_pred)
    v, _, _ = l2_normalize(y_true)
    cosine = np.sum(u * v, axis=-1, keepdims=True)
    n = n_examples(y_pred)
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
    scores, labels = _rows_and_labels(scores, labels, "scores", "labels")
    n = len(scores)
    shifted = scores - scores.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))
    rows = np.arange(n)
    value = -np.mean(log_probs[rows, labels])

    dscores = np.exp(log_probs)  # the probabilities p_i
    dscores[rows, labels] -= 1
    return float(value), dscores / n
