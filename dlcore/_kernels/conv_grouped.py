"""Stride-1 convolutions that keep the width, a few images at a time.

Converting the whole batch into the flat layout of :mod:`.conv_batch` and
back costs four copies of it through main memory, a fresh array for the
input's planes (kept until the backward pass) and a wake-up of the threads
for each of seven steps, and at 8x8 pixels the gaps waste 17 of every 81
positions. Stride-1 convolutions that keep the width (padding ``(KW - 1) /
2`` left and right, as ``'same'``) go through the layout a few images at a
time instead, with one plane per channel and column shift and no gap
columns (:mod:`.conv`, "Stride 1, a few images at a time"): each group's
planes stay in the cache, the backward pass rebuilds them from ``x``, and
each pass is one kernel call per thread.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from . import conv as kernels
from . import conv_common as common
from .conv_common import round_up, rows_per_pass, scratch, tap_weights
from .threads import run_chunks, split_range

__all__ = ["Groups", "GroupedInput", "plan", "forward", "backward"]

# Positions per group. The correlation kernel then works on one block of
# them, and the planes four taps read plus the eight output rows they are
# added to stay in the L1 cache: on the shifted planes of 8x8 images it did
# 37-43 GFMA/s (float32, one core) at 384-768 positions, 27-36 at 1024 and
# 29-33 at 256 (loop overheads).
GROUP_POSITIONS = 768


class Groups(NamedTuple):
    """Everything about a grouped convolution that depends on shapes only.

    Computed once per shape (:func:`plan`), since a training loop makes
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


@dataclass(frozen=True, eq=False)
class GroupedInput:
    """The forward pass's input, kept for the backward pass.

    ``images`` is ``x`` itself, flattened to ``(N, C, H * W)`` (a view when
    ``x`` is contiguous, so, as in PyTorch, ``x`` must not be changed in
    place before the backward pass); ``groups`` is the plan.
    """

    images: np.ndarray
    groups: Groups


@functools.lru_cache(maxsize=64)
def plan(x_shape, kernel_shape, stride: tuple, pad: tuple, n_threads: int):
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
    group = max(1, min(N, GROUP_POSITIONS // slot))
    # The last windows read KH - 1 rows past the last slot.
    length = group * slot + (KH - 1) * Wd
    # (The weight-gradient kernel takes four rows of dout at a time: the
    # extra planes are zeros.)
    block = round_up(F, 4)
    taps = shifted_taps(C, KH, KW, C, Wd)
    d_taps = shifted_taps(F, KH, KW, block, Wd)
    work = F * taps[0].size * slot
    chunks = split_range(N, work, common.MIN_WORK_PER_THREAD)
    d_work = (C * d_taps[0].size + block * taps[0].size) * slot
    d_chunks = split_range(N, d_work, common.MIN_WORK_PER_THREAD)
    lead, d_lead = ph * Wd, (KH - 1 - ph) * Wd
    return Groups(
        group, lead, d_lead, slot, length, block, taps, d_taps, chunks, d_chunks
    )


def shifted_taps(C: int, KH: int, KW: int, block: int, width: int):
    """The plane and offset of each tap ``(c, kh, kw)`` on shifted planes.

    Tap ``(c, kh, kw)`` reads plane ``kw * block + c`` at offset
    ``kh * width``; extra taps up to a multiple of 4 read plane 0 (with
    zero weights, see :func:`.conv_common.tap_weights`).
    """
    n_taps = round_up(C * KH * KW, 4)
    c, kh, kw = np.indices((C, KH, KW)).reshape(3, -1)
    channels = np.zeros(n_taps, dtype=np.intp)
    offsets = np.zeros(n_taps, dtype=np.intp)
    channels[: C * KH * KW] = kw * block + c
    offsets[: C * KH * KW] = kh * width
    return channels, offsets


def forward(x, W, b, pad: tuple, groups: Groups):
    """``(out, GroupedInput)``: the convolution, group by group, and its input."""
    N, C, H, Wd = x.shape
    F, _, KH, KW = W.shape
    out_h = H + 2 * pad[0] - KH + 1
    out = np.empty((N, F, out_h * Wd), dtype=x.dtype)
    images = np.ascontiguousarray(x).reshape(N, C, H * Wd)
    channels, offsets = groups.taps
    weights = tap_weights(W, channels.size)
    shared = (images, weights, channels, offsets, b, out)
    layout = (pad[1], groups.lead, groups.slot, Wd, groups.size)
    args = [
        (
            *shared,
            # Scratch buffers, one per chunk (the chunks run at once).
            scratch(f"x_group{k}", (KW * C, groups.length), x.dtype),
            scratch(f"acc_group{k}", (F, groups.size * groups.slot), x.dtype),
            *layout,
            rows_per_pass(x.dtype),
        )
        for k in range(len(groups.chunks))
    ]
    run_chunks(kernels.grouped_forward, args, groups.chunks)
    return out.reshape(N, F, out_h, Wd), GroupedInput(images, groups)


def backward(dout, W, x_shape: tuple, pad: tuple, saved: GroupedInput):
    """``(dx, dW)`` of :func:`forward`; ``dout`` in ``W``'s dtype."""
    N, C, H, Wd = x_shape
    F, _, KH, KW = W.shape
    groups = saved.groups
    dtype, block, chunks = W.dtype, groups.block, groups.d_chunks
    d_images = np.ascontiguousarray(dout).reshape(N, F, -1)
    channels, offsets = groups.taps
    d_channels, d_offsets = groups.d_taps
    flipped = W[:, :, ::-1, ::-1].transpose(1, 0, 2, 3)  # (C, F, KH, KW)
    weights_t = tap_weights(flipped, d_channels.size)
    dx = np.empty((N, C, H * Wd), dtype=dtype)
    # Each thread sums its images' weight gradient into its own partial one.
    partial = np.zeros((len(chunks), block, channels.size), dtype=dtype)
    shared = (
        saved.images,
        d_images,
        weights_t,
        d_channels,
        d_offsets,
        channels,
        offsets,
    )
    no_bias = np.zeros(C, dtype=dtype)
    layout = (pad[1], groups.lead, groups.d_lead, groups.slot, Wd, groups.size)
    args = [
        (
            *shared,
            no_bias,
            dx,
            partial[k],
            scratch(f"x_group{k}", (KW * C, groups.length), dtype),
            scratch(f"d_group{k}", (KW * block, groups.length), dtype),
            scratch(f"acc_group{k}", (C, groups.size * groups.slot), dtype),
            *layout,
            rows_per_pass(dtype),
        )
        for k in range(len(chunks))
    ]
    run_chunks(kernels.grouped_backward, args, chunks)
    total = partial[0] if len(chunks) == 1 else partial.sum(axis=0)
    return dx.reshape(x_shape), total[:F, : W[0].size].reshape(W.shape)
