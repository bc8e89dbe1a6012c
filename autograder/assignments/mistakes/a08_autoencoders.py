"""Known wrong answers of assignment 08_autoencoders (solutions/08_autoencoders/).

Each check of ``autograder/assignments/a08_autoencoders.py`` that declares
misconceptions finds them in ``MISCONCEPTIONS`` under its name: the wrong
answer, written as a student would write it (or what it returns), and the
message that names the mistake without giving the answer
(``autograder/AUTHORING.md`` § 1b). ``MORE_HINTS`` holds the checks'
level-2 hints.

The wrong answers are built from one small tied autoencoder written here
(``_forward``, ``_backward``, ``_penalty``), each mistake a switch of it, so
that a wrong piece can be combined with right ones (the loss with a wrong
penalty gradient, the backward pass with a right forward).
"""

from __future__ import annotations

import numpy as np

from autograder.declarations import Misconception


def _sigmoid(s):
    return 1.0 / (1.0 + np.exp(-s))


# ------------------------------------------------------ the tied network


def _forward(x, W, b, b_prime, code="sigmoid", decoder="sigmoid", cached="code"):
    """X' and the cache ``(x, W, z, x_rec)``; the switches make it wrong."""
    pre = x @ W.T + b
    z = _sigmoid(pre) if code == "sigmoid" else pre
    x_rec = z @ W + b_prime
    if decoder == "sigmoid":
        x_rec = _sigmoid(x_rec)
    return x_rec, (x, W, pre if cached == "pre-activation" else z, x_rec)


def _tied_forward(**switches):
    def tied_forward(x, W, b, b_prime):
        return _forward(x, W, b, b_prime, **switches)

    return tied_forward


def _backward(
    dx_rec, cache, dz=None, terms="both", dz_at="code", reduce=np.sum, slope="output"
):
    """(dx, dW, db, db_prime) and the two shares of dW."""
    x, W, z, x_rec = cache
    if slope == "output":
        delta3 = dx_rec * x_rec * (1 - x_rec)
    elif slope == "sigmoid again":
        delta3 = dx_rec * _sigmoid(x_rec) * (1 - _sigmoid(x_rec))
    else:
        delta3 = dx_rec
    at_code = delta3 @ W.T
    if dz is not None and dz_at == "code":
        at_code = at_code + dz
    delta2 = at_code * z * (1 - z)
    if dz is not None and dz_at == "after the derivative":
        delta2 = delta2 + dz
    encoder, decoder = delta2.T @ x, z.T @ delta3
    dW = {"both": encoder + decoder, "encoder": encoder, "decoder": decoder}[terms]
    grads = (delta2 @ W, dW, reduce(delta2, axis=0), reduce(delta3, axis=0))
    return grads, (encoder, decoder)


def _tied_backward(**switches):
    def tied_backward(dx_rec, cache, dz=None):
        return _backward(dx_rec, cache, dz, **switches)[0]

    return tied_backward


def _shares(order="encoder first", layout="W", **switches):
    def weight_shares(dx_rec, cache):
        encoder, decoder = _backward(dx_rec, cache, **switches)[1]
        if layout != "W":
            decoder = decoder.T
        return (encoder, decoder) if order == "encoder first" else (decoder, encoder)

    return weight_shares


# ------------------------------------------------------------- sparsity


def _slope(rho, rho_hat, rule="right"):
    if rule == "sign flipped":
        return rho / rho_hat - (1 - rho) / (1 - rho_hat)
    if rule == "second sign":
        return -rho / rho_hat - (1 - rho) / (1 - rho_hat)
    if rule == "reversed":  # the slope of KL(rho_hat || rho)
        return np.log(rho_hat / rho) - np.log((1 - rho_hat) / (1 - rho))
    return -rho / rho_hat + (1 - rho) / (1 - rho_hat)


