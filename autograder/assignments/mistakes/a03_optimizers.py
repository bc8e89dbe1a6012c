"""Known wrong answers of assignment 03_optimizers (solutions/03_optimizers/).

Each check of ``autograder/assignments/a03_optimizers.py`` that declares
misconceptions finds them in ``MISCONCEPTIONS`` under its name: the wrong
answer, written as a student would write it, and the message that names the
mistake without giving the answer (``autograder/AUTHORING.md`` § 1b).
"""

from __future__ import annotations

import numpy as np

from autograder.assignments.references.a03_optimizers import (
    _ADAM_BETA1,
    _HALF_LIFE,
    _VELOCITY_GAIN_GAMMA,
)
from autograder.declarations import Misconception

# ------------------------------------------------------------- misconceptions
#
# Wrong update rules written as a student would write them; each check names
# the one a failing result matches.


def _momentum_old_velocity(theta, grad, velocity, lr, gamma):
    return theta - velocity, gamma * velocity + lr * grad


def _momentum_buffer(theta, grad, velocity, lr, gamma):
    velocity = gamma * velocity + grad
    return theta - lr * velocity, velocity


def _momentum_uphill(theta, grad, velocity, lr, gamma):
    velocity = gamma * velocity + lr * grad
    return theta + velocity, velocity


def _momentum_average(theta, grad, velocity, lr, gamma):
    velocity = gamma * velocity + (1 - gamma) * lr * grad
    return theta - velocity, velocity


def _weights_newest_first(t, lr, gamma):
    return lr * gamma ** np.arange(t)


def _weights_extra_factor(t, lr, gamma):
    return lr * gamma ** (t - np.arange(t))


def _weights_without_lr(t, lr, gamma):
    return gamma ** (t - 1 - np.arange(t))


def _nesterov_at_theta(theta, velocity, grad_fn, lr, gamma):
    velocity = gamma * velocity + lr * grad_fn(theta)
    return theta - velocity, velocity


def _nesterov_behind(theta, velocity, grad_fn, lr, gamma):
    velocity = gamma * velocity + lr * grad_fn(theta + gamma * velocity)
    return theta - velocity, velocity


def _lookahead_no_old(phi, v_old, v_new, gamma):
    return phi - (1 + gamma) * v_new


def _lookahead_plain(phi, v_old, v_new, gamma):
    return phi - v_new


def _library_velocity(phi, grad, buffer, lr, momentum):
    buffer = momentum * buffer + lr * grad
    return phi - (lr * grad + momentum * buffer), buffer


def _library_plain(phi, grad, buffer, lr, momentum):
    buffer = momentum * buffer + grad
    return phi - lr * buffer, buffer


def _adagrad_eps_inside(theta, grad, G, lr, eps=1e-10):
    G = G + grad**2
    return theta - lr * grad / np.sqrt(G + eps), G


def _adagrad_old_sum(theta, grad, G, lr, eps=1e-10):
    return theta - lr * grad / (np.sqrt(G) + eps), G + grad**2


def _adagrad_no_root(theta, grad, G, lr, eps=1e-10):
    G = G + grad**2
    return theta - lr * grad / (G + eps), G


def _rmsprop_eps_inside(theta, grad, G, lr, alpha=0.99, eps=1e-8):
    G = alpha * G + (1 - alpha) * grad**2
    return theta - lr * grad / np.sqrt(G + eps), G


def _rmsprop_weights_swapped(theta, grad, G, lr, alpha=0.99, eps=1e-8):
    G = (1 - alpha) * G + alpha * grad**2
    return theta - lr * grad / (np.sqrt(G) + eps), G


def _rmsprop_sum(theta, grad, G, lr, alpha=0.99, eps=1e-8):
    G = G + grad**2
    return theta - lr * grad / (np.sqrt(G) + eps), G


def _bias_one_step_short(beta, t):
    return 1 - beta ** (t - 1)


def _bias_power_only(beta, t):
    return beta**t


def _first_step_uphill(grad, lr, beta1, beta2):
    return lr * (1 - beta1) / np.sqrt(1 - beta2) * np.sign(grad)


def _first_step_corrected(grad, lr, beta1, beta2):
    return -lr * np.sign(grad)


def _first_step_no_root(grad, lr, beta1, beta2):
    return -lr * (1 - beta1) / (1 - beta2) * np.sign(grad)


