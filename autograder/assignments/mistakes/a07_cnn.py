"""Known wrong answers of assignment 07_cnn (solutions/07_cnn/).

Each check of ``autograder/assignments/a07_cnn.py`` that declares
misconceptions finds them in ``MISCONCEPTIONS`` under its name: the wrong
answer, written as a student would write it (or what it returns), and the
message that names the mistake without giving the answer
(``autograder/AUTHORING.md`` § 1b). ``MORE_HINTS`` holds the checks'
level-2 hints.

The LeNet checks judge a structure (no element-wise reference), so their
misconceptions say with ``matches`` which property of the received summary
shows the mistake; the trained network's accuracy has none (the grader
does not train wrong networks).
"""

from __future__ import annotations

import numpy as np

from autograder.assignments.references.a07_cnn import _reference_shift
from autograder.declarations import Misconception
from dlcore.layers import Chain, Conv2D, Dense, Flatten, Layer, MaxPool2D, walk
from dlcore.losses import softmax_cross_entropy
from dlcore.model import Sequential

# ------------------------------------------------------------- parameters


def _conv_count(biases="filter", channels=True, square=True):
    def count_conv_params(in_channels, filters, kernel_size):
        c = in_channels if channels else 1
        taps = kernel_size**2 if square else kernel_size
        return filters * c * taps + {"filter": filters, "one": 1, "none": 0}[biases]

    return count_conv_params


def _three_ways(
    dense_bias=True, local_bias="unit", local_channels=True, conv_shared=True
):
    def param_counts(C, H, W, F, K):
        n_in, n_out = C * H * W, F * H * W
        dense = n_in * n_out + (n_out if dense_bias else 0)
        window = (C if local_channels else 1) * K * K
        local_biases = n_out if local_bias == "unit" else F
        local = n_out * window + local_biases
        conv = F * C * K * K + F if conv_shared else n_out * C * K * K + n_out
        return dense, local, conv

    return param_counts


# ------------------------------------------------------ receptive field


def _step(added="gaps", jump_rule="product"):
    def receptive_field_step(size, jump, kernel, stride):
        widths = {
            "gaps": (kernel - 1) * jump,
            "kernel": kernel * jump,
            "no_jump": kernel - 1,
            "stride": (kernel - 1) * stride,
        }
        new_jump = {"product": jump * stride, "stride": stride, "same": jump}
        return size + widths[added], new_jump[jump_rule]

    return receptive_field_step


def _field(step=None, start=1, top_down=False):
    step = step or _step()

    def receptive_field(layers):
        size, jump = start, 1
        for kernel, stride in reversed(layers) if top_down else layers:
            size, jump = step(size, jump, kernel, stride)
        return size

    return receptive_field


# ---------------------------------------------------------------- LeNet


def _lenet(activation="relu", pool=True, convs=(8, 16)):
    def build_lenet(seed=0):
        layers = []
        for filters in convs:
            layers.append(Conv2D(filters, 3, padding="same", activation=activation))
            if pool:
                layers.append(MaxPool2D(2))
        return Sequential([*layers, Flatten(), Dense(10)], seed=seed)

    return build_lenet


def _summary_shows(key, when):
    """Matches a LeNet summary whose ``key`` satisfies ``when``."""
    return lambda output, received: bool(when(received[key]))


# ---------------------------------------------------------- augmentation


def _shifted(transform):
    def shift_images(x, shifts):
        return _reference_shift(x, transform(np.asarray(shifts)))

    return shift_images


def _rolled(x, shifts):
    out = np.empty_like(x)
    for n, (dy, dx) in enumerate(np.asarray(shifts, dtype=int)):
        out[n] = np.roll(x[n], (dy, dx), axis=(1, 2))
    return out


def _random(draw):
    def random_shift(x, max_shift, rng):
        return _reference_shift(x, draw(rng, max_shift, len(x)))

    return random_shift


# ------------------------------------------------------- gradient norms


def _norms(of="grads", layers="walk", squared=False):
    def gradient_norms(model, x, y):
        scores = model.forward(x, training=True)
        _, dscores = softmax_cross_entropy(scores, y)
        model.backward(dscores)
        found = walk(model) if layers == "walk" else model.layers
        arrays = [getattr(layer, of)["W"] for layer in found if "W" in layer.params]
        norms = [np.sum(a**2) if squared else np.linalg.norm(a) for a in arrays]
        return np.array(norms)

    return gradient_norms


# ------------------------------------------------- a two-branch block


