"""The dropout layer (inverted dropout; the identity at inference)."""

from __future__ import annotations

import numpy as np

from .. import functional as F
from .._validation import as_float_array, check_rng, in_range
from ._util import default_rng
from .base import Layer

__all__ = ["Dropout"]


class Dropout(Layer):
    """Drop each unit with probability ``rate`` during training (Keras's ``Dropout``).

    Training: ``out = x * mask`` with ``mask`` 0 (probability ``rate``) or
    ``1 / (1 - rate)``, drawn afresh at every forward pass
    (:func:`dlcore.functional.dropout_forward`); inference
    (``training=False``): the identity. The lectures' retain probability is
    ``p = 1 - rate``.

    Parameters
    ----------
    rate : float in [0, 1)
        Probability of *dropping* a unit.
    seed : int or numpy.random.Generator, optional
        Source of the masks. Without one, the model that builds the layer
        gives it a generator spawned from the model's seed; a layer used on
        its own falls back to seed 0.

    Attributes
    ----------
    rng : numpy.random.Generator or None
        The generator the masks come from (``None`` until built when no seed
        was given).
    """

    def __init__(self, rate: float, seed=None):
        super().__init__()
        self.rate = in_range(rate, "rate", 0.0, 1.0, high_open=True)
        self.rng = None if seed is None else check_rng(seed, "seed")
        self._cache = None

    def build(self, input_shape: tuple, rng: np.random.Generator) -> None:
        if self.rng is None:
            self.rng = check_rng(rng, "rng").spawn(1)[0]
        self.built = True

    def forward(self, x: np.ndarray, training: bool = True) -> np.ndarray:
        x = as_float_array(x, "x")
        if not self.built:
            self.build(x.shape[1:], default_rng(self))
        if not training:
            self._cache = None
            return x
        out, self._cache = self._training_forward(x)
        return out

    def backward(self, dout: np.ndarray) -> np.ndarray:
        dout = as_float_array(dout, "dout")
        if self._cache is None:  # the last forward was at inference: identity
            return dout
        return self._training_backward(dout, self._cache)

    # The two steps a noise layer of this kind varies (see MaskingNoise).
    def _training_forward(self, x: np.ndarray) -> tuple[np.ndarray, object]:
        return F.dropout_forward(x, self.rate, self.rng)

    def _training_backward(self, dout: np.ndarray, cache) -> np.ndarray:
        return F.dropout_backward(dout, cache)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(rate={self.rate!r})"
