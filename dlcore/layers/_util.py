"""Small helpers shared by the layers: deferred building and initial values.

Dtype policy (one rule for every layer)
---------------------------------------
A layer creates its parameters in ``layer.dtype``. When that is ``None`` (the
default) it is taken from the first input the layer sees (or from the model
that builds it), so a model fitted on float32 data has float32 weights and
float32 optimizer state end to end, and float64 input gives float64 weights.
If a built layer later receives input of the other float dtype, its
parameters are cast *for that computation only*: the output and ``dx``
always have the input's dtype, and gradients are stored in the parameters'
dtype.
"""

from __future__ import annotations

import numpy as np

from .. import init as _init

#: Seed used when a layer that needs random numbers is built on its own
#: (outside a model) and was given no ``seed``. A model passes its own
#: generator instead, so this default only matters for stand-alone layers.
DEFAULT_SEED = 0


def default_rng(layer) -> np.random.Generator:
    """Generator for a layer built on its own: from ``layer.seed`` (or 0)."""
    seed = getattr(layer, "seed", None)
    if isinstance(seed, np.random.Generator):
        return seed
    return np.random.default_rng(DEFAULT_SEED if seed is None else seed)


def ensure_built(layer, x: np.ndarray) -> None:
    """Build ``layer`` for input ``x`` on its first forward pass (deferred build)."""
    if not layer.built:
        if getattr(layer, "dtype", None) is None:
            layer.dtype = x.dtype
        layer.build(tuple(x.shape[1:]), default_rng(layer))


def initialize(identifier, shape: tuple, rng: np.random.Generator, dtype):
    """Create an array of ``shape`` with a :mod:`dlcore.init` initializer.

    ``identifier`` is a name (``"glorot_uniform"``) or a function
    ``(shape, rng) -> array``; the result is returned in ``dtype``.
    """
    values = np.asarray(_init.get(identifier)(tuple(shape), rng))
    if values.shape != tuple(shape):
        raise ValueError(
            f"initializer {identifier!r} returned shape {values.shape}, "
            f"expected {tuple(shape)}"
        )
    return values.astype(dtype)
