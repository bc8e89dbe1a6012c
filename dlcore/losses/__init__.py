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

The losses live in three modules by kind (:mod:`.regression`,
:mod:`.margin`, :mod:`.classification`); every name is importable from
``dlcore.losses`` itself.
"""

from __future__ import annotations

from ._common import EPSILON
from .classification import (
    binary_crossentropy,
    categorical_crossentropy,
    cosine_proximity,
    kullback_leibler_divergence,
    softmax_cross_entropy,
    sparse_categorical_crossentropy,
)
from .margin import categorical_hinge, hinge, squared_hinge
from .regression import (
    logcosh,
    mean_absolute_error,
    mean_absolute_percentage_error,
    mean_squared_error,
    mean_squared_logarithmic_error,
    poisson,
)

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
        One of the loss names of this package (``"categorical_crossentropy"``,
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
