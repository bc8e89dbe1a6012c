"""The layer interface every building block of :mod:`dlcore.layers` follows."""

from __future__ import annotations

import numpy as np


class Layer:
    """Base class: a differentiable function with (optionally) parameters.

    Attributes
    ----------
    params : dict[str, ndarray]
        Trainable arrays by name (``"W"``, ``"b"``, ``"gamma"``, ...). The
        optimizers update these arrays *in place*, so a layer must never
        rebind them (``self.params["W"] = ...``) after building.
    grads : dict[str, ndarray]
        Gradients of the loss with respect to ``params``, same keys and
        shapes, written by :meth:`backward`.
    rng : numpy.random.Generator or None
        Only layers that draw random numbers (Dropout) hold one.

    A layer's :meth:`forward` stores what its :meth:`backward` needs (the
    "cache" of the functional API) on ``self``; ``backward`` must follow the
    ``forward`` it belongs to.
    """

    rng = None

    def __init__(self):
        self.params: dict[str, np.ndarray] = {}
        self.grads: dict[str, np.ndarray] = {}
        self.built = False

    def build(self, input_shape: tuple, rng: np.random.Generator) -> None:
        """Create parameters for inputs of shape ``(N, *input_shape)``.

        Called once, by :class:`~dlcore.model.Sequential` or on the first
        :meth:`forward`; layers without parameters need not override it.
        """
        self.built = True

    def forward(self, x: np.ndarray, training: bool = True) -> np.ndarray:
        raise NotImplementedError

    def backward(self, dout: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def __call__(self, x: np.ndarray, training: bool = True) -> np.ndarray:
        return self.forward(x, training=training)

    def sublayers(self) -> list[Layer]:
        """Child layers of a container (``Residual``); empty for plain layers."""
        return []

    def zero_grad(self) -> None:
        for g in self.grads.values():
            g[...] = 0.0

    def __repr__(self) -> str:
        shapes = ", ".join(f"{k}={v.shape}" for k, v in self.params.items())
        return f"{type(self).__name__}({shapes})"
