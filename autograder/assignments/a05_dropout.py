"""Graded checks of assignment 05_dropout (solutions/05_dropout/).

Randomised functions receive their own ``numpy.random.Generator``, made from
the check's seed, so the student's code and the dlcore reference draw the
same numbers (the notebook fixes how: one ``rng.random(shape)`` per
dropout layer and sample, in order).

The derivation steps (the moments of the inverted mask, the complement odds
of a logistic unit, log G'/G, E[S], E[eta]) are checked on inputs where a
shortcut through the sigmoid or through sampling would fail: large scores
(where 1 - sigmoid rounds to 0) and exact expectations (no Monte Carlo).
The inline questions are checks too: the answer cell assigns a value and
the check compares it; an unanswered question (``None``) counts as an
unfilled answer.
"""

import itertools

import numpy as np

import dlcore.functional as F
from autograder.assignments.mistakes.a05_dropout import MISCONCEPTIONS
from autograder.assignments.references.a05_dropout import (
    _N1_LOG_RATIO,
    _choice,
    _close_to,
    _dropconnect_backward_reference,
    _dropconnect_forward_reference,
    _forward_reference,
    _max_norm_reference,
    _mc_reference,
    _moments_reference,
    _nwgm_reference,
)
from autograder.checks import Check
from dlcore.functional.dropout import DropoutCache

WITHHELD = [
    "dlcore.functional.dropout_forward",
    "dlcore.functional.dropout_backward",
]

# --------------------------------------------------------------- inputs


def _seeded(rng):
    return np.random.default_rng(int(rng.integers(2**31)))


def _moments_inputs(rng):
    return {
        "y": rng.normal(0, 2, size=int(rng.integers(3, 9))),
        "p": float(rng.uniform(0.1, 0.95)),
    }


def _forward_inputs(rng):
    shape = (int(rng.integers(3, 9)), int(rng.integers(4, 12)))
    return {
        "x": rng.normal(size=shape),
        "rate": float(rng.choice([0.1, 0.25, 0.5, 0.8])),
        "rng": _seeded(rng),
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


def _unit(rng, n, weight_scale):
    """One logistic unit: all 2**n sub-network scores and their probabilities."""
    p = float(rng.uniform(0.2, 0.9))
    masks, probs = _enumerate_subnetworks(n, p)
    w, x, b = rng.normal(0, weight_scale, n), rng.normal(size=n), rng.normal()
    return masks @ (w * x) + b, probs


def _nwgm_inputs(rng):
    # Moderate scores: 1 - O_k stays far enough from 0 that np.log(1 - O)
    # and np.log1p(-O) agree to the tolerance.
    scores, probs = _unit(rng, int(rng.integers(2, 8)), 1.5)
    return {"outputs": 1 / (1 + np.exp(-scores)), "probs": probs}


def _odds_inputs(rng):
    # Up to s = 40, where 1 - sigmoid(s) is 0 in double precision: only the
    # simplified form gets these right.
    return {"s": np.concatenate([rng.uniform(-30, 40, 12), [0.0, 25.0, 38.0]])}


def _log_ratio_inputs(rng):
    """Sub-network scores, one of them past where 1 - sigmoid(s) rounds to 0
    (about 37), so that going through the sigmoid fails on every draw."""
    scores, probs = _unit(rng, int(rng.integers(2, 8)), 25.0)
    scores[0] = 45.0
    return {"scores": scores, "probs": probs}


def _expected_score_inputs(rng):
    n = int(rng.integers(1, 9))
    return {
        "w": rng.normal(0, 2, n),
        "x": rng.normal(size=n),
        "b": float(rng.normal()),
        "p": float(rng.uniform(0.1, 0.95)),
    }


def _net_input_inputs(rng):
    n_in, n_out = (int(v) for v in rng.integers(2, 9, size=2))
    return {
        "W": rng.normal(size=(n_out, n_in)),
        "b": rng.normal(size=n_out),
        "mean_y": np.abs(rng.normal(size=(int(rng.integers(1, 5)), n_in))),
        "p": float(rng.uniform(0.1, 0.95)),
    }


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
        "rng": _seeded(rng),
    }


def _dropconnect_inputs(rng):
    n, d_in, d_out = (int(v) for v in rng.integers(2, 8, size=3))
    return {
        "x": rng.normal(size=(n, d_in)),
        "W": rng.normal(size=(d_out, d_in)),
        "b": rng.normal(size=d_out),
        "rate": float(rng.choice([0.2, 0.5, 0.7])),
        "rng": _seeded(rng),
        "dout": rng.normal(size=(n, d_out)),
    }


def _max_norm_inputs(rng):
    n_out, n_in = (int(v) for v in rng.integers(3, 9, size=2))
    # Rows of very different lengths: some inside the ball, some outside.
    W = rng.normal(size=(n_out, n_in)) * rng.uniform(0.05, 2.0, size=(n_out, 1))
    return {"W": W, "c": float(rng.uniform(0.5, 2.5))}


