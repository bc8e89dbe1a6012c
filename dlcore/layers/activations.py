"""Activation layers: thin wrappers around :mod:`dlcore.functional.activations`.

``Activation("tanh")`` is Keras's generic activation layer; ``ReLU()``,
``Sigmoid()``, ... are the same layer with the name fixed. Every layer here
is parameter free: ``forward`` remembers the functional cache and
``backward`` hands it back.
"""

from __future__ import annotations

import numpy as np

from .. import functional as F
from .._validation import as_float_array, non_negative
from .base import Layer

__all__ = [
    "Activation",
    "ReLU",
    "Sigmoid",
    "Tanh",
    "LeakyReLU",
    "ELU",
    "Softmax",
    "Sign",
    "get_activation",
]


def _linear_forward(x):
    return x, None


def _linear_backward(dout, cache):
    return dout


# name -> (forward, backward, names of the hyper-parameters it takes)
_FUNCTIONS = {
    "linear": (_linear_forward, _linear_backward, ()),
    "relu": (F.relu_forward, F.relu_backward, ()),
    "sigmoid": (F.sigmoid_forward, F.sigmoid_backward, ()),
    "tanh": (F.tanh_forward, F.tanh_backward, ()),
    "leaky_relu": (F.leaky_relu_forward, F.leaky_relu_backward, ("alpha",)),
    "elu": (F.elu_forward, F.elu_backward, ("alpha",)),
    "softmax": (F.softmax_forward, F.softmax_backward, ()),
    "sign": (F.sign_forward, F.sign_backward, ()),
}


class Activation(Layer):
    """Apply an activation function by name (Keras's ``Activation`` layer).

    Parameters
    ----------
    name : str
        One of ``"relu"``, ``"sigmoid"``, ``"tanh"``, ``"leaky_relu"``,
        ``"elu"``, ``"softmax"`` (over the last axis), ``"sign"`` (the
        perceptron's; its gradient is zero) or ``"linear"`` (the identity).
    alpha : float, optional
        Slope for ``x < 0`` of ``leaky_relu`` (default 0.01, PyTorch's) or
        the saturation value of ``elu`` (default 1.0).

    Shapes: any input shape; the output has the shape and dtype of ``x``.
    """

    def __init__(self, name: str, **hyper):
        super().__init__()
        if not isinstance(name, str) or name.lower() not in _FUNCTIONS:
            raise ValueError(
                f"activation must be one of {sorted(_FUNCTIONS)}, got {name!r}"
            )
        self.name = name.lower()
        self._forward, self._backward, allowed = _FUNCTIONS[self.name]
        unknown = set(hyper) - set(allowed)
        if unknown:
            raise TypeError(
                f"activation {self.name!r} takes hyper-parameters {list(allowed)}, "
                f"got {sorted(unknown)}"
            )
        self.hyper = {k: non_negative(v, k) for k, v in hyper.items()}
        self._cache = None

    def forward(self, x: np.ndarray, training: bool = True) -> np.ndarray:
        x = as_float_array(x, "x")
        self.built = True
        out, self._cache = self._forward(x, **self.hyper)
        return out

    def backward(self, dout: np.ndarray) -> np.ndarray:
        if self._cache is None and self.name != "linear":
            raise RuntimeError(f"{type(self).__name__}.backward called before forward")
        return self._backward(as_float_array(dout, "dout"), self._cache)

    def __repr__(self) -> str:
        hyper = "".join(f", {k}={v!r}" for k, v in self.hyper.items())
        if type(self) is Activation:
            return f"Activation({self.name!r}{hyper})"
        return f"{type(self).__name__}({hyper[2:]})"


class _FixedActivation(Activation):
    """An activation layer whose function the subclass names in ``function``."""

    function = ""

    def __init__(self):
        super().__init__(self.function)


class ReLU(_FixedActivation):
    """:math:`\\max(0, x)`."""

    function = "relu"


class Sigmoid(_FixedActivation):
    """:math:`1 / (1 + e^{-x})`."""

    function = "sigmoid"


class Tanh(_FixedActivation):
    """:math:`\\tanh x`."""

    function = "tanh"


class LeakyReLU(Activation):
    """:math:`x` for :math:`x > 0`, :math:`\\alpha x` otherwise (``alpha=0.01``).

    PyTorch's default slope; Keras's ``LeakyReLU`` defaults to 0.3.
    """

    def __init__(self, alpha: float = 0.01):
        super().__init__("leaky_relu", alpha=alpha)


class ELU(Activation):
    """:math:`x` for :math:`x > 0`, :math:`\\alpha (e^x - 1)` otherwise (alpha=1)."""

    def __init__(self, alpha: float = 1.0):
        super().__init__("elu", alpha=alpha)


class Softmax(_FixedActivation):
    """Softmax over the last axis (scores to probabilities)."""

    function = "softmax"


class Sign(_FixedActivation):
    """The perceptron's :math:`\\mathrm{sign}(x)`; passes no gradient back."""

    function = "sign"


def get_activation(identifier) -> Activation | None:
    """``None`` / ``"linear"`` -> no activation; a name -> ``Activation(name)``;
    an activation layer is returned as is (so ``activation=LeakyReLU(0.2)``
    works)."""
    if identifier is None:
        return None
    if isinstance(identifier, str):
        return None if identifier.lower() == "linear" else Activation(identifier)
    if isinstance(identifier, Activation):
        return identifier
    raise TypeError(
        "activation must be None, a name such as 'relu' or an activation layer, "
        f"got {identifier!r} ({type(identifier).__name__})"
    )