def _kl(rho, rho_hat, rule="right"):
    if rule == "reversed":
        rho, rho_hat = rho_hat, rho
    return rho * np.log(rho / rho_hat) + (1 - rho) * np.log((1 - rho) / (1 - rho_hat))


def _penalty(
    hidden,
    rho,
    beta,
    per="m",
    rule="right",
    squared=False,
    axis=0,
    total=np.sum,
    beta_in_grad=True,
):
    """``(value, dhidden)`` of the KL penalty, with the switches' mistakes."""
    m, n_hidden = hidden.shape
    used = hidden**2 if squared else hidden
    rho_hat = used.mean(axis=axis)
    value = beta * float(total(_kl(rho, rho_hat, rule)))
    slope = _slope(rho, rho_hat, rule) * (beta if beta_in_grad else 1.0)
    if total is np.mean:
        slope = slope / rho_hat.size
    count = hidden.shape[axis]
    slope = slope / (count if per == "m" else 1)
    if axis == 1:
        dhidden = np.tile(slope[:, None], (1, n_hidden))
    else:
        dhidden = np.tile(slope, (m, 1))
    if squared:
        dhidden = dhidden * 2 * hidden
    return value, dhidden


def _kl_sparsity(**switches):
    def kl_sparsity(hidden, rho=0.05, beta=1.0):
        return _penalty(hidden, rho, beta, **switches)

    return kl_sparsity


# ------------------------------------------------------------- the loss


def _loss(
    target="clean",
    reduce="all",
    two=True,
    code_of="input",
    in_gradient=True,
    **backward,
):
    def sparse_autoencoder_loss(x_in, x_target, W, b, b_prime, rho=0.05, beta=0.0):
        x_rec, cache = _forward(x_in, W, b, b_prime)
        diff = x_rec - (x_target if target == "clean" else x_in)
        scale = {"all": diff.size, "examples": len(diff), "none": 1}[reduce]
        loss = float(np.sum(diff**2)) / scale
        code = (
            cache[2] if code_of == "input" else _forward(x_target, W, b, b_prime)[1][2]
        )
        penalty, dz = _penalty(code, rho, beta)
        loss += penalty
        grad = (2 if two else 1) * diff / scale
        grads = _backward(grad, cache, dz if in_gradient else None, **backward)[0]
        return loss, *grads[1:]

    return sparse_autoencoder_loss


# ------------------------------------------------------------- corrupt


def _corrupt(keep="above", rescale=False, in_place=False, mask="entry"):
    def corrupt(x, rate, rng):
        u = rng.random(x.shape if mask == "entry" else x.shape[1:])
        kept = u >= rate if keep == "above" else u < rate
        factor = 1.0 / (1.0 - rate) if rescale else 1.0
        if in_place:
            x *= kept * factor
            return x
        return x * kept * factor

    return corrupt


# ---------------------------------------------------------- pretraining


def _pretrain(data="codes", codes="sigmoid", seed="layer"):
    def pretrain_stack(x, sizes, train_layer):
        stack, h = [], x
        for k, size in enumerate(sizes):
            params = train_layer(h, size, k if seed == "layer" else 0)
            stack.append(params)
            if data == "codes":
                pre = h @ params["W"].T + params["b"]
                h = _sigmoid(pre) if codes == "sigmoid" else pre
        return stack

    return pretrain_stack


def _load(keys=("W", "b"), rebind=False):
    def load_encoders(model, stack):
        for layer, params in zip(model.layers[:-1], stack, strict=True):
            for key in keys:
                if rebind:
                    layer.params[key] = params[key]
                else:
                    layer.params[key][...] = params[key]

    return load_encoders


def _with_forward(backward_part):
    """The pair a check of a backward pass calls: a right forward, ``backward_part``."""
    return (_tied_forward(), backward_part)


