"""Graded checks of assignment 08_autoencoders (solutions/08_autoencoders/).

The references are dlcore's own autoencoder pieces: an encoder
:class:`~dlcore.layers.Dense` and a weight-tied decoder
:class:`~dlcore.layers.TiedDense` (both sigmoid), the KL sparsity penalty
:func:`dlcore.autoencoder.kl_sparsity` (as the encoder's activity
regularizer :class:`~dlcore.autoencoder.KLSparsity` in the full loss) and the
masking noise :func:`dlcore.autoencoder.corrupt`. Every check is
deterministic and compared entry by entry.

The notebook's conventions, which the references follow:

* ``W`` has the encoder's layout ``(H, D)``: ``Z = sigmoid(x W^T + b)``,
  ``X' = sigmoid(Z W + b')``;
* the cache of ``tied_forward`` is the tuple ``(x, W, z, x_rec)``;
* the data loss is the mean squared error over every entry (Keras's ``mse``),
  the penalty ``beta * sum_j KL(rho || rho_hat_j)`` with ``rho_hat`` the
  batch mean of the code;
* a pretrained stack is a list of dicts ``{"W", "b", "b_prime"}``, one per
  hidden layer, each trained on the codes of the one before.

The ``q_*`` checks are the auto-graded inline questions.
"""

from __future__ import annotations

import numpy as np

from autograder.assignments.mistakes.a08_autoencoders import MISCONCEPTIONS, MORE_HINTS
from autograder.assignments.references.a08_autoencoders import (
    _GRADIENT_NAMES,
    _bias_direction_reference,
    _corrupt_reference,
    _kl_reference,
    _loss_reference,
    _shares_reference,
    _slope_reference,
    _tied_backward_reference,
    _tied_forward_reference,
    _tied_params_reference,
)
from autograder.checks import Check
from dlcore.layers import Dense
from dlcore.model import Sequential

# The notebook asks for the students' own versions of these.
WITHHELD = [
    "dlcore.autoencoder.corrupt",
    "dlcore.autoencoder.kl_sparsity",
    "dlcore.autoencoder.sparsity_delta",
    "dlcore.autoencoder.KLSparsity",  # its penalty is kl_sparsity's
]


def _seeded(rng: np.random.Generator) -> np.random.Generator:
    return np.random.default_rng(int(rng.integers(2**31)))


def _sigmoid(s):
    return 1.0 / (1.0 + np.exp(-s))


def _no_inputs(rng):
    return {}


def _answer(value):
    """An inline question's answer as a float array (a number or a tuple)."""
    if value is None:
        raise NotImplementedError("answer the question: the variable is still None")
    return np.asarray(value, dtype=np.float64)


# ------------------------------------------------------------ tied forward


def _tied_inputs(rng):
    n = int(rng.integers(4, 9))
    n_inputs = int(rng.integers(6, 13))
    n_hidden = int(rng.integers(3, 6))  # H < D: a missing transpose shows
    return {
        "x": rng.random((n, n_inputs)),
        "W": 0.6 * rng.standard_normal((n_hidden, n_inputs)),
        "b": 0.5 * rng.standard_normal(n_hidden),
        "b_prime": 0.5 * rng.standard_normal(n_inputs),
        "dx_rec": rng.standard_normal((n, n_inputs)),
        "dz": rng.standard_normal((n, n_hidden)),
    }


def _tied_forward_call(fn, x, W, b, b_prime, dx_rec, dz):
    x_rec, cache = fn(x, W, b, b_prime)
    return x_rec, cache[2]


# ----------------------------------------------------------- tied backward


def _tied_backward_call(fns, x, W, b, b_prime, dx_rec, dz):
    forward, backward = fns
    _, cache = forward(x, W, b, b_prime)
    plain = backward(dx_rec, cache)
    _, cache = forward(x, W, b, b_prime)
    with_dz = backward(dx_rec, cache, dz)
    return (*plain, *with_dz)


# ------------------------------------------------------------------ corrupt


def _corrupt_inputs(rng):
    shape = (int(rng.integers(5, 12)), int(rng.integers(8, 20)))
    return {
        "x": rng.random(shape) + 0.1,  # no zeros: a zeroed entry is visible
        "rate": float(rng.uniform(0.15, 0.6)),
        "rng": _seeded(rng),
    }


def _corrupt_call(fn, x, rate, rng):
    # x is returned as well: corrupting it in place is an error.
    return np.asarray(fn(x, rate, rng)), x


# -------------------------------------------------------------- kl_sparsity


def _kl_inputs(rng):
    m, n_hidden = int(rng.integers(5, 15)), int(rng.integers(3, 10))
    # codes of a nearly sparse layer: mean activations between about 0.05 and 0.5
    offsets = rng.uniform(-3.0, 0.0, size=n_hidden)
    return {
        "hidden": _sigmoid(rng.standard_normal((m, n_hidden)) + offsets),
        "rho": float(rng.uniform(0.02, 0.3)),
        "beta": float(rng.uniform(0.5, 3.0)),
    }


def _kl_call(fn, hidden, rho, beta):
    value, dhidden = fn(hidden, rho, beta)
    return np.float64(value), dhidden


