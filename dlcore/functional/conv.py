"""Convolution layers, 1-D and 2-D: forward and backward passes.

What every deep-learning library calls "convolution" is *cross-correlation*
(lecture 001): the kernel slides over the input without being flipped,

.. math::

    s[i, j] = \\sum_m \\sum_n I[i + m, j + n]\\, K[m, n],

while the true convolution :math:`\\sum_m \\sum_n I[i - m, j - n] K[m, n]`
equals cross-correlation with the kernel flipped in both directions. Both
are linear in the input and in the kernel, and a network learns the kernel
either way, so nothing is lost by skipping the flip; the course notebook on
convolution flips the kernel to reproduce the lectures' worked examples.

Sizes (lecture 000). With ``n`` inputs along a side, ``P`` zeros of padding
on each end, a filter of width ``F`` and stride ``S``, the number of outputs
``n'`` satisfies :math:`(n' - 1)S + F = n + 2P`; when ``S`` does not divide
``n + 2P - F`` the last inputs are not covered and

.. math::

    n' = \\left\\lfloor \\frac{n + 2P - F}{S} \\right\\rfloor + 1

(:func:`conv_output_size`). Padding names for stride 1 (lecture 003):
``'valid'`` (``P = 0``, the output shrinks by ``F - 1``), ``'same'``
(``P = (F - 1) / 2`` for odd ``F``, the output keeps the input's size) and
``'full'`` (``P = F - 1``, every partial overlap counts, the output grows by
``F - 1``).

Shapes: ``x`` ``(N, C, H, W)``, ``W`` ``(F, C, KH, KW)``, ``b`` ``(F,)``,
output ``(N, F, H', W')``; the 1-D versions drop ``H`` and ``KH``. The
computation runs in ``x``'s dtype (float32 input stays float32; ``W`` and
``b`` are cast to it) and the gradients come back in that dtype.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._validation import (
    as_float_array,
    check_cache,
    check_ndim,
    check_shape,
    check_upstream,
    int_tuple,
    non_negative_int,
    positive_int,
)

__all__ = [
    "Conv1dCache",
    "Conv2dCache",
    "conv_output_size",
    "conv1d_forward",
    "conv1d_backward",
    "conv2d_forward",
    "conv2d_backward",
]

PADDING_MODES = ("valid", "same", "full")


# --------------------------------------------------------------------------
# Sizes and argument checks
# --------------------------------------------------------------------------


def _padding_from_mode(mode: str, kernel: tuple, stride: tuple) -> tuple:
    """Translate ``'valid'``, ``'same'`` or ``'full'`` into zeros per side."""
    name = mode.lower() if isinstance(mode, str) else mode
    if name not in PADDING_MODES:
        raise ValueError(
            "padding must be an int, a pair of ints or one of "
            f"{', '.join(repr(m) for m in PADDING_MODES)}, got {mode!r}"
        )
    if name == "valid":
        return (0,) * len(kernel)
    if any(s != 1 for s in stride):
        shown = stride[0] if len(stride) == 1 else stride
        raise ValueError(
            f"padding={mode!r} needs stride 1, got stride={shown} "
            "(give the padding as a number of zeros instead)"
        )
    if name == "full":
        return tuple(k - 1 for k in kernel)
    if any(k % 2 == 0 for k in kernel):
        shown = kernel[0] if len(kernel) == 1 else kernel
        raise ValueError(
            "padding='same' needs an odd kernel size (the padding (K - 1) / 2 "
            f"must be a whole number of zeros on each side), got kernel size "
            f"{shown}"
        )
    return tuple((k - 1) // 2 for k in kernel)


def _resolve_padding(padding, kernel: tuple, stride: tuple) -> tuple:
    """``padding`` (an int, a sequence of ints or a mode name) per spatial axis."""
    if isinstance(padding, str):
        return _padding_from_mode(padding, kernel, stride)
    return int_tuple(padding, "padding", len(kernel), allow_zero=True)


def conv_output_size(n, kernel_size, stride=1, padding=0) -> int:
    """Number of outputs along one side: :math:`\\lfloor (n + 2P - F)/S \\rfloor + 1`.

    The lectures' :math:`(n' - 1)S + F = n + 2P`, rounded down when the
    stride does not fit exactly (the last inputs are then not covered).

    Parameters
    ----------
    n : int
        Input size along the side (>= 1).
    kernel_size : int
        Filter width ``F`` (>= 1).
    stride : int
        ``S`` (>= 1).
    padding : int or {'valid', 'same', 'full'}
        Zeros ``P`` added at each end (the names need stride 1; ``'same'``
        an odd kernel).

    Returns
    -------
    int

    Examples
    --------
    >>> conv_output_size(32, 5)                  # LeNet's first layer
    28
    >>> conv_output_size(7, 3, stride=2, padding=1)
    4
    >>> conv_output_size(28, 3, padding="same")
    28
    """
    n = positive_int(n, "n")
    kernel = positive_int(kernel_size, "kernel_size")
    step = positive_int(stride, "stride")
    if isinstance(padding, str):
        (pad,) = _padding_from_mode(padding, (kernel,), (step,))
    else:
        pad = non_negative_int(padding, "padding")
    if kernel > n + 2 * pad:
        raise ValueError(
            f"kernel_size must be at most the padded input size n + 2*padding "
            f"= {n} + 2*{pad} = {n + 2 * pad}, got {kernel}"
        )
    return (n + 2 * pad - kernel) // step + 1


def _check_conv_args(x, W, b, n_spatial: int):
    """Validate and convert ``x``, ``W`` and ``b``; compute in ``x``'s dtype."""
    layouts = {1: ("(N, C, L)", "(F, C, K)"), 2: ("(N, C, H, W)", "(F, C, KH, KW)")}
    x_layout, w_layout = layouts[n_spatial]
    x = as_float_array(x, "x")
    W = as_float_array(W, "W")
    b = as_float_array(b, "b")
    check_ndim(x, "x", n_spatial + 2, x_layout)
    check_ndim(W, "W", n_spatial + 2, w_layout)
    if W.shape[1] != x.shape[1]:
        raise ValueError(
            f"W must have as many input channels as x: expected W.shape[1] == "
            f"x.shape[1] = {x.shape[1]}, got W of shape {W.shape} "
            f"({W.shape[1]} channels) for x of shape {x.shape}"
        )
    check_shape(b, "b", (W.shape[0],), "one bias per filter, F = W.shape[0]")
    if 0 in x.shape or 0 in W.shape:
        raise ValueError(
            f"x and W must not be empty, got x of shape {x.shape} and W of "
            f"shape {W.shape}"
        )
    return x, W.astype(x.dtype, copy=False), b.astype(x.dtype, copy=False)


def _check_kernel_fits(x_size: tuple, kernel: tuple, pad: tuple, axes: str):
    padded = tuple(n + 2 * p for n, p in zip(x_size, pad, strict=True))
    if any(k > n for k, n in zip(kernel, padded, strict=True)):
        if len(kernel) == 1:
            kernel, padded, x_size, pad = kernel[0], padded[0], x_size[0], pad[0]
        raise ValueError(
            f"W's kernel size must be at most the padded input size: expected "
            f"kernel <= {axes} + 2*padding = {x_size} + 2*{pad} = {padded}, "
            f"got kernel size {kernel}"
        )


# --------------------------------------------------------------------------
# Caches
# --------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Conv2dCache:
    """What :func:`conv2d_forward` keeps for :func:`conv2d_backward`.

    Attributes
    ----------
    W : ndarray, shape (F, C, KH, KW)
        The filters, in the dtype of ``x``.
    x_shape : tuple
        ``(N, C, H, W)``.
    stride : (int, int)
        ``(S_h, S_w)``.
    padding : (int, int)
        Zeros ``(P_h, P_w)`` on each side (a padding name resolved).
    out_shape : tuple
        ``(N, F, H', W')``.
    saved_input : object
        ``x`` as the fast engine (:mod:`dlcore._kernels.conv_engine`) keeps
        it for the weight gradient: its zero-padded planes, or ``x`` itself
        (then, as in PyTorch, ``x`` must not be changed in place before the
        backward pass).
    """

    W: np.ndarray
    x_shape: tuple
    stride: tuple
    padding: tuple
    out_shape: tuple
    saved_input: object


@dataclass(frozen=True, eq=False)
class Conv1dCache:
    """What :func:`conv1d_forward` keeps for :func:`conv1d_backward`.

    Attributes
    ----------
    as_2d : Conv2dCache
        The cache of the 2-D convolution of height 1 that computed it.
    out_shape : tuple
        ``(N, F, L')``.
    """

    as_2d: Conv2dCache
    out_shape: tuple


def _engine():
    """The fast engine (:mod:`dlcore._kernels.conv_engine`), imported by the
    first convolution rather than with dlcore: it loads Numba (about 0.4 s
    of CPU), which a program that never convolves need not wait for."""
    from .._kernels import conv_engine

    return conv_engine


def _forward(x, W, b, stride: tuple, pad: tuple):
    """2-D correlation in the fast engine; the output and its :class:`Conv2dCache`."""
    out, saved_input = _engine().forward(x, W, b, stride, pad)
    return out, Conv2dCache(W, x.shape, stride, pad, out.shape, saved_input)


def _backward(dout, cache: Conv2dCache):
    """``dx, dW, db`` of :func:`_forward` (the derivation: :func:`conv2d_backward`)."""
    W = cache.W
    dout = dout.astype(W.dtype, copy=False)
    # Every output of filter f added b[f] once. (Summing the batch first is
    # several times faster than NumPy's sum over axes (0, 2, 3) at once.)
    db = dout.sum(axis=0).reshape(W.shape[0], -1).sum(axis=1)
    dx, dW = _engine().backward(
        dout, W, cache.x_shape, cache.stride, cache.padding, cache.saved_input
    )
    return dx, dW, db


# --------------------------------------------------------------------------
# Public functions
# --------------------------------------------------------------------------


def conv2d_forward(x, W, b, stride=1, padding=0):
    """Forward pass of a 2-D convolution layer (cross-correlation).

    .. math::

        \\text{out}[n, f, i, j] = b_f + \\sum_{c} \\sum_{k_h, k_w}
        W[f, c, k_h, k_w]\\; x_{\\text{pad}}[n, c,\\ i S_h + k_h,\\ j S_w + k_w]

    the lectures' :math:`y_r(i, j) = \\sum_c \\sum_{a, b} y_c(i + a, j + b)
    W_r(a, b; c)` with offsets counted from the window's corner, a stride
    and a bias. ``x_pad`` is ``x`` with ``P_h`` rows of zeros above and
    below and ``P_w`` columns left and right.

    Parameters
    ----------
    x : ndarray, shape (N, C, H, W)
        A batch of ``N`` images with ``C`` channels.
    W : ndarray, shape (F, C, KH, KW)
        ``F`` filters, each spanning all ``C`` input channels.
    b : ndarray, shape (F,)
        One bias per filter.
    stride : int or (int, int)
        ``(S_h, S_w)``, >= 1.
    padding : int, (int, int) or {'valid', 'same', 'full'}
        Zeros ``(P_h, P_w)`` on each side; the names need stride 1
        (``'valid'`` any stride), ``'same'`` an odd kernel.

    Returns
    -------
    out : ndarray, shape (N, F, H', W')
        :math:`H' = \\lfloor (H + 2P_h - KH)/S_h \\rfloor + 1`, likewise
        :math:`W'`; dtype of ``x``.
    cache : Conv2dCache
        What :func:`conv2d_backward` needs.

    Raises
    ------
    ValueError
        Wrong ranks, ``W``'s channels differ from ``x``'s, ``b`` not
        ``(F,)``, unknown padding name, ``'same'`` with a stride or an even
        kernel, or a kernel larger than the padded input.
    TypeError
        Non-integer stride or padding.
    """
    x, W, b = _check_conv_args(x, W, b, 2)
    kernel = W.shape[2:]
    step = int_tuple(stride, "stride", 2)
    pad = _resolve_padding(padding, kernel, step)
    _check_kernel_fits(x.shape[2:], kernel, pad, "(H, W)")
    return _forward(x, W, b, step, pad)


def conv2d_backward(dout, cache):
    """Backward pass of :func:`conv2d_forward`.

    With ``g = dout`` (shape ``(N, F, H', W')``) and, for a stride above 1,
    ``g`` spread back onto the stride-1 output grid with zeros in between:

    * bias: every output of filter ``f`` adds ``b_f`` once,

      .. math:: \\frac{\\partial J}{\\partial b_f} = \\sum_{n, i, j} g[n, f, i, j];

    * weights: the weights are *shared* by all positions (lecture 000: "the
      final update for each weight is the sum of all the updates"),

      .. math::

          \\frac{\\partial J}{\\partial W[f, c, k_h, k_w]} =
          \\sum_{n, i, j} g[n, f, i, j]\\, x_{\\text{pad}}[n, c, i + k_h, j + k_w],

      a correlation of the padded input with ``g``;

    * input: pixel ``(h, w)`` of ``x_pad`` fed output ``(h - k_h, w - k_w)``
      through ``W[f, c, k_h, k_w]``, so

      .. math::

          \\frac{\\partial J}{\\partial x_{\\text{pad}}[n, c, h, w]} =
          \\sum_f \\sum_{k_h, k_w} g[n, f, h - k_h, w - k_w]\\, W[f, c, k_h, k_w],

      a *full* correlation of ``g`` with the kernel flipped in both
      directions (a true convolution, lecture 001), with the roles of
      filters and channels swapped; the padding's entries are dropped.

    Parameters
    ----------
    dout : ndarray, shape (N, F, H', W')
        Upstream gradient.
    cache : Conv2dCache
        From :func:`conv2d_forward`.

    Returns
    -------
    dx : ndarray, shape (N, C, H, W)
    dW : ndarray, shape (F, C, KH, KW)
    db : ndarray, shape (F,)
        In the dtype of the forward pass's ``x``.
    """
    cache = check_cache(cache, Conv2dCache, "conv2d_forward")
    dout = check_upstream(dout, cache.out_shape, "conv2d_forward")
    return _backward(dout, cache)


def conv1d_forward(x, W, b, stride=1, padding=0):
    """Forward pass of a 1-D convolution layer (cross-correlation).

    .. math::

        \\text{out}[n, f, i] = b_f + \\sum_c \\sum_{k=0}^{K-1}
        W[f, c, k]\\; x_{\\text{pad}}[n, c, iS + k]

    the lectures' :math:`y_i^{m} = \\sum_{m'} \\sum_k w_{k,m'}^{m}
    y_{i+k}^{m'}` with a stride and a bias (offsets counted from the
    window's start rather than its centre).

    Parameters
    ----------
    x : ndarray, shape (N, C, L)
        A batch of ``N`` signals with ``C`` channels.
    W : ndarray, shape (F, C, K)
    b : ndarray, shape (F,)
    stride : int
        ``S`` >= 1.
    padding : int or {'valid', 'same', 'full'}
        Zeros ``P`` at each end.

    Returns
    -------
    out : ndarray, shape (N, F, L')
        :math:`L' = \\lfloor (L + 2P - K)/S \\rfloor + 1`.
    cache : Conv1dCache

    Notes
    -----
    Computed as a 2-D convolution of height 1; the derivation of the
    backward pass is in :func:`conv2d_backward`.
    """
    x, W, b = _check_conv_args(x, W, b, 1)
    kernel = W.shape[2:]
    (step,) = int_tuple(stride, "stride", 1)
    (pad,) = _resolve_padding(padding, kernel, (step,))
    _check_kernel_fits(x.shape[2:], kernel, (pad,), "L")
    out, as_2d = _forward(x[:, :, None, :], W[:, :, None, :], b, (1, step), (0, pad))
    out = out[:, :, 0, :]
    return out, Conv1dCache(as_2d, out.shape)


def conv1d_backward(dout, cache):
    """Backward pass of :func:`conv1d_forward`.

    .. math::

        \\frac{\\partial J}{\\partial b_f} = \\sum_{n,i} g[n,f,i], \\quad
        \\frac{\\partial J}{\\partial W[f,c,k]} = \\sum_{n,i} g[n,f,i]\\,
        x_{\\text{pad}}[n,c,iS+k], \\quad
        \\frac{\\partial J}{\\partial x_{\\text{pad}}[n,c,p]} =
        \\sum_{f,i,k:\\ iS+k=p} g[n,f,i]\\, W[f,c,k],

    see :func:`conv2d_backward` for the reasoning.

    Returns
    -------
    dx : ndarray, shape (N, C, L)
    dW : ndarray, shape (F, C, K)
    db : ndarray, shape (F,)
    """
    cache = check_cache(cache, Conv1dCache, "conv1d_forward")
    dout = check_upstream(dout, cache.out_shape, "conv1d_forward")
    dx, dW, db = _backward(dout[:, :, None, :], cache.as_2d)
    return dx[:, :, 0, :], dW[:, :, 0, :], db
