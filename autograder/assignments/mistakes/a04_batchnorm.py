"""Known wrong answers of assignment 04_batchnorm (solutions/04_batchnorm/).

Each check of ``autograder/assignments/a04_batchnorm.py`` that declares
misconceptions finds them in ``MISCONCEPTIONS`` under its name: the wrong
answer, written as a student would write it, and the message that names the
mistake without giving the answer (``autograder/AUTHORING.md`` § 1b).
"""

from __future__ import annotations

import numpy as np

from autograder.assignments.references.a04_batchnorm import _BATCH, _RUNNING_MEMORY
from autograder.declarations import Misconception


def _cache_dict(x, mean, var, x_hat, gamma, eps):
    return dict(x=x, mean=mean, var=var, x_hat=x_hat, gamma=gamma, eps=eps)


def _forward_unbiased(x, gamma, beta, eps=1e-5):
    mean = x.mean(axis=0)
    var = x.var(axis=0, ddof=1)
    x_hat = (x - mean) / np.sqrt(var + eps)
    return gamma * x_hat + beta, _cache_dict(x, mean, var, x_hat, gamma, eps)


def _forward_eps_outside(x, gamma, beta, eps=1e-5):
    mean = x.mean(axis=0)
    var = x.var(axis=0)
    x_hat = (x - mean) / (np.sqrt(var) + eps)
    return gamma * x_hat + beta, _cache_dict(x, mean, var, x_hat, gamma, eps)


def _forward_feature_axis(x, gamma, beta, eps=1e-5):
    mean = x.mean(axis=1, keepdims=True)
    var = x.var(axis=1, keepdims=True)
    x_hat = (x - mean) / np.sqrt(var + eps)
    cache = _cache_dict(x, mean.ravel(), var.ravel(), x_hat, gamma, eps)
    return gamma * x_hat + beta, cache


def _forward_no_affine(x, gamma, beta, eps=1e-5):
    mean = x.mean(axis=0)
    var = x.var(axis=0)
    x_hat = (x - mean) / np.sqrt(var + eps)
    return x_hat, _cache_dict(x, mean, var, x_hat, gamma, eps)


def _forward_swapped_affine(x, gamma, beta, eps=1e-5):
    mean = x.mean(axis=0)
    var = x.var(axis=0)
    x_hat = (x - mean) / np.sqrt(var + eps)
    return beta * x_hat + gamma, _cache_dict(x, mean, var, x_hat, gamma, eps)


def _inference_batch_stats(x, gamma, beta, mean, var, eps=1e-5):
    return gamma * (x - x.mean(axis=0)) / np.sqrt(x.var(axis=0) + eps) + beta


def _inference_eps_outside(x, gamma, beta, mean, var, eps=1e-5):
    return gamma * (x - mean) / (np.sqrt(var) + eps) + beta


def _node_parts(cache):
    centered = cache["x"] - cache["mean"]
    return centered, 1.0 / np.sqrt(cache["var"] + cache["eps"])


def _var_no_half(d_x_hat, cache):
    centered, inv_std = _node_parts(cache)
    return -np.sum(d_x_hat * centered, axis=0) * inv_std**3


def _var_first_power(d_x_hat, cache):
    centered, inv_std = _node_parts(cache)
    return -0.5 * np.sum(d_x_hat * centered, axis=0) * inv_std


def _var_averaged(d_x_hat, cache):
    centered, inv_std = _node_parts(cache)
    return -0.5 * np.mean(d_x_hat * centered, axis=0) * inv_std**3


def _mean_averaged(d_x_hat, cache):
    return -np.mean(d_x_hat, axis=0) / np.sqrt(cache["var"] + cache["eps"])


def _mean_sign(d_x_hat, cache):
    return np.sum(d_x_hat, axis=0) / np.sqrt(cache["var"] + cache["eps"])


def _backward_with(dx_paths, dgamma_of=None, dbeta_of=None):
    """A backward pass that keeps only some paths into x, or sums wrongly."""

    def backward(dout, cache):
        n = dout.shape[0]
        centered, inv_std = _node_parts(cache)
        d_x_hat = dout * cache["gamma"]
        d_var = -0.5 * np.sum(d_x_hat * centered, axis=0) * inv_std**3
        d_mean = -np.sum(d_x_hat, axis=0) * inv_std
        paths = {
            "direct": d_x_hat * inv_std,
            "variance": (2.0 / n) * d_var * centered,
            "mean": d_mean / n,
        }
        dx = sum(paths[name] for name in dx_paths)
        dgamma = (dgamma_of or _sum_x_hat)(dout, cache)
        dbeta = (dbeta_of or _sum_batch)(dout, cache)
        return dx, dgamma, dbeta

    return backward


def _sum_x_hat(dout, cache):
    return np.sum(dout * cache["x_hat"], axis=0)


def _sum_batch(dout, cache):
    return np.sum(dout, axis=0)


def _sum_x(dout, cache):
    return np.sum(dout * cache["x"], axis=0)


