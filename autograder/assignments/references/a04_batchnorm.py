"""Reference functions and custom comparisons of 04_batchnorm.

The parent's side of ``autograder/assignments/a04_batchnorm.py``: what only
the grading process computes (expected outputs, judgements of a result).
The re-check's child never runs it, so it may use anything of dlcore.
"""

import numpy as np

import dlcore.functional.batchnorm as bn
import dlcore.layers


def _forward_reference(x, gamma, beta):
    out, cache = bn.batchnorm_forward(x, gamma, beta)
    return out, cache.mean, cache.var, cache.x_hat


def _var_reference(x, gamma, beta, dout):
    """Step 1 of the lecture's graph (the variance node), from dlcore's cache."""
    _, cache = bn.batchnorm_forward(x, gamma, beta)
    d_x_hat = dout * gamma
    return -0.5 * np.sum(d_x_hat * cache.centered, axis=0) * cache.inv_std**3


def _mean_reference(x, gamma, beta, dout):
    """Step 2 of the lecture's graph (the mean node), from dlcore's cache."""
    _, cache = bn.batchnorm_forward(x, gamma, beta)
    return -np.sum(dout * gamma, axis=0) * cache.inv_std


def _running_reference(running_mean, running_var, batches, momentum):
    layer = dlcore.layers.BatchNorm(momentum=momentum)
    layer.build((len(running_mean),))
    layer.buffers["running_mean"][...] = running_mean
    layer.buffers["running_var"][...] = running_var
    for batch in batches:
        layer.forward(batch, training=True)
    return layer.buffers["running_mean"].copy(), layer.buffers["running_var"].copy()


def _whitening_reference(x, eps):
    """ZCA: W = U diag(1 / sqrt(lambda + eps)) U^T of the biased covariance."""
    mean = x.mean(axis=0)
    centered = x - mean
    eigenvalues, eigenvectors = np.linalg.eigh(centered.T @ centered / len(x))
    return mean, (eigenvectors / np.sqrt(eigenvalues + eps)) @ eigenvectors.T


def _number_near(expected, tolerance, hint):
    """A compare for a numeric answer: within ``tolerance`` of ``expected``."""

    def compare(_, received):
        try:
            value = float(received)
        except (TypeError, ValueError):
            return f"expected a number, received {type(received).__name__}"
        if abs(value - expected) <= tolerance:
            return None
        return f"{value:g} is not the value the derivation gives ({hint})"

    return compare


# The inline questions' answers, from the derivations in the notebook.
_MOMENTUM = 0.1  # q_running_memory: first k with (1 - momentum)^k < 0.01


_RUNNING_MEMORY = int(np.ceil(np.log(0.01) / np.log(1 - _MOMENTUM)))


_BATCH = 4  # q_batch_variance_factor: E[var_B] / sigma^2 = (m - 1) / m


def _backward_reference(backward):
    def reference(x, gamma, beta, dout):
        _, cache = bn.batchnorm_forward(x, gamma, beta)
        return tuple(backward(dout, cache))

    return reference


def _population_reference(x, batch_size, n_batches, rng):
    layer = dlcore.layers.BatchNorm()
    dlcore.layers.estimate_population_statistics(
        layer, x, batch_size=batch_size, n_batches=n_batches, rng=rng
    )
    return layer.population_mean, layer.population_var


def _fold_reference(W, b, gamma, beta, mean, var):
    scale, shift = bn.batchnorm_affine(gamma, beta, mean, var)
    return scale[:, None] * W, scale * b + shift
