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
  batch mean of the code.
"""

from __future__ import annotations

import numpy as np

import dlcore.losses
from autograder.checks import Check
from dlcore.autoencoder import KLSparsity, corrupt, kl_sparsity
from dlcore.layers import Dense, TiedDense

# The notebook asks for the students' own versions of these.
WITHHELD = [
    "dlcore.autoencoder.corrupt",
    "dlcore.autoencoder.kl_sparsity",
    "dlcore.autoencoder.sparsity_delta",
]


def _seeded(rng: np.random.Generator) -> np.random.Generator:
    return np.random.default_rng(int(rng.integers(2**31)))


def _sigmoid(s):
    return 1.0 / (1.0 + np.exp(-s))


# ----------------------------------------------------------- the dlcore net


def _tied_pair(W, b, b_prime, sparsity=None):
    """dlcore's encoder and tied decoder holding copies of ``W``, ``b``, ``b_prime``."""
    n_hidden, n_inputs = W.shape
    encoder = Dense(
        n_hidden,
        activation="sigmoid",
        activity_regularizer=sparsity,
        input_dim=n_inputs,
    )
    decoder = TiedDense(encoder, activation="sigmoid")
    rng = np.random.default_rng(0)
    encoder.build((n_inputs,), rng)
    decoder.build((n_hidden,), rng)
    encoder.params["W"][...] = W  # the decoder holds the same array
    encoder.params["b"][...] = b
    decoder.params["b"][...] = b_prime
    return encoder, decoder


def _tied_gradients(encoder, decoder, dx_rec, dz=None):
    """Backward through decoder then encoder; the shared W gets both terms."""
    dz_total = decoder.backward(dx_rec)
    if dz is not None:
        dz_total = dz_total + dz
    dx = encoder.backward(dz_total)
    dW = encoder.grads["W"] + decoder.grads["W"]
    return dx, dW, encoder.grads["b"].copy(), decoder.grads["b"].copy()


# ------------------------------------------------------------ tied forward


def _tied_inputs(rng):
    n = int(rng.integers(4, 9))
    n_inputs = int(rng.integers(6, 13))
    n_hidden = int(rng.integers(3, 8))
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


def _tied_forward_reference(x, W, b, b_prime, dx_rec, dz):
    encoder, decoder = _tied_pair(W, b, b_prime)
    z = encoder.forward(x)
    return decoder.forward(z), z


# ----------------------------------------------------------- tied backward


def _tied_backward_call(fns, x, W, b, b_prime, dx_rec, dz):
    forward, backward = fns
    _, cache = forward(x, W, b, b_prime)
    plain = backward(dx_rec, cache)
    _, cache = forward(x, W, b, b_prime)
    with_dz = backward(dx_rec, cache, dz)
    return (*plain, *with_dz)


def _tied_backward_reference(x, W, b, b_prime, dx_rec, dz):
    encoder, decoder = _tied_pair(W, b, b_prime)
    decoder.forward(encoder.forward(x))
    plain = _tied_gradients(encoder, decoder, dx_rec)
    decoder.forward(encoder.forward(x))
    with_dz = _tied_gradients(encoder, decoder, dx_rec, dz)
    return (*plain, *with_dz)


_GRADIENT_NAMES = ("dx", "dW", "db", "db_prime")

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


def _corrupt_reference(x, rate, rng):
    return corrupt(x, rate, rng), x


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


def _kl_reference(hidden, rho, beta):
    value, dhidden = kl_sparsity(hidden, rho, beta)
    return np.float64(value), np.array(dhidden)


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


def _loss_reference(x_in, x_target, W, b, b_prime, rho, beta):
    encoder, decoder = _tied_pair(W, b, b_prime, sparsity=KLSparsity(rho, beta))
    x_rec = decoder.forward(encoder.forward(x_in))
    data_loss, dx_rec = dlcore.losses.mean_squared_error(x_rec, x_target)
    loss = data_loss + encoder.penalty()
    # The activity regularizer adds the KL gradient at the code inside
    # encoder.backward, before the sigmoid's derivative.
    _, dW, db, db_prime = _tied_gradients(encoder, decoder, dx_rec)
    return np.float64(loss), dW, db, db_prime


CHECKS = [
    Check(
        name="tied_forward",
        points=1,
        make_inputs=_tied_inputs,
        call=_tied_forward_call,
        reference=_tied_forward_reference,
        outputs=("x_rec", "z = cache[2]"),
        hint=(
            "Z = sigmoid(x @ W.T + b) has shape (N, H); the decoder uses the same W "
            "transposed, X' = sigmoid(Z @ W + b_prime), shape (N, D). The cache must "
            "be the tuple (x, W, z, x_rec)."
        ),
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
            "W is used twice, so dW = (encoder term delta2.T @ x) + (decoder term "
            "z.T @ delta3), both of shape (H, D). The extra dz is added to the "
            "gradient at Z (delta3 @ W.T) before multiplying by z * (1 - z)."
        ),
    ),
    Check(
        name="corrupt",
        points=1,
        make_inputs=_corrupt_inputs,
        call=_corrupt_call,
        reference=_corrupt_reference,
        outputs=("corrupted x", "x after the call"),
        hint=(
            "Draw u = rng.random(x.shape) once and zero the components with "
            "u < rate; keep the others unchanged (no 1/(1-rate) rescaling) and "
            "return a new array without modifying x."
        ),
    ),
    Check(
        name="kl_sparsity",
        points=2,
        make_inputs=_kl_inputs,
        call=_kl_call,
        reference=_kl_reference,
        outputs=("value", "dhidden"),
        hint=(
            "rho_hat is the mean over the batch (axis 0), one value per hidden unit; "
            "the value is beta * sum_j KL(rho || rho_hat_j), and every example gets "
            "the gradient beta * (-rho/rho_hat + (1-rho)/(1-rho_hat)) / m."
        ),
    ),
    Check(
        name="sparse_autoencoder_loss",
        points=2,
        make_inputs=_loss_inputs,
        call=_loss_call,
        reference=_loss_reference,
        outputs=("loss", "dW", "db", "db_prime"),
        hint=(
            "The loss is mean((x_rec - x_target)**2) over every entry plus the KL "
            "penalty of the code computed from x_in; the code's gradient from the "
            "penalty goes into tied_backward as dz (before f'), and the "
            "reconstruction error is measured against the clean x_target."
        ),
    ),
]
