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
from autograder.assignments.mistakes.a04_batchnorm import MISCONCEPTIONS
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
        hint="Each feature is normalised with statistics of the examples in the "
        "batch: which axis holds the examples? Then ask which variance estimate "
        "the lecture uses in training, and what eps protects.",
        more_hints=(
            "The training-mode variance is the batch's own spread (the average "
            "squared deviation), not the unbiased estimate of the population's.",
            "eps keeps the quantity under the root away from zero; gamma scales and "
            "beta shifts the normalised values, one of each per feature.",
        ),
        misconceptions=MISCONCEPTIONS["batchnorm_forward"],
    ),
    Check(
        name="batchnorm_inference",
        points=1,
        make_inputs=_inference_inputs,
        call=lambda fn, x, gamma, beta, mean, var: fn(x, gamma, beta, mean, var),
        reference=lambda x, gamma, beta, mean, var: bn.batchnorm_inference(
            x, gamma, beta, mean, var
        ),
        hint="At inference the statistics are fixed: which of the arguments hold "
        "them, and which must not be recomputed?",
        more_hints=(
            "The same normalise-scale-shift as in training, with the given "
            "estimates in place of the batch's.",
        ),
        misconceptions=MISCONCEPTIONS["batchnorm_inference"],
    ),
    Check(
        name="bn_backward_var",
        points=1,
        make_inputs=_backward_inputs,
        call=_call_node,
        reference=_var_reference,
        outputs=("d_var",),
        hint="The variance feeds every x_hat_i of its feature: one term per child, "
        "added up over the batch; each local derivative comes from the power -1/2.",
        more_hints=(
            "Differentiate (v + eps) to the power -1/2: both the exponent's factor "
            "and the new power matter.",
        ),
        misconceptions=MISCONCEPTIONS["bn_backward_var"],
    ),
    Check(
        name="bn_backward_mean",
        points=1,
        make_inputs=_backward_inputs,
        call=_call_node,
        reference=_mean_reference,
        outputs=("d_mean",),
        hint="Sum over the children x_hat_i of the mean; then ask what the path "
        "through the variance contributes at the batch mean (your q_dvar_dmean).",
        misconceptions=MISCONCEPTIONS["bn_backward_mean"],
    ),
    Check(
        name="q_dvar_dmean",
        points=1,
        make_inputs=lambda rng: {},
        call=_answer_call,
        compare=_number_near(0.0, 1e-12, "differentiate v_b with s held fixed"),
        hint="Differentiate the variance with respect to mu with the s_i held fixed, "
        "then use what mu is.",
    ),
    Check(
        name="batchnorm_backward",
        points=2,
        make_inputs=_backward_inputs,
        call=_call_backward,
        reference=_backward_reference(bn.batchnorm_backward),
        outputs=("dx", "dgamma", "dbeta"),
        hint="Each x_i reaches the loss along three paths of the graph: directly "
        "through x_hat_i, through the variance and through the mean. Add one term "
        "per path; gamma and beta are shared by every example.",
        more_hints=(
            "The variance and the mean are averages over the batch, so the local "
            "derivative of each with respect to one x_i carries a 1/N.",
            "Your bn_backward_var and bn_backward_mean give the gradients at those "
            "two nodes; what is left is each node's local derivative.",
        ),
        misconceptions=MISCONCEPTIONS["batchnorm_backward"],
    ),
    Check(
        name="batchnorm_backward_compact",
        points=2,
        make_inputs=_backward_inputs,
        call=_call_backward,
        reference=_backward_reference(bn.batchnorm_backward_compact),
        outputs=("dx", "dgamma", "dbeta"),
        hint="Substitute your node gradients into the graph version and collect the "
        "common factor; the sums over the batch that appear are dbeta and dgamma.",
        misconceptions=MISCONCEPTIONS["batchnorm_backward_compact"],
    ),
    Check(
        name="running_statistics",
        points=2,
        make_inputs=_running_inputs,
        call=_call_running,
        reference=_running_reference,
        outputs=("running mean", "running var"),
        hint="An exponential moving average: momentum is the weight of the new "
        "batch. The running variance estimates the population's variance, so "
        "think about the bias of a small batch's variance.",
        more_hints=(
            "Your q_batch_variance_factor says how much a batch of m underestimates "
            "on average; undo exactly that.",
        ),
        misconceptions=MISCONCEPTIONS["running_statistics"],
    ),
    Check(
        name="q_running_memory",
        points=1,
        make_inputs=lambda rng: {},
        call=_answer_call,
        compare=_number_near(_RUNNING_MEMORY, 0.0, "the first whole batch"),
        hint="After k updates the initial value is multiplied by the same factor "
        "k times.",
        misconceptions=MISCONCEPTIONS["q_running_memory"],
    ),
    Check(
        name="q_batch_variance_factor",
        points=1,
        make_inputs=lambda rng: {},
        call=_answer_call,
        compare=_number_near((_BATCH - 1) / _BATCH, 1e-9, "for m = 4"),
        hint="Expand the average of (x_i - mu_B)^2 around the true mean.",
        misconceptions=MISCONCEPTIONS["q_batch_variance_factor"],
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
        hint="Draw the batches as training would (distinct examples per batch, in "
        "order, from the given rng); average the batch means, and correct the "
        "average batch variance for the batch size.",
        misconceptions=MISCONCEPTIONS["population_statistics"],
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
        hint="Write batchnorm_inference(x @ W.T + b) as one affine map of x: each "
        "output unit j gets its own scale; which axis of W belongs to unit j?",
        more_hints=(
            "The bias gets the same scale as the pre-activation, after the mean is "
            "taken away, then the shift.",
        ),
        misconceptions=MISCONCEPTIONS["fold_batchnorm"],
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
        hint="Diagonalise the covariance of the centred data (np.linalg.eigh), "
        "rescale each eigen-direction to unit variance, and rotate back: ZCA's W is "
        "symmetric.",
        more_hints=(
            "The covariance here is the data's own (divided by N); eps goes with "
            "the eigenvalues before any root.",
        ),
        misconceptions=MISCONCEPTIONS["zca_whitening"],
    ),
]
