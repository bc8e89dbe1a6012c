"""Max- and average-pooling, 1-D and 2-D: forward and backward passes.

Pooling shrinks each channel by summarizing windows (lecture 000: "reduce
size to half by taking average or max of successive elements"). There is
no padding and no parameter; a window of ``k`` values moved by ``s``
gives

.. math::

    n' = \\left\\lfloor \\frac{n - k}{s} \\right\\rfloor + 1

outputs per side, and ``stride`` defaults to ``kernel_size`` (windows side
by side, the usual 2x2 / stride 2 halving). Windows may overlap
(``stride < kernel_size``, e.g. AlexNet's 3x3 windows with stride 2); their
gradients then add up in the backward pass.

Backward passes (lecture 000, "backpropagate through pooling"):

* max: the output is the window's largest input, so its gradient goes to
  that one input ("transfer the error at the node to the node that was the
  maximum") and the others get zero. On ties, the first maximum in
  row-major order gets it (as PyTorch does);
* average: every input contributed ``1/k`` of the output (``1/(kh kw)`` in
  2-D), so each gets ``1/k`` of the gradient.

Channels are pooled independently; the loops run in Numba kernels
(:mod:`dlcore._kernels.pooling`) over the ``N * C`` planes of the batch.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._kernels.threads import run_chunks, split_range
from .._validation import (
    as_float_array,
    check_cache,
    check_ndim,
    check_upstream,
    int_tuple,
)

__all__ = [
    "PoolCache",
    "MaxPoolCache",
    "MaxPool1dCache",
    "MaxPool2dCache",
    "AvgPool1dCache",
    "AvgPool2dCache",
    "maxpool1d_forward",
    "maxpool1d_backward",
    "maxpool2d_forward",
    "maxpool2d_backward",
    "avgpool1d_forward",
    "avgpool1d_backward",
    "avgpool2d_forward",
    "avgpool2d_backward",
]

# A thread is only worth waking for about this many window elements.
_MIN_WORK_PER_THREAD = 400_000

_LAYOUT = {1: "(N, C, L)", 2: "(N, C, H, W)"}


@dataclass(frozen=True, eq=False)
class PoolCache:
    """What a pooling forward keeps for its backward pass.

    The kernels see the batch as a stack of ``N * C`` planes, and a 1-D
    signal as planes of height 1 with ``(1, k)`` windows, so the window,
    stride and sizes below are always pairs.

    Attributes
    ----------
    x_shape : tuple
        The shape of ``x``, which ``dx`` takes.
    out_shape : tuple
        The shape of ``out``, which ``dout`` must have.
    planes_shape : (int, int, int)
        ``(N * C, H, W)``.
    out_size : (int, int)
        ``(H', W')``.
    window : (int, int)
        ``(k_h, k_w)``.
    stride : (int, int)
        ``(s_h, s_w)``.
    dtype : numpy.dtype
        The dtype of ``x``, which ``dx`` keeps.
    """

    x_shape: tuple
    out_shape: tuple
    planes_shape: tuple
    out_size: tuple
    window: tuple
    stride: tuple
    dtype: np.dtype


@dataclass(frozen=True, eq=False)
class MaxPoolCache(PoolCache):
    """A :class:`PoolCache` plus ``argmax``, shape ``(N * C, H', W')``: the flat
    index ``h * W + w`` in its plane of each window's maximum (the first on
    ties)."""

    argmax: np.ndarray


class MaxPool2dCache(MaxPoolCache):
    """From :func:`maxpool2d_forward`."""


class MaxPool1dCache(MaxPoolCache):
    """From :func:`maxpool1d_forward`."""


class AvgPool2dCache(PoolCache):
    """From :func:`avgpool2d_forward`."""


class AvgPool1dCache(PoolCache):
    """From :func:`avgpool1d_forward`."""


def _pool_setup(x, kernel_size, stride, n_spatial: int):
    """Check the arguments and view ``x`` as a stack of planes ``(N*C, H, W)``.

    Returns the planes, then the window, stride and output size as 2-D
    pairs (a 1-D signal is a plane of height 1 with ``(1, k)`` windows),
    then the output shape ``(N, C, *out_size)`` the caller sees.
    """
    x = as_float_array(x, "x")
    check_ndim(x, "x", n_spatial + 2, _LAYOUT[n_spatial])
    kernel = int_tuple(kernel_size, "kernel_size", n_spatial)
    step = kernel if stride is None else int_tuple(stride, "stride", n_spatial)
    size = x.shape[2:]
    if 0 in x.shape:
        raise ValueError(f"x must not be empty, got shape {x.shape}")
    if any(k > n for k, n in zip(kernel, size, strict=True)):
        one = n_spatial == 1
        raise ValueError(
            f"kernel_size must be at most the input size {'L' if one else '(H, W)'}"
            f" = {size[0] if one else size} (pooling adds no padding), got "
            f"{kernel[0] if one else kernel}"
        )
    out_size = tuple(
        (n - k) // s + 1 for n, k, s in zip(size, kernel, step, strict=True)
    )
    out_shape = (*x.shape[:2], *out_size)
    if n_spatial == 1:
        kernel, step, size, out_size = (
            (1, *kernel),
            (1, *step),
            (1, *size),
            (1, *out_size),
        )
    planes = np.ascontiguousarray(x).reshape(-1, *size)
    return planes, kernel, step, out_size, out_shape


def _kernels():
    """The Numba loops (:mod:`dlcore._kernels.pooling`), imported by the first
    pooling call rather than with dlcore: they load Numba (about 0.4 s of
    CPU), which a program that never pools need not wait for."""
    from .._kernels import pooling

    return pooling


def _run(kernel, args: tuple, n_planes: int, work_per_plane: int):
    chunks = split_range(n_planes, work_per_plane, _MIN_WORK_PER_THREAD)
    run_chunks(kernel, args, chunks)


def _planes_of_dout(dout, cache: PoolCache, made_by: str):
    """Check ``dout``; return it as planes ``(N*C, oh, ow)`` in ``x``'s dtype."""
    dout = check_upstream(dout, cache.out_shape, made_by)
    return np.ascontiguousarray(dout, dtype=cache.dtype).reshape(-1, *cache.out_size)


