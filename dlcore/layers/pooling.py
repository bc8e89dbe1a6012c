"""Pooling layers: max and average over windows, 1-D and 2-D, no parameters.

No padding; the output size is :math:`\\lfloor (n - k) / s \\rfloor + 1` and
``stride`` defaults to ``kernel_size`` (non-overlapping windows). Max-pool
backward routes each gradient to the arg-max of its window (the lecture's
"transfer the error to the node that was the maximum"), average-pool
backward spreads it evenly. See :mod:`dlcore.functional.pooling`.
"""

from __future__ import annotations

import numpy as np

from .. import functional as F
from .._validation import as_float_array, int_tuple
from .base import Layer

__all__ = ["MaxPool1D", "MaxPool2D", "AvgPool1D", "AvgPool2D"]


class _Pool(Layer):
    """What the four pooling layers share; each names its number of spatial
    axes and its functional pair."""

    n_spatial = 0
    _functional = (None, None)  # (forward, backward) of dlcore.functional

    def __init__(self, kernel_size=2, stride=None):
        super().__init__()
        n = self.n_spatial
        kernel = int_tuple(kernel_size, "kernel_size", n)
        self.kernel_size = kernel[0] if n == 1 else kernel
        if stride is not None:
            stride = int_tuple(stride, "stride", n)
            stride = stride[0] if n == 1 else stride
        self.stride = stride
        self._cache = None

    def forward(self, x: np.ndarray, training: bool = True) -> np.ndarray:
        x = as_float_array(x, "x")
        self.built = True
        forward, _ = self._functional
        out, self._cache = forward(x, self.kernel_size, self.stride)
        return out

    def backward(self, dout: np.ndarray) -> np.ndarray:
        if self._cache is None:
            raise RuntimeError(f"{type(self).__name__}.backward called before forward")
        _, backward = self._functional
        return backward(as_float_array(dout, "dout"), self._cache)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(kernel_size={self.kernel_size!r}, "
            f"stride={self.stride!r})"
        )


class MaxPool1D(_Pool):
    """Max over windows along ``L``: ``(N, C, L)`` -> ``(N, C, L')``."""

    n_spatial = 1
    _functional = (F.maxpool1d_forward, F.maxpool1d_backward)


class AvgPool1D(_Pool):
    """Mean over windows along ``L``: ``(N, C, L)`` -> ``(N, C, L')``."""

    n_spatial = 1
    _functional = (F.avgpool1d_forward, F.avgpool1d_backward)


class MaxPool2D(_Pool):
    """Max over ``kernel_size`` windows: ``(N, C, H, W)`` -> ``(N, C, H', W')``.

    ``kernel_size`` and ``stride`` are an int or a pair ``(kh, kw)``.
    """

    n_spatial = 2
    _functional = (F.maxpool2d_forward, F.maxpool2d_backward)


class AvgPool2D(_Pool):
    """Mean over ``kernel_size`` windows: ``(N, C, H, W)`` -> ``(N, C, H', W')``."""

    n_spatial = 2
    _functional = (F.avgpool2d_forward, F.avgpool2d_backward)
