"""Convolution layers (cross-correlation, as in every DL library).

The math, the output-size rule :math:`(n' - 1)S + F = n + 2P` and the
backward pass through shared weights are in
:func:`dlcore.functional.conv1d_forward` / ``conv2d_forward``; these layers
add parameters, Keras's options and an optional activation.
"""

from __future__ import annotations

from .. import functional as F
from .._validation import int_tuple, positive_int
from ._weighted import WeightedLayer

__all__ = ["Conv1D", "Conv2D"]

_PADDING_NAMES = ("valid", "same", "full")


def _padding(padding, n: int):
    """An int, an ``n``-tuple of ints >= 0, or one of 'valid', 'same', 'full'."""
    if isinstance(padding, str):
        if padding.lower() not in _PADDING_NAMES:
            raise ValueError(
                f"padding must be an int, a tuple of {n} ints or one of "
                f"{list(_PADDING_NAMES)}, got {padding!r}"
            )
        return padding.lower()
    padding = int_tuple(padding, "padding", n, allow_zero=True)
    return padding[0] if n == 1 else padding


class _Conv(WeightedLayer):
    """What :class:`Conv1D` and :class:`Conv2D` share; each names its
    number of spatial axes, its input layout and its functional pair."""

    n_spatial = 0
    _input_layout = ""
    _functional = (None, None)  # (forward, backward) of dlcore.functional

    def __init__(
        self,
        filters: int,
        kernel_size,
        stride=1,
        padding=0,
        activation=None,
        *,
        input_shape=None,
        **options,
    ):
        super().__init__(activation, **options)
        n = self.n_spatial
        self.filters = positive_int(filters, "filters")
        self.kernel_size = int_tuple(kernel_size, "kernel_size", n)
        stride = int_tuple(stride, "stride", n)
        self.stride = stride[0] if n == 1 else stride
        self.padding = _padding(padding, n)
        if input_shape is not None:
            input_shape = tuple(positive_int(d, "input_shape") for d in input_shape)
            if len(input_shape) != n + 1:
                raise ValueError(
                    f"input_shape must have {n + 1} entries {self._input_layout} "
                    f"(without the batch axis), got {input_shape}"
                )
            self.input_shape = input_shape

    def _weight_shape(self, input_shape):
        n = self.n_spatial
        if len(input_shape) != n + 1:
            raise ValueError(
                f"x must be a {n + 2}-D array (N, {self._input_layout[1:]} for "
                f"{type(self).__name__}, got an input of shape "
                f"(N, {', '.join(map(str, input_shape))})"
            )
        return (self.filters, input_shape[0], *self.kernel_size)

    def _linear_forward(self, x, W, b):
        forward, _ = self._functional
        return forward(x, W, b, stride=self.stride, padding=self.padding)

    def _linear_backward(self, dout, cache):
        _, backward = self._functional
        return backward(dout, cache)

    def __repr__(self) -> str:
        kernel = self.kernel_size[0] if self.n_spatial == 1 else self.kernel_size
        return (
            f"{type(self).__name__}({self.filters}, kernel_size={kernel}, "
            f"stride={self.stride!r}, padding={self.padding!r}"
            f"{self._options_repr()})"
        )


class Conv1D(_Conv):
    """1-D convolution layer: ``x`` ``(N, C, L)`` -> ``(N, filters, L')``.

    ``W`` has shape ``(filters, C, K)``, ``b`` ``(filters,)``; output length
    :math:`L' = \\lfloor (L + 2P - K) / S \\rfloor + 1`.

    Parameters
    ----------
    filters : int
        Number of filters (output channels).
    kernel_size : int
        Filter width ``K``.
    stride : int
        ``S`` >= 1.
    padding : int or {'valid', 'same', 'full'}
        Zeros added at each end (``P``); the names need stride 1 (``'same'``
        also an odd kernel).
    input_shape : tuple (C, L), optional
        Declare the input of a first layer.
    Other parameters are those of :class:`~dlcore.layers.Dense`.
    """

    n_spatial = 1
    _input_layout = "(C, L)"
    _functional = (F.conv1d_forward, F.conv1d_backward)


class Conv2D(_Conv):
    """2-D convolution layer: ``x`` ``(N, C, H, W)`` -> ``(N, filters, H', W')``.

    ``W`` has shape ``(filters, C, KH, KW)``, ``b`` ``(filters,)``; each
    output side follows :math:`n' = \\lfloor (n + 2P - F) / S \\rfloor + 1`.

    Parameters
    ----------
    filters : int
        Number of filters (output channels).
    kernel_size : int or (int, int)
        ``(KH, KW)``; an int means a square kernel.
    stride : int or (int, int)
        Step between neighbouring windows, >= 1.
    padding : int, (int, int) or {'valid', 'same', 'full'}
        Zero padding per side (``P``); the names need stride 1.
    input_shape : tuple (C, H, W), optional
        Declare the input of a first layer.
    Other parameters are those of :class:`~dlcore.layers.Dense`.
    """

    n_spatial = 2
    _input_layout = "(C, H, W)"
    _functional = (F.conv2d_forward, F.conv2d_backward)
