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
import dlcore.layers
from autograder.declarations import Check, Misconception

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


# ------------------------------------------------------------- references
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


def _call_node(fn, x, gamma, beta, dout):
    """A node's gradient from the student's function: (d_x_hat, cache) -> (D,)."""
    return fn(dout * gamma, _student_cache(x, gamma, beta))


def _call_running(fn, running_mean, running_var, batches, momentum):
    mean, var = running_mean.copy(), running_var.copy()
    for batch in batches:
        mean, var = fn(mean, var, batch, momentum)
    return np.asarray(mean), np.asarray(var)


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


def _answer_call(fn):
    """An inline question: the student's zero-argument function returns the answer."""
    return fn()


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


# ------------------------------------------------------ misconceptions
#
# Wrong answers written as a student would write them; each check names the
# one a failing result matches.


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
        misconceptions=(
            Misconception(
                "variance_unbiased",
                "your variance divides by N - 1 (the unbiased estimate, ddof=1). "
                "In training the layer normalises with the batch's own variance.",
                answer=_forward_unbiased,
            ),
            Misconception(
                "eps_outside_root", _EPS_OUTSIDE, answer=_forward_eps_outside
            ),
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
        misconceptions=(
            Misconception(
                "batch_statistics",
                "your output uses the mean and variance of this x. At inference the "
                "layer uses the fixed estimates it is given, so one example's output "
                "does not depend on the others in the batch.",
                answer=_inference_batch_stats,
            ),
            Misconception(
                "eps_outside_root", _EPS_OUTSIDE, answer=_inference_eps_outside
            ),
        ),
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
        misconceptions=(
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
        misconceptions=(
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
        misconceptions=(
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
                "your dgamma multiplies by the input x; gamma scales the normalised "
                "x_hat.",
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
        misconceptions=(
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
        misconceptions=(
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
    ),
    Check(
        name="q_running_memory",
        points=1,
        make_inputs=lambda rng: {},
        call=_answer_call,
        compare=_number_near(_RUNNING_MEMORY, 0.0, "the first whole batch"),
        hint="After k updates the initial value is multiplied by the same factor "
        "k times.",
        misconceptions=(
            Misconception(
                "rounded_down",
                "after your number of batches the initial value still weighs a "
                "little over 1 %: the answer is the first whole number of batches "
                "that gets below.",
                variant=lambda: _RUNNING_MEMORY - 1,
            ),
        ),
    ),
    Check(
        name="q_batch_variance_factor",
        points=1,
        make_inputs=lambda rng: {},
        call=_answer_call,
        compare=_number_near((_BATCH - 1) / _BATCH, 1e-9, "for m = 4"),
        hint="Expand the average of (x_i - mu_B)^2 around the true mean.",
        misconceptions=(
            Misconception(
                "factor_inverted",
                "your factor is above 1, but a batch's variance underestimates the "
                "population's: its own mean is always the closest centre.",
                variant=lambda: _BATCH / (_BATCH - 1),
            ),
        ),
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
        misconceptions=(
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
        misconceptions=(
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
        misconceptions=(
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
    ),
]