_BOTH_SHARES = (
    "your dW holds only the {0}'s share: W is used twice, by the encoder and "
    "(transposed) by the decoder, and its gradient is the sum of both uses."
)
_OUTPUT_SLOPE = (
    "your decoder's error skips the output sigmoid's derivative: the gradient "
    "at X' must pass back through the sigmoid before reaching W."
)
_SIGMOID_AGAIN = (
    "you applied the sigmoid to the outputs again before taking its "
    "derivative: the cached values already are sigmoid outputs, and the "
    "derivative is written in terms of them."
)
_MISSING_1_OVER_M = (
    "your penalty's gradient is m times too large: rho_hat is a mean over the "
    "batch, so each example's activation moves it by only a 1/m share."
)
_KL_REVERSED = (
    "your penalty is KL(rho_hat || rho), the divergence the other way round: "
    "the target rho is the first argument (the Bernoulli you compare against)."
)

# ------------------------------------------------------------ per check

MISCONCEPTIONS = {
    "tied_forward": (
        Misconception(
            "linear_decoder",
            "your reconstruction skips the decoder's sigmoid; both layers are "
            "sigmoid units.",
            answer=_tied_forward(decoder="linear"),
        ),
        Misconception(
            "linear_code",
            "your code is the encoder's pre-activation: the sigmoid is applied "
            "to it before the decoder.",
            answer=_tied_forward(code="linear"),
        ),
        Misconception(
            "pre_activation_cached",
            "your reconstruction is right, but the cache holds the code before "
            "its sigmoid; the backward pass needs the code itself.",
            answer=_tied_forward(cached="pre-activation"),
        ),
    ),
    "q_tied_params": (
        Misconception(
            "tied_drops_decoder_bias",
            "your tied count drops the decoder's bias: only the matrix is "
            "shared, b' is still the decoder's own.",
            variant=lambda: np.array([4192.0, 2080.0]),
        ),
        Misconception(
            "biases_missing",
            "your counts leave out the biases.",
            variant=lambda: np.array([4096.0, 2048.0]),
        ),
        Misconception(
            "tied_is_half",
            "tying halves only the weight matrices, not the biases: both biases stay.",
            variant=lambda: np.array([4192.0, 2096.0]),
        ),
    ),
    "weight_shares": (
        Misconception(
            "output_slope_missing",
            _OUTPUT_SLOPE,
            answer=_with_forward(_shares(slope="none")),
        ),
        Misconception(
            "sigmoid_applied_again",
            _SIGMOID_AGAIN,
            answer=_with_forward(_shares(slope="sigmoid again")),
        ),
        Misconception(
            "shares_swapped",
            "your two shares are in the wrong order: the encoder's comes first.",
            answer=_with_forward(_shares(order="decoder first")),
        ),
        Misconception(
            "decoder_share_not_transposed",
            "your decoder share is in the decoder matrix's layout (D, H); it is "
            "asked in W's layout, transposed back.",
            answer=_with_forward(_shares(layout="decoder")),
        ),
    ),
    "tied_backward": (
        Misconception(
            "decoder_share_only",
            _BOTH_SHARES.format("decoder"),
            answer=_with_forward(_tied_backward(terms="decoder")),
        ),
        Misconception(
            "encoder_share_only",
            _BOTH_SHARES.format("encoder"),
            answer=_with_forward(_tied_backward(terms="encoder")),
        ),
        Misconception(
            "dz_after_derivative",
            "your extra dz is added after the code's sigmoid derivative; it is a "
            "gradient at the code Z, so it joins the decoder's before it.",
            answer=_with_forward(_tied_backward(dz_at="after the derivative")),
        ),
        Misconception(
            "dz_ignored",
            "your backward pass ignores dz: the gradient of a penalty on the "
            "code must reach the encoder's parameters.",
            answer=_with_forward(_tied_backward(dz_at="nowhere")),
        ),
        Misconception(
            "biases_averaged",
            "your bias gradients are averages over the batch; a bias is used by "
            "every example, so its gradient is the sum.",
            answer=_with_forward(_tied_backward(reduce=np.mean)),
        ),
        Misconception(
            "output_slope_missing",
            _OUTPUT_SLOPE,
            answer=_with_forward(_tied_backward(slope="none")),
        ),
    ),
    "corrupt": (
        Misconception(
            "rescaled",
            "your kept components are scaled up as in inverted dropout; masking "
            "noise leaves them unchanged.",
            answer=_corrupt(rescale=True),
        ),
        Misconception(
            "rate_kept",
            "your mask keeps a fraction `rate` of the components; `rate` is the "
            "probability that a component is zeroed.",
            answer=_corrupt(keep="below"),
        ),
        Misconception(
            "input_modified",
            "your corrupt changes x itself; return a new array and leave the "
            "clean input intact (it is the reconstruction's target).",
            answer=_corrupt(in_place=True),
        ),
        Misconception(
            "one_mask_for_the_batch",
            "every example of your batch loses the same components; each "
            "component of each example gets its own draw.",
            answer=_corrupt(mask="row"),
        ),
    ),
    "kl_slope": (
        Misconception(
            "sign_flipped",
            "your slope has the opposite sign: the penalty grows as rho_hat moves "
            "above rho, so its slope there is positive.",
            answer=lambda rho, rho_hat: _slope(rho, rho_hat, "sign flipped"),
        ),
        Misconception(
            "second_term_sign",
            "your second term has the wrong sign: the derivative of a log of "
            "(1 - r) with respect to r brings a minus sign from the inside.",
            answer=lambda rho, rho_hat: _slope(rho, rho_hat, "second sign"),
        ),
        Misconception(
            "kl_reversed",
            _KL_REVERSED,
            answer=lambda rho, rho_hat: _slope(rho, rho_hat, "reversed"),
        ),
    ),
    "kl_sparsity": (
        Misconception(
            "missing_1_over_m", _MISSING_1_OVER_M, answer=_kl_sparsity(per="one")
        ),
        Misconception(
            "kl_reversed", _KL_REVERSED, answer=_kl_sparsity(rule="reversed")
        ),
        Misconception(
            "squared_activations",
            "your rho_hat averages squared activations: in the lecture's y_j^2 "
            "the 2 names the layer, it is not a power.",
            answer=_kl_sparsity(squared=True),
        ),
        Misconception(
            "mean_over_examples_axis",
            "your rho_hat averages over the wrong axis: it is one value per "
            "hidden unit, the mean over the examples of the batch.",
            answer=_kl_sparsity(axis=1),
        ),
        Misconception(
            "mean_over_units",
            "your penalty averages the units' divergences; it adds them up.",
            answer=_kl_sparsity(total=np.mean),
        ),
        Misconception(
            "beta_missing_in_gradient",
            "your gradient leaves out beta: the weight of the penalty scales its "
            "gradient too.",
            answer=_kl_sparsity(beta_in_grad=False),
        ),
    ),
    "sparse_autoencoder_loss": (
        Misconception(
            "summed_not_mean",
            "your reconstruction loss is a sum over the entries; the data loss "
            "is their mean (so its gradient carries the same 1/size).",
            answer=_loss(reduce="none"),
        ),
        Misconception(
            "mean_over_examples_only",
            "your reconstruction loss is averaged over the examples only; it is "
            "the mean over every entry, examples and components.",
            answer=_loss(reduce="examples"),
        ),
        Misconception(
            "square_derivative_halved",
            "your data gradient is half of it: the derivative of a square brings "
            "down its exponent.",
            answer=_loss(two=False),
        ),
        Misconception(
            "noisy_target",
            "your reconstruction is compared with the corrupted input; a "
            "denoising autoencoder must reproduce the clean x_target.",
            answer=_loss(target="noisy"),
        ),
        Misconception(
            "penalty_of_clean_code",
            "your penalty measures the code of the clean x_target; it is the "
            "code the network computed, from x_in.",
            answer=_loss(code_of="target"),
        ),
        Misconception(
            "penalty_not_in_gradient",
            "your loss counts the penalty but your gradients ignore it: its "
            "gradient at the code must go back through the encoder.",
            answer=_loss(in_gradient=False),
        ),
        Misconception(
            "dz_after_derivative",
            "your penalty's gradient is added after the code's sigmoid "
            "derivative; it is a gradient at the code, so it goes in before.",
            answer=_loss(dz_at="after the derivative"),
        ),
    ),
    "q_bias_direction": (
        Misconception(
            "sign_reversed",
            "gradient descent moves against the gradient: find the sign of the "
            "penalty's gradient for a unit too often active, then step the "
            "other way.",
            variant=lambda: np.float64(1.0),
        ),
    ),
    "pretrain_stack": (
        Misconception(
            "every_layer_on_the_input",
            "every layer of your stack is trained on the raw input; each layer "
            "learns from the codes of the layer below it.",
            answer=_pretrain(data="input"),
        ),
        Misconception(
            "linear_codes",
            "the codes you pass up are pre-activations: the next layer trains on "
            "the encoder's sigmoid outputs.",
            answer=_pretrain(codes="linear"),
        ),
        Misconception(
            "same_seed",
            "every layer of your stack is trained with the same seed; layer k "
            "is trained with seed k.",
            answer=_pretrain(seed="fixed"),
        ),
    ),
    "load_encoders": (
        Misconception(
            "arrays_rebound",
            "you replaced the layers' arrays instead of writing into them: the "
            "model (and its optimizer) still holds the old ones.",
            answer=_load(rebind=True),
        ),
        Misconception(
            "biases_not_loaded",
            "your layers get the pretrained weights but keep their random "
            "biases; the encoder's bias belongs to it too.",
            answer=_load(keys=("W",)),
        ),
    ),
}