def _adam(correct=True, eps_inside=False, shift_t=0, keep_corrected=False):
    """An Adam step with one thing changed."""

    def step(theta, grad, m, v, t, lr, beta1=0.9, beta2=0.999, eps=1e-8):
        m = beta1 * m + (1 - beta1) * grad
        v = beta2 * v + (1 - beta2) * grad**2
        m_hat, v_hat = m, v
        if correct:
            m_hat = m / (1 - beta1 ** (t + shift_t))
            v_hat = v / (1 - beta2 ** (t + shift_t))
        root = np.sqrt(v_hat + eps) if eps_inside else np.sqrt(v_hat) + eps
        theta = theta - lr * m_hat / root
        return (theta, m_hat, v_hat) if keep_corrected else (theta, m, v)

    return step


def _adadelta(eps_outside=False, old_G=False, use_lr=True):
    """An Adadelta step with one thing changed."""

    def step(theta, grad, G, U, lr=1.0, rho=0.9, eps=1e-6):
        new_G = rho * G + (1 - rho) * grad**2
        scale_G = G if old_G else new_G
        if eps_outside:
            delta = (np.sqrt(U) + eps) / (np.sqrt(scale_G) + eps) * grad
        else:
            delta = np.sqrt(U + eps) / np.sqrt(scale_G + eps) * grad
        U = rho * U + (1 - rho) * delta**2
        return theta - (lr if use_lr else 1.0) * delta, new_G, U

    return step


def _adamax(correct_m=True, correct_u=False, absolute=True):
    """An Adamax step with one thing changed."""

    def step(theta, grad, m, u, t, lr=2e-3, beta1=0.9, beta2=0.999, eps=1e-8):
        m = beta1 * m + (1 - beta1) * grad
        size = np.abs(grad) if absolute else grad
        u = np.maximum(beta2 * u, size + eps)
        m_hat = m / (1 - beta1**t) if correct_m else m
        u_hat = u / (1 - beta2**t) if correct_u else u
        return theta - lr * m_hat / u_hat, m, u

    return step


def _nadam(product_late=False, eps_inside=False):
    """A NAdam step with one thing changed."""

    def step(
        theta,
        grad,
        m,
        v,
        mu_product,
        t,
        lr,
        beta1=0.9,
        beta2=0.999,
        eps=1e-8,
        momentum_decay=4e-3,
    ):
        mu = beta1 * (1 - 0.5 * 0.96 ** (t * momentum_decay))
        mu_next = beta1 * (1 - 0.5 * 0.96 ** ((t + 1) * momentum_decay))
        before = mu_product
        mu_product = mu_product * mu
        used = before if product_late else mu_product
        m = beta1 * m + (1 - beta1) * grad
        v = beta2 * v + (1 - beta2) * grad**2
        m_hat = mu_next * m / (1 - used * mu_next) + (1 - mu) * grad / (1 - used)
        v_hat = v / (1 - beta2**t)
        root = np.sqrt(v_hat + eps) if eps_inside else np.sqrt(v_hat) + eps
        return theta - lr * m_hat / root, m, v, mu_product

    return step


def _decay_decoupled(theta, grad, velocity, lr, gamma, weight_decay):
    velocity = gamma * velocity + lr * grad
    return theta - velocity - lr * weight_decay * theta, velocity


def _decay_uphill(theta, grad, velocity, lr, gamma, weight_decay):
    velocity = gamma * velocity + lr * (grad - weight_decay * theta)
    return theta - velocity, velocity


def _stopping(improves, stops, shift=0):
    """Early stopping with its own rule for an improvement and for stopping."""

    def early_stopping(val_losses, patience, min_delta=0.0):
        best, best_epoch, waited = np.inf, 0, 0
        for epoch, loss in enumerate(val_losses):
            if improves(loss, best, min_delta):
                best, best_epoch, waited = loss, epoch, 0
            else:
                waited += 1
                if stops(waited, patience):
                    return epoch + shift, best_epoch + shift
        return None, best_epoch + shift

    return early_stopping


def _strictly_better(loss, best, min_delta):
    return loss < best - min_delta


def _tie_improves(loss, best, min_delta):
    return loss <= best - min_delta


def _delta_ignored(loss, best, min_delta):
    return loss < best


def _patience_reached(waited, patience):
    return waited >= patience


def _patience_exceeded(waited, patience):
    return waited > patience


_EPS_INSIDE = (
    "eps sits inside your square root. It only guards the division, so here it "
    "is added to the root itself; inside, it changes every step while the "
    "squared gradients are small."
)


# ------------------------------------------------------------ per check

