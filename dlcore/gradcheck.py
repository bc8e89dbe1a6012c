"""Gradient checking: compare an analytic backward pass with finite differences.

The idea (lecture 003/004): for a scalar objective ``L = sum(f(x) * dout)``
the gradient ``dL/dx`` is exactly what ``backward(dout)`` must return, and
each entry can be estimated independently with a centred difference

.. math::

    \\frac{\\partial L}{\\partial x_i} \\approx
    \\frac{L(x + h e_i) - L(x - h e_i)}{2h},

whose error is :math:`O(h^2)` (a one-sided difference is only :math:`O(h)`).

Two levels are offered:

* :func:`check_gradients` for a functional ``*_forward`` / ``*_backward`` pair;
* :func:`check_layer` for a layer object with ``params``/``grads`` dicts,
  which every layer in :mod:`dlcore.layers` must pass.

Both print a "mine vs numerical" line per array and raise ``AssertionError``
with the relative error when it exceeds the tolerance.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np

__all__ = [
    "numerical_gradient",
    "rel_error",
    "check_gradients",
    "check_layer",
    "GradientCheckError",
]


class GradientCheckError(AssertionError):
    """An analytic gradient disagrees with its finite-difference estimate."""


def numerical_gradient(
    f: Callable[[np.ndarray], np.ndarray], x: np.ndarray, dout, h: float = 1e-5
) -> np.ndarray:
    """Centred-difference gradient of ``sum(f(x) * dout)`` with respect to ``x``.

    Parameters
    ----------
    f : callable
        Maps ``x`` (modified in place between calls) to an array of the same
        shape as ``dout``; may close over other arrays.
    x : ndarray
        The point; restored exactly after each perturbation.
    dout : ndarray or float
        Upstream gradient; ``1.0`` for a scalar ``f``.
    h : float
        Step size. ``1e-5`` balances truncation (``O(h^2)``) against
        round-off (``O(eps / h)``) in float64.

    Returns
    -------
    grad : ndarray, same shape and dtype as ``x``
    """
    grad = np.zeros_like(x)
    it = np.nditer(x, flags=["multi_index"], op_flags=["readwrite"])
    while not it.finished:
        i = it.multi_index
        original = x[i]
        x[i] = original + h
        plus = np.sum(np.asarray(f(x), dtype=np.float64) * dout)
        x[i] = original - h
        minus = np.sum(np.asarray(f(x), dtype=np.float64) * dout)
        x[i] = original
        grad[i] = (plus - minus) / (2 * h)
        it.iternext()
    return grad


def rel_error(a, b) -> float:
    """Relative error ``||a - b|| / (||a|| + ||b||)`` (Frobenius norms).

    A norm-wise ratio rather than an entry-wise maximum, so that entries
    that are both almost zero do not dominate; 0.0 when both are zero.
    For a correct backward pass in float64 expect ~1e-10 or smaller;
    above 1e-7 something is wrong.
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"rel_error: shapes differ, got {a.shape} and {b.shape}")
    scale = np.linalg.norm(a) + np.linalg.norm(b)
    if scale == 0.0:
        return 0.0
    return float(np.linalg.norm(a - b) / scale)


def _report(name: str, analytic, numeric, tol: float, verbose: bool) -> float:
    err = rel_error(analytic, numeric)
    if verbose:
        print(f"  {name:>8}: mine vs numerical rel. error = {err:.2e}")
    if not err < tol:
        diff = np.abs(np.asarray(analytic, np.float64) - np.asarray(numeric))
        worst = np.unravel_index(int(np.argmax(diff)), diff.shape) if diff.size else ()
        raise GradientCheckError(
            f"gradient of {name}: relative error {err:.3e} >= {tol:.0e}; "
            f"worst entry at index {worst}: analytic {np.asarray(analytic)[worst]!r}"
            f" vs numerical {np.asarray(numeric)[worst]!r}"
        )
    return err


def check_gradients(
    forward: Callable,
    backward: Callable,
    inputs: Mapping[str, np.ndarray],
    *,
    kwargs: Mapping | None = None,
    rng: np.random.Generator | int = 0,
    h: float = 1e-5,
    tol: float = 1e-7,
    verbose: bool = True,
) -> dict[str, float]:
    """Check a functional ``forward``/``backward`` pair against finite differences.

    ``forward(*inputs.values(), **kwargs)`` must return ``(out, cache)`` and
    ``backward(dout, cache)`` the gradients in the order of ``inputs`` (the
    contract of :mod:`dlcore.functional`). A single gradient may be returned
    bare. A forward that draws random numbers must take them from a
    generator created anew inside ``forward`` (wrap it in a closure), so that
    every evaluation uses the same mask.

    Returns
    -------
    errors : dict
        Relative error per input name. Raises :class:`GradientCheckError`
        when any is ``>= tol``.
    """
    kwargs = dict(kwargs or {})
    names = list(inputs)
    arrays = [np.array(inputs[n], dtype=np.float64, copy=True) for n in names]
    rng = (
        np.random.default_rng(rng) if not isinstance(rng, np.random.Generator) else rng
    )

    out, cache = forward(*arrays, **kwargs)
    dout = rng.standard_normal(np.shape(out))
    grads = backward(dout, cache)
    if not isinstance(grads, tuple):
        grads = (grads,)
    if len(grads) != len(names):
        raise GradientCheckError(
            f"backward returned {len(grads)} gradient(s), expected {len(names)} "
            f"(one per input: {', '.join(names)})"
        )
    errors = {}
    for k, name in enumerate(names):
        if np.shape(grads[k]) != arrays[k].shape:
            raise GradientCheckError(
                f"gradient of {name} has shape {np.shape(grads[k])}, "
                f"expected {arrays[k].shape} (the shape of {name})"
            )

        def f(value, k=k):
            args = list(arrays)
            args[k] = value
            return forward(*args, **kwargs)[0]

        numeric = numerical_gradient(f, arrays[k], dout, h)
        errors[name] = _report(name, grads[k], numeric, tol, verbose)
    return errors


