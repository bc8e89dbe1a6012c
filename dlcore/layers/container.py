"""Layers made of layers: a chain applied in order, and a residual block.

A :class:`Chain` is itself a :class:`~dlcore.layers.base.Layer`: its
``params`` and ``grads`` are flat dicts that *refer to* (not copy) the
arrays of its children, under keys ``"<index>.<name>"`` (``"0.W"``,
``"2.gamma"``, ``"3.0.W"`` inside a nested block). One optimizer step on the
chain's dicts therefore updates every child in place.

Shared parameters. If two children hold the *same* array (the tied weights
of an autoencoder), the chain lists it once and its gradient is the sum of
the children's gradients: a weight that is used twice influences the loss
along two paths, and the chain rule adds them (the lecture's "the final
update for each weight is the sum of all the updates" for the shared
weights of a convolution).
"""

from __future__ import annotations

import numpy as np

from .._validation import as_float_array, check_rng
from ._util import default_rng
from .base import Layer

__all__ = ["Chain", "Residual", "walk"]


def walk(layer):
    """Yield every layer below ``layer`` (children, grandchildren, ...), depth first."""
    for child in layer.sublayers():
        yield child
        yield from walk(child)


def _leaves(layer):
    """The layers below ``layer`` that have no children of their own."""
    return [child for child in walk(layer) if not child.sublayers()]


class Chain(Layer):
    """Apply ``layers`` one after the other: ``out = f_k(... f_2(f_1(x)))``.

    Backward runs the children in reverse order, each turning the gradient
    of its output into the gradient of its input (the chain rule, one
    Jacobian-vector product at a time).

    Parameters
    ----------
    layers : list of Layer, optional
    seed : int or numpy.random.Generator
        Source of the initial weights (and of the dropout generators) when
        the chain builds its children; 0 by default, so a model is
        reproducible unless told otherwise.

    Attributes
    ----------
    layers : list of Layer
    params, grads : dict
        Flat views of the children's arrays, see the module docstring.
    output_shapes : list of tuple
        Each child's output shape (without the batch axis), once built.
    """

    def __init__(self, layers=None, seed=0):
        super().__init__()
        self.layers: list[Layer] = []
        self.seed = seed
        self.dtype = None
        self.output_shapes: list[tuple] | None = None
        self._generator = None
        self._shared: dict[str, list[np.ndarray]] = {}
        if layers is not None:
            if isinstance(layers, Layer) or not isinstance(layers, (list, tuple)):
                raise TypeError(
                    f"layers must be a list of layers, got {type(layers).__name__}"
                )
            for layer in layers:
                self.add(layer)

    def add(self, layer: Layer) -> None:
        """Append a layer (Keras's ``model.add``)."""
        if not isinstance(layer, Layer):
            raise TypeError(
                f"layer must be a dlcore Layer, got {layer!r} ({type(layer).__name__})"
            )
        self.layers.append(layer)
        self.built = False  # re-collected at the next build; built children stay

    def sublayers(self) -> list[Layer]:
        return list(self.layers)

    @property
    def generator(self) -> np.random.Generator:
        """The chain's generator (created from ``seed`` on first use)."""
        if self._generator is None:
            self._generator = default_rng(self)
        return self._generator

    # ------------------------------------------------------------ building
    def build(self, input_shape: tuple, rng: np.random.Generator | None = None) -> None:
        """Build every child for inputs of shape ``(N, *input_shape)``.

        Children are built in order, each for the output shape of the one
        before (found by passing one zero example through it at inference).
        Parameters take ``self.dtype`` (float64 unless the first input or
        the caller said otherwise).
        """
        rng = self.generator if rng is None else check_rng(rng)
        if not self.layers:
            raise ValueError(f"{type(self).__name__} has no layers to build")
        dtype = np.dtype(self.dtype or np.float64)
        self.dtype = dtype
        shape = tuple(input_shape)
        shapes = []
        for layer in self.layers:
            if not layer.built:
                if getattr(layer, "dtype", None) is None:
                    layer.dtype = dtype
                layer.build(shape, rng)
            probe = np.zeros((1, *shape), dtype)
            shape = tuple(layer.forward(probe, training=False).shape[1:])
            shapes.append(shape)
        self.input_shape = tuple(input_shape)
        self.output_shapes = shapes
        self._collect_parameters()
        self.built = True

    def _collect_parameters(self) -> None:
        """Flatten the children's params/grads into this chain's dicts."""
        params, grads, shared, first_key = {}, {}, {}, {}
        for i, layer in enumerate(self.layers):
            for name, param in layer.params.items():
                key = f"{i}.{name}"
                seen = first_key.get(id(param))
                if seen is None:
                    first_key[id(param)] = key
                    params[key] = param
                    grads[key] = layer.grads[name]
                else:  # the same array again: remember both gradients
                    shared.setdefault(seen, [grads[seen]]).append(layer.grads[name])
        for key in shared:
            grads[key] = np.zeros_like(params[key])  # receives the sum
        self.params, self.grads, self._shared = params, grads, shared

    # ------------------------------------------------------ forward/backward
    def forward(self, x: np.ndarray, training: bool = True) -> np.ndarray:
        x = as_float_array(x, "x")
        if not self.built:
            if self.dtype is None:
                self.dtype = x.dtype
            self.build(x.shape[1:])
        for layer in self.layers:
            x = layer.forward(x, training=training)
        return x

    def backward(self, dout: np.ndarray) -> np.ndarray:
        for layer in reversed(self.layers):
            dout = layer.backward(dout)
        for key, contributions in self._shared.items():
            total = self.grads[key]
            total[...] = contributions[0]
            for g in contributions[1:]:
                total += g
        return dout

    # ------------------------------------------- penalties, constraints, state
    def penalty(self) -> float:
        """Sum of the regularization terms of every layer in the chain."""
        return float(
            sum(leaf.penalty() for leaf in _leaves(self) if hasattr(leaf, "penalty"))
        )

    def apply_constraints(self) -> None:
        """Apply every layer's weight constraints in place."""
        for leaf in _leaves(self):
            if hasattr(leaf, "apply_constraints"):
                leaf.apply_constraints()

    def _state_arrays(self) -> list[np.ndarray]:
        arrays = list(self.params.values())
        for layer in walk(self):
            arrays.extend(getattr(layer, "buffers", {}).values())
        return arrays

    def get_weights(self) -> list[np.ndarray]:
        """Copies of every parameter, then every buffer (BatchNorm's running
        statistics), in a fixed order; :meth:`set_weights` takes them back."""
        return [a.copy() for a in self._state_arrays()]

    def set_weights(self, weights) -> None:
        """Write arrays from :meth:`get_weights` back, in place."""
        arrays = self._state_arrays()
        if len(weights) != len(arrays):
            raise ValueError(
                f"weights must be a list of {len(arrays)} arrays (as from "
                f"get_weights), got {len(weights)}"
            )
        for i, (target, value) in enumerate(zip(arrays, weights, strict=True)):
            value = np.asarray(value)
            if value.shape != target.shape:
                raise ValueError(
                    f"weights[{i}] must have shape {target.shape}, got {value.shape}"
                )
            target[...] = value

    def count_params(self) -> int:
        """Number of trainable scalars (a shared array counted once)."""
        return int(sum(p.size for p in self.params.values()))

    def __repr__(self) -> str:
        inner = ",\n".join(
            "    " + repr(layer).replace("\n", "\n    ") for layer in self.layers
        )
        return f"{type(self).__name__}([\n{inner}\n])"


