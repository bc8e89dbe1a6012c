"""The bookkeeping every update rule shares: parameter checks and per-array state."""

from __future__ import annotations

import inspect
from collections.abc import Mapping

import numpy as np

from .._validation import FLOAT_DTYPES, non_negative, positive

__all__ = ["Optimizer", "running_average"]


class Optimizer:
    r"""Base class: parameter bookkeeping shared by every update rule.

    Parameters
    ----------
    lr : float
        Learning rate, > 0. May be changed between steps (``opt.lr = ...``).
    weight_decay : float
        L2 penalty coefficient :math:`\lambda \ge 0`, added to the gradient
        as :math:`g \leftarrow g + \lambda \theta` (PyTorch's coupled weight
        decay, the gradient of :math:`\tfrac{\lambda}{2}\lVert\theta\rVert^2`).

    Attributes
    ----------
    state : dict[int, dict]
        Per-parameter state (step count and running averages), keyed by the
        ``id`` of the parameter array; :meth:`state_of` looks one up by array.
        State arrays have the parameter's dtype.

    Subclasses implement :meth:`_update`, the rule for one parameter array;
    ``repr`` shows the constructor's arguments, read back from the attributes
    of the same names.
    """

    def __init__(self, lr: float, weight_decay: float = 0.0):
        self.lr = lr
        self.weight_decay = non_negative(weight_decay, "weight_decay")
        self.state: dict[int, dict] = {}
        # References to the arrays the state belongs to: holding them keeps
        # each id unique for as long as its state lives.
        self._arrays: dict[int, np.ndarray] = {}

    @property
    def lr(self) -> float:
        return self._lr

    @lr.setter
    def lr(self, value) -> None:
        # A Python float: NumPy scalars of type float64 would upcast float32
        # parameters, Python scalars never do.
        self._lr = positive(value, "lr")

    def step(self, params: Mapping, grads: Mapping) -> None:
        """Update every array of ``params`` in place from ``grads``.

        Parameters
        ----------
        params : dict[str, ndarray]
            Float arrays, updated in place (the dict is not modified).
        grads : dict[str, ndarray]
            Gradients with exactly the keys and shapes of ``params``; read
            only. A gradient of another float dtype is cast to the
            parameter's dtype.
        """
        # Everything is checked before anything is updated, so a bad entry
        # never leaves the model half-stepped.
        for param, grad in _paired(params, grads):
            key = id(param)
            if key not in self.state:
                self._arrays[key] = param
                self.state[key] = {"step": 0}
            state = self.state[key]
            state["step"] += 1
            self._update(param, self._with_weight_decay(grad, param), state)

    def state_of(self, param: np.ndarray) -> dict:
        """The state dict of parameter array ``param`` (empty before a step)."""
        key = id(param)
        if self._arrays.get(key) is not param:
            return {}
        return self.state[key]

    def reset(self) -> None:
        """Forget all state, as if no step had been taken."""
        self.state.clear()
        self._arrays.clear()

    def _with_weight_decay(self, grad: np.ndarray, param: np.ndarray) -> np.ndarray:
        r""":math:`g + \lambda \theta` as a new array (``grad`` is never modified)."""
        if self.weight_decay != 0.0:
            return grad + self.weight_decay * param
        return grad

    @staticmethod
    def _buffer(state: dict, param: np.ndarray, name: str) -> np.ndarray:
        """The state array ``name`` of ``param``, zeros when first asked for."""
        if name not in state:
            state[name] = np.zeros_like(param)
        return state[name]

    def _update(self, param: np.ndarray, g: np.ndarray, state: dict) -> None:
        """Update ``param`` in place from :math:`g_t` (weight decay already added).

        ``g`` may be the caller's gradient array itself: read it, never write it.
        """
        raise NotImplementedError

    def __repr__(self) -> str:
        arguments = inspect.signature(type(self).__init__).parameters
        hyper = ", ".join(
            f"{name}={getattr(self, name)!r}" for name in list(arguments)[1:]
        )
        return f"{type(self).__name__}({hyper})"


def running_average(average: np.ndarray, value: np.ndarray, beta: float) -> None:
    r"""Move ``average`` in place towards ``value``: an exponential moving average.

    .. math::

        \text{average} \leftarrow \beta\, \text{average} + (1 - \beta)\, \text{value}

    The running sums of RMSprop, Adadelta and the Adam family (the lectures'
    :math:`G_{t+1} = \gamma G_t + (1 - \gamma)(\nabla f)^2`).
    """
    average *= beta
    average += (1.0 - beta) * value


def _paired(params: Mapping, grads: Mapping) -> list[tuple[np.ndarray, np.ndarray]]:
    """Check that the dicts match and return ``(param, grad)`` pairs."""
    if not isinstance(params, Mapping):
        raise TypeError(f"params must be a dict of arrays, got {type(params).__name__}")
    if not isinstance(grads, Mapping):
        raise TypeError(f"grads must be a dict of arrays, got {type(grads).__name__}")
    if set(params) != set(grads):
        missing = sorted(set(params) - set(grads), key=str)
        extra = sorted(set(grads) - set(params), key=str)
        raise ValueError(
            "params and grads must have the same keys, got params keys "
            f"{sorted(params, key=str)} and grads keys {sorted(grads, key=str)} "
            f"(missing in grads: {missing}, not in params: {extra})"
        )
    pairs = []
    seen: dict[int, str] = {}
    for name, param in params.items():
        if not isinstance(param, np.ndarray) or param.dtype not in FLOAT_DTYPES:
            what = (
                f"dtype {param.dtype}"
                if isinstance(param, np.ndarray)
                else type(param).__name__
            )
            raise TypeError(
                f"params[{name!r}] must be a float32 or float64 numpy array "
                f"(it is updated in place), got {what}"
            )
        if id(param) in seen:
            raise ValueError(
                f"params[{name!r}] is the same array as params[{seen[id(param)]!r}]; "
                "each array must appear once or it would be updated twice"
            )
        seen[id(param)] = name
        grad = np.asarray(grads[name])
        if grad.shape != param.shape:
            raise ValueError(
                f"grads[{name!r}] must have the shape of params[{name!r}] "
                f"{param.shape}, got {grad.shape}"
            )
        if grad.dtype != param.dtype:
            if grad.dtype.kind not in "fiub":
                raise TypeError(
                    f"grads[{name!r}] must be a real float array, got dtype "
                    f"{grad.dtype}"
                )
            grad = grad.astype(param.dtype)
        pairs.append((param, grad))
    return pairs
