"""Graded checks of assignment 04_batchnorm (solutions/04_batchnorm/).

The students' backward functions take a cache in the notebook's format (a
dict with ``x``, ``mean``, ``var``, ``x_hat``, ``gamma`` and ``eps``); the
checks build it themselves, so each backward part is graded on its own,
independently of the student's forward.
"""

import numpy as np

import dlcore.functional.batchnorm as bn
import dlcore.layers
from autograder.checks import Check

CACHE_KEYS = ("x", "mean", "var", "x_hat", "gamma", "eps")

# --------------------------------------------------------------- inputs


def _batch(rng):
    """A batch (N, D) whose features have very different means and scales."""
    n, d = int(rng.integers(3, 10)), int(rng.integers(2, 6))
    x = rng.normal(loc=rng.uniform(-4, 4, d), scale=rng.uniform(0.2, 5, d), size=(n, d))
    return x, rng.uniform(0.5, 2.0, d), rng.normal(size=d)


def _forward_inputs(rng):
    x, gamma, beta = _batch(rng)
    return {"x": x, "gamma": gamma, "beta": beta}


def _inference_inputs(rng):
    x, gamma, beta = _batch(rng)
    d = x.shape[1]
    return {
        "x": x,
        "gamma": gamma,
        "beta": beta,
        "mean": rng.normal(size=d),
        "var": rng.uniform(0.1, 9.0, d),
    }


def _backward_inputs(rng):
    x, gamma, beta = _batch(rng)
    return {"x": x, "gamma": gamma, "beta": beta, "dout": rng.normal(size=x.shape)}


def _population_inputs(rng):
    n, d = int(rng.integers(20, 60)), int(rng.integers(2, 5))
    x = rng.normal(loc=rng.uniform(-2, 2, d), scale=rng.uniform(0.5, 3, d), size=(n, d))
    return {
        "x": x,
        "batch_size": int(rng.integers(2, 10)),
        "n_batches": int(rng.integers(5, 30)),
        "rng": np.random.default_rng(int(rng.integers(2**31))),
    }


def _fold_inputs(rng):
    d_in, d_out = int(rng.integers(2, 7)), int(rng.integers(2, 6))
    return {
        "W": rng.normal(size=(d_out, d_in)),
        "b": rng.normal(size=d_out),
        "gamma": rng.uniform(0.5, 2.0, d_out),
        "beta": rng.normal(size=d_out),
        "mean": rng.normal(size=d_out),
        "var": rng.uniform(0.1, 9.0, d_out),
    }


# ------------------------------------------------- the notebook's cache


def _student_cache(x, gamma, beta, eps=1e-5):
    """The notebook's cache dict for a batch.

    Plain NumPy on purpose: it is built while the student's function runs,
    where dlcore's batchnorm_forward is withheld during autograding.
    """
    mean = x.mean(axis=0)
    var = np.mean((x - mean) ** 2, axis=0)
    x_hat = (x - mean) / np.sqrt(var + eps)
    return {
        "x": x,
        "mean": mean,
        "var": var,
        "x_hat": x_hat,
        "gamma": gamma,
        "eps": eps,
    }


def _call_forward(fn, x, gamma, beta):
    out, cache = fn(x, gamma, beta)
    if not isinstance(cache, dict) or any(k not in cache for k in CACHE_KEYS):
        got = sorted(cache) if isinstance(cache, dict) else type(cache).__name__
        raise ValueError(
            f"the cache must be a dict with keys {list(CACHE_KEYS)} (the backward "
            f"functions rely on them), got {got}"
        )
    return out, cache["mean"], cache["var"], cache["x_hat"]


def _forward_reference(x, gamma, beta):
    out, cache = bn.batchnorm_forward(x, gamma, beta)
    return out, cache.mean, cache.var, cache.x_hat


def _var_mean_reference(x, gamma, beta, dout):
    """Steps 1 and 2 of the lecture's graph, from dlcore's cache."""
    _, cache = bn.batchnorm_forward(x, gamma, beta)
    d_x_hat = dout * gamma
    d_var = -0.5 * np.sum(d_x_hat * cache.centered, axis=0) * cache.inv_std**3
    d_mean = -np.sum(d_x_hat, axis=0) * cache.inv_std
    return d_var, d_mean


def _backward_reference(backward):
    def reference(x, gamma, beta, dout):
        _, cache = bn.batchnorm_forward(x, gamma, beta)
        return tuple(backward(dout, cache))

    return reference


def _call_backward(fn, x, gamma, beta, dout):
    return tuple(fn(dout, _student_cache(x, gamma, beta)))


