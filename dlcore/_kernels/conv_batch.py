"""A convolution of the whole batch at once, through the flat layout of planes.

Used for every convolution the grouped path (:mod:`.conv_grouped`) does not
take: strides above 1, paddings that change the width, 1-D signals. The
arrays are ``(N, C, H, W)``; the 1-D case is ``H = 1``.

Layout ("planes"). The batch is stored channel-major: row ``c`` of a 2-D
array holds channel ``c`` of image 0, then of image 1, ..., each image
flattened row by row. Image rows are ``pitch`` entries apart and images
``slot`` entries apart; the entries in between are zeros and serve as the
padding. The zeros right of one image row are also the padding left of the
next row, and the zero rows below one image the padding above the next
one, so each is stored once. Pixel ``(h, w)`` of image ``n`` sits at
``lead + n*slot + h*pitch + w``, and the window of stride-1 output
``(n, i, j)`` starts at position ``p = n*slot + i*pitch + j``; its tap
``(kh, kw)`` reads position ``p + kh*pitch + kw``. The correlation at every
position ``p`` is therefore

.. math::

    \\text{out}[f, p] = \\sum_{t = (c, k_h, k_w)}
    W[f, c, k_h, k_w]\\; \\text{planes}[c,\\ p + k_h \\cdot \\text{pitch} + k_w],

a weighted sum of shifted copies of the whole batch: long contiguous loops,
which is what makes the Numba kernel (:func:`.conv.correlate_planes`) fast.
Positions whose window sticks out of an image (into the gaps) are computed
too and thrown away.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from . import conv as kernels
from . import conv_common as common
from .conv_common import round_up, rows_per_pass, scratch, tap_weights
from .threads import run_chunks, split_range

__all__ = ["BatchInput", "forward", "backward"]


class Layout(NamedTuple):
    lead: int  # entries before the first pixel (the top and left padding)
    pitch: int  # distance between image rows
    slot: int  # distance between images
    length: int  # entries per channel, zeros after the last image included


@dataclass(frozen=True, eq=False)
class BatchInput:
    """The forward pass's input, kept for the backward pass: its planes."""

    planes: np.ndarray  # (C, layout.length)
    layout: Layout


def layout(n_images: int, size: tuple, pad: tuple, kernel: tuple) -> Layout:
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
    return Layout(lead, pitch, slot, length)


def to_planes(a, grid: Layout, crop=(0, 0), rows=None, scratch_name=None):
    """``(N, C, H, W)`` -> flat planes ``(rows, grid.length)`` (``rows >= C``).

    ``crop = (ch, cw)`` drops ``ch`` rows at the top and bottom and ``cw``
    columns left and right of every image first. Extra rows are zeros. With
    ``scratch_name`` the planes live in a reused buffer.
    """
    a = np.ascontiguousarray(a)
    N, C, H, W = a.shape
    ch, cw = crop
    shape = (rows or C, grid.length)
    if scratch_name is None:
        planes = np.empty(shape, dtype=a.dtype)
    else:
        planes = scratch(scratch_name, shape, a.dtype)
    args = (a, ch, cw, H - 2 * ch, W - 2 * cw, planes, *grid[:3])
    chunks = split_range(N, C * H * W, common.MIN_COPY_PER_THREAD)
    run_chunks(kernels.images_to_planes, args, chunks)
    return planes


