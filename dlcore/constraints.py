"""Weight constraints, applied after every optimizer step (Keras's ``constraints``).

A constraint is a callable ``constraint(W) -> W'`` that projects the weights
back onto an allowed set; the model calls it on each constrained parameter
right after ``optimizer.step`` and writes the result in place. This is the
lecture's "regularization implemented as a constraint on the norm of each
weight vector" (000): instead of penalising large weights in the loss, the
weights are simply not allowed to leave a ball.

Axes in our layout
------------------
Keras stores a dense kernel as ``(D_in, D_out)`` and its default
``axis=0`` takes the norm of each *column*, i.e. of the incoming weight
vector of each output unit. dlcore stores ``W`` as ``(D_out, D_in)``
(and conv filters as ``(F, C, KH, KW)``), so the same vectors are the
*rows* (the filters). The default ``axis=None`` therefore means "every axis
except the first": one norm per output unit of a dense layer, one per
filter of a convolution, which is what Keras's defaults do for its layout
(``axis=[0, 1, 2]`` for its ``(KH, KW, C, F)`` conv kernels). An explicit
``axis`` (int or tuple) is used as given, on our layout. For a 1-D
parameter (a bias) ``axis=None`` acts on each entry separately.

Like Keras, the norms get a small :math:`\\epsilon = 10^{-7}` in the
denominator so that an all-zero row stays zero.
"""

from __future__ import annotations

import numbers

import numpy as np

from ._validation import as_float_array, by_name, positive

__all__ = [
    "Constraint",
    "MaxNorm",
    "NonNeg",
    "UnitNorm",
    "max_norm",
    "non_neg",
    "unit_norm",
    "get",
]

EPSILON = 1e-7


class Constraint:
    """Base class: ``constraint(W)`` returns the projected weights (a new array)."""

    def __call__(self, W) -> np.ndarray:
        raise NotImplementedError

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"{type(self).__name__}({args})"


def _axes(axis, ndim: int) -> tuple:
    """The axes one norm is taken over; ``None`` means all but the first."""
    if axis is None:
        return tuple(range(1, ndim))
    axes = (axis,) if isinstance(axis, numbers.Integral) else tuple(axis)
    for a in axes:
        if not isinstance(a, numbers.Integral) or not -ndim <= a < ndim:
            raise ValueError(
                f"axis must be None or axes of a {ndim}-D weight (in [{-ndim}, "
                f"{ndim - 1}]), got {axis!r}"
            )
    return axes


def _norms(W: np.ndarray, axis) -> np.ndarray:
    return np.sqrt(np.sum(np.square(W), axis=_axes(axis, W.ndim), keepdims=True))


def _check_axis(axis):
    if axis is None:
        return None
    _axes(axis, 32)  # type check only; the rank is checked on use
    return axis


class MaxNorm(Constraint):
    """Rescale each weight vector whose L2 norm exceeds ``max_value`` down to it.

    .. math::

        \\mathbf{w} \\leftarrow \\mathbf{w}\\,
        \\frac{\\min(\\lVert\\mathbf{w}\\rVert, c)}{\\epsilon +
        \\lVert\\mathbf{w}\\rVert}

    Vectors inside the ball are (up to :math:`\\epsilon`) unchanged. Often
    used with dropout (Srivastava et al. use :math:`c = 3` or 4).

    Parameters
    ----------
    max_value : float, > 0
        :math:`c` (Keras's default 2).
    axis : None, int or tuple of int
        Axes of one vector; ``None`` is "every axis except the first" (one
        vector per output unit / filter, see the module docstring).
    """

    def __init__(self, max_value: float = 2.0, axis=None):
        self.max_value = positive(max_value, "max_value")
        self.axis = _check_axis(axis)

    def __call__(self, W) -> np.ndarray:
        W = as_float_array(W, "W")
        norms = _norms(W, self.axis)
        desired = np.clip(norms, 0, self.max_value)
        return (W * (desired / (EPSILON + norms))).astype(W.dtype, copy=False)


class NonNeg(Constraint):
    """Set negative weights to zero: :math:`w \\leftarrow \\max(w, 0)`."""

    def __call__(self, W) -> np.ndarray:
        W = as_float_array(W, "W")
        return W * (W >= 0)


class UnitNorm(Constraint):
    """Scale each weight vector to unit L2 norm: :math:`\\mathbf{w} / (\\epsilon +
    \\lVert\\mathbf{w}\\rVert)`.

    Parameters
    ----------
    axis : None, int or tuple of int
        As for :class:`MaxNorm`. (The lecture quotes Keras 1's "along the
        last axis"; for Keras's ``(D_in, D_out)`` kernel its default
        ``axis=0`` normalises each unit's incoming weights, which is our
        default ``None``.)
    """

    def __init__(self, axis=None):
        self.axis = _check_axis(axis)

    def __call__(self, W) -> np.ndarray:
        W = as_float_array(W, "W")
        return (W / (EPSILON + _norms(W, self.axis))).astype(W.dtype, copy=False)


# Keras's lower-case spellings: ``kernel_constraint=max_norm(2.)``.
max_norm = MaxNorm
non_neg = NonNeg
unit_norm = UnitNorm

_REGISTRY = {
    "max_norm": MaxNorm,
    "maxnorm": MaxNorm,
    "non_neg": NonNeg,
    "nonneg": NonNeg,
    "unit_norm": UnitNorm,
    "unitnorm": UnitNorm,
}


def get(identifier):
    """A constraint from ``None``, a name (``"max_norm"``, ``"non_neg"``,
    ``"unit_norm"``, with Keras's defaults) or a callable ``W -> W'``."""
    if identifier is None:
        return None
    if isinstance(identifier, str):
        return by_name(_REGISTRY, identifier, "constraint", " or a callable")()
    if callable(identifier):
        return identifier
    raise TypeError(
        "constraint must be None, a name such as 'max_norm' or a callable "
        f"W -> W', got {identifier!r} ({type(identifier).__name__})"
    )