# Level-2 hints (``hint(name, level=2)``), given to the checks by the
# declaration module: the idea again, closer, still without the answer.
MORE_HINTS = {
    "tied_forward": (
        (
            "The decoder's matrix is the encoder's transposed, so the reconstruction "
            "has the input's shape; its bias is b'."
        ),
    ),
    "q_tied_params": (
        (
            "Untied: two weight matrices and two biases. Tied: one matrix, still two "
            "biases."
        ),
    ),
    "weight_shares": (
        (
            "The sigmoid's derivative is written with the sigmoid's output, which the "
            "cache already holds. The decoder's own matrix is (D, H): transpose its "
            "gradient back into W's layout."
        ),
    ),
    "tied_backward": (
        (
            "Compute both shares as in weight_shares and add them; a bias gradient "
            "sums its layer's error over the examples."
        ),
    ),
    "corrupt": (
        (
            "Masking noise is not dropout: nothing is rescaled. rate is the "
            "probability of zeroing; draw the numbers with the one call the docstring "
            "names."
        ),
    ),
    "kl_slope": (
        (
            "Write the divergence as a sum of logs of quotients; only the parts that "
            "contain rho_hat have a derivative. The slope is zero where rho_hat equals"
            " rho."
        ),
    ),
    "kl_sparsity": (
        (
            "Every example's activation enters rho_hat_j with the weight of a mean: a "
            "1/m share. Every row of the gradient is the same."
        ),
    ),
    "sparse_autoencoder_loss": (
        (
            "The data loss averages over every entry, so its gradient carries that "
            "count. The code that the penalty sees is the one the forward pass "
            "computed from x_in."
        ),
    ),
    "q_bias_direction": (
        (
            "Follow the signs along the chain: the divergence's slope for rho_hat "
            "above rho, the sigmoid's derivative, then the descent step, which goes "
            "against the gradient."
        ),
    ),
    "pretrain_stack": (
        (
            "The codes of a layer are its encoder's sigmoid outputs; encode passes "
            "them up."
        ),
    ),
    "load_encoders": (
        (
            "dlcore's layers, the model and the optimizer share the parameter arrays; "
            "write into them in place."
        ),
    ),
}