# ---------------------------------------------------------------- calls
#
# How each answer is run, and the two references that share a helper with a
# call (a references module never imports its declarations).


def _call_forward(fn, x, rate, rng):
    out, mask = fn(x, rate, rng)
    return out, mask


def _enumerate_subnetworks(n, p):
    masks = np.array(list(itertools.product([0.0, 1.0], repeat=n))).reshape(2**n, n)
    kept = masks.sum(axis=1)
    return masks, p**kept * (1 - p) ** (n - kept)


def _expected_score_by_enumeration(w, x, b, p):
    masks, probs = _enumerate_subnetworks(len(w), p)
    return float(probs @ (masks @ (w * x) + b))


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


def _call_dropconnect_forward(fn, x, W, b, rate, rng, dout):
    out, cache = fn(x, W, b, rate, rng)
    return out, np.asarray(cache[-1])


def _call_dropconnect_backward(fns, x, W, b, rate, rng, dout):
    forward, backward = fns
    _, cache = forward(x, W, b, rate, rng)
    return tuple(backward(dout, cache))


# ------------------------------------------------------ inline questions


def _answer(value, question):
    """The student's answer, or NotImplementedError while it is unanswered."""
    if value is None:
        raise NotImplementedError(f"answer {question} above")
    return value


# ------------------------------------------------------------------ checks