# ---------------------------------------------------- sparse autoencoder loss


def _loss_inputs(rng):
    n = int(rng.integers(6, 12))
    n_inputs = int(rng.integers(6, 13))
    n_hidden = int(rng.integers(3, 9))
    x_target = rng.random((n, n_inputs))
    return {
        "x_in": x_target * (rng.random((n, n_inputs)) >= 0.3),
        "x_target": x_target,
        "W": 0.5 * rng.standard_normal((n_hidden, n_inputs)),
        "b": rng.normal(-1.5, 0.5, size=n_hidden),
        "b_prime": 0.5 * rng.standard_normal(n_inputs),
        "rho": float(rng.choice([0.05, 0.1, 0.2])),
        "beta": float(rng.uniform(0.5, 3.0)),
    }


def _loss_call(fn, x_in, x_target, W, b, b_prime, rho, beta):
    loss, dW, db, db_prime = fn(x_in, x_target, W, b, b_prime, rho=rho, beta=beta)
    return np.float64(loss), dW, db, db_prime


# ------------------------------------------------------------ the questions


# ------------------------------------------------------------ weight shares


def _shares_call(fns, x, W, b, b_prime, dx_rec, dz):
    forward, shares = fns
    _, cache = forward(x, W, b, b_prime)
    return tuple(shares(dx_rec, cache))


# --------------------------------------------------------------- KL slope


def _slope_inputs(rng):
    return {
        "rho": float(rng.uniform(0.02, 0.3)),
        "rho_hat": rng.uniform(0.01, 0.9, size=int(rng.integers(3, 10))),
    }


# ------------------------------------------------------------- pretraining


def _stack_inputs(rng):
    n, n_inputs = int(rng.integers(5, 10)), int(rng.integers(4, 9))
    sizes = [int(v) for v in rng.integers(2, 7, size=int(rng.integers(2, 4)))]
    return {"x": rng.random((n, n_inputs)), "sizes": sizes}


def _stand_in_trainer(h, size, seed):
    """A cheap, deterministic stand-in for train_autoencoder's parameters
    that depends on the data it is given (so feeding a layer the wrong
    codes shows)."""
    rng = np.random.default_rng(seed)
    n_inputs = h.shape[1]
    return {
        "W": rng.standard_normal((size, n_inputs)) + h.mean(axis=0),
        "b": rng.standard_normal(size) - h.std(),
        "b_prime": rng.standard_normal(n_inputs),
    }


def _flat_stack(stack):
    return tuple(
        np.asarray(params[key]) for params in stack for key in ("W", "b", "b_prime")
    )


def _stack_call(fn, x, sizes):
    stack = fn(x, sizes, _stand_in_trainer)
    if len(stack) != len(sizes):
        raise ValueError(
            f"pretrain_stack must return one params dict per size ({len(sizes)}), "
            f"got {len(stack)}"
        )
    return _flat_stack(stack)


def _stack_reference(x, sizes):
    stack, h = [], x
    for k, size in enumerate(sizes):
        params = _stand_in_trainer(h, size, k)
        stack.append(params)
        h = _sigmoid(h @ params["W"].T + params["b"])
    return _flat_stack(stack)


def _load_inputs(rng):
    n_inputs = int(rng.integers(4, 9))
    sizes = [int(v) for v in rng.integers(2, 7, size=int(rng.integers(1, 4)))]
    stack, fan_in = [], n_inputs
    for size in sizes:
        stack.append(
            {
                "W": rng.standard_normal((size, fan_in)),
                "b": rng.standard_normal(size),
                "b_prime": rng.standard_normal(fan_in),
            }
        )
        fan_in = size
    return {
        "x": rng.random((5, n_inputs)),
        "stack": stack,
        "seed": int(rng.integers(99)),
    }


def _classifier(stack, n_inputs, seed):
    """The deep network of the notebook, built, weights still random."""
    hidden = [Dense(len(p["b"]), activation="sigmoid") for p in stack]
    model = Sequential([*hidden, Dense(10)], seed=seed)
    model.build((n_inputs,))
    return model


def _load_call(fn, x, stack, seed):
    model = _classifier(stack, x.shape[1], seed)
    fn(model, stack)
    return model.predict(x), *(model.params[key] for key in sorted(model.params))


def _load_reference(x, stack, seed):
    model = _classifier(stack, x.shape[1], seed)
    for layer, params in zip(model.layers[:-1], stack, strict=True):
        layer.params["W"][...] = params["W"]
        layer.params["b"][...] = params["b"]
    return model.predict(x), *(model.params[key] for key in sorted(model.params))