def _forward(x, kernel_size, stride, n_spatial: int, cache_type: type):
    planes, (kh, kw), (sh, sw), out_size, out_shape = _pool_setup(
        x, kernel_size, stride, n_spatial
    )
    n_planes = planes.shape[0]
    out = np.empty((n_planes, *out_size), dtype=planes.dtype)
    work = out_size[0] * out_size[1] * kh * kw
    geometry = (np.shape(x), out_shape, planes.shape, out_size, (kh, kw), (sh, sw))
    if issubclass(cache_type, MaxPoolCache):
        argmax = np.empty(out.shape, dtype=np.intp)
        _run(
            _kernels().window_max, (planes, kh, kw, sh, sw, out, argmax), n_planes, work
        )
        return out.reshape(out_shape), cache_type(*geometry, planes.dtype, argmax)
    _run(_kernels().window_sum, (planes, kh, kw, sh, sw, out), n_planes, work)
    out /= kh * kw  # a Python int keeps float32 float32
    return out.reshape(out_shape), cache_type(*geometry, planes.dtype)


def _max_backward(dout, cache, cache_type: type, made_by: str):
    cache = check_cache(cache, cache_type, made_by)
    dout = _planes_of_dout(dout, cache, made_by)
    n_planes = dout.shape[0]
    dx = np.zeros(cache.planes_shape, dtype=dout.dtype)
    index = cache.argmax.reshape(n_planes, -1)
    values = dout.reshape(n_planes, -1)
    flat_dx = dx.reshape(n_planes, -1)
    _run(_kernels().scatter_add, (values, index, flat_dx), n_planes, index.shape[1])
    return dx.reshape(cache.x_shape)


def _avg_backward(dout, cache, cache_type: type, made_by: str):
    cache = check_cache(cache, cache_type, made_by)
    dout = _planes_of_dout(dout, cache, made_by)
    (kh, kw), (sh, sw) = cache.window, cache.stride
    n_planes, oh, ow = dout.shape
    # Each input of a window contributed 1/(kh*kw) of its output.
    share = dout / (kh * kw)
    dx = np.zeros(cache.planes_shape, dtype=dout.dtype)
    work = oh * ow * kh * kw
    _run(_kernels().window_spread, (share, kh, kw, sh, sw, dx), n_planes, work)
    return dx.reshape(cache.x_shape)


# --------------------------------------------------------------------------
# Public functions
# --------------------------------------------------------------------------