def _branches(combine):
    """The notebook's Branches block with a wrong backward: ``combine``
    makes dx from the branches' gradients at the input."""

    class Branches(Layer):
        def __init__(self, branches):
            super().__init__()
            self.branches = [Chain(list(layers)) for layers in branches]
            self.dtype = None
            self._channels = None

        def sublayers(self):
            return list(self.branches)

        def build(self, input_shape, rng):
            for i, branch in enumerate(self.branches):
                branch.dtype = self.dtype
                branch.build(tuple(input_shape), rng)
                for key, value in branch.params.items():
                    self.params[f"{i}.{key}"] = value
                    self.grads[f"{i}.{key}"] = branch.grads[key]
            self.built = True

        def forward(self, x, training=True):
            outs = [branch.forward(x, training=training) for branch in self.branches]
            self._channels = [out.shape[1] for out in outs]
            return np.concatenate(outs, axis=1)

        def backward(self, dout):
            pieces = np.split(dout, np.cumsum(self._channels)[:-1], axis=1)
            return combine(
                [b.backward(p) for b, p in zip(self.branches, pieces, strict=True)]
            )

    return Branches


# ------------------------------------------------------ the custom loss


def _smoothing(others="K", true_weight="1-eps", value_per="mean", grad="smoothed"):
    def smoothed_cross_entropy(scores, labels, epsilon=0.1):
        n, k = scores.shape
        shifted = scores - scores.max(axis=1, keepdims=True)
        log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        spread = epsilon / (k - 1 if others == "K-1" else k)
        target = np.full((n, k), spread)
        rows = np.arange(n)
        target[rows, labels] = {
            "1-eps": 1.0 - epsilon + (0.0 if others == "K-1" else spread),
            "1+": 1.0 + spread,
        }[true_weight]
        scale = n if value_per == "mean" else 1
        value = -np.sum(target * log_p) / scale
        one_hot = np.zeros((n, k))
        one_hot[rows, labels] = 1.0
        aim = target if grad == "smoothed" else one_hot
        return value, (np.exp(log_p) - aim) / scale

    return smoothed_cross_entropy


_BIAS_MISSING = (
    "your count leaves out the biases: every filter (or every output unit of "
    "a layer that shares nothing) has one, and it is trained too."
)
_CHANNELS_MISSING = (
    "your count forgets the input channels: a filter's window reaches "
    "through every channel of its input, not one."
)
_KERNEL_WIDTH_ADDED = (
    "your field grows by the kernel's whole width at each layer: a window of "
    "k units adds only the gaps between its neighbours to the field below."
)

# ------------------------------------------------------------ per check

