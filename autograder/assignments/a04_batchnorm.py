"""Graded checks of assignment 04_batchnorm (solutions/04_batchnorm/).

The students' backward functions take a cache in the notebook's format (a
dict with ``x``, ``mean``, ``var``, ``x_hat``, ``gamma`` and ``eps``); the
checks build it themselves, so each backward part is graded on its own,
independently of the student's forward. The steps of the derivation are
checked one node at a time (the gradient at the variance, then at the
mean), before the whole backward pass and its compact form. The running
averages are compared with :class:`dlcore.layers.BatchNorm`'s buffers over
a sequence of batches; the ZCA whitening of the inputs with a plain NumPy
reference (dlcore has none). The inline questions are zero-argument
functions whose value is compared with the number the derivation gives.
"""

import numpy as np

import dlcore.functional.batchnorm as bn
from autograder.assignments.references.a04_batchnorm import (
    _BATCH,
    _RUNNING_MEMORY,
    _backward_reference,
    _fold_reference,
    _forward_reference,
    _mean_reference,
    _number_near,
    _population_reference,
    _running_reference,
    _var_reference,
    _whitening_reference,
)
from autograder.checks import Check

# dlcore functions the graded cells ask the students to write themselves.
WITHHELD = [
    "dlcore.functional.batchnorm_forward",
    "dlcore.functional.batchnorm_backward",
    "dlcore.functional.batchnorm.batchnorm_backward_compact",
    "dlcore.functional.batchnorm.batchnorm_inference",
    "dlcore.functional.batchnorm.batchnorm_affine",
]

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


def _running_inputs(rng):
    d = int(rng.integers(2, 6))
    batches = [
        rng.normal(rng.uniform(-2, 2, d), rng.uniform(0.5, 3, d), size=(m, d))
        for m in rng.integers(2, 12, size=int(rng.integers(3, 8)))
    ]
    return {
        "running_mean": rng.normal(size=d),
        "running_var": rng.uniform(0.5, 2.0, d),
        "batches": batches,
        "momentum": float(rng.uniform(0.05, 0.5)),
    }


def _whitening_inputs(rng):
    n, d = int(rng.integers(40, 200)), int(rng.integers(2, 6))
    mixing = rng.normal(size=(d, d)) * rng.uniform(0.2, 3.0, d)
    x = rng.normal(size=(n, d)) @ mixing + rng.uniform(-3, 3, d)
    return {"x": x, "eps": float(rng.choice([1e-5, 1e-2]))}


# ---------------------------------------------------------------- calls
#
# The notebook's cache, and how each answer is run on the inputs.


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


def _call_node(fn, x, gamma, beta, dout):
    """A node's gradient from the student's function: (d_x_hat, cache) -> (D,)."""
    return fn(dout * gamma, _student_cache(x, gamma, beta))


def _call_running(fn, running_mean, running_var, batches, momentum):
    mean, var = running_mean.copy(), running_var.copy()
    for batch in batches:
        mean, var = fn(mean, var, batch, momentum)
    return np.asarray(mean), np.asarray(var)


def _answer_call(fn):
    """An inline question: the student's zero-argument function returns the answer."""
    return fn()


def _call_backward(fn, x, gamma, beta, dout):
    return tuple(fn(dout, _student_cache(x, gamma, beta)))


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
        name="bn_backward_var",
        points=1,
        make_inputs=_backward_inputs,
        call=_call_node,
        reference=_var_reference,
        outputs=("d_var",),
        hint="One term per child x_hat_i, summed over the batch (axis=0); the local "
        "derivative comes from the power -1/2 of (var + eps).",
    ),
    Check(
        name="bn_backward_mean",
        points=1,
        make_inputs=_backward_inputs,
        call=_call_node,
        reference=_mean_reference,
        outputs=("d_mean",),
        hint="Sum over the children x_hat_i (axis=0); think about what the path "
        "through the variance contributes.",
    ),
    Check(
        name="q_dvar_dmean",
        points=1,
        make_inputs=lambda rng: {},
        call=_answer_call,
        compare=_number_near(0.0, 1e-12, "differentiate v_b with s held fixed"),
        hint="Differentiate (1/n) sum_i (s_i - mu)^2 with respect to mu and use "
        "the definition of mu.",
    ),
    Check(
        name="batchnorm_backward",
        points=2,
        make_inputs=_backward_inputs,
        call=_call_backward,
        reference=_backward_reference(bn.batchnorm_backward),
        outputs=("dx", "dgamma", "dbeta"),
        hint="Three paths into each x_i: through x_hat_i, through the variance and "
        "through the mean, each with its local derivative (the last two carry a "
        "1/N); dgamma and dbeta are sums over axis 0.",
    ),
    Check(
        name="batchnorm_backward_compact",
        points=2,
        make_inputs=_backward_inputs,
        call=_call_backward,
        reference=_backward_reference(bn.batchnorm_backward_compact),
        outputs=("dx", "dgamma", "dbeta"),
        hint="Substitute d_var and d_mean into the graph version and collect the "
        "common factor; N is the batch size, and the sums over the batch are "
        "dbeta and dgamma.",
    ),
    Check(
        name="running_statistics",
        points=2,
        make_inputs=_running_inputs,
        call=_call_running,
        reference=_running_reference,
        outputs=("running mean", "running var"),
        hint="(1 - momentum) * old + momentum * batch statistic, with the batch "
        "variance made unbiased: multiplied by m / (m - 1), m the batch size.",
    ),
    Check(
        name="q_running_memory",
        points=1,
        make_inputs=lambda rng: {},
        call=_answer_call,
        compare=_number_near(_RUNNING_MEMORY, 0.0, "the first whole batch"),
        hint="After k updates the initial value is multiplied by the same factor "
        "k times.",
    ),
    Check(
        name="q_batch_variance_factor",
        points=1,
        make_inputs=lambda rng: {},
        call=_answer_call,
        compare=_number_near((_BATCH - 1) / _BATCH, 1e-9, "for m = 4"),
        hint="Expand the average of (x_i - mu_B)^2 around the true mean.",
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
    Check(
        name="zca_whitening",
        points=2,
        make_inputs=_whitening_inputs,
        call=lambda fn, x, eps: tuple(fn(x, eps)),
        reference=_whitening_reference,
        rtol=1e-6,
        atol=1e-9,
        outputs=("mean", "W"),
        hint="The covariance divides by N; np.linalg.eigh gives its eigenvalues and "
        "eigenvectors U; W = U diag(1 / sqrt(eigenvalues + eps)) U^T is symmetric.",
    ),
]
