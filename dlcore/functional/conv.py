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

import functools
import math
import threading
from typing import NamedTuple

import numpy as np

from .._kernels import conv as kernels
from .._kernels.threads import get_num_threads, run_chunks, split_range
from .._validation import (
    as_float_array,
    check_ndim,
    check_shape,
    int_tuple,
    non_negative_int,
    positive_int,
)

__all__ = [
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
# The computation, on (N, C, H, W) arrays; the 1-D case is H = 1.
#
# Layout ("planes"). The batch is stored channel-major: row c of a 2-D array
# holds channel c of image 0, then of image 1, ..., each image flattened row
# by row. Image rows are `pitch` entries apart and images `slot` entries
# apart; the entries in between are zeros and serve as the padding. The
# zeros right of one image row are also the padding left of the next row,
# and the zero rows below one image the padding above the next one, so each
# is stored once. Pixel (h, w) of image n sits at
#
#     lead + n*slot + h*pitch + w,
#
# and the window of stride-1 output (n, i, j) starts at position
# p = n*slot + i*pitch + j; its tap (kh, kw) reads position p + kh*pitch + kw.
# The correlation at every position p is therefore
#
#     out[f, p] = sum over taps t = (c, kh, kw) of
#                 W[f, c, kh, kw] * planes[c, p + kh*pitch + kw],
#
# a weighted sum of shifted copies of the whole batch: long contiguous loops,
# which is what makes the Numba kernel fast. Positions whose window sticks
# out of an image (into the gaps) are computed too and thrown away.
# --------------------------------------------------------------------------


class _Layout(NamedTuple):
    lead: int  # entries before the first pixel (the top and left padding)
    pitch: int  # distance between image rows
    slot: int  # distance between images
    length: int  # entries per channel, zeros after the last image included


def _layout(n_images: int, size: tuple, pad: tuple, kernel: tuple) -> _Layout:
    """Where images of ``size = (H, W)``, padded by ``pad``, go in the flat layout.

    The gaps must hold the padding, and a row of the stride-1 output
    (``W + 2*P - K + 1`` wide, more than ``W`` when ``P > K - 1``) must fit
    in a row of the layout.
    """
    (H, W), (ph, pw), (kh, kw) = size, pad, kernel
    pitch = W + max(pw, 2 * pw - kw + 1)
    slot = (H + max(ph, 2 * ph - kh + 1)) * pitch
    lead = ph * pitch + pw
    # The last windows read kh - 1 rows and kw - 1 columns past the last slot.
    length = n_images * slot + lead + (kh - 1) * pitch + kw
    return _Layout(lead, pitch, slot, length)


def _round_up(n: int, multiple: int) -> int:
    return -(-n // multiple) * multiple


# A thread is only worth waking for about this many multiply-adds: waking
# one costs tens of microseconds. Copies are limited by memory bandwidth
# and gain little from a second thread, so they split only when huge.
_MIN_WORK_PER_THREAD = 6_000_000
_MIN_COPY_PER_THREAD = 1_000_000


_workspace = threading.local()


def _scratch(name: str, shape: tuple, dtype) -> np.ndarray:
    """A temporary array whose memory is reused from call to call (contents undefined).

    Fresh multi-megabyte temporaries cost a page fault per 4 KiB on first
    touch, which on a virtual machine can take longer than the convolution
    itself. One buffer per name, dtype and thread, grown as needed.
    """
    size = math.prod(shape)
    key = (name, np.dtype(dtype))
    buffer = _workspace.__dict__.get(key)
    if buffer is None or buffer.size < size:
        buffer = _workspace.__dict__[key] = np.empty(size, dtype=dtype)
    return buffer[:size].reshape(shape)


def _to_planes(a, layout: _Layout, crop=(0, 0), rows=None, scratch=None):
    """``(N, C, H, W)`` -> flat planes ``(rows, layout.length)`` (``rows >= C``).

    ``crop = (ch, cw)`` drops ``ch`` rows at the top and bottom and ``cw``
    columns left and right of every image first. Extra rows are zeros. With
    ``scratch`` (a name) the planes live in a reused buffer.
    """
    a = np.ascontiguousarray(a)
    N, C, H, W = a.shape
    ch, cw = crop
    shape = (rows or C, layout.length)
    if scratch is None:
        planes = np.empty(shape, dtype=a.dtype)
    else:
        planes = _scratch(scratch, shape, a.dtype)
    args = (a, ch, cw, H - 2 * ch, W - 2 * cw, planes, *layout[:3])
    run_chunks(
        kernels.images_to_planes, args, split_range(N, C * H * W, _MIN_COPY_PER_THREAD)
    )
    return planes


def _from_planes(planes, channels: int, layout: _Layout, size: tuple, stride, bias):
    """Outputs ``(N, channels, H', W')`` from flat planes computed at every position.

    Keeps the valid ``size`` corner of every image (the stride-1 output),
    every ``stride``-th position, and adds ``bias[c]``.
    """
    N = planes.shape[1] // layout.slot
    out_size = tuple(-(-n // s) for n, s in zip(size, stride, strict=True))
    out = np.empty((N, channels, *out_size), dtype=planes.dtype)
    args = (planes, layout.pitch, layout.slot, *stride, bias, out)
    chunks = split_range(N, out[0].size, _MIN_COPY_PER_THREAD)
    run_chunks(kernels.planes_to_images, args, chunks)
    return out


def _taps(C: int, KH: int, KW: int, pitch: int, n_taps: int):
    """Input row and shift of each tap ``t = (c, kh, kw)``; zeros up to ``n_taps``."""
    channels = np.zeros(n_taps, dtype=np.intp)
    offsets = np.zeros(n_taps, dtype=np.intp)
    shift = (np.arange(KH)[:, None] * pitch + np.arange(KW)[None, :]).ravel()
    channels[: C * KH * KW] = np.repeat(np.arange(C), KH * KW)
    offsets[: C * KH * KW] = np.tile(shift, C)
    return channels, offsets


def _rows_per_pass(dtype) -> int:
    # Eight output rows per pass suit float32's 16-wide vectors, four float64.
    return 8 if dtype == np.float32 else 4


def _tap_matrix(weights, pitch: int):
    """``weights`` ``(R, C, KH, KW)`` as :func:`kernels.correlate_planes` takes them.

    A matrix ``(R, T)``, one column per tap, and each tap's input row and
    shift; the kernel takes four taps at a time, so ``T`` is rounded up to
    a multiple of 4 with zero weights.
    """
    _, C, KH, KW = weights.shape
    n_taps = _round_up(C * KH * KW, 4)
    return (_tap_weights(weights, n_taps), *_taps(C, KH, KW, pitch, n_taps))


def _correlate(planes, weights, pitch: int, n_positions: int):
    """Stride-1 correlation of ``planes`` with ``weights`` ``(R, C, KH, KW)``.

    Returns ``out`` of shape ``(R, n_positions)``.
    """
    R = weights.shape[0]
    matrix, channels, offsets = _tap_matrix(weights, pitch)
    n_taps = matrix.shape[1]
    out = _scratch("correlation", (R, n_positions), planes.dtype)
    chunks = split_range(n_positions, R * n_taps, _MIN_WORK_PER_THREAD)
    args = (planes, matrix, channels, offsets, out, _rows_per_pass(planes.dtype))
    run_chunks(kernels.correlate_planes, args, chunks)
    return out


def _correlate_weight_grad(
    dout_planes, shift: int, planes, kernel_shape: tuple, pitch: int, n_positions: int
):
    """Gradient of :func:`_correlate` with respect to its ``(R, C, KH, KW)`` weights.

    The gradient for output position ``p`` is ``dout_planes[:, p + shift]``.
    """
    R, C, KH, KW = kernel_shape
    rows, n_taps = dout_planes.shape[0], _round_up(C * KH * KW, 4)
    channels, offsets = _taps(C, KH, KW, pitch, n_taps)
    chunks = split_range(n_positions, rows * n_taps, _MIN_WORK_PER_THREAD)
    # Each thread sums over its own positions into its own partial result.
    partial = np.zeros((len(chunks), rows, n_taps), dtype=planes.dtype)
    args = [(dout_planes, shift, planes, channels, offsets, part) for part in partial]
    run_chunks(kernels.correlate_weight_grad, args, chunks)
    total = partial[0] if len(chunks) == 1 else partial.sum(axis=0)
    return total[:R, : C * KH * KW].reshape(R, C, KH, KW)


# --------------------------------------------------------------------------
# Stride 1 by groups of images. Converting the whole batch into the layout and
# back costs four copies of it through main memory, a fresh array for the
# input's planes (kept until the backward pass) and a wake-up of the threads
# for each of seven steps, and at 8x8 pixels the gaps waste 17 of every 81
# positions. Stride-1 convolutions that keep the width (padding (KW - 1) / 2
# left and right, as 'same') go through the layout a few images at a time
# instead, with one plane per channel and column shift and no gap columns
# (dlcore/_kernels/conv.py, "Stride 1, a few images at a time"): each group's
# planes stay in the cache, the backward pass rebuilds them from x, and
# each pass is one kernel call per thread.
# --------------------------------------------------------------------------


# Positions per group. The correlation kernel then works on one block of
# them, and the planes four taps read plus the eight output rows they are
# added to stay in the L1 cache: on the shifted planes of 8x8 images it did
# 37-43 GFMA/s (float32, one core) at 384-768 positions, 27-36 at 1024 and
# 29-33 at 256 (loop overheads).
_GROUP_POSITIONS = 768


class _Groups(NamedTuple):
    """Everything about a grouped convolution that depends on shapes only.

    Computed once per shape (:func:`_groups`), since a training loop makes
    the same calls with new values hundreds of times and, on small images,
    rebuilding it took a sizeable share of the time of a call.
    """

    size: int  # images per group
    lead: int  # zero rows above the first image of x's planes, times W
    d_lead: int  # the same for dout's planes
    slot: int  # distance between images (rows of an image and of a gap, times W)
    length: int  # entries per plane
    block: int  # dout's planes per column shift: F rounded up to a multiple of 4
    taps: tuple  # (plane, offset) arrays of the forward taps and the weight gradient
    d_taps: tuple  # and of the input gradient's taps
    chunks: list  # the images of each thread, forward pass
    d_chunks: list  # and backward pass


@functools.lru_cache(maxsize=64)
def _groups(x_shape, kernel_shape, stride: tuple, pad: tuple, n_threads: int):
    """How a stride-1 convolution that keeps the width goes by groups, or ``None``.

    ``None`` (the batch goes through the layout as a whole) for a stride
    above 1, an output narrower or wider than the input, a padding above
    ``K - 1`` rows, or a 1-D signal (``H == 1``: one long row with a single
    gap entry, nothing to save; the ``KW`` shifted copies cost more, 0-10 %
    slower on the benchmark's conv1d shapes). ``n_threads`` is part of the
    cache key.
    """
    N, C, H, Wd = x_shape
    F, _, KH, KW = kernel_shape
    ph, pw = pad
    if stride != (1, 1) or 2 * pw != KW - 1 or ph > KH - 1 or H == 1:
        return None
    # ph zero rows between images serve as the padding below one image and
    # above the next; dout, KH - 1 - ph rows above and below, has the same
    # slot: H' + KH - 1 - ph = H + ph rows.
    slot = (H + ph) * Wd
    group = max(1, min(N, _GROUP_POSITIONS // slot))
    # The last windows read KH - 1 rows past the last slot.
    length = group * slot + (KH - 1) * Wd
    # (The weight-gradient kernel takes four rows of dout at a time: the
    # extra planes are zeros.)
    block = _round_up(F, 4)
    taps = _shifted_taps(C, KH, KW, C, Wd)
    d_taps = _shifted_taps(F, KH, KW, block, Wd)
    work = F * taps[0].size * slot
    chunks = split_range(N, work, _MIN_WORK_PER_THREAD)
    d_work = (C * d_taps[0].size + block * taps[0].size) * slot
    d_chunks = split_range(N, d_work, _MIN_WORK_PER_THREAD)
    lead, d_lead = ph * Wd, (KH - 1 - ph) * Wd
    return _Groups(
        group, lead, d_lead, slot, length, block, taps, d_taps, chunks, d_chunks
    )


def _shifted_taps(C: int, KH: int, KW: int, block: int, width: int):
    """The plane and offset of each tap ``(c, kh, kw)`` on shifted planes.

    Tap ``(c, kh, kw)`` reads plane ``kw * block + c`` at offset
    ``kh * width``; extra taps up to a multiple of 4 read plane 0 (with
    zero weights, see :func:`_tap_weights`).
    """
    n_taps = _round_up(C * KH * KW, 4)
    c, kh, kw = np.indices((C, KH, KW)).reshape(3, -1)
    channels = np.zeros(n_taps, dtype=np.intp)
    offsets = np.zeros(n_taps, dtype=np.intp)
    channels[: C * KH * KW] = kw * block + c
    offsets[: C * KH * KW] = kh * width
    return channels, offsets


def _tap_weights(weights, n_taps: int):
    """Weights ``(R, C, KH, KW)`` as a C-contiguous ``(R, n_taps)`` matrix.

    One column per tap ``(c, kh, kw)``, zero columns up to ``n_taps``.
    """
    R = weights.shape[0]
    if weights[0].size == n_taps:
        return np.ascontiguousarray(weights).reshape(R, n_taps)
    matrix = np.zeros((R, n_taps), dtype=weights.dtype)
    matrix[:, : weights[0].size] = weights.reshape(R, -1)
    return matrix


def _grouped_forward(x, W, b, pad: tuple, groups: _Groups):
    N, C, H, Wd = x.shape
    F, _, KH, KW = W.shape
    out_h = H + 2 * pad[0] - KH + 1
    out = np.empty((N, F, out_h * Wd), dtype=x.dtype)
    images = np.ascontiguousarray(x).reshape(N, C, H * Wd)
    channels, offsets = groups.taps
    weights = _tap_weights(W, channels.size)
    shared = (images, weights, channels, offsets, b, out)
    layout = (pad[1], groups.lead, groups.slot, Wd, groups.size)
    args = [
        (
            *shared,
            # Scratch buffers, one per chunk (the chunks run at once).
            _scratch(f"x_group{k}", (KW * C, groups.length), x.dtype),
            _scratch(f"acc_group{k}", (F, groups.size * groups.slot), x.dtype),
            *layout,
            _rows_per_pass(x.dtype),
        )
        for k in range(len(groups.chunks))
    ]
    run_chunks(kernels.grouped_forward, args, groups.chunks)
    return out.reshape(N, F, out_h, Wd), images


def _grouped_backward(dout, images, W, x_shape, pad: tuple, groups: _Groups):
    N, C, H, Wd = x_shape
    F, _, KH, KW = W.shape
    dtype, block, chunks = W.dtype, groups.block, groups.d_chunks
    d_images = np.ascontiguousarray(dout).reshape(N, F, -1)
    channels, offsets = groups.taps
    d_channels, d_offsets = groups.d_taps
    flipped = W[:, :, ::-1, ::-1].transpose(1, 0, 2, 3)  # (C, F, KH, KW)
    weights_t = _tap_weights(flipped, d_channels.size)
    dx = np.empty((N, C, H * Wd), dtype=dtype)
    # Each thread sums its images' weight gradient into its own partial one.
    partial = np.zeros((len(chunks), block, channels.size), dtype=dtype)
    shared = (images, d_images, weights_t, d_channels, d_offsets, channels, offsets)
    no_bias = np.zeros(C, dtype=dtype)
    layout = (pad[1], groups.lead, groups.d_lead, groups.slot, Wd, groups.size)
    args = [
        (
            *shared,
            no_bias,
            dx,
            partial[k],
            _scratch(f"x_group{k}", (KW * C, groups.length), dtype),
            _scratch(f"d_group{k}", (KW * block, groups.length), dtype),
            _scratch(f"acc_group{k}", (C, groups.size * groups.slot), dtype),
            *layout,
            _rows_per_pass(dtype),
        )
        for k in range(len(chunks))
    ]
    run_chunks(kernels.grouped_backward, args, chunks)
    total = partial[0] if len(chunks) == 1 else partial.sum(axis=0)
    return dx.reshape(x_shape), total[:F, : W[0].size].reshape(W.shape)


def _forward(x, W, b, stride: tuple, pad: tuple):
    groups = _groups(x.shape, W.shape, stride, pad, get_num_threads())
    if groups is not None:
        out, images = _grouped_forward(x, W, b, pad, groups)
        # The cache keeps x itself (flattened; a view when x is contiguous,
        # so, as in PyTorch, x must not be changed in place before the
        # backward pass) instead of planes, and the groups.
        return out, (images, groups, W, x.shape, stride, pad, out.shape)
    N, C, H, Wd = x.shape
    F, _, KH, KW = W.shape
    ph, pw = pad
    full_size = (H + 2 * ph - KH + 1, Wd + 2 * pw - KW + 1)  # the stride-1 output
    grid = _layout(N, (H, Wd), pad, (KH, KW))
    x_planes = _to_planes(x, grid)
    out_planes = _correlate(x_planes, W, grid.pitch, N * grid.slot)
    # A stride-S output is the stride-1 output sampled every S positions.
    out = _from_planes(out_planes, F, grid, full_size, stride, b)
    cache = (x_planes, grid, W, x.shape, stride, pad, out.shape)
    return out, cache


def _backward(dout, cache):
    x_planes, grid, W, x_shape, stride, pad, _ = cache
    N, C, H, Wd = x_shape
    F, _, KH, KW = W.shape
    ph, pw = pad
    full_h, full_w = H + 2 * ph - KH + 1, Wd + 2 * pw - KW + 1
    dout = dout.astype(W.dtype, copy=False)
    # Every output of filter f added b[f] once. (Summing the batch first is
    # several times faster than NumPy's sum over axes (0, 2, 3) at once.)
    db = dout.sum(axis=0).reshape(F, -1).sum(axis=1)
    if isinstance(grid, _Groups):  # computed by groups; x_planes is x
        dx, dW = _grouped_backward(dout, x_planes, W, x_shape, pad, grid)
        return dx, dW, db

    # Back to stride 1: the positions the forward pass skipped get zero.
    if stride != (1, 1):
        dfull = np.zeros((N, F, full_h, full_w), dtype=dout.dtype)
        dfull[:, :, :: stride[0], :: stride[1]] = dout
    else:
        dfull = dout

    # dx: input pixel (h, w) received W[f, c, kh, kw] * dfull[f, h - kh, w - kw]
    # from every output it touched: a *full* correlation of dfull with the
    # flipped kernel (a true convolution), filters and channels swapped.
    # Padding dfull by K - 1 - P instead of K - 1 (cropping if that is
    # negative) lands directly on x's size, skipping the padding's gradient.
    qh, qw = KH - 1 - ph, KW - 1 - pw
    crop = (max(-qh, 0), max(-qw, 0))
    d_size = (full_h - 2 * crop[0], full_w - 2 * crop[1])
    d_grid = _layout(N, d_size, (max(qh, 0), max(qw, 0)), (KH, KW))
    # (Zero rows up to a multiple of 4: the weight-gradient kernel below
    # takes four rows of dout at a time.)
    d_planes = _to_planes(dfull, d_grid, crop, rows=_round_up(F, 4), scratch="dout")
    flipped = W[:, :, ::-1, ::-1].transpose(1, 0, 2, 3)  # (C, F, KH, KW)
    dx_planes = _correlate(d_planes, flipped, d_grid.pitch, N * d_grid.slot)
    no_bias = np.zeros(C, dtype=W.dtype)
    dx = _from_planes(dx_planes, C, d_grid, (H, Wd), (1, 1), no_bias)

    # dW: every weight is used at every position, so its gradient is the sum
    # over all of them (and over the batch): a correlation of the padded
    # input with dfull, which must sit where the forward pass wrote its
    # outputs (zeros where it threw positions away). The planes made for dx
    # have that layout, shifted by their lead, unless the padding exceeds
    # K - 1 (then they were cropped).
    if crop == (0, 0) and (d_grid.pitch, d_grid.slot) == (grid.pitch, grid.slot):
        shift = d_grid.lead
    else:
        shift = 0
        d_planes = _to_planes(
            dfull, grid._replace(lead=0), rows=_round_up(F, 4), scratch="dout"
        )
    dW = _correlate_weight_grad(
        d_planes, shift, x_planes, W.shape, grid.pitch, N * grid.slot
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
    cache : tuple
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
    out, cache = _forward(x, W, b, step, pad)
    return out, ("conv2d", cache)


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
    cache : tuple
        From :func:`conv2d_forward`.

    Returns
    -------
    dx : ndarray, shape (N, C, H, W)
    dW : ndarray, shape (F, C, KH, KW)
    db : ndarray, shape (F,)
        In the dtype of the forward pass's ``x``.
    """
    inner = _check_cache(cache, "conv2d")
    dout = as_float_array(dout, "dout")
    check_shape(dout, "dout", inner[-1], "the shape of conv2d_forward's output")
    return _backward(dout, inner)


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
    cache : tuple

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
    out, cache = _forward(x[:, :, None, :], W[:, :, None, :], b, (1, step), (0, pad))
    return out[:, :, 0, :], ("conv1d", cache)


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
    inner = _check_cache(cache, "conv1d")
    dout = as_float_array(dout, "dout")
    N, F, _, length = inner[-1]
    check_shape(dout, "dout", (N, F, length), "the shape of conv1d_forward's output")
    dx, dW, db = _backward(dout[:, :, None, :], inner)
    return dx[:, :, 0, :], dW[:, :, 0, :], db


def _check_cache(cache, kind: str):
    """Unwrap a ``(kind, cache)`` pair made by ``<kind>_forward``."""
    if not (isinstance(cache, tuple) and len(cache) == 2 and cache[0] == kind):
        got = cache[0] if isinstance(cache, tuple) and cache else type(cache).__name__
        raise TypeError(
            f"cache must be the cache returned by {kind}_forward, got {got!r}"
        )
    return cache[1]
