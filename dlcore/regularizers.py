"""Weight penalties added to the loss: L1, L2 (Keras), and the lectures' weight decay.

A regularizer is an object with

* ``penalty(W) -> float``, the term added to the loss, and
* ``gradient(W) -> ndarray``, its gradient with respect to ``W`` (same
  shape and dtype), added to the layer's gradient.

Layers take them as ``kernel_regularizer=`` / ``bias_regularizer=`` (as in
Keras); the layer's :meth:`backward` adds ``gradient(W)`` to ``grads["W"]``
and the model adds ``penalty(W)`` to the reported loss, so the optimizer
descends on

.. math::

    \\mathcal{L}'(\\theta) = \\mathcal{L}(\\theta) + \\Omega(W).

Keras's coefficients multiply the plain sums (no factor 1/2):
``L2(l2)`` is :math:`\\Omega = l_2 \\sum W^2` with gradient
:math:`2 l_2 W`. The lectures (002) write weight decay as
:math:`\\frac{\\lambda}{2}\\lVert\\theta\\rVert^2` with gradient
:math:`\\lambda \\theta`, which gives the update
:math:`w \\leftarrow (1 - \\eta\\lambda) w -
\\eta\\, \\partial\\mathcal{L}/\\partial w`;
that is :class:`WeightDecay` (``WeightDecay(lam)`` equals ``L2(lam / 2)``).
The optimizers' own ``weight_decay=`` argument adds the same
:math:`\\lambda\\theta` inside the update instead, for every parameter.

The penalty does not depend on the batch, so it is *not* divided by the
batch size (the data loss is a batch mean; the penalty is added once).
"""

from __future__ import annotations

import numpy as np

from ._validation import as_float_array, by_name, non_negative

__all__ = [
    "Regularizer",
    "L1",
    "L2",
    "L1L2",
    "WeightDecay",
    "l1",
    "l2",
    "l1_l2",
    "get",
]


class Regularizer:
    """Base class: ``penalty(W)`` and its ``gradient(W)``; ``reg(W)`` is the penalty."""

    def penalty(self, W) -> float:
        raise NotImplementedError

    def gradient(self, W) -> np.ndarray:
        raise NotImplementedError

    def __call__(self, W) -> float:
        return self.penalty(W)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"{type(self).__name__}({args})"


class L1L2(Regularizer):
    """:math:`\\Omega(W) = l_1 \\sum_{ij} |W_{ij}| + l_2 \\sum_{ij} W_{ij}^2`.

    Gradient :math:`l_1\\, \\mathrm{sign}(W) + 2 l_2 W` (the sub-gradient 0
    of :math:`|w|` at :math:`w = 0`). The L1 part drives small weights to
    exactly zero (a sparse ``W``); the L2 part shrinks all weights in
    proportion to their size.

    Parameters
    ----------
    l1, l2 : float, >= 0
        Coefficients (Keras's names and defaults 0).
    """

    def __init__(self, l1: float = 0.0, l2: float = 0.0):
        self.l1 = non_negative(l1, "l1")
        self.l2 = non_negative(l2, "l2")

    def penalty(self, W) -> float:
        W = as_float_array(W, "W")
        value = 0.0
        if self.l1:
            value += self.l1 * float(np.sum(np.abs(W), dtype=np.float64))
        if self.l2:
            value += self.l2 * float(np.sum(np.square(W), dtype=np.float64))
        return value

    def gradient(self, W) -> np.ndarray:
        W = as_float_array(W, "W")
        grad = np.zeros_like(W)
        if self.l1:
            grad += self.l1 * np.sign(W)
        if self.l2:
            grad += 2 * self.l2 * W
        return grad


class L1(L1L2):
    """:math:`\\Omega(W) = l_1 \\sum |W_{ij}|` (Keras's ``l1``, default 0.01)."""

    def __init__(self, l1: float = 0.01):
        super().__init__(l1=l1, l2=0.0)

    def __repr__(self) -> str:
        return f"L1(l1={self.l1!r})"


class L2(L1L2):
    """:math:`\\Omega(W) = l_2 \\sum W_{ij}^2` (Keras's ``l2``, default 0.01).

    Gradient :math:`2 l_2 W`; the lectures' weight decay with
    :math:`\\lambda = 2 l_2`.
    """

    def __init__(self, l2: float = 0.01):
        super().__init__(l1=0.0, l2=l2)

    def __repr__(self) -> str:
        return f"L2(l2={self.l2!r})"


class WeightDecay(Regularizer):
    """The lectures' :math:`\\Omega(W) = \\frac{\\lambda}{2} \\lVert W \\rVert_2^2`.

    Gradient :math:`\\lambda W`, so that a gradient-descent step is
    :math:`w \\leftarrow (1 - \\eta\\lambda) w - \\eta\\,
    \\partial\\mathcal{L}/\\partial w`: the weights "decay" by the factor
    :math:`1 - \\eta\\lambda` each step.

    Parameters
    ----------
    lam : float, >= 0
        :math:`\\lambda`.
    """

    def __init__(self, lam: float):
        self.lam = non_negative(lam, "lam")

    def penalty(self, W) -> float:
        W = as_float_array(W, "W")
        return 0.5 * self.lam * float(np.sum(np.square(W), dtype=np.float64))

    def gradient(self, W) -> np.ndarray:
        W = as_float_array(W, "W")
        return (self.lam * W).astype(W.dtype, copy=False)


# Keras's lower-case spellings: ``regularizers.l2(0.01)``.
l1 = L1
l2 = L2
l1_l2 = L1L2

_REGISTRY = {"l1": L1, "l2": L2, "l1_l2": L1L2, "l1l2": L1L2}


def get(identifier):
    """A regularizer from ``None``, a name or an object with ``penalty``/``gradient``.

    Names (Keras's, with its default coefficient 0.01): ``"l1"``, ``"l2"``,
    ``"l1_l2"`` (both 0.01).
    """
    if identifier is None:
        return None
    if isinstance(identifier, str):
        cls = by_name(_REGISTRY, identifier, "regularizer", " or a Regularizer")
        return cls(0.01, 0.01) if cls is L1L2 else cls()
    if callable(getattr(identifier, "penalty", None)) and callable(
        getattr(identifier, "gradient", None)
    ):
        return identifier
    raise TypeError(
        "regularizer must be None, a name such as 'l2' or an object with "
        f"penalty(W) and gradient(W), got {identifier!r} ({type(identifier).__name__})"
    )