CHECKS = [
    Check(
        name="inverted_dropout_moments",
        points=1,
        make_inputs=_moments_inputs,
        call=lambda fn, y, p: tuple(fn(y, p)),
        reference=_moments_reference,
        outputs=("mean", "variance"),
        hint="xi is a Bernoulli variable (1 with probability p): work out its first "
        "two moments, then those of (xi / p) * y with y held constant.",
        misconceptions=MISCONCEPTIONS["inverted_dropout_moments"],
    ),
    Check(
        name="dropout_forward",
        points=2,
        make_inputs=_forward_inputs,
        call=_call_forward,
        reference=_forward_reference,
        outputs=("out", "mask"),
        hint="rate is the probability of dropping a unit, p = 1 - rate that of "
        "keeping it. Draw one uniform number per unit from the rng, once, and keep "
        "the units whose number is below p; inverted dropout scales the kept ones "
        "so that the expected output equals x.",
        misconceptions=MISCONCEPTIONS["dropout_forward"],
    ),
    Check(
        name="dropout_backward",
        points=1,
        make_inputs=_backward_inputs,
        call=lambda fn, dout, mask: fn(dout, mask),
        reference=lambda dout, mask: F.dropout_backward(dout, DropoutCache(mask)),
        hint="With the mask fixed, the forward pass is an element-wise product: "
        "differentiate that, scaling included.",
        misconceptions=MISCONCEPTIONS["dropout_backward"],
    ),
    Check(
        name="enumerate_subnetworks",
        points=1,
        make_inputs=_subnetwork_inputs,
        call=lambda fn, n, p: tuple(fn(n, p)),
        reference=_enumerate_subnetworks,
        outputs=("masks", "probs"),
        hint="Rows in the order itertools.product gives over (0, 1), as floats; "
        "each input is kept independently, with probability p.",
        misconceptions=MISCONCEPTIONS["enumerate_subnetworks"],
    ),
    Check(
        name="nwgm",
        points=1,
        make_inputs=_nwgm_inputs,
        call=lambda fn, outputs, probs: tuple(fn(outputs, probs)),
        reference=_nwgm_reference,
        atol=1e-12,
        outputs=("G", "G_prime", "nwgm"),
        hint="G and G' are weighted geometric means (of the outputs and of their "
        "complements); logarithms turn them into weighted sums.",
        misconceptions=MISCONCEPTIONS["nwgm"],
    ),
    Check(
        name="q_n1_log_ratio",
        points=1,
        make_inputs=lambda rng: {},
        call=lambda value: _answer(value, "q_n1_log_ratio"),
        compare=_close_to(_N1_LOG_RATIO, rtol=1e-3),
        hint="There are only two sub-networks (the input dropped or kept): write "
        "each one's probability and score, then use your complement_odds.",
    ),
    Check(
        name="complement_odds",
        points=1,
        make_inputs=_odds_inputs,
        call=lambda fn, s: fn(s),
        reference=lambda s: np.exp(-s),
        rtol=1e-10,
        atol=0.0,
        hint="Simplify the ratio on paper first: the result needs no sigmoid, and "
        "in floating point 1 - sigmoid(s) is exactly 0 for s above about 37.",
        misconceptions=MISCONCEPTIONS["complement_odds"],
    ),
    Check(
        name="log_complement_ratio",
        points=2,
        make_inputs=_log_ratio_inputs,
        call=lambda fn, scores, probs: fn(scores, probs),
        reference=lambda scores, probs: -float(probs @ scores),
        rtol=1e-9,
        atol=1e-9,
        hint="Write log(G'/G) as a weighted sum of logs of the complement odds and "
        "use what complement_odds showed. These scores are large: going through "
        "the sigmoid loses them.",
        misconceptions=MISCONCEPTIONS["log_complement_ratio"],
    ),
    Check(
        name="expected_score",
        points=1,
        make_inputs=_expected_score_inputs,
        call=lambda fn, w, x, b, p: fn(w, x, b, p),
        reference=_expected_score_by_enumeration,
        hint="The score is linear in the dropout variables: take the expectation "
        "term by term (no enumeration needed).",
        misconceptions=MISCONCEPTIONS["expected_score"],
    ),
    Check(
        name="expected_net_input",
        points=1,
        make_inputs=_net_input_inputs,
        call=lambda fn, W, b, mean_y, p: fn(W, b, mean_y, p),
        reference=lambda W, b, mean_y, p: b + p * mean_y @ W.T,
        hint="The expectation of each term of the net input, in the library's layout "
        "(one row of mean_y per example, W of shape (D_out, D_in)); the dropout "
        "variables are independent of y.",
        misconceptions=MISCONCEPTIONS["expected_net_input"],
    ),
    Check(
        name="weight_scaled_params",
        points=1,
        make_inputs=_scaling_inputs,
        call=_call_scaling,
        reference=_scaling_reference,
        outputs=("W1", "b1", "W2", "b2", "W3", "b3"),
        hint="Only weights that multiply dropped-out units are scaled, by the "
        "expected value of the dropout variable: the inputs are not dropped, and "
        "biases are never dropped. Return new arrays, leave params unchanged.",
        misconceptions=MISCONCEPTIONS["weight_scaled_params"],
    ),
    Check(
        name="mc_dropout_predict",
        points=2,
        make_inputs=_mc_inputs,
        call=lambda fn, x, params, rate, n_samples, rng: fn(
            x, params, rate, n_samples, rng
        ),
        reference=_mc_reference,
        hint="Dropout stays on at prediction: each sample is one pass through a "
        "random sub-network (your dropout_forward after every hidden layer, drawn "
        "from the given rng), and the prediction averages the samples' "
        "probabilities; the output layer has no ReLU and no dropout.",
        misconceptions=MISCONCEPTIONS["mc_dropout_predict"],
    ),
    Check(
        name="q_gap_cause",
        points=1,
        make_inputs=lambda rng: {},
        call=lambda value: _answer(value, "q_gap_cause"),
        compare=_choice("c", {"a", "b", "c", "d"}),
        hint="Which step of the argument E[eta] = sum w p E[y] -> NWGM stops being "
        "exact when a non-linear layer sits between two dropout layers?",
    ),
    Check(
        name="dropconnect_forward",
        points=1,
        make_inputs=_dropconnect_inputs,
        call=_call_dropconnect_forward,
        reference=_dropconnect_forward_reference,
        outputs=("out", "mask"),
        hint="DropConnect drops weights, not units: one uniform number per weight "
        "from the rng, kept below p, inverted like dropout; the layer is then an "
        "affine layer with the masked weights. The mask is the cache's last item.",
        misconceptions=MISCONCEPTIONS["dropconnect_forward"],
    ),
    Check(
        name="dropconnect_backward",
        points=2,
        make_inputs=_dropconnect_inputs,
        call=_call_dropconnect_backward,
        reference=_dropconnect_backward_reference,
        outputs=("dx", "dW", "db"),
        hint="The forward pass is an affine layer whose weights are the masked "
        "ones: differentiate through them, and remember that a dropped weight had "
        "no effect on the output.",
        misconceptions=MISCONCEPTIONS["dropconnect_backward"],
    ),
    Check(
        name="max_norm_project",
        points=1,
        make_inputs=_max_norm_inputs,
        call=lambda fn, W, c: fn(W, c),
        reference=_max_norm_reference,
        rtol=1e-10,
        atol=1e-12,
        hint="The constraint bounds the incoming weights of each unit: which axis "
        "holds them in our (D_out, D_in) layout? Weights within the bound stay "
        "exactly as they are.",
        misconceptions=MISCONCEPTIONS["max_norm_project"],
    ),
    Check(
        name="q_keras_axis",
        points=1,
        make_inputs=lambda rng: {},
        call=lambda value: _answer(value, "q_keras_axis"),
        compare=_choice(0, {0, 1}),
        hint="Keras stores a Dense kernel as (D_in, D_out); which axis holds the "
        "incoming weights of one unit?",
        misconceptions=MISCONCEPTIONS["q_keras_axis"],
    ),
]
