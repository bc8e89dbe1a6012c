"""Graded checks of assignment 05_dropout (solutions/05_dropout/).

Randomised functions receive their own ``numpy.random.Generator``, made from
the check's seed, so the student's code and the dlcore reference draw the
same numbers (the notebook fixes how: one ``rng.random(x.shape)`` per
dropout layer and sample, in order).
"""

import itertools

import numpy as np

import dlcore.functional as F
from autograder.checks import Check

# --------------------------------------------------------------- inputs


def _generator(rng):
    return np.random.default_rng(int(rng.integers(2**31)))


def _forward_inputs(rng):
    shape = (int(rng.integers(3, 9)), int(rng.integers(4, 12)))
    return {
        "x": rng.normal(size=shape),
        "rate": float(rng.choice([0.1, 0.25, 0.5, 0.8])),
        "rng": _generator(rng),
    }


def _backward_inputs(rng):
    shape = (int(rng.integers(3, 9)), int(rng.integers(4, 12)))
    keep = float(rng.choice([0.2, 0.5, 0.75, 0.9]))
    return {
        "dout": rng.normal(size=shape),
        "mask": (rng.random(shape) < keep) / keep,  # the cache of the forward pass
    }


def _subnetwork_inputs(rng):
    return {"n": int(rng.integers(1, 8)), "p": float(rng.uniform(0.2, 0.9))}


def _nwgm_inputs(rng):
    n = int(rng.integers(2, 8))
    masks, probs = _enumerate_subnetworks(n, float(rng.uniform(0.2, 0.9)))
    # Moderate scores: 1 - O_k stays far enough from 0 that np.log(1 - O)
    # and np.log1p(-O) agree to the tolerance.
    w, x, b = rng.normal(0, 1.5, n), rng.normal(size=n), rng.normal()
    scores = masks @ (w * x) + b
    return {"outputs": 1 / (1 + np.exp(-scores)), "probs": probs}


def _params(rng, sizes):
    return [
        (
            rng.normal(0, 1 / np.sqrt(n_in), size=(n_out, n_in)),
            rng.normal(0, 0.1, n_out),
        )
        for n_in, n_out in zip(sizes[:-1], sizes[1:], strict=True)
    ]


def _network_sizes(rng):
    depth = int(rng.integers(2, 4))  # number of weight layers
    return [int(rng.integers(3, 8)) for _ in range(depth + 1)]


def _scaling_inputs(rng):
    return {
        "params": _params(rng, _network_sizes(rng)),
        "p": float(rng.uniform(0.2, 0.9)),
    }


def _mc_inputs(rng):
    sizes = _network_sizes(rng)
    return {
        "x": rng.normal(size=(int(rng.integers(3, 8)), sizes[0])),
        "params": _params(rng, sizes),
        "rate": float(rng.choice([0.2, 0.5])),
        "n_samples": int(rng.integers(2, 8)),
        "rng": _generator(rng),
    }


# ----------------------------------------------------------- references


def _forward_reference(x, rate, rng):
    return F.dropout_forward(x, rate, rng)


def _call_forward(fn, x, rate, rng):
    out, mask = fn(x, rate, rng)
    return out, mask


def _enumerate_subnetworks(n, p):
    masks = np.array(list(itertools.product([0.0, 1.0], repeat=n))).reshape(2**n, n)
    kept = masks.sum(axis=1)
    return masks, p**kept * (1 - p) ** (n - kept)


def _nwgm_reference(outputs, probs):
    G = np.exp(np.sum(probs * np.log(outputs)))
    G_prime = np.exp(np.sum(probs * np.log1p(-outputs)))
    return G, G_prime, G / (G + G_prime)


def _flat(params):
    return tuple(a for pair in params for a in pair)


def _scaling_reference(params, p):
    return _flat([params[0]] + [(p * W, b) for W, b in params[1:]])


def _call_scaling(fn, params, p):
    originals = [a.copy() for a in _flat(params)]
    result = fn(params, p)
    if not all(
        np.array_equal(a, b) for a, b in zip(originals, _flat(params), strict=True)
    ):
        raise ValueError("weight_scaled_params modified the params it was given")
    if len(result) != len(params):
        raise ValueError(
            f"expected a list of {len(params)} (W, b) pairs, got {len(result)} items"
        )
    return _flat(result)


def _mc_reference(x, params, rate, n_samples, rng):
    total = 0.0
    for _ in range(n_samples):
        h = x
        for W, b in params[:-1]:
            h, _ = F.relu_forward(h @ W.T + b)
            h, _ = F.dropout_forward(h, rate, rng)
        W, b = params[-1]
        total = total + F.softmax_forward(h @ W.T + b)[0]
    return total / n_samples


# ------------------------------------------------------------------ checks

CHECKS = [
    Check(
        name="dropout_forward",
        points=2,
        make_inputs=_forward_inputs,
        call=_call_forward,
        reference=_forward_reference,
        outputs=("out", "mask"),
        hint="p = 1 - rate is the probability of KEEPING a unit; draw "
        "rng.random(x.shape) once and keep where it is < p; the mask holds 1/p "
        "for kept units and 0 for dropped ones, out = x * mask.",
    ),
    Check(
        name="dropout_backward",
        points=1,
        make_inputs=_backward_inputs,
        call=lambda fn, dout, mask: fn(dout, mask),
        reference=lambda dout, mask: F.dropout_backward(dout, mask),
        hint="The forward pass is out = x * mask with a fixed mask, so dx = dout * "
        "mask (the 1/p scaling included).",
    ),
    Check(
        name="enumerate_subnetworks",
        points=1,
        make_inputs=_subnetwork_inputs,
        call=lambda fn, n, p: tuple(fn(n, p)),
        reference=_enumerate_subnetworks,
        outputs=("masks", "probs"),
        hint="Rows in the order of itertools.product([0, 1], repeat=n), as floats of "
        "shape (2**n, n); a mask with k ones has probability p**k (1 - p)**(n - k), "
        "and p is the probability of keeping an input.",
    ),
    Check(
        name="nwgm",
        points=2,
        make_inputs=_nwgm_inputs,
        call=lambda fn, outputs, probs: tuple(fn(outputs, probs)),
        reference=_nwgm_reference,
        atol=1e-12,
        outputs=("G", "G_prime", "nwgm"),
        hint="G = prod_k O_k**P_k and G' = prod_k (1 - O_k)**P_k (weighted "
        "geometric means, computed e.g. as exp(sum_k P_k log O_k)); NWGM = G / "
        "(G + G').",
    ),
    Check(
        name="weight_scaled_params",
        points=1,
        make_inputs=_scaling_inputs,
        call=_call_scaling,
        reference=_scaling_reference,
        outputs=("W1", "b1", "W2", "b2", "W3", "b3"),
        hint="Only weights that multiply dropped-out units are scaled: W of every "
        "layer after the first (the inputs are not dropped). Biases stay; return "
        "new arrays and leave params unchanged.",
    ),
    Check(
        name="mc_dropout_predict",
        points=2,
        make_inputs=_mc_inputs,
        call=lambda fn, x, params, rate, n_samples, rng: fn(
            x, params, rate, n_samples, rng
        ),
        reference=_mc_reference,
        hint="For each sample, for each hidden layer in order: relu(h @ W.T + b), "
        "then your dropout_forward(h, rate, rng) (inverted: no rescaling at the "
        "end); the last layer has no ReLU and no dropout; average the softmax "
        "probabilities over the samples.",
    ),
]

# dlcore functions the graded cells ask the students to write themselves.
WITHHELD = [
    "dlcore.functional.dropout_forward",
    "dlcore.functional.dropout_backward",
]