MISCONCEPTIONS = {
    "count_conv_params": (
        Misconception("bias_missing", _BIAS_MISSING, answer=_conv_count(biases="none")),
        Misconception(
            "input_channels_missing",
            _CHANNELS_MISSING,
            answer=_conv_count(channels=False),
        ),
        Misconception(
            "one_bias_per_layer",
            "your count has a single bias for the whole layer; each filter "
            "(each output channel) has its own.",
            answer=_conv_count(biases="one"),
        ),
        Misconception(
            "kernel_not_squared",
            "your count uses K weights per channel; the kernel is K by K.",
            answer=_conv_count(square=False),
        ),
    ),
    "param_counts": (
        Misconception(
            "dense_bias_missing",
            "your dense count leaves out the biases: every output unit has one.",
            answer=_three_ways(dense_bias=False),
        ),
        Misconception(
            "local_bias_per_filter",
            "your locally connected layer shares its biases per filter; it "
            "shares nothing, so every output unit owns its bias as well as "
            "its weights.",
            answer=_three_ways(local_bias="filter"),
        ),
        Misconception(
            "local_window_one_channel",
            "your locally connected windows see one channel; each unit's "
            "window reaches through every input channel.",
            answer=_three_ways(local_channels=False),
        ),
        Misconception(
            "conv_not_shared",
            "your convolutional count is the locally connected one: the units "
            "of one output channel share a single filter, so the count does "
            "not grow with the image.",
            answer=_three_ways(conv_shared=False),
        ),
    ),
    "q_weight_growth": (
        Misconception(
            "dense_one_side",
            "your dense factor counts only the growth of the inputs (or only "
            "of the outputs); both sides of the weight matrix grow with H * W.",
            variant=lambda: np.array([4.0, 1.0]),
        ),
        Misconception(
            "conv_grows",
            "your convolutional factor grows with the image; a filter's "
            "weights depend on the channels and the kernel, not on H or W.",
            variant=lambda: np.array([16.0, 4.0]),
        ),
    ),
    "receptive_field_step": (
        Misconception(
            "kernel_width_added", _KERNEL_WIDTH_ADDED, answer=_step(added="kernel")
        ),
        Misconception(
            "jump_ignored",
            "your size grows as if the units below were one pixel apart; "
            "neighbouring units of the layer below are `jump` pixels apart.",
            answer=_step(added="no_jump"),
        ),
        Misconception(
            "own_stride_for_size",
            "your size uses this layer's stride; the window spans units of the "
            "layer below, whose spacing is the jump so far (the new stride "
            "only matters to the layers above).",
            answer=_step(added="stride"),
        ),
        Misconception(
            "jump_not_accumulated",
            "your new jump forgets the spacing of the layer below: strides "
            "compound from layer to layer.",
            answer=_step(jump_rule="stride"),
        ),
    ),
    "receptive_field": (
        Misconception(
            "kernel_width_added",
            _KERNEL_WIDTH_ADDED,
            answer=_field(step=_step(added="kernel")),
        ),
        Misconception(
            "strides_ignored",
            "your field ignores the strides: after a strided layer the units "
            "are further apart, so every layer above spans more pixels.",
            answer=_field(step=_step(jump_rule="same")),
        ),
        Misconception(
            "starts_from_nothing",
            "your field is one pixel short: the walk starts from a single "
            "input pixel, which already has a field of size 1.",
            answer=_field(start=0),
        ),
        Misconception(
            "top_layer_first",
            "your walk goes top to bottom; the list is bottom first, and a "
            "stride only widens the layers above it.",
            answer=_field(top_down=True),
        ),
    ),
    "q_layers_to_cover": (
        Misconception(
            "kernel_width_added",
            "your count lets each 3x3 layer widen the field by three pixels; "
            "it adds only the gaps of its window.",
            variant=lambda: np.float64(3.0),
        ),
    ),
    "build_lenet": (
        Misconception(
            "no_activation",
            "your convolutions are linear: max-pooling is not the network's "
            "non-linearity, each convolution needs its own activation.",
            answer=_lenet(activation=None),
            matches=_summary_shows("n_linear_conv", lambda n: n > 0),
        ),
        Misconception(
            "no_pooling",
            "your network never pools: the lecture's LeNet shrinks the maps "
            "between its convolutions.",
            answer=_lenet(pool=False),
            matches=_summary_shows("n_pool", lambda n: n == 0),
        ),
        Misconception(
            "one_convolution",
            "your network has a single convolution; a LeNet stacks at least two "
            "(the second sees features, not pixels).",
            answer=_lenet(convs=(8,)),
            matches=_summary_shows("n_conv", lambda n: n < 2),
        ),
    ),
    "shift_images": (
        Misconception(
            "wraps_around",
            "your shift wraps around: what leaves one edge comes back on the "
            "other. Pixels that leave the frame are lost, the uncovered border "
            "is black (zeros).",
            answer=_rolled,
        ),
        Misconception(
            "direction_reversed",
            "your images move the opposite way: a positive dy moves the "
            "content down, a positive dx to the right.",
            answer=_shifted(lambda s: -s),
        ),
        Misconception(
            "axes_swapped",
            "your dy moves the columns and dx the rows: the first number of a "
            "shift is vertical.",
            answer=_shifted(lambda s: s[:, ::-1]),
        ),
    ),
    "random_shift": (
        Misconception(
            "upper_bound_excluded",
            "your shifts never reach +max_shift: the generator's upper bound "
            "is excluded.",
            answer=_random(lambda rng, m, n: rng.integers(-m, m, size=(n, 2))),
        ),
        Misconception(
            "one_shift_for_all",
            "every image of your batch gets the same shift; each image is "
            "shifted by its own draw.",
            answer=_random(
                lambda rng, m, n: np.tile(rng.integers(-m, m + 1, size=2), (n, 1))
            ),
        ),
        Misconception(
            "vertical_shifts_first",
            "you draw all the vertical shifts, then all the horizontal ones; "
            "the convention draws one (dy, dx) row per image, in one call.",
            answer=_random(lambda rng, m, n: rng.integers(-m, m + 1, size=(2, n)).T),
        ),
    ),
    "gradient_norms": (
        Misconception(
            "weights_not_gradients",
            "your norms are those of the weights; the question is about the "
            "gradients the backward pass wrote.",
            answer=_norms(of="params"),
        ),
        Misconception(
            "squared_norms",
            "your values are squared norms: the norm takes the root of the sum "
            "of squares.",
            answer=_norms(squared=True),
        ),
        Misconception(
            "inner_layers_missed",
            "you list only the model's top-level layers: a layer inside a "
            "Residual block has its own weights and must be listed too.",
            answer=_norms(layers="top"),
        ),
    ),
    "q_bottleneck_params": (
        Misconception(
            "bias_missing",
            "your counts leave out the biases: every convolution has one per filter.",
            variant=lambda: np.array([1179648.0, 69632.0]),
        ),
    ),
    "branches_backward": (
        Misconception(
            "last_branch_only",
            "your dx keeps only the last branch's gradient: x feeds every "
            "branch, so its gradient collects all of theirs.",
            answer=_branches(lambda grads: grads[-1]),
        ),
        Misconception(
            "branches_averaged",
            "your dx averages the branches' gradients; a value used several "
            "times receives the full gradient of every use.",
            answer=_branches(lambda grads: sum(grads) / len(grads)),
        ),
    ),
    "smoothed_cross_entropy": (
        Misconception(
            "spread_over_other_classes",
            "your smoothing spreads epsilon over the K - 1 wrong classes only; "
            "here the uniform part covers all K classes, the true one included.",
            answer=_smoothing(others="K-1"),
        ),
        Misconception(
            "true_class_not_reduced",
            "your target gives the true class its full weight plus its share "
            "of epsilon: the targets no longer sum to 1.",
            answer=_smoothing(true_weight="1+"),
        ),
        Misconception(
            "summed_over_examples",
            "your loss and gradient are N times too large: the loss is the mean "
            "over the examples, not the sum.",
            answer=_smoothing(value_per="sum"),
        ),
        Misconception(
            "gradient_unsmoothed",
            "your gradient aims at the one-hot labels; with smoothing the "
            "target distribution has changed, and the gradient must use it.",
            answer=_smoothing(grad="one_hot"),
        ),
    ),
}