def _reset_randomness(layer, seed: int):
    """Give every random layer (and sub-layer) a fresh generator from ``seed``."""
    if getattr(layer, "rng", None) is not None:
        layer.rng = np.random.default_rng(seed)
    for child in getattr(layer, "sublayers", lambda: [])():
        _reset_randomness(child, seed)


def check_layer(
    layer,
    x: np.ndarray | None = None,
    *,
    seed: int = 0,
    h: float = 1e-5,
    tol: float = 1e-7,
    training: bool = True,
    verbose: bool = True,
) -> dict[str, float]:
    """The checks every layer must pass (one place, like scikit-learn's).

    1. ``forward`` keeps the batch size and the dtype (float32 in, float32
       out; checked on a float32 copy of ``x``).
    2. After ``backward``, ``grads`` has exactly the keys of ``params`` and
       each gradient has its parameter's shape; ``backward`` returns ``dx``
       of ``x``'s shape.
    3. ``dx`` and every parameter gradient agree with centred finite
       differences to ``tol`` (float64).

    Layers that draw random numbers keep their generator in ``layer.rng``
    (containers list their children in ``layer.sublayers()``); it is reset
    from ``seed`` before every forward so all evaluations share one mask.

    Parameters
    ----------
    layer : Layer
    x : ndarray, optional
        Input batch. Defaults to standard normal of shape
        ``(3, *layer.input_shape)`` when the layer declares ``input_shape``.

    Returns
    -------
    errors : dict
        ``{"x": err, "<param>": err, ...}``.
    """
    rng = np.random.default_rng(seed)
    if x is None:
        input_shape = getattr(layer, "input_shape", None)
        if input_shape is None:
            raise ValueError(
                f"check_layer needs an input x for {type(layer).__name__} "
                "(it declares no input_shape)"
            )
        x = rng.standard_normal((3, *input_shape))
    x = np.array(x, dtype=np.float64, copy=True)
    name = type(layer).__name__
    if verbose:
        print(f"check_layer({name}) on x of shape {x.shape}")

    def run(inp):
        _reset_randomness(layer, seed)
        return layer.forward(inp, training=training)

    out = run(x)  # builds lazily-initialised parameters
    if np.shape(out)[0] != x.shape[0]:
        raise GradientCheckError(
            f"{name}.forward changed the batch size: input {x.shape}, output "
            f"{np.shape(out)}"
        )
    out32 = run(x.astype(np.float32))
    dx32 = layer.backward(np.ones_like(out32))
    if out32.dtype != np.float32 or np.asarray(dx32).dtype != np.float32:
        raise GradientCheckError(
            f"{name} turned float32 input into {out32.dtype} output and "
            f"{np.asarray(dx32).dtype} dx; float32 must stay float32"
        )

    out = run(x)
    dout = rng.standard_normal(np.shape(out))
    dx = layer.backward(dout)
    if set(layer.grads) != set(layer.params):
        raise GradientCheckError(
            f"{name}.grads keys {sorted(layer.grads)} differ from params keys "
            f"{sorted(layer.params)}"
        )
    if np.shape(dx) != x.shape:
        raise GradientCheckError(
            f"{name}.backward returned dx of shape {np.shape(dx)}, expected {x.shape}"
        )
    analytic = {"x": np.array(dx, copy=True)}
    for k in layer.params:
        if layer.grads[k].shape != layer.params[k].shape:
            raise GradientCheckError(
                f"{name}.grads[{k!r}] has shape {layer.grads[k].shape}, expected "
                f"{layer.params[k].shape}"
            )
        analytic[k] = np.array(layer.grads[k], copy=True)

    errors = {
        "x": _report(
            "x", analytic["x"], numerical_gradient(run, x, dout, h), tol, verbose
        )
    }
    for k, p in layer.params.items():
        numeric = numerical_gradient(lambda _p: run(x), p, dout, h)
        errors[k] = _report(k, analytic[k], numeric, tol, verbose)
    return errors
