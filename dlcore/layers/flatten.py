"""Flatten: the bridge from feature maps ``(N, C, H, W)`` to dense layers."""

from __future__ import annotations

import numpy as np

from .._validation import as_float_array
from .base import Layer

__all__ = ["Flatten"]


class Flatten(Layer):
    """Reshape ``(N, d1, d2, ...)`` to ``(N, d1 * d2 * ...)`` (row-major order).

    The lectures' "vectorized version of the last convolutional layer".
    Backward reshapes the gradient back: flattening moves values around
    without changing them, so its Jacobian is a permutation (here even the
    identity on the memory order).
    """

    def __init__(self):
        super().__init__()
        self._shape = None

    def forward(self, x: np.ndarray, training: bool = True) -> np.ndarray:
        x = as_float_array(x, "x")
        if x.ndim < 1:
            raise ValueError(f"x must have a batch axis (N, ...), got shape {x.shape}")
        self.built = True
        self._shape = x.shape
        return x.reshape(x.shape[0], -1)

    def backward(self, dout: np.ndarray) -> np.ndarray:
        if self._shape is None:
            raise RuntimeError("Flatten.backward called before forward")
        dout = as_float_array(dout, "dout")
        expected = (self._shape[0], int(np.prod(self._shape[1:], dtype=np.int64)))
        if dout.shape != expected:
            raise ValueError(f"dout must have shape {expected}, got {dout.shape}")
        return dout.reshape(self._shape)

    def __repr__(self) -> str:
        return "Flatten()"