def _population_reference(x, batch_size, n_batches, rng):
    layer = dlcore.layers.BatchNorm()
    dlcore.layers.estimate_population_statistics(
        layer, x, batch_size=batch_size, n_batches=n_batches, rng=rng
    )
    return layer.population_mean, layer.population_var


def _fold_reference(W, b, gamma, beta, mean, var):
    scale, shift = bn.batchnorm_affine(gamma, beta, mean, var)
    return scale[:, None] * W, scale * b + shift


# ------------------------------------------------------------------ checks

CHECKS = [
    Check(
        name="batchnorm_forward",
        points=2,
        make_inputs=_forward_inputs,
        call=_call_forward,
        reference=_forward_reference,
        outputs=("out", 'cache["mean"]', 'cache["var"]', 'cache["x_hat"]'),
        hint="Statistics over the batch axis (axis=0), one per feature; the variance "
        "divides by N (np.var's default, not ddof=1), and eps goes inside the square "
        "root: (x - mean) / sqrt(var + eps).",
    ),
    Check(
        name="batchnorm_inference",
        points=1,
        make_inputs=_inference_inputs,
        call=lambda fn, x, gamma, beta, mean, var: fn(x, gamma, beta, mean, var),
        reference=lambda x, gamma, beta, mean, var: bn.batchnorm_inference(
            x, gamma, beta, mean, var
        ),
        hint="Use the given mean and var, not the statistics of x: "
        "gamma * (x - mean) / sqrt(var + eps) + beta.",
    ),
    Check(
        name="bn_backward_var_mean",
        points=1,
        make_inputs=_backward_inputs,
        call=lambda fn, x, gamma, beta, dout: tuple(
            fn(dout * gamma, _student_cache(x, gamma, beta))
        ),
        reference=_var_mean_reference,
        outputs=("d_var", "d_mean"),
        hint="d_var = -1/2 * sum_i d_x_hat_i * (x_i - mean) * (var + eps)^(-3/2) and "
        "d_mean = -sum_i d_x_hat_i * (var + eps)^(-1/2), sums over the batch (axis=0); "
        "the path from the mean through the variance contributes zero.",
    ),
    Check(
        name="batchnorm_backward",
        points=2,
        make_inputs=_backward_inputs,
        call=_call_backward,
        reference=_backward_reference(bn.batchnorm_backward),
        outputs=("dx", "dgamma", "dbeta"),
        hint="d_x_hat = dout * gamma; then dx = d_x_hat / sqrt(var + eps) "
        "+ (2/N) d_var (x - mean) + d_mean / N, with N the batch size; "
        "dgamma = sum(dout * x_hat), dbeta = sum(dout), both over axis 0.",
    ),
    Check(
        name="batchnorm_backward_compact",
        points=2,
        make_inputs=_backward_inputs,
        call=_call_backward,
        reference=_backward_reference(bn.batchnorm_backward_compact),
        outputs=("dx", "dgamma", "dbeta"),
        hint="dx = gamma / (N sqrt(var + eps)) * (N dout - dbeta - x_hat * dgamma); "
        "N is the batch size and the two sums are over the batch (axis 0).",
    ),
    Check(
        name="population_statistics",
        points=1,
        make_inputs=_population_inputs,
        call=lambda fn, x, batch_size, n_batches, rng: tuple(
            fn(x, batch_size, n_batches, rng)
        ),
        reference=_population_reference,
        outputs=("mean", "var"),
        hint="One rng.choice(len(x), size=batch_size, replace=False) per batch, in "
        "order; average the batch means, and multiply the average biased batch "
        "variance by m / (m - 1) with m = batch_size.",
    ),
    Check(
        name="fold_batchnorm",
        points=2,
        make_inputs=_fold_inputs,
        call=lambda fn, W, b, gamma, beta, mean, var: tuple(
            fn(W, b, gamma, beta, mean, var)
        ),
        reference=_fold_reference,
        outputs=("W_folded", "b_folded"),
        hint="a = gamma / sqrt(var + eps) scales row j of W (W has shape "
        "(D_out, D_in): a[:, None] * W); the bias becomes a * (b - mean) + beta.",
    ),
]

# dlcore functions the graded cells ask the students to write themselves.
WITHHELD = [
    "dlcore.functional.batchnorm_forward",
    "dlcore.functional.batchnorm_backward",
    "dlcore.functional.batchnorm.batchnorm_backward_compact",
    "dlcore.functional.batchnorm.batchnorm_inference",
    "dlcore.functional.batchnorm.batchnorm_affine",
]