MISCONCEPTIONS = {
    "momentum_step": (
        Misconception(
            "moves_by_old_velocity",
            "theta moves by the velocity of the previous step: your first step "
            "does not move at all. Update the velocity before using it.",
            answer=_momentum_old_velocity,
        ),
        Misconception(
            "velocity_without_lr",
            "your trajectory is right but your velocity is lr times too large: "
            "you keep PyTorch's buffer. Here the velocity includes the step size.",
            answer=_momentum_buffer,
        ),
        Misconception(
            "uphill",
            "your theta climbs: the velocity points uphill, along the gradient.",
            answer=_momentum_uphill,
        ),
        Misconception(
            "averaged_gradient",
            "your velocity is a weighted average (the gradient scaled by "
            "1 - gamma); the lecture's momentum adds the whole lr * gradient "
            "contribution at each step.",
            answer=_momentum_average,
        ),
    ),
    "momentum_weights": (
        Misconception(
            "newest_first",
            "your weights are in the reverse order: entry k belongs to the "
            "gradient of step k, so the oldest comes first and has the smallest "
            "weight.",
            answer=_weights_newest_first,
        ),
        Misconception(
            "one_factor_too_many",
            "each of your weights has one factor gamma too many: the newest "
            "gradient has not been decayed yet.",
            answer=_weights_extra_factor,
        ),
        Misconception(
            "without_lr",
            "your weights miss the learning rate that each gradient enters the "
            "velocity with.",
            answer=_weights_without_lr,
        ),
    ),
    "q_velocity_gain": (
        Misconception(
            "series_from_one",
            "your geometric series leaves out its first term, the newest "
            "gradient's (the power 0).",
            variant=lambda: _VELOCITY_GAIN_GAMMA / (1.0 - _VELOCITY_GAIN_GAMMA),
        ),
    ),
    "nesterov_step": (
        Misconception(
            "gradient_at_theta",
            "your gradient is taken at theta itself: that is plain momentum. "
            "Nesterov looks ahead first.",
            answer=_nesterov_at_theta,
        ),
        Misconception(
            "looks_behind",
            "your look-ahead point lies on the wrong side of theta: the "
            "velocity is about to move theta downhill.",
            answer=_nesterov_behind,
        ),
    ),
    "lookahead_next": (
        Misconception(
            "old_velocity_dropped",
            "your phi^(t+1) has no term in the old velocity: it enters when you "
            "write theta^t in terms of phi^t.",
            answer=_lookahead_no_old,
        ),
        Misconception(
            "plain_step",
            "your phi moves like theta does; phi is the look-ahead point, so "
            "both its definition at t and at t+1 add velocity terms.",
            answer=_lookahead_plain,
        ),
    ),
    "nesterov_library_step": (
        Misconception(
            "buffer_holds_lr",
            "your trajectory is right but your buffer is lr times too large: "
            "the library form keeps the buffer of gradients, without the "
            "learning rate.",
            answer=_library_velocity,
        ),
        Misconception(
            "plain_momentum",
            "your step on phi uses the buffer from before this step's update, "
            "which makes it plain momentum; the derivation gives the updated "
            "one.",
            answer=_library_plain,
        ),
    ),
    "adagrad_step": (
        Misconception("eps_inside_root", _EPS_INSIDE, answer=_adagrad_eps_inside),
        Misconception(
            "step_before_accumulating",
            "your step divides by G before this step's squared gradient is added.",
            answer=_adagrad_old_sum,
        ),
        Misconception(
            "no_square_root",
            "your step divides by G itself; AdaGrad divides by a root, so the "
            "step keeps the units of the gradient.",
            answer=_adagrad_no_root,
        ),
    ),
    "rmsprop_step": (
        Misconception("eps_inside_root", _EPS_INSIDE, answer=_rmsprop_eps_inside),
        Misconception(
            "weights_swapped",
            "in your average alpha weighs the new squared gradient; alpha is "
            "the weight of the old average.",
            answer=_rmsprop_weights_swapped,
        ),
        Misconception(
            "sum_not_average",
            "your G adds up the squared gradients (AdaGrad); RMSprop forgets "
            "old ones with its moving average.",
            answer=_rmsprop_sum,
        ),
    ),
    "bias_factor": (
        Misconception(
            "one_step_short",
            "your factor is the one of the step before: it is 0 at t = 1, "
            "where M_1 is already a fraction of the gradient.",
            answer=_bias_one_step_short,
        ),
        Misconception(
            "weight_of_the_start",
            "your factor is the weight left on the zero start, the part that "
            "is missing; c_t is the part that is there.",
            answer=_bias_power_only,
        ),
    ),
    "uncorrected_first_step": (
        Misconception(
            "uphill",
            "your step goes uphill: the change of theta has the opposite sign "
            "of the gradient.",
            answer=_first_step_uphill,
        ),
        Misconception(
            "corrected",
            "your step is the corrected one (exactly lr long); the question is "
            "about the step without the bias correction.",
            answer=_first_step_corrected,
        ),
        Misconception(
            "root_forgotten",
            "the second average enters your step without its square root.",
            answer=_first_step_no_root,
        ),
    ),
    "q_adam_beta2": (
        Misconception(
            "root_ignored",
            "with your beta2 the factor is not 1: the second average enters "
            "under a square root.",
            variant=lambda: _ADAM_BETA1,
        ),
    ),
    "adam_step": (
        Misconception(
            "no_bias_correction",
            "your first steps are too short: the averages start at zero and are "
            "not corrected for it.",
            answer=_adam(correct=False),
        ),
        Misconception("eps_inside_root", _EPS_INSIDE, answer=_adam(eps_inside=True)),
        Misconception(
            "t_off_by_one",
            "your correction uses the factor of the next step: t already counts "
            "from 1 when the first step is taken.",
            answer=_adam(shift_t=1),
        ),
        Misconception(
            "corrected_state",
            "you return the corrected averages as the new state, so the next "
            "step corrects them a second time; the state holds the plain "
            "running averages.",
            answer=_adam(keep_corrected=True),
        ),
    ),
    "adadelta_step": (
        Misconception(
            "eps_outside_roots",
            "your eps is added after the square roots; in Adadelta it sits "
            "inside both, which is what lets the first step (U = 0) move.",
            answer=_adadelta(eps_outside=True),
        ),
        Misconception(
            "step_before_G",
            "your step uses G from before this step's squared gradient.",
            answer=_adadelta(old_G=True),
        ),
        Misconception(
            "lr_ignored",
            "your theta moves by Delta without the learning rate (dlcore and "
            "PyTorch scale it by lr).",
            answer=_adadelta(use_lr=False),
        ),
    ),
    "adamax_step": (
        Misconception(
            "max_corrected",
            "you bias-correct the running maximum too; a maximum is not pulled "
            "towards its zero start, only the average m is.",
            answer=_adamax(correct_u=True),
        ),
        Misconception(
            "signed_gradient",
            "your running maximum compares signed gradients; it tracks their size.",
            answer=_adamax(absolute=False),
        ),
        Misconception(
            "m_not_corrected",
            "your first average is used without its bias correction.",
            answer=_adamax(correct_m=False),
        ),
    ),
    "nadam_step": (
        Misconception(
            "product_used_before_update",
            "your step uses the product of the mu's before this step's mu_t is "
            "multiplied in.",
            answer=_nadam(product_late=True),
        ),
        Misconception("eps_inside_root", _EPS_INSIDE, answer=_nadam(eps_inside=True)),
    ),
    "momentum_weight_decay_step": (
        Misconception(
            "decoupled_decay",
            "your decay shrinks theta after the momentum step (decoupled, as in "
            "AdamW); here the penalty's gradient goes through the velocity.",
            answer=_decay_decoupled,
        ),
        Misconception(
            "decay_uphill",
            "your decay pushes the weights away from zero: the penalty's "
            "gradient has the sign of theta.",
            answer=_decay_uphill,
        ),
    ),
    "q_decay_half_life": (
        Misconception(
            "rounded_down",
            "after your number of steps the weight is still a little above "
            "half: the answer is the first whole step at or below it.",
            variant=lambda: _HALF_LIFE - 1,
        ),
    ),
    "early_stopping": (
        Misconception(
            "tie_improves",
            "your rule counts a loss exactly min_delta below the best (or equal "
            "to it, with min_delta 0) as an improvement; an improvement must be "
            "strictly better.",
            answer=_stopping(_tie_improves, _patience_reached),
        ),
        Misconception(
            "patience_exceeded",
            "you stop one epoch late: training stops at the epoch where the "
            "count of epochs without improvement reaches patience.",
            answer=_stopping(_strictly_better, _patience_exceeded),
        ),
        Misconception(
            "min_delta_ignored",
            "your rule ignores min_delta: tiny improvements reset your count.",
            answer=_stopping(_delta_ignored, _patience_reached),
        ),
        Misconception(
            "epochs_from_one",
            "your epochs are numbered from 1; they count from 0, like enumerate.",
            answer=_stopping(_strictly_better, _patience_reached, shift=1),
        ),
    ),
}
