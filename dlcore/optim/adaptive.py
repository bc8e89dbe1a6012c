"""Per-parameter learning rates from running sums of squared gradients:
Adagrad, RMSprop and Adadelta."""

from __future__ import annotations

import numpy as np

from .._validation import in_range, non_negative, positive
from .base import Optimizer, running_average

__all__ = ["Adagrad", "RMSprop", "Adadelta"]


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

    def _update(self, param, g, state):
        if "sum" not in state:
            state["sum"] = np.full_like(param, self.initial_accumulator_value)
        t = state["step"]
        lr_t = self.lr / (1.0 + (t - 1) * self.lr_decay)
        state["sum"] += g * g
        param -= lr_t * g / (np.sqrt(state["sum"]) + self.eps)


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

    def _update(self, param, g, state):
        square_avg = self._buffer(state, param, "square_avg")
        running_average(square_avg, g * g, self.alpha)
        if self.centered:
            grad_avg = self._buffer(state, param, "grad_avg")
            running_average(grad_avg, g, self.alpha)
            denom = np.sqrt(square_avg - grad_avg * grad_avg) + self.eps
        else:
            denom = np.sqrt(square_avg) + self.eps
        if self.momentum > 0.0:
            buf = self._buffer(state, param, "momentum_buffer")
            buf *= self.momentum
            buf += g / denom
            param -= self.lr * buf
        else:
            param -= self.lr * g / denom


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

    def _update(self, param, g, state):
        square_avg = self._buffer(state, param, "square_avg")
        acc_delta = self._buffer(state, param, "acc_delta")
        running_average(square_avg, g * g, self.rho)
        delta = np.sqrt(acc_delta + self.eps) / np.sqrt(square_avg + self.eps) * g
        running_average(acc_delta, delta * delta, self.rho)
        param -= self.lr * delta
