"""What every loss shares: Keras's clipping constant and the argument checks."""

from __future__ import annotations

import numpy as np

from .._validation import as_float_array, check_shape

__all__ = ["EPSILON", "check_pair", "n_examples", "inside"]

EPSILON = 1e-7
"""Keras's fuzz factor ``K.epsilon()``, used to clip probabilities and
denominators."""


def check_pair(y_pred, y_true, min_ndim: int = 1, layout: str = "(N, ...)"):
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


def n_examples(y_pred: np.ndarray) -> int:
    """How many per-example values a ``(N, ..., K)`` array yields."""
    return y_pred.size // y_pred.shape[-1]


def inside(x: np.ndarray, low: float, high: float = np.inf) -> np.ndarray:
    """Where ``clip(x, low, high)`` passes ``x`` through (gradient 1, else 0)."""
    return (x >= low) & (x <= high)