def from_planes(planes, channels: int, grid: Layout, size: tuple, stride, bias):
    """Outputs ``(N, channels, H', W')`` from flat planes computed at every position.

    Keeps the valid ``size`` corner of every image (the stride-1 output),
    every ``stride``-th position, and adds ``bias[c]``.
    """
    N = planes.shape[1] // grid.slot
    out_size = tuple(-(-n // s) for n, s in zip(size, stride, strict=True))
    out = np.empty((N, channels, *out_size), dtype=planes.dtype)
    args = (planes, grid.pitch, grid.slot, *stride, bias, out)
    chunks = split_range(N, out[0].size, common.MIN_COPY_PER_THREAD)
    run_chunks(kernels.planes_to_images, args, chunks)
    return out


def taps(C: int, KH: int, KW: int, pitch: int, n_taps: int):
    """Input row and shift of each tap ``t = (c, kh, kw)``; zeros up to ``n_taps``."""
    channels = np.zeros(n_taps, dtype=np.intp)
    offsets = np.zeros(n_taps, dtype=np.intp)
    shift = (np.arange(KH)[:, None] * pitch + np.arange(KW)[None, :]).ravel()
    channels[: C * KH * KW] = np.repeat(np.arange(C), KH * KW)
    offsets[: C * KH * KW] = np.tile(shift, C)
    return channels, offsets


def correlate(planes, weights, pitch: int, n_positions: int):
    """Stride-1 correlation of ``planes`` with ``weights`` ``(R, C, KH, KW)``.

    Returns ``out`` of shape ``(R, n_positions)``. The kernel takes four taps
    at a time, so the taps are rounded up to a multiple of 4 with zero
    weights.
    """
    R, C, KH, KW = weights.shape
    n_taps = round_up(C * KH * KW, 4)
    matrix = tap_weights(weights, n_taps)
    channels, offsets = taps(C, KH, KW, pitch, n_taps)
    out = scratch("correlation", (R, n_positions), planes.dtype)
    chunks = split_range(n_positions, R * n_taps, common.MIN_WORK_PER_THREAD)
    args = (planes, matrix, channels, offsets, out, rows_per_pass(planes.dtype))
    run_chunks(kernels.correlate_planes, args, chunks)
    return out


def correlate_weight_grad(
    dout_planes, shift: int, planes, kernel_shape: tuple, pitch: int, n_positions: int
):
    """Gradient of :func:`correlate` with respect to its ``(R, C, KH, KW)`` weights.

    The gradient for output position ``p`` is ``dout_planes[:, p + shift]``.
    """
    R, C, KH, KW = kernel_shape
    rows, n_taps = dout_planes.shape[0], round_up(C * KH * KW, 4)
    channels, offsets = taps(C, KH, KW, pitch, n_taps)
    chunks = split_range(n_positions, rows * n_taps, common.MIN_WORK_PER_THREAD)
    # Each thread sums over its own positions into its own partial result.
    partial = np.zeros((len(chunks), rows, n_taps), dtype=planes.dtype)
    args = [(dout_planes, shift, planes, channels, offsets, part) for part in partial]
    run_chunks(kernels.correlate_weight_grad, args, chunks)
    total = partial[0] if len(chunks) == 1 else partial.sum(axis=0)
    return total[:R, : C * KH * KW].reshape(R, C, KH, KW)


def forward(x, W, b, stride: tuple, pad: tuple):
    """``(out, BatchInput)``: the convolution of the whole batch, and its input."""
    N, C, H, Wd = x.shape
    F, _, KH, KW = W.shape
    ph, pw = pad
    full_size = (H + 2 * ph - KH + 1, Wd + 2 * pw - KW + 1)  # the stride-1 output
    grid = layout(N, (H, Wd), pad, (KH, KW))
    x_planes = to_planes(x, grid)
    out_planes = correlate(x_planes, W, grid.pitch, N * grid.slot)
    # A stride-S output is the stride-1 output sampled every S positions.
    out = from_planes(out_planes, F, grid, full_size, stride, b)
    return out, BatchInput(x_planes, grid)


def backward(dout, W, x_shape: tuple, stride: tuple, pad: tuple, saved: BatchInput):
    """``(dx, dW)`` of :func:`forward`; ``dout`` in ``W``'s dtype."""
    N, C, H, Wd = x_shape
    F, _, KH, KW = W.shape
    ph, pw = pad
    full_h, full_w = H + 2 * ph - KH + 1, Wd + 2 * pw - KW + 1

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
    d_grid = layout(N, d_size, (max(qh, 0), max(qw, 0)), (KH, KW))
    # (Zero rows up to a multiple of 4: the weight-gradient kernel below
    # takes four rows of dout at a time.)
    d_planes = to_planes(dfull, d_grid, crop, rows=round_up(F, 4), scratch_name="dout")
    flipped = W[:, :, ::-1, ::-1].transpose(1, 0, 2, 3)  # (C, F, KH, KW)
    dx_planes = correlate(d_planes, flipped, d_grid.pitch, N * d_grid.slot)
    no_bias = np.zeros(C, dtype=W.dtype)
    dx = from_planes(dx_planes, C, d_grid, (H, Wd), (1, 1), no_bias)

    # dW: every weight is used at every position, so its gradient is the sum
    # over all of them (and over the batch): a correlation of the padded
    # input with dfull, which must sit where the forward pass wrote its
    # outputs (zeros where it threw positions away). The planes made for dx
    # have that layout, shifted by their lead, unless the padding exceeds
    # K - 1 (then they were cropped).
    grid = saved.layout
    if crop == (0, 0) and (d_grid.pitch, d_grid.slot) == (grid.pitch, grid.slot):
        shift = d_grid.lead
    else:
        shift = 0
        d_planes = to_planes(
            dfull, grid._replace(lead=0), rows=round_up(F, 4), scratch_name="dout"
        )
    dW = correlate_weight_grad(
        d_planes, shift, saved.planes, W.shape, grid.pitch, N * grid.slot
    )
    return dx, dW