def _mean_batch(dout, cache):
    return np.mean(dout, axis=0)


_ALL_PATHS = ("direct", "variance", "mean")


def _compact_without_n(dout, cache):
    n = dout.shape[0]
    dbeta = np.sum(dout, axis=0)
    dgamma = np.sum(dout * cache["x_hat"], axis=0)
    scale = cache["gamma"] / np.sqrt(cache["var"] + cache["eps"])
    return scale * (n * dout - dbeta - cache["x_hat"] * dgamma), dgamma, dbeta


def _running_biased(running_mean, running_var, x, momentum=0.1):
    new_mean = (1 - momentum) * running_mean + momentum * x.mean(axis=0)
    return new_mean, (1 - momentum) * running_var + momentum * x.var(axis=0)


def _running_swapped(running_mean, running_var, x, momentum=0.1):
    m = x.shape[0]
    new_mean = momentum * running_mean + (1 - momentum) * x.mean(axis=0)
    unbiased = x.var(axis=0) * m / (m - 1)
    return new_mean, momentum * running_var + (1 - momentum) * unbiased


def _population(correct_variance, replace=False):
    def population(x, batch_size, n_batches, rng):
        means, variances = [], []
        for _ in range(n_batches):
            batch = x[rng.choice(len(x), size=batch_size, replace=replace)]
            means.append(batch.mean(axis=0))
            variances.append(batch.var(axis=0))
        factor = batch_size / (batch_size - 1) if correct_variance else 1.0
        return np.mean(means, axis=0), factor * np.mean(variances, axis=0)

    return population


def _fold_ignores_mean(W, b, gamma, beta, mean, var, eps=1e-5):
    scale = gamma / np.sqrt(var + eps)
    return scale[:, None] * W, scale * b + beta


def _fold_bias_unscaled(W, b, gamma, beta, mean, var, eps=1e-5):
    scale = gamma / np.sqrt(var + eps)
    return scale[:, None] * W, b - scale * mean + beta


def _fold_no_root(W, b, gamma, beta, mean, var, eps=1e-5):
    scale = gamma / (var + eps)
    return scale[:, None] * W, scale * (b - mean) + beta


def _zca_unbiased(x, eps=1e-5):
    mean = x.mean(axis=0)
    eigenvalues, vectors = np.linalg.eigh(np.cov(x, rowvar=False))
    return mean, (vectors / np.sqrt(eigenvalues + eps)) @ vectors.T


def _zca_pca(x, eps=1e-5):
    mean = x.mean(axis=0)
    centered = x - mean
    eigenvalues, vectors = np.linalg.eigh(centered.T @ centered / len(x))
    return mean, (vectors / np.sqrt(eigenvalues + eps)).T


def _zca_eps_outside(x, eps=1e-5):
    mean = x.mean(axis=0)
    centered = x - mean
    eigenvalues, vectors = np.linalg.eigh(centered.T @ centered / len(x))
    return mean, (vectors / (np.sqrt(eigenvalues) + eps)) @ vectors.T


_EPS_OUTSIDE = (
    "eps is added after the square root. It is there to keep the variance "
    "itself away from zero: look again at where the lecture adds it."
)

# ------------------------------------------------------------------ checks


# ------------------------------------------------------------ per check

