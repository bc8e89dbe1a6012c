"""The fast convolution behind :mod:`dlcore.functional.conv`: which path runs.

:func:`forward` computes a 2-D correlation (``x`` ``(N, C, H, W)``, ``W``
``(F, C, KH, KW)``, zeros ``pad`` per side, ``stride``) and returns what the
backward pass needs of the input; :func:`backward` takes it back. Two
paths, chosen by shape:

* :mod:`.conv_grouped`: stride-1 convolutions that keep the width, a few
  images at a time (:class:`.conv_grouped.GroupedInput` keeps ``x``);
* :mod:`.conv_batch`: everything else, the whole batch through one flat
  layout (:class:`.conv_batch.BatchInput` keeps the padded planes).

Both run in the arrays' dtype; the arguments are checked by the caller.
"""

from __future__ import annotations

from . import conv_batch, conv_grouped
from .threads import get_num_threads

__all__ = ["forward", "backward"]


def forward(x, W, b, stride: tuple, pad: tuple):
    """``(out, saved)``: ``out`` ``(N, F, H', W')``, ``saved`` the input as kept."""
    groups = conv_grouped.plan(x.shape, W.shape, stride, pad, get_num_threads())
    if groups is not None:
        return conv_grouped.forward(x, W, b, pad, groups)
    return conv_batch.forward(x, W, b, stride, pad)


def backward(dout, W, x_shape: tuple, stride: tuple, pad: tuple, saved):
    """``(dx, dW)`` for ``dout`` ``(N, F, H', W')`` in ``W``'s dtype."""
    if isinstance(saved, conv_grouped.GroupedInput):
        return conv_grouped.backward(dout, W, x_shape, pad, saved)
    return conv_batch.backward(dout, W, x_shape, stride, pad, saved)
