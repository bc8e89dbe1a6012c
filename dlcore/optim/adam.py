"""Adam and its variants: running averages of the gradient and of its square
(Adam), of the largest gradient magnitude (Adamax), with Nesterov momentum
(NAdam)."""

from __future__ import annotations

import numpy as np

from .._validation import in_range, non_negative, positive
from .base import Optimizer, running_average

__all__ = ["Adam", "Adamax", "NAdam"]


def _beta_pair(betas, name: str = "betas") -> tuple[float, float]:
    """Validate ``betas`` as two coefficients in [0, 1)."""
    if not isinstance(betas, (tuple, list)) or len(betas) != 2:
        raise ValueError(f"{name} must be a pair (beta1, beta2), got {betas!r}")
    return (
        in_range(betas[0], f"{name}[0]", 0.0, 1.0, high_open=True),
        in_range(betas[1], f"{name}[1]", 0.0, 1.0, high_open=True),
    )


class _AdamFamily(Optimizer):
    """What Adam, Adamax and NAdam share: ``betas``, ``eps`` and the moments."""

    def __init__(self, lr, betas, eps, weight_decay):
        super().__init__(lr, weight_decay)
        self.betas = _beta_pair(betas)
        self.eps = positive(eps, "eps")

    def _first_moment(self, g, param, state) -> np.ndarray:
        r""":math:`m_t = \beta_1 m_{t-1} + (1 - \beta_1) g_t`, as ``exp_avg``."""
        m = self._buffer(state, param, "exp_avg")
        running_average(m, g, self.betas[0])
        return m

    def _second_moment(self, g, param, state) -> np.ndarray:
        r""":math:`v_t = \beta_2 v_{t-1} + (1 - \beta_2) g_t^2`, as ``exp_avg_sq``."""
        v = self._buffer(state, param, "exp_avg_sq")
        running_average(v, g * g, self.betas[1])
        return v


class Adam(_AdamFamily):
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
        super().__init__(lr, betas, eps, weight_decay)

    def _update(self, param, g, state):
        m = self._first_moment(g, param, state)
        v = self._second_moment(g, param, state)
        beta1, beta2 = self.betas
        t = state["step"]
        m_hat = m / (1.0 - beta1**t)
        v_hat = v / (1.0 - beta2**t)
        param -= self.lr * m_hat / (np.sqrt(v_hat) + self.eps)


class Adamax(_AdamFamily):
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
        super().__init__(lr, betas, eps, weight_decay)

    def _update(self, param, g, state):
        m = self._first_moment(g, param, state)
        u = self._buffer(state, param, "exp_inf")
        beta1, beta2 = self.betas
        np.maximum(beta2 * u, np.abs(g) + self.eps, out=u)
        param -= self.lr / (1.0 - beta1 ** state["step"]) * m / u


class NAdam(_AdamFamily):
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
        super().__init__(lr, betas, eps, weight_decay)
        self.momentum_decay = non_negative(momentum_decay, "momentum_decay")

    def _update(self, param, g, state):
        m = self._first_moment(g, param, state)
        v = self._second_moment(g, param, state)
        beta1, beta2 = self.betas
        t = state["step"]
        mu = beta1 * (1.0 - 0.5 * 0.96 ** (t * self.momentum_decay))
        mu_next = beta1 * (1.0 - 0.5 * 0.96 ** ((t + 1) * self.momentum_decay))
        state["mu_product"] = state.get("mu_product", 1.0) * mu
        mu_product = state["mu_product"]
        denom = np.sqrt(v / (1.0 - beta2**t)) + self.eps
        m_hat = mu_next * m / (1.0 - mu_product * mu_next) + (1.0 - mu) * g / (
            1.0 - mu_product
        )
        param -= self.lr * m_hat / denom