MISCONCEPTIONS = {
    "batchnorm_forward": (
        Misconception(
            "variance_unbiased",
            "your variance divides by N - 1 (the unbiased estimate, ddof=1). "
            "In training the layer normalises with the batch's own variance.",
            answer=_forward_unbiased,
        ),
        Misconception("eps_outside_root", _EPS_OUTSIDE, answer=_forward_eps_outside),
        Misconception(
            "statistics_per_example",
            "your mean and variance are taken across the features of each "
            "example; batch normalisation takes them across the examples, one "
            "per feature.",
            answer=_forward_feature_axis,
        ),
        Misconception(
            "no_scale_shift",
            "your output is the normalised x_hat itself: gamma and beta, the "
            "layer's learned scale and shift, are not applied.",
            answer=_forward_no_affine,
        ),
        Misconception(
            "scale_shift_swapped",
            "gamma and beta play each other's part in your output: gamma is the "
            "scale, beta the shift.",
            answer=_forward_swapped_affine,
        ),
    ),
    "batchnorm_inference": (
        Misconception(
            "batch_statistics",
            "your output uses the mean and variance of this x. At inference the "
            "layer uses the fixed estimates it is given, so one example's output "
            "does not depend on the others in the batch.",
            answer=_inference_batch_stats,
        ),
        Misconception("eps_outside_root", _EPS_OUTSIDE, answer=_inference_eps_outside),
    ),
    "bn_backward_var": (
        Misconception(
            "missing_half",
            "your d_var is twice too large: the factor that comes down from the "
            "exponent -1/2 is missing.",
            answer=_var_no_half,
        ),
        Misconception(
            "wrong_power",
            "the power of (var + eps) in your d_var is the one of x_hat itself, "
            "not of its derivative: differentiating lowers the exponent by one.",
            answer=_var_first_power,
        ),
        Misconception(
            "averaged_over_batch",
            "your d_var is N times too small: did you average over the batch? "
            "A node used by N children collects the sum of their gradients.",
            answer=_var_averaged,
        ),
    ),
    "bn_backward_mean": (
        Misconception(
            "averaged_over_batch",
            "your d_mean is N times too small: did you average over the batch? "
            "The mean feeds every x_hat_i, so their gradients add up.",
            answer=_mean_averaged,
        ),
        Misconception(
            "sign_flipped",
            "your d_mean has the wrong sign: x_hat falls when the mean rises.",
            answer=_mean_sign,
        ),
    ),
    "batchnorm_backward": (
        Misconception(
            "statistics_as_constants",
            "your dx treats the batch mean and variance as constants: it keeps "
            "only the direct path through x_hat. Both statistics depend on every "
            "x_i of the batch.",
            answer=_backward_with(("direct",)),
        ),
        Misconception(
            "no_mean_path",
            "your dx leaves out the path through the batch mean.",
            answer=_backward_with(("direct", "variance")),
        ),
        Misconception(
            "no_variance_path",
            "your dx leaves out the path through the batch variance.",
            answer=_backward_with(("direct", "mean")),
        ),
        Misconception(
            "dgamma_uses_x",
            "your dgamma multiplies by the input x; gamma scales the normalised x_hat.",
            answer=_backward_with(_ALL_PATHS, dgamma_of=_sum_x),
        ),
        Misconception(
            "dbeta_averaged",
            "your dbeta is N times too small: did you average over the batch? A "
            "parameter shared by every example collects the sum of their "
            "gradients.",
            answer=_backward_with(_ALL_PATHS, dbeta_of=_mean_batch),
        ),
    ),
    "batchnorm_backward_compact": (
        Misconception(
            "statistics_as_constants",
            "your dx treats the batch mean and variance as constants: both "
            "depend on every x_i of the batch.",
            answer=_backward_with(("direct",)),
        ),
        Misconception(
            "missing_batch_size",
            "your dx is N times too large: the 1/N that the mean and the variance "
            "bring is lost in the common factor.",
            answer=_compact_without_n,
        ),
        Misconception(
            "dbeta_averaged",
            "your dbeta is N times too small: a parameter shared by every "
            "example collects the sum of their gradients.",
            answer=_backward_with(_ALL_PATHS, dbeta_of=_mean_batch),
        ),
    ),
    "running_statistics": (
        Misconception(
            "biased_batch_variance",
            "your running variance averages the batch's biased variance, which "
            "underestimates the population's for small batches (your "
            "q_batch_variance_factor).",
            answer=_running_biased,
        ),
        Misconception(
            "momentum_swapped",
            "momentum weighs the old average in your update; here it is the "
            "weight of the new batch.",
            answer=_running_swapped,
        ),
    ),
    "q_running_memory": (
        Misconception(
            "rounded_down",
            "after your number of batches the initial value still weighs a "
            "little over 1 %: the answer is the first whole number of batches "
            "that gets below.",
            variant=lambda: _RUNNING_MEMORY - 1,
        ),
    ),
    "q_batch_variance_factor": (
        Misconception(
            "factor_inverted",
            "your factor is above 1, but a batch's variance underestimates the "
            "population's: its own mean is always the closest centre.",
            variant=lambda: _BATCH / (_BATCH - 1),
        ),
    ),
    "population_statistics": (
        Misconception(
            "biased_batch_variance",
            "your variance is the plain average of the batches' variances, "
            "which underestimates the population's for batches of m.",
            answer=_population(correct_variance=False),
        ),
        Misconception(
            "with_replacement",
            "your batches are drawn with replacement; a training batch holds "
            "distinct examples (and the draws must be the same as training's).",
            answer=_population(correct_variance=True, replace=True),
        ),
    ),
    "fold_batchnorm": (
        Misconception(
            "bias_ignores_mean",
            "your folded bias leaves the running mean out: the normalisation "
            "subtracts it from the whole pre-activation, bias included.",
            answer=_fold_ignores_mean,
        ),
        Misconception(
            "bias_not_scaled",
            "your folded bias adds b unscaled, but the normalisation scales the "
            "whole pre-activation, b included.",
            answer=_fold_bias_unscaled,
        ),
        Misconception(
            "variance_not_std",
            "your scale divides by the variance; the normalisation divides by a "
            "standard deviation.",
            answer=_fold_no_root,
        ),
    ),
    "zca_whitening": (
        Misconception(
            "unbiased_covariance",
            "your covariance divides by N - 1 (np.cov's default); the lecture "
            "whitens with the data's own covariance.",
            answer=_zca_unbiased,
        ),
        Misconception(
            "pca_whitening",
            "your W rescales the eigen-directions but does not rotate back: that "
            "is PCA whitening. ZCA's W is symmetric.",
            answer=_zca_pca,
        ),
        Misconception("eps_outside_root", _EPS_OUTSIDE, answer=_zca_eps_outside),
    ),
}