# Level-2 hints (``hint(name, level=2)``), given to the checks by the
# declaration module: the idea again, closer, still without the answer.
MORE_HINTS = {
    "count_conv_params": (
        (
            "A filter is a small block of weights, as deep as its input; the bias is "
            "one number per filter."
        ),
    ),
    "param_counts": (
        (
            "Dense and locally connected layers share nothing: every output unit owns "
            "its weights and its bias. Only the convolution shares one filter over all"
            " the positions of an output channel."
        ),
    ),
    "q_weight_growth": (
        (
            "A dense weight matrix has one row per output unit and one column per "
            "input value: how does each count change when the image's area grows?"
        ),
    ),
    "receptive_field_step": (
        (
            "How many gaps separate k units in a row, and how wide is one gap in "
            "input pixels? A stride counts units of the layer below, not pixels."
        ),
    ),
    "receptive_field": (
        (
            "A single pixel has field 1 and spacing 1; the list is bottom first, and "
            "each step needs the spacing of the layer below it."
        ),
    ),
    "q_layers_to_cover": (
        (
            "Each such layer widens the field by the gaps of its window; count the "
            "layers until the field is at least the digit's width."
        ),
    ),
    "build_lenet": (
        (
            "Max-pooling is not the network's non-linearity: each convolution needs "
            "its own activation. Check the parameter budget with model.count_params()."
        ),
    ),
    "lenet_accuracy": (
        (
            "If the accuracy is low, look at the training curves: a loss that does not"
            " fall points at the learning rate or the loss, a training accuracy far "
            "above the validation one at overfitting."
        ),
    ),
    "shift_images": (
        (
            "A positive dy moves the content down and a positive dx to the right; a "
            "shift at least as large as the image leaves only zeros."
        ),
    ),
    "random_shift": (
        (
            "One row (dy, dx) per image, all drawn together; the generator's upper "
            "bound is excluded."
        ),
    ),
    "gradient_norms": (
        (
            "dlcore's walk visits the layers nested in Residual blocks; the norm is "
            "the Euclidean one of the whole gradient array."
        ),
    ),
    "q_bottleneck_params": (
        (
            "Basic block: two 3x3 convolutions at full width. Bottleneck: reduce with "
            "a 1x1, a 3x3 at the reduced width, expand with a 1x1."
        ),
    ),
    "branches_backward": (
        (
            "The forward pass stored how many channels each branch produced; those "
            "counts say where dout splits along the channel axis. A value that feeds "
            "several branches collects the gradient of every one."
        ),
    ),
    "smoothed_cross_entropy": (
        (
            "The true class gives up epsilon and gets back its share of the uniform "
            "part. As for plain cross-entropy, the gradient compares the probabilities "
            "with the targets; averaging over the examples scales it."
        ),
    ),
}
