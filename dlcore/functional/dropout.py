"""Dropout (training mode), in its "inverted" form.

Lecture notation (000): during training the output :math:`y_i` of every
unit is multiplied by an independent random variable
:math:`\\xi_i \\sim \\mathrm{Bernoulli}(p)`, where :math:`p` is the
probability of *keeping* the unit. The library (like Keras and PyTorch)
takes the probability of *dropping* it instead:

.. math::

    \\texttt{rate} = 1 - p.

Plain dropout would leave the expected input of the next layer scaled by
:math:`p` during training, so the weights would have to be multiplied by
:math:`p` at test time (the lecture's :math:`E[\\eta] = \\sum_i w_i p
E[y_i]`). Inverted dropout divides by :math:`p` during training instead,

.. math::

    \\texttt{out}_i = \\frac{\\xi_i}{p}\\, x_i, \\qquad
    E[\\texttt{out}_i] = x_i,

so that inference is simply the identity and needs no rescaling.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._validation import (
    as_float_array,
    check_cache,
    check_rng,
    check_upstream,
    in_range,
)

__all__ = ["DropoutCache", "dropout_forward", "dropout_backward"]


@dataclass(frozen=True, eq=False)
class DropoutCache:
    """What :func:`dropout_forward` keeps for :func:`dropout_backward`.

    Attributes
    ----------
    mask : ndarray, shape and dtype of x
        ``1 / (1 - rate)`` where the unit was kept (:math:`\\xi_i = 1`), 0
        where it was dropped.
    """

    mask: np.ndarray


def dropout_forward(x, rate, rng):
    """Inverted dropout in training mode.

    Parameters
    ----------
    x : ndarray, any shape
    rate : float in [0, 1)
        Probability of dropping each unit (Keras's ``rate``, PyTorch's
        ``p``); the lectures' retain probability is ``p = 1 - rate``.
        ``rate = 0`` keeps everything (the mask is all ones and no random
        numbers are drawn). ``rate = 1`` is rejected: nothing would be kept
        and the rescaling ``1 / (1 - rate)`` would divide by zero.
    rng : numpy.random.Generator or int
        Source of the random mask (an int is used as a seed).

    Returns
    -------
    out : ndarray, shape and dtype of ``x``
        ``x * mask``.
    cache : DropoutCache
        The ``mask``: ``1 / (1 - rate)`` where the unit was kept
        (:math:`\\xi_i = 1`), 0 where it was dropped.
    """
    x = as_float_array(x, "x")
    rate = in_range(rate, "rate", 0, 1, high_open=True)
    rng = check_rng(rng)

    keep_prob = 1 - rate  # the lecture's p
    if rate == 0:
        mask = np.ones_like(x)
    else:
        # Drawn in float64 whatever x's dtype, so a seed gives the same mask
        # for float32 and float64 input.
        kept = rng.random(x.shape) < keep_prob  # xi ~ Bernoulli(p)
        mask = (kept / keep_prob).astype(x.dtype)
    return x * mask, DropoutCache(mask)


def dropout_backward(dout, cache):
    """Backward pass of dropout: the gradient flows only through kept units.

    The forward pass is the element-wise product ``out = x * mask`` with a
    fixed (already drawn) mask, so :math:`\\partial\\, \\texttt{out}_i /
    \\partial x_i = \\texttt{mask}_i`: dropped units get no gradient (the
    lecture's "backpropagation updates only the links that are present"),
    kept units get it scaled by :math:`1/p`.

    Parameters
    ----------
    dout : ndarray, shape of x
    cache : DropoutCache
        From :func:`dropout_forward`.

    Returns
    -------
    dx : ndarray, shape of x
    """
    mask = check_cache(cache, DropoutCache, "dropout_forward").mask
    dout = check_upstream(dout, mask.shape, "dropout_forward")
    return dout * mask