def maxpool2d_forward(x, kernel_size, stride=None):
    """Forward pass of 2-D max-pooling.

    .. math::

        \\text{out}[n, c, i, j] = \\max_{0 \\le a < k_h,\\ 0 \\le b < k_w}
        x[n, c,\\ i s_h + a,\\ j s_w + b]

    Parameters
    ----------
    x : ndarray, shape (N, C, H, W)
    kernel_size : int or (int, int)
        Window ``(k_h, k_w)``.
    stride : int or (int, int), optional
        Step ``(s_h, s_w)`` between windows; defaults to ``kernel_size``.

    Returns
    -------
    out : ndarray, shape (N, C, H', W')
        :math:`H' = \\lfloor (H - k_h)/s_h \\rfloor + 1`, likewise ``W'``.
    cache : MaxPool2dCache
        The position of each window's maximum (first one on ties).
    """
    return _forward(x, kernel_size, stride, 2, MaxPool2dCache)


def maxpool2d_backward(dout, cache):
    """Backward pass of :func:`maxpool2d_forward`.

    .. math::

        \\frac{\\partial J}{\\partial x[n, c, h, w]} =
        \\sum_{(i, j):\\ (h, w) = \\operatorname{argmax}\\text{ of window }(i, j)}
        \\text{dout}[n, c, i, j]

    Each window's gradient goes to its arg-max; an input that is the maximum
    of several overlapping windows collects all of their gradients, and an
    input that is no window's maximum gets zero.

    Returns
    -------
    dx : ndarray, shape (N, C, H, W)
    """
    return _max_backward(dout, cache, MaxPool2dCache, "maxpool2d_forward")


def maxpool1d_forward(x, kernel_size, stride=None):
    """Forward pass of 1-D max-pooling, ``(N, C, L)`` -> ``(N, C, L')``.

    :math:`\\text{out}[n, c, i] = \\max_{0 \\le a < k} x[n, c, i s + a]`,
    :math:`L' = \\lfloor (L - k)/s \\rfloor + 1`; ``stride`` defaults to
    ``kernel_size``. See :func:`maxpool2d_forward`.
    """
    return _forward(x, kernel_size, stride, 1, MaxPool1dCache)


def maxpool1d_backward(dout, cache):
    """Backward pass of :func:`maxpool1d_forward`: each window's gradient goes
    to its arg-max (the first on ties). Returns ``dx`` of shape ``(N, C, L)``."""
    return _max_backward(dout, cache, MaxPool1dCache, "maxpool1d_forward")


def avgpool2d_forward(x, kernel_size, stride=None):
    """Forward pass of 2-D average-pooling.

    .. math::

        \\text{out}[n, c, i, j] = \\frac{1}{k_h k_w}
        \\sum_{a=0}^{k_h - 1} \\sum_{b=0}^{k_w - 1}
        x[n, c,\\ i s_h + a,\\ j s_w + b]

    Parameters and output size as in :func:`maxpool2d_forward`.
    """
    return _forward(x, kernel_size, stride, 2, AvgPool2dCache)


def avgpool2d_backward(dout, cache):
    """Backward pass of :func:`avgpool2d_forward`.

    .. math::

        \\frac{\\partial J}{\\partial x[n, c, h, w]} = \\frac{1}{k_h k_w}
        \\sum_{(i, j):\\ (h, w) \\in \\text{window }(i, j)} \\text{dout}[n, c, i, j]

    Returns
    -------
    dx : ndarray, shape (N, C, H, W)
    """
    return _avg_backward(dout, cache, AvgPool2dCache, "avgpool2d_forward")


def avgpool1d_forward(x, kernel_size, stride=None):
    """Forward pass of 1-D average-pooling, ``(N, C, L)`` -> ``(N, C, L')``.

    :math:`\\text{out}[n, c, i] = \\frac{1}{k} \\sum_{a=0}^{k-1} x[n, c, i s + a]`;
    see :func:`avgpool2d_forward`.
    """
    return _forward(x, kernel_size, stride, 1, AvgPool1dCache)


def avgpool1d_backward(dout, cache):
    """Backward pass of :func:`avgpool1d_forward`: each input gets ``1/k`` of
    the gradient of every window it is in. Returns ``dx`` ``(N, C, L)``."""
    return _avg_backward(dout, cache, AvgPool1dCache, "avgpool1d_forward")
