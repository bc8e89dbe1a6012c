r"""Gradient-descent update rules, one class per rule, following ``torch.optim``.

Every optimizer is used the same way::

    opt = Adam(lr=1e-3)
    for batch in batches:
        ...                              # forward and backward fill grads
        opt.step(layer.params, layer.grads)

:meth:`Optimizer.step` updates the arrays of ``params`` *in place* (the
dict entries are never rebound, so a layer keeps pointing at its weights)
and never writes to ``grads``. Each rule keeps its running averages (the
"state") per parameter array, so one optimizer can serve every layer of a
model: two layers that both call their weight ``"W"`` still get separate
state, whether ``step`` is called once per layer or once with one dict that
holds every parameter.

Names, defaults and equations are those of ``torch.optim`` (PyTorch 2.x),
including where epsilon goes, so that each rule can be checked step by step
against PyTorch. Notation in the docstrings: :math:`\theta` parameters,
:math:`g_t` the gradient at step :math:`t = 1, 2, \dots` (after adding
:math:`\lambda \theta_{t-1}` when ``weight_decay`` :math:`\lambda` is set,
i.e. an L2 penalty :math:`\tfrac{\lambda}{2} \lVert\theta\rVert^2` on the
loss), :math:`\gamma` the learning rate ``lr``. All operations on arrays are
element-wise. Where the lectures (002) write a rule differently, the
docstring says how the two correspond.

The learning rate is a plain attribute: ``opt.lr = 0.01`` between epochs is
a schedule; :func:`step_decay` and :func:`exponential_decay` compute the two
common ones. :func:`get` turns a name such as ``"adam"`` into an optimizer
(``Sequential.compile(optimizer="adam")``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from ._validation import FLOAT_DTYPES, in_range, non_negative, positive, positive_int

__all__ = [
    "Optimizer",
    "SGD",
    "Adagrad",
    "RMSprop",
    "Adadelta",
    "Adam",
    "Adamax",
    "NAdam",
    "get",
    "step_decay",
    "exponential_decay",
]


def _beta_pair(betas, name: str = "betas") -> tuple[float, float]:
    """Validate ``betas`` as two coefficients in [0, 1)."""
    if not isinstance(betas, (tuple, list)) or len(betas) != 2:
        raise ValueError(f"{name} must be a pair (beta1, beta2), got {betas!r}")
    return (
        in_range(betas[0], f"{name}[0]", 0.0, 1.0, high_open=True),
        in_range(betas[1], f"{name}[1]", 0.0, 1.0, high_open=True),
    )


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

    Subclasses implement :meth:`_update`, the rule for one parameter array.
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
            self._update(param, grad, state)

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

    def _update(self, param: np.ndarray, grad: np.ndarray, state: dict) -> None:
        raise NotImplementedError

    def __repr__(self) -> str:
        hyper = ", ".join(f"{k}={v!r}" for k, v in self._hyper().items())
        return f"{type(self).__name__}({hyper})"

    def _hyper(self) -> dict:
        return {"lr": self.lr, "weight_decay": self.weight_decay}


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


class SGD(Optimizer):
    r"""Stochastic gradient descent, optionally with (Nesterov) momentum.

    PyTorch's rule, with momentum :math:`\mu` and dampening :math:`\tau`:

    .. math::

        b_1 &= g_1, \qquad
        b_t = \mu b_{t-1} + (1 - \tau) g_t \quad (t > 1) \\
        \theta_t &= \theta_{t-1} - \gamma \, b_t
            \quad \text{(momentum)} \\
        \theta_t &= \theta_{t-1} - \gamma \, (g_t + \mu b_t)
            \quad \text{(Nesterov)}

    and :math:`\theta_t = \theta_{t-1} - \gamma g_t` without momentum.

    **Lecture notation.** In this paragraph :math:`\gamma` is the lectures'
    momentum (``momentum`` here) and :math:`\eta` their learning rate
    (``lr``). Lecture 002 writes momentum as
    :math:`v^{t+1} = \gamma v^t + \eta \nabla f(\theta^t)`,
    :math:`\theta^{t+1} = \theta^t - v^{t+1}`. With a constant learning
    rate this is the same trajectory: the velocity is
    :math:`v = \eta\, b` (PyTorch keeps the buffer without the learning rate,
    so changing ``lr`` mid-training rescales the whole step at once).

    Nesterov in the lectures evaluates the gradient at the look-ahead point:
    :math:`v^{t+1} = \gamma v^t + \eta \nabla f(\theta^t - \gamma v^t)`,
    :math:`\theta^{t+1} = \theta^t - v^{t+1}`. PyTorch (after Sutskever et al.
    2013) stores the look-ahead point itself, :math:`\phi = \theta -
    \gamma v`, as the parameter: substituting gives
    :math:`\phi^{t+1} = \phi^t - (1 + \gamma)\eta \nabla f(\phi^t) -
    \gamma^2 v^t`, which is the update above with :math:`v = \eta b`. So
    the parameters of ``SGD(nesterov=True)`` follow the lectures'
    :math:`\theta - \gamma v`, and only one gradient per step is needed.

    Parameters
    ----------
    lr : float
        Learning rate :math:`\gamma > 0` (PyTorch's default 1e-3; Keras's
        ``"sgd"`` uses 0.01).
    momentum : float
        :math:`\mu \ge 0`; 0 is plain gradient descent.
    dampening : float
        :math:`\tau \in [0, 1]`, scales the new gradient in the buffer.
    weight_decay : float
        L2 coefficient :math:`\lambda \ge 0`.
    nesterov : bool
        Nesterov momentum; needs ``momentum > 0`` and ``dampening == 0``.
    """

    def __init__(
        self,
        lr: float = 1e-3,
        momentum: float = 0.0,
        dampening: float = 0.0,
        weight_decay: float = 0.0,
        nesterov: bool = False,
    ):
        super().__init__(lr, weight_decay)
        self.momentum = non_negative(momentum, "momentum")
        self.dampening = in_range(dampening, "dampening", 0.0, 1.0)
        if not isinstance(nesterov, (bool, np.bool_)):
            raise TypeError(f"nesterov must be True or False, got {nesterov!r}")
        self.nesterov = bool(nesterov)
        if self.nesterov and self.momentum == 0.0:
            raise ValueError("nesterov=True needs momentum > 0, got momentum=0.0")
        if self.nesterov and self.dampening != 0.0:
            raise ValueError(
                f"nesterov=True needs dampening=0, got dampening={self.dampening}"
            )

    def _update(self, param, grad, state):
        g = self._with_weight_decay(grad, param)
        if self.momentum != 0.0:
            if "momentum_buffer" not in state:
                state["momentum_buffer"] = g.copy()
            else:
                buf = state["momentum_buffer"]
                buf *= self.momentum
                buf += (1.0 - self.dampening) * g
            buf = state["momentum_buffer"]
            g = g + self.momentum * buf if self.nesterov else buf
        param -= self.lr * g

    def _hyper(self):
        return {
            "lr": self.lr,
            "momentum": self.momentum,
            "dampening": self.dampening,
            "weight_decay": self.weight_decay,
            "nesterov": self.nesterov,
        }


class Adagrad(Optimizer):
    r"""Adagrad: a per-parameter step shrinking with the summed squared gradients.

    .. math::

        \tilde\gamma_t &= \gamma / (1 + (t - 1)\, \eta_{decay}) \\
        G_t &= G_{t-1} + g_t^2, \qquad G_0 = \text{initial\_accumulator\_value} \\
        \theta_t &= \theta_{t-1} - \tilde\gamma_t \, g_t / (\sqrt{G_t} + \epsilon)

    **Lecture notation.** Lecture 002 writes
    :math:`\theta^{t+1} = \theta^t - \eta\, \nabla f / \sqrt{G_t + \epsilon}`
    with epsilon *inside* the square root; PyTorch (followed here) adds it
    outside, after the root. The two differ only where :math:`G` is tiny.

    Parameters
    ----------
    lr : float
        :math:`\gamma > 0` (default 1e-2).
    lr_decay : float
        :math:`\eta_{decay} \ge 0`, per-step decay of the learning rate.
    weight_decay : float
        L2 coefficient :math:`\lambda \ge 0`.
    initial_accumulator_value : float
        Starting value of :math:`G`, >= 0.
    eps : float
        :math:`\epsilon > 0` (default 1e-10).
    """

    def __init__(
        self,
        lr: float = 1e-2,
        lr_decay: float = 0.0,
        weight_decay: float = 0.0,
        initial_accumulator_value: float = 0.0,
        eps: float = 1e-10,
    ):
        super().__init__(lr, weight_decay)
        self.lr_decay = non_negative(lr_decay, "lr_decay")
        self.initial_accumulator_value = non_negative(
            initial_accumulator_value, "initial_accumulator_value"
        )
        self.eps = positive(eps, "eps")

    def _update(self, param, grad, state):
        g = self._with_weight_decay(grad, param)
        if "sum" not in state:
            state["sum"] = np.full_like(param, self.initial_accumulator_value)
        t = state["step"]
        lr_t = self.lr / (1.0 + (t - 1) * self.lr_decay)
        state["sum"] += g * g
        param -= lr_t * g / (np.sqrt(state["sum"]) + self.eps)

    def _hyper(self):
        return {
            "lr": self.lr,
            "lr_decay": self.lr_decay,
            "weight_decay": self.weight_decay,
            "initial_accumulator_value": self.initial_accumulator_value,
            "eps": self.eps,
        }


class RMSprop(Optimizer):
    r"""RMSprop: divide by a running root-mean-square of recent gradients.

    .. math::

        v_t &= \alpha v_{t-1} + (1 - \alpha) g_t^2 \\
        \tilde v_t &= v_t - \bar g_t^2, \quad
            \bar g_t = \alpha \bar g_{t-1} + (1-\alpha) g_t
            \quad \text{(only if centered)} \\
        \theta_t &= \theta_{t-1} - \gamma\, g_t / (\sqrt{\tilde v_t} + \epsilon)
            \quad \text{(momentum 0)} \\
        b_t &= \mu b_{t-1} + g_t / (\sqrt{\tilde v_t} + \epsilon), \quad
            \theta_t = \theta_{t-1} - \gamma b_t \quad \text{(momentum } \mu > 0)

    (:math:`\tilde v_t = v_t` when not centered; all buffers start at 0.)

    **Lecture notation.** Lecture 002 writes
    :math:`G_{t+1} = \gamma G_t + (1 - \gamma)(\nabla f)^2`: its
    :math:`\gamma` is ``alpha`` here, its :math:`G` is :math:`v`, and the
    step is Adagrad's with :math:`G` in place of the sum. PyTorch puts
    epsilon outside the square root (TensorFlow/Keras inside).

    Parameters
    ----------
    lr : float
        :math:`\gamma > 0` (default 1e-2).
    alpha : float
        Smoothing constant :math:`\alpha \in [0, 1]` (default 0.99).
    eps : float
        :math:`\epsilon > 0` (default 1e-8).
    weight_decay : float
        L2 coefficient :math:`\lambda \ge 0`.
    momentum : float
        :math:`\mu \ge 0` (default 0).
    centered : bool
        Normalise by an estimate of the gradient's variance instead of its
        second moment.
    """

    def __init__(
        self,
        lr: float = 1e-2,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        momentum: float = 0.0,
        centered: bool = False,
    ):
        super().__init__(lr, weight_decay)
        self.alpha = in_range(alpha, "alpha", 0.0, 1.0)
        self.eps = positive(eps, "eps")
        self.momentum = non_negative(momentum, "momentum")
        if not isinstance(centered, (bool, np.bool_)):
            raise TypeError(f"centered must be True or False, got {centered!r}")
        self.centered = bool(centered)

    def _update(self, param, grad, state):
        g = self._with_weight_decay(grad, param)
        if "square_avg" not in state:
            state["square_avg"] = np.zeros_like(param)
            if self.centered:
                state["grad_avg"] = np.zeros_like(param)
            if self.momentum > 0.0:
                state["momentum_buffer"] = np.zeros_like(param)
        square_avg = state["square_avg"]
        square_avg *= self.alpha
        square_avg += (1.0 - self.alpha) * g * g
        if self.centered:
            grad_avg = state["grad_avg"]
            grad_avg *= self.alpha
            grad_avg += (1.0 - self.alpha) * g
            denom = np.sqrt(square_avg - grad_avg * grad_avg) + self.eps
        else:
            denom = np.sqrt(square_avg) + self.eps
        if self.momentum > 0.0:
            buf = state["momentum_buffer"]
            buf *= self.momentum
            buf += g / denom
            param -= self.lr * buf
        else:
            param -= self.lr * g / denom

    def _hyper(self):
        return {
            "lr": self.lr,
            "alpha": self.alpha,
            "eps": self.eps,
            "weight_decay": self.weight_decay,
            "momentum": self.momentum,
            "centered": self.centered,
        }


class Adadelta(Optimizer):
    r"""Adadelta: RMSprop whose step size is a running RMS of past steps.

    .. math::

        v_t &= \rho v_{t-1} + (1 - \rho) g_t^2 \\
        \Delta_t &= \frac{\sqrt{u_{t-1} + \epsilon}}{\sqrt{v_t + \epsilon}}\, g_t \\
        u_t &= \rho u_{t-1} + (1 - \rho) \Delta_t^2 \\
        \theta_t &= \theta_{t-1} - \gamma \Delta_t

    with :math:`v_0 = u_0 = 0`. Epsilon sits inside both square roots (as in
    Zeiler's paper and PyTorch); the ratio of the two makes the step carry
    the units of :math:`\theta`, which is why ``lr`` defaults to 1.

    Parameters
    ----------
    lr : float
        :math:`\gamma > 0`, scales :math:`\Delta` (default 1.0).
    rho : float
        Decay :math:`\rho \in [0, 1]` (default 0.9).
    eps : float
        :math:`\epsilon > 0` (default 1e-6).
    weight_decay : float
        L2 coefficient :math:`\lambda \ge 0`.
    """

    def __init__(
        self,
        lr: float = 1.0,
        rho: float = 0.9,
        eps: float = 1e-6,
        weight_decay: float = 0.0,
    ):
        super().__init__(lr, weight_decay)
        self.rho = in_range(rho, "rho", 0.0, 1.0)
        self.eps = positive(eps, "eps")

    def _update(self, param, grad, state):
        g = self._with_weight_decay(grad, param)
        if "square_avg" not in state:
            state["square_avg"] = np.zeros_like(param)
            state["acc_delta"] = np.zeros_like(param)
        square_avg, acc_delta = state["square_avg"], state["acc_delta"]
        square_avg *= self.rho
        square_avg += (1.0 - self.rho) * g * g
        delta = np.sqrt(acc_delta + self.eps) / np.sqrt(square_avg + self.eps) * g
        acc_delta *= self.rho
        acc_delta += (1.0 - self.rho) * delta * delta
        param -= self.lr * delta

    def _hyper(self):
        return {
            "lr": self.lr,
            "rho": self.rho,
            "eps": self.eps,
            "weight_decay": self.weight_decay,
        }


class Adam(Optimizer):
    r"""Adam: momentum on the gradient, RMSprop on its square, both bias-corrected.

    .. math::

        m_t &= \beta_1 m_{t-1} + (1 - \beta_1) g_t \\
        v_t &= \beta_2 v_{t-1} + (1 - \beta_2) g_t^2 \\
        \hat m_t &= m_t / (1 - \beta_1^t), \qquad
        \hat v_t = v_t / (1 - \beta_2^t) \\
        \theta_t &= \theta_{t-1} - \gamma\, \hat m_t / (\sqrt{\hat v_t} + \epsilon)

    with :math:`m_0 = v_0 = 0`.

    **Lecture notation.** Lecture 002 calls :math:`m` :math:`M` and :math:`v`
    :math:`G`, and writes :math:`\eta\, \hat M_t / \sqrt{\hat G_t +
    \epsilon}` with epsilon inside the root; PyTorch and the Adam paper add
    it after the root, as here. (PyTorch's ``amsgrad`` and decoupled weight
    decay, i.e. AdamW, are not offered.)

    Parameters
    ----------
    lr : float
        :math:`\gamma > 0` (default 1e-3).
    betas : (float, float)
        :math:`(\beta_1, \beta_2)`, each in [0, 1) (default (0.9, 0.999)).
    eps : float
        :math:`\epsilon > 0` (default 1e-8).
    weight_decay : float
        L2 coefficient :math:`\lambda \ge 0` (added to the gradient).
    """

    def __init__(
        self,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
    ):
        super().__init__(lr, weight_decay)
        self.betas = _beta_pair(betas)
        self.eps = positive(eps, "eps")

    def _update(self, param, grad, state):
        g = self._with_weight_decay(grad, param)
        beta1, beta2 = self.betas
        if "exp_avg" not in state:
            state["exp_avg"] = np.zeros_like(param)
            state["exp_avg_sq"] = np.zeros_like(param)
        m, v = state["exp_avg"], state["exp_avg_sq"]
        t = state["step"]
        m *= beta1
        m += (1.0 - beta1) * g
        v *= beta2
        v += (1.0 - beta2) * g * g
        m_hat = m / (1.0 - beta1**t)
        v_hat = v / (1.0 - beta2**t)
        param -= self.lr * m_hat / (np.sqrt(v_hat) + self.eps)

    def _hyper(self):
        return {
            "lr": self.lr,
            "betas": self.betas,
            "eps": self.eps,
            "weight_decay": self.weight_decay,
        }


class Adamax(Optimizer):
    r"""Adamax: Adam with the infinity norm in place of the second moment.

    .. math::

        m_t &= \beta_1 m_{t-1} + (1 - \beta_1) g_t \\
        u_t &= \max(\beta_2 u_{t-1},\; |g_t| + \epsilon) \\
        \theta_t &= \theta_{t-1} - \frac{\gamma}{1 - \beta_1^t}\, \frac{m_t}{u_t}

    with :math:`m_0 = u_0 = 0`. Epsilon enters inside the maximum (PyTorch),
    so :math:`u_t > 0` and no epsilon is added in the division.

    Parameters
    ----------
    lr : float
        :math:`\gamma > 0` (default 2e-3).
    betas : (float, float)
        :math:`(\beta_1, \beta_2)`, each in [0, 1) (default (0.9, 0.999)).
    eps : float
        :math:`\epsilon > 0` (default 1e-8).
    weight_decay : float
        L2 coefficient :math:`\lambda \ge 0`.
    """

    def __init__(
        self,
        lr: float = 2e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
    ):
        super().__init__(lr, weight_decay)
        self.betas = _beta_pair(betas)
        self.eps = positive(eps, "eps")

    def _update(self, param, grad, state):
        g = self._with_weight_decay(grad, param)
        beta1, beta2 = self.betas
        if "exp_avg" not in state:
            state["exp_avg"] = np.zeros_like(param)
            state["exp_inf"] = np.zeros_like(param)
        m, u = state["exp_avg"], state["exp_inf"]
        t = state["step"]
        m *= beta1
        m += (1.0 - beta1) * g
        np.maximum(beta2 * u, np.abs(g) + self.eps, out=u)
        param -= self.lr / (1.0 - beta1**t) * m / u

    def _hyper(self):
        return {
            "lr": self.lr,
            "betas": self.betas,
            "eps": self.eps,
            "weight_decay": self.weight_decay,
        }


class NAdam(Optimizer):
    r"""NAdam: Adam with Nesterov momentum (Dozat 2016), as in PyTorch.

    The momentum coefficient warms up over the steps,
    :math:`\mu_t = \beta_1 (1 - \tfrac12 \cdot 0.96^{t\psi})` with the
    momentum decay :math:`\psi`, and the Nesterov look-ahead mixes the next
    step's momentum into this one:

    .. math::

        m_t &= \beta_1 m_{t-1} + (1 - \beta_1) g_t \\
        v_t &= \beta_2 v_{t-1} + (1 - \beta_2) g_t^2 \\
        \hat m_t &= \frac{\mu_{t+1}\, m_t}{1 - \prod_{i=1}^{t+1} \mu_i}
            + \frac{(1 - \mu_t)\, g_t}{1 - \prod_{i=1}^{t} \mu_i} \\
        \hat v_t &= v_t / (1 - \beta_2^t) \\
        \theta_t &= \theta_{t-1} - \gamma\, \hat m_t / (\sqrt{\hat v_t} + \epsilon)

    **Lecture notation.** Lecture 002 only names NAdam ("Adam plus Nesterov
    acceleration"); with :math:`\psi = 0` the schedule is constant
    (:math:`\mu_t = \beta_1 / 2`), and the update is the Nesterov form of
    Adam's bias-corrected momentum. (PyTorch's decoupled weight decay is not
    offered.)

    Parameters
    ----------
    lr : float
        :math:`\gamma > 0` (default 2e-3).
    betas : (float, float)
        :math:`(\beta_1, \beta_2)`, each in [0, 1) (default (0.9, 0.999)).
    eps : float
        :math:`\epsilon > 0` (default 1e-8).
    weight_decay : float
        L2 coefficient :math:`\lambda \ge 0`.
    momentum_decay : float
        :math:`\psi \ge 0` (default 4e-3).
    """

    def __init__(
        self,
        lr: float = 2e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        momentum_decay: float = 4e-3,
    ):
        super().__init__(lr, weight_decay)
        self.betas = _beta_pair(betas)
        self.eps = positive(eps, "eps")
        self.momentum_decay = non_negative(momentum_decay, "momentum_decay")

    def _update(self, param, grad, state):
        g = self._with_weight_decay(grad, param)
        beta1, beta2 = self.betas
        if "exp_avg" not in state:
            state["exp_avg"] = np.zeros_like(param)
            state["exp_avg_sq"] = np.zeros_like(param)
            state["mu_product"] = 1.0
        m, v = state["exp_avg"], state["exp_avg_sq"]
        t = state["step"]
        mu = beta1 * (1.0 - 0.5 * 0.96 ** (t * self.momentum_decay))
        mu_next = beta1 * (1.0 - 0.5 * 0.96 ** ((t + 1) * self.momentum_decay))
        state["mu_product"] *= mu
        mu_product = state["mu_product"]
        m *= beta1
        m += (1.0 - beta1) * g
        v *= beta2
        v += (1.0 - beta2) * g * g
        denom = np.sqrt(v / (1.0 - beta2**t)) + self.eps
        m_hat = mu_next * m / (1.0 - mu_product * mu_next) + (1.0 - mu) * g / (
            1.0 - mu_product
        )
        param -= self.lr * m_hat / denom

    def _hyper(self):
        return {
            "lr": self.lr,
            "betas": self.betas,
            "eps": self.eps,
            "weight_decay": self.weight_decay,
            "momentum_decay": self.momentum_decay,
        }


_REGISTRY: dict[str, type[Optimizer]] = {
    "sgd": SGD,
    "adagrad": Adagrad,
    "rmsprop": RMSprop,
    "adadelta": Adadelta,
    "adam": Adam,
    "adamax": Adamax,
    "nadam": NAdam,
}


def get(identifier) -> Optimizer:
    """Return an optimizer from a name, a class or an instance.

    ``get("adam")`` is ``Adam()`` with PyTorch's defaults (so ``"sgd"`` has
    ``lr=1e-3``; pass ``SGD(lr=0.01)`` for Keras's default). Names are
    case-insensitive: ``"sgd"``, ``"adagrad"``, ``"rmsprop"``,
    ``"adadelta"``, ``"adam"``, ``"adamax"``, ``"nadam"``. An instance is
    returned as is, so its state carries over.
    """
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, type) and issubclass(identifier, Optimizer):
        return identifier()
    if isinstance(identifier, str):
        cls = _REGISTRY.get(identifier.lower())
        if cls is None:
            raise ValueError(
                f"optimizer must be one of {sorted(_REGISTRY)}, got {identifier!r}"
            )
        return cls()
    raise TypeError(
        "optimizer must be a name such as 'adam' or an Optimizer instance, "
        f"got {identifier!r} ({type(identifier).__name__})"
    )


def step_decay(
    initial_lr: float, epoch: float, drop: float = 0.5, epochs_per_drop: int = 10
) -> float:
    r"""Learning rate that drops by a factor every few epochs.

    :math:`\gamma_e = \gamma_0 \cdot \text{drop}^{\lfloor e / k \rfloor}`
    with :math:`k` = ``epochs_per_drop``; use it as
    ``opt.lr = step_decay(0.1, epoch)`` at the start of each epoch.
    """
    initial_lr = positive(initial_lr, "initial_lr")
    epoch = non_negative(epoch, "epoch")
    drop = in_range(drop, "drop", 0.0, 1.0, low_open=True)
    epochs_per_drop = positive_int(epochs_per_drop, "epochs_per_drop")
    return initial_lr * drop ** math.floor(epoch / epochs_per_drop)


def exponential_decay(
    initial_lr: float, epoch: float, decay_rate: float = 0.96, decay_steps: float = 1
) -> float:
    r"""Learning rate decaying smoothly: :math:`\gamma_0 \cdot r^{e / s}`.

    :math:`r` = ``decay_rate`` in (0, 1], :math:`s` = ``decay_steps`` > 0
    (Keras's ``ExponentialDecay`` without staircase; with ``decay_rate =
    exp(-k)`` it is the :math:`\gamma_0 e^{-k e}` of CS231n).
    """
    initial_lr = positive(initial_lr, "initial_lr")
    epoch = non_negative(epoch, "epoch")
    decay_rate = in_range(decay_rate, "decay_rate", 0.0, 1.0, low_open=True)
    decay_steps = positive(decay_steps, "decay_steps")
    return initial_lr * decay_rate ** (epoch / decay_steps)
