"""Reference functions and custom comparisons of 08_autoencoders.

The parent's side of ``autograder/assignments/a08_autoencoders.py``: what only
the grading process computes (expected outputs, judgements of a result).
The re-check's child never runs it, so it may use anything of dlcore.
"""

from __future__ import annotations

import numpy as np

import dlcore.losses
from dlcore.autoencoder import KLSparsity, corrupt, kl_sparsity
from dlcore.layers import Dense, TiedDense
from dlcore.model import Sequential

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


def _tied_forward_reference(x, W, b, b_prime, dx_rec, dz):
    encoder, decoder = _tied_pair(W, b, b_prime)
    z = encoder.forward(x)
    return decoder.forward(z), z


# ----------------------------------------------------------- tied backward


def _tied_backward_reference(x, W, b, b_prime, dx_rec, dz):
    encoder, decoder = _tied_pair(W, b, b_prime)
    decoder.forward(encoder.forward(x))
    plain = _tied_gradients(encoder, decoder, dx_rec)
    decoder.forward(encoder.forward(x))
    with_dz = _tied_gradients(encoder, decoder, dx_rec, dz)
    return (*plain, *with_dz)


_GRADIENT_NAMES = ("dx", "dW", "db", "db_prime")


# ------------------------------------------------------------------ corrupt


def _corrupt_reference(x, rate, rng):
    return corrupt(x, rate, rng), x


# -------------------------------------------------------------- kl_sparsity


def _kl_reference(hidden, rho, beta):
    value, dhidden = kl_sparsity(hidden, rho, beta)
    return np.float64(value), np.array(dhidden)


# ---------------------------------------------------- sparse autoencoder loss


def _loss_reference(x_in, x_target, W, b, b_prime, rho, beta):
    encoder, decoder = _tied_pair(W, b, b_prime, sparsity=KLSparsity(rho, beta))
    x_rec = decoder.forward(encoder.forward(x_in))
    data_loss, dx_rec = dlcore.losses.mean_squared_error(x_rec, x_target)
    loss = data_loss + encoder.penalty()
    # The activity regularizer adds the KL gradient at the code inside
    # encoder.backward, before the sigmoid's derivative.
    _, dW, db, db_prime = _tied_gradients(encoder, decoder, dx_rec)
    return np.float64(loss), dW, db, db_prime


# ------------------------------------------------------------ the questions


def _tied_params_reference():
    """Parameters of a 64-32-64 autoencoder, untied and tied."""
    untied = Sequential([Dense(32), Dense(64)])
    untied.build((64,))
    encoder = Dense(32)
    tied = Sequential([encoder, TiedDense(encoder)])
    tied.build((64,))
    return np.array([untied.count_params(), tied.count_params()], dtype=np.float64)


def _bias_direction_reference():
    """Sign of the gradient-descent step of b_j for a unit too often active,
    from the penalty alone (dlcore's activity regularizer)."""
    rng = np.random.default_rng(0)
    encoder = Dense(3, activation="sigmoid", activity_regularizer=KLSparsity(0.05, 1.0))
    encoder.build((4,), rng)
    encoder.params["b"][...] = 2.0  # every unit active far more often than 0.05
    encoder.forward(rng.random((6, 4)))
    encoder.backward(np.zeros((6, 3)))
    return np.array(-np.sign(encoder.grads["b"][0]))


# ------------------------------------------------------------ weight shares


def _shares_reference(x, W, b, b_prime, dx_rec, dz):
    encoder, decoder = _tied_pair(W, b, b_prime)
    decoder.forward(encoder.forward(x))
    encoder.backward(decoder.backward(dx_rec))
    return encoder.grads["W"].copy(), decoder.grads["W"].copy()


# --------------------------------------------------------------- KL slope


def _slope_reference(rho, rho_hat):
    # kl_sparsity's gradient for a batch whose rows all equal rho_hat is the
    # slope times beta / m; with beta = 1 and m rows, multiply by m.
    m = 4
    _, dhidden = kl_sparsity(np.tile(rho_hat, (m, 1)), rho, 1.0)
    return np.asarray(dhidden)[0] * m
