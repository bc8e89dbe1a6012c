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

import numpy as np

from .._kernels import pooling as kernels
from .._kernels.threads import run_chunks, split_range
from .._validation import as_float_array, check_ndim, check_shape, int_tuple

__all__ = [
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


def _run(kernel, args: tuple, n_planes: int, work_per_plane: int):
    chunks = split_range(n_planes, work_per_plane, _MIN_WORK_PER_THREAD)
    run_chunks(kernel, args, chunks)


def _unwrap(cache, kind: str):
    """Unwrap a ``(kind, cache)`` pair made by ``<kind>_forward``."""
    if not (isinstance(cache, tuple) and len(cache) == 2 and cache[0] == kind):
        got = cache[0] if isinstance(cache, tuple) and cache else type(cache).__name__
        raise TypeError(
            f"cache must be the cache returned by {kind}_forward, got {got!r}"
        )
    return cache[1]


def _planes_of_dout(dout, geometry: dict, kind: str):
    """Check ``dout``; return it as planes ``(N*C, oh, ow)`` in ``x``'s dtype."""
    dout = as_float_array(dout, "dout")
    out_shape = geometry["out_shape"]
    check_shape(dout, "dout", out_shape, f"the shape of {kind}_forward's output")
    dtype = geometry["dtype"]
    return np.ascontiguousarray(dout, dtype=dtype).reshape(-1, *geometry["out_size"])


def _forward(x, kernel_size, stride, n_spatial: int, kind: str):
    planes, (kh, kw), (sh, sw), out_size, out_shape = _pool_setup(
        x, kernel_size, stride, n_spatial
    )
    n_planes = planes.shape[0]
    out = np.empty((n_planes, *out_size), dtype=planes.dtype)
    work = out_size[0] * out_size[1] * kh * kw
    geometry = {
        "x_shape": np.shape(x),
        "planes_shape": planes.shape,
        "out_shape": out_shape,
        "out_size": out_size,
        "window": (kh, kw, sh, sw),
        "dtype": planes.dtype,
    }
    if kind.startswith("max"):
        argmax = np.empty(out.shape, dtype=np.intp)
        _run(kernels.window_max, (planes, kh, kw, sh, sw, out, argmax), n_planes, work)
        geometry["argmax"] = argmax
    else:
        _run(kernels.window_sum, (planes, kh, kw, sh, sw, out), n_planes, work)
        out /= kh * kw  # a Python int keeps float32 float32
    return out.reshape(out_shape), (kind, geometry)


def _max_backward(dout, cache, kind: str):
    geometry = _unwrap(cache, kind)
    dout = _planes_of_dout(dout, geometry, kind)
    n_planes = dout.shape[0]
    dx = np.zeros(geometry["planes_shape"], dtype=dout.dtype)
    index = geometry["argmax"].reshape(n_planes, -1)
    values = dout.reshape(n_planes, -1)
    flat_dx = dx.reshape(n_planes, -1)
    _run(kernels.scatter_add, (values, index, flat_dx), n_planes, index.shape[1])
    return dx.reshape(geometry["x_shape"])


def _avg_backward(dout, cache, kind: str):
    geometry = _unwrap(cache, kind)
    dout = _planes_of_dout(dout, geometry, kind)
    kh, kw, sh, sw = geometry["window"]
    n_planes, oh, ow = dout.shape
    # Each input of a window contributed 1/(kh*kw) of its output.
    share = dout / (kh * kw)
    dx = np.zeros(geometry["planes_shape"], dtype=dout.dtype)
    work = oh * ow * kh * kw
    _run(kernels.window_spread, (share, kh, kw, sh, sw, dx), n_planes, work)
    return dx.reshape(geometry["x_shape"])


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
    cache : tuple
        The position of each window's maximum (first one on ties).
    """
    return _forward(x, kernel_size, stride, 2, "maxpool2d")


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
    return _max_backward(dout, cache, "maxpool2d")


def maxpool1d_forward(x, kernel_size, stride=None):
    """Forward pass of 1-D max-pooling, ``(N, C, L)`` -> ``(N, C, L')``.

    :math:`\\text{out}[n, c, i] = \\max_{0 \\le a < k} x[n, c, i s + a]`,
    :math:`L' = \\lfloor (L - k)/s \\rfloor + 1`; ``stride`` defaults to
    ``kernel_size``. See :func:`maxpool2d_forward`.
    """
    return _forward(x, kernel_size, stride, 1, "maxpool1d")


def maxpool1d_backward(dout, cache):
    """Backward pass of :func:`maxpool1d_forward`: each window's gradient goes
    to its arg-max (the first on ties). Returns ``dx`` of shape ``(N, C, L)``."""
    return _max_backward(dout, cache, "maxpool1d")


def avgpool2d_forward(x, kernel_size, stride=None):
    """Forward pass of 2-D average-pooling.

    .. math::

        \\text{out}[n, c, i, j] = \\frac{1}{k_h k_w}
        \\sum_{a=0}^{k_h - 1} \\sum_{b=0}^{k_w - 1}
        x[n, c,\\ i s_h + a,\\ j s_w + b]

    Parameters and output size as in :func:`maxpool2d_forward`.
    """
    return _forward(x, kernel_size, stride, 2, "avgpool2d")


def avgpool2d_backward(dout, cache):
    """Backward pass of :func:`avgpool2d_forward`.

    .. math::

        \\frac{\\partial J}{\\partial x[n, c, h, w]} = \\frac{1}{k_h k_w}
        \\sum_{(i, j):\\ (h, w) \\in \\text{window }(i, j)} \\text{dout}[n, c, i, j]

    Returns
    -------
    dx : ndarray, shape (N, C, H, W)
    """
    return _avg_backward(dout, cache, "avgpool2d")


def avgpool1d_forward(x, kernel_size, stride=None):
    """Forward pass of 1-D average-pooling, ``(N, C, L)`` -> ``(N, C, L')``.

    :math:`\\text{out}[n, c, i] = \\frac{1}{k} \\sum_{a=0}^{k-1} x[n, c, i s + a]`;
    see :func:`avgpool2d_forward`.
    """
    return _forward(x, kernel_size, stride, 1, "avgpool1d")


def avgpool1d_backward(dout, cache):
    """Backward pass of :func:`avgpool1d_forward`: each input gets ``1/k`` of
    the gradient of every window it is in. Returns ``dx`` ``(N, C, L)``."""
    return _avg_backward(dout, cache, "avgpool1d")