class Residual(Chain):
    """A skip connection around a block: ``out = x + block(x)`` (ResNet).

    Backward: the gradient reaches ``x`` along two paths, through the block
    and straight along the identity, so

    .. math::

        \\frac{\\partial J}{\\partial x} = \\frac{\\partial J}{\\partial
        \\text{out}} + \\frac{\\partial J}{\\partial \\text{out}}
        \\frac{\\partial\\, \\text{block}}{\\partial x}.

    The first term passes the upstream gradient back unchanged, however
    small the block's Jacobian: the reason deep ResNets keep receiving a
    useful gradient (lecture 002).

    Parameters
    ----------
    block : Layer or list of Layer
        Layers applied in order (a ``Sequential`` works too). Their output
        must have the shape of their input.
    seed : int or numpy.random.Generator
        As for :class:`Chain` (used only when the block is built on its own).
    """

    def __init__(self, block, seed=0):
        if isinstance(block, Layer):
            block = [block]
        if not isinstance(block, (list, tuple)) or not block:
            raise TypeError(
                f"block must be a layer or a non-empty list of layers, got {block!r}"
            )
        super().__init__(list(block), seed=seed)

    def build(self, input_shape: tuple, rng: np.random.Generator | None = None) -> None:
        super().build(input_shape, rng)
        if self.output_shapes[-1] != tuple(input_shape):
            raise ValueError(
                "Residual: the block must keep the shape of its input, got input "
                f"(N, {', '.join(map(str, input_shape))}) and block output "
                f"(N, {', '.join(map(str, self.output_shapes[-1]))})"
            )

    def forward(self, x: np.ndarray, training: bool = True) -> np.ndarray:
        x = as_float_array(x, "x")
        return x + super().forward(x, training=training)

    def backward(self, dout: np.ndarray) -> np.ndarray:
        dout = as_float_array(dout, "dout")
        return dout + super().backward(dout)