CHECKS = [
    Check(
        name="tied_forward",
        points=1,
        make_inputs=_tied_inputs,
        call=_tied_forward_call,
        reference=_tied_forward_reference,
        outputs=("x_rec", "z = cache[2]"),
        hint=(
            "Encode with W in its (H, D) layout, decode with the same matrix used the "
            "other way round; both layers are sigmoid units. The cache is the tuple "
            "the docstring names."
        ),
        misconceptions=MISCONCEPTIONS["tied_forward"],
        more_hints=MORE_HINTS["tied_forward"],
    ),
    Check(
        name="q_tied_params",
        points=1,
        make_inputs=_no_inputs,
        call=_answer,
        reference=_tied_params_reference,
        outputs=("untied", "tied"),
        hint=(
            "Count the matrices and the biases of each network; tying shares only what"
            " the name says."
        ),
        misconceptions=MISCONCEPTIONS["q_tied_params"],
        more_hints=MORE_HINTS["q_tied_params"],
    ),
    Check(
        name="weight_shares",
        points=2,
        make_inputs=_tied_inputs,
        call=_shares_call,
        reference=_shares_reference,
        outputs=("encoder share", "decoder share"),
        hint=(
            "Back-propagate through the decoder first (its output sigmoid), then "
            "through the code's sigmoid; each layer's share is its usual dense-layer "
            "weight gradient, both in W's layout."
        ),
        misconceptions=MISCONCEPTIONS["weight_shares"],
        more_hints=MORE_HINTS["weight_shares"],
    ),
    Check(
        name="tied_backward",
        points=2,
        make_inputs=_tied_inputs,
        call=_tied_backward_call,
        reference=_tied_backward_reference,
        outputs=tuple(_GRADIENT_NAMES)
        + tuple(f"{name} (with dz)" for name in _GRADIENT_NAMES),
        hint=(
            "W is used twice, so its gradient has two terms. A gradient arriving at "
            "the code joins the decoder's gradient there, before the code's sigmoid."
        ),
        misconceptions=MISCONCEPTIONS["tied_backward"],
        more_hints=MORE_HINTS["tied_backward"],
    ),
    Check(
        name="corrupt",
        points=1,
        make_inputs=_corrupt_inputs,
        call=_corrupt_call,
        reference=_corrupt_reference,
        outputs=("corrupted x", "x after the call"),
        hint=(
            "One uniform draw per component of x, compared with rate; zeroed "
            "components disappear, the others are untouched, and x itself stays clean."
        ),
        misconceptions=MISCONCEPTIONS["corrupt"],
        more_hints=MORE_HINTS["corrupt"],
    ),
    Check(
        name="kl_slope",
        points=1,
        make_inputs=_slope_inputs,
        call=lambda fn, rho, rho_hat: np.asarray(fn(rho, rho_hat), dtype=np.float64),
        reference=_slope_reference,
        hint=(
            "Differentiate the divergence term by term with respect to rho_hat (rho is"
            " a constant); mind the inner derivative of the second log."
        ),
        misconceptions=MISCONCEPTIONS["kl_slope"],
        more_hints=MORE_HINTS["kl_slope"],
    ),
    Check(
        name="kl_sparsity",
        points=2,
        make_inputs=_kl_inputs,
        call=_kl_call,
        reference=_kl_reference,
        outputs=("value", "dhidden"),
        hint=(
            "rho_hat is one number per hidden unit, averaged over the batch; the value"
            " adds the units' divergences, weighted by beta. For the gradient: chain "
            "rule through that average."
        ),
        misconceptions=MISCONCEPTIONS["kl_sparsity"],
        more_hints=MORE_HINTS["kl_sparsity"],
    ),
    Check(
        name="sparse_autoencoder_loss",
        points=2,
        make_inputs=_loss_inputs,
        call=_loss_call,
        reference=_loss_reference,
        outputs=("loss", "dW", "db", "db_prime"),
        hint=(
            "The mean squared error against the clean target plus the penalty on the "
            "code of x_in; the penalty's gradient enters the backward pass at the "
            "code."
        ),
        misconceptions=MISCONCEPTIONS["sparse_autoencoder_loss"],
        more_hints=MORE_HINTS["sparse_autoencoder_loss"],
    ),
    Check(
        name="q_bias_direction",
        points=1,
        make_inputs=_no_inputs,
        call=_answer,
        reference=_bias_direction_reference,
        hint=(
            "Find the sign of the penalty's gradient with respect to b_j when rho_hat "
            "exceeds rho; gradient descent steps against it."
        ),
        misconceptions=MISCONCEPTIONS["q_bias_direction"],
        more_hints=MORE_HINTS["q_bias_direction"],
    ),
    Check(
        name="pretrain_stack",
        points=2,
        make_inputs=_stack_inputs,
        call=_stack_call,
        reference=_stack_reference,
        hint=(
            "Train the layers bottom up: each one learns from what the layer below "
            "produces, with its index as seed."
        ),
        misconceptions=MISCONCEPTIONS["pretrain_stack"],
        more_hints=MORE_HINTS["pretrain_stack"],
    ),
    Check(
        name="load_encoders",
        needs_dlcore=True,
        points=1,
        make_inputs=_load_inputs,
        call=_load_call,
        reference=_load_reference,
        hint=(
            "Copy each encoder into its hidden layer without replacing the layer's "
            "arrays; the output layer keeps its own weights."
        ),
        misconceptions=MISCONCEPTIONS["load_encoders"],
        more_hints=MORE_HINTS["load_encoders"],
    ),
]
