"""Graded checks of 07_cnn: parameter counts and the receptive field (in
steps), the LeNet (structure and accuracy), the shift augmentation, per-layer
gradient norms, the bottleneck block, a two-branch (non-sequential) block and
a custom loss; plus the auto-graded inline questions (``q_*``).

The network checks judge the student's object with a ``compare`` (no
element-wise reference): the architecture must satisfy a few constraints,
among them a non-linearity after every convolution (max-pooling alone is
not enough: linear convolutions followed by max-pools still reach the
accuracy threshold on these digits), and the trained network must reach a
generous accuracy on held-out test images (the visible and the hidden test
use different random subsets of the test set, which training never sees).
"""

from __future__ import annotations

import numpy as np

from autograder.assignments.mistakes.a07_cnn import MISCONCEPTIONS, MORE_HINTS
from autograder.assignments.references.a07_cnn import (
    _accuracy_compare,
    _bottleneck_reference,
    _count_reference,
    _layers_to_cover_reference,
    _norm_reference,
    _random_shift_reference,
    _reference_shift,
    _smoothing_reference,
    _stack_reference,
    _step_reference,
    _three_ways_reference,
    _weight_growth_reference,
)
from autograder.checks import Check
from dlcore.data import load_digits
from dlcore.layers import (
    Activation,
    Chain,
    Conv2D,
    Dense,
    Flatten,
    MaxPool2D,
    Residual,
    walk,
)
from dlcore.model import Sequential

# What the students write that dlcore has: nothing. Parameter counts,
# receptive fields, the shift augmentation, gradient norms, the two-branch
# block and the smoothed loss have no dlcore counterpart, and the LeNet is
# built and trained with dlcore's public layers, model and optimizers, which
# the checks marked needs_dlcore=True must keep. The other checks run where
# dlcore is neither loaded nor readable.
WITHHELD: list[str] = []

MAX_PARAMS = 20_000

# --- inputs


def _seeded(rng: np.random.Generator) -> np.random.Generator:
    return np.random.default_rng(int(rng.integers(2**31)))


def _no_inputs(rng):
    return {}


def _answer(value):
    """An inline question's answer as a float array (a number or a tuple)."""
    if value is None:
        raise NotImplementedError("answer the question: the variable is still None")
    return np.asarray(value, dtype=np.float64)


# ------------------------------------------------------------- parameters


def _count_inputs(rng):
    cases = np.column_stack(
        [
            rng.integers(1, 65, size=8),
            rng.integers(1, 65, size=8),
            rng.integers(1, 8, size=8),
        ]
    )
    cases[0] = (1, 6, 5)  # LeNet-5's first layer
    return {"cases": cases}


def _count_call(fn, cases):
    return np.array([fn(int(c), int(f), int(k)) for c, f, k in cases.tolist()])


def _three_ways_inputs(rng):
    # (C, H, W, F, K); small enough that the dense reference layer is cheap
    cases = np.column_stack(
        [
            rng.integers(1, 4, size=5),
            rng.integers(3, 9, size=5),
            rng.integers(3, 9, size=5),
            rng.integers(1, 5, size=5),
            rng.choice([1, 3, 5], size=5),
        ]
    )
    cases[0] = (1, 8, 8, 1, 5)
    return {"cases": cases}


def _three_ways_call(fn, cases):
    rows = [fn(*(int(v) for v in case)) for case in cases.tolist()]
    return tuple(np.array([row[i] for row in rows]) for i in range(3))


# ------------------------------------------------------ receptive field


def _step_inputs(rng):
    n = 12
    cases = np.column_stack(
        [
            rng.integers(1, 30, size=n),
            rng.choice([1, 2, 4, 8], size=n),
            rng.integers(1, 8, size=n),
            rng.integers(1, 4, size=n),
        ]
    )
    cases[0] = (3, 2, 1, 2)  # a 1x1 kernel: no gap to add, its stride still counts
    return {"cases": cases}


def _step_call(fn, cases):
    rows = [fn(*(int(v) for v in case)) for case in cases.tolist()]
    return np.array([row[0] for row in rows]), np.array([row[1] for row in rows])


def _stack_inputs(rng):
    stacks = []
    for depth in rng.integers(1, 5, size=6):
        stacks.append(
            [
                (int(rng.integers(1, 6)), int(rng.integers(1, 3)))
                for _ in range(int(depth))
            ]
        )
    stacks[0] = [(3, 1), (3, 1)]  # two 3x3 layers: a 5x5 field
    stacks[1] = [(3, 1), (2, 2), (3, 1)]  # LeNet's second convolution
    stacks[2] = [(2, 2), (3, 1)]  # a stride below widens the layer above
    return {"stacks": stacks}


def _stack_call(fn, stacks):
    return np.array([fn([tuple(layer) for layer in stack]) for stack in stacks])


# ---------------------------------------------------------------- LeNet

_WEIGHTED = (Conv2D, Dense)


def _is_nonlinear(activation) -> bool:
    return isinstance(activation, Activation) and activation.name != "linear"


def _linear_convolutions(model) -> int:
    """How many Conv2D layers reach the next weighted layer (or the output)
    without passing a non-linear activation: their own ``activation=`` or an
    activation layer between them and the next Conv2D/Dense. Pooling does
    not count: max-pooling after linear convolutions still makes a network
    that is mostly linear, and it passes the accuracy test."""
    layers = [layer for layer in walk(model) if not layer.sublayers()]
    count = 0
    for i, layer in enumerate(layers):
        if not isinstance(layer, Conv2D) or _is_nonlinear(layer.activation):
            continue
        following = []
        for later in layers[i + 1 :]:
            if isinstance(later, _WEIGHTED):
                break
            following.append(later)
        if not any(_is_nonlinear(later) for later in following):
            count += 1
    return count


def _summary(model, x):
    if not isinstance(model, Sequential):
        raise TypeError(
            f"the model must be a dlcore.model.Sequential, got {type(model).__name__}"
        )
    scores = model.predict(x)
    layers = list(walk(model))
    return {
        "n_conv": sum(isinstance(layer, Conv2D) for layer in layers),
        "n_pool": sum(isinstance(layer, MaxPool2D) for layer in layers),
        "n_linear_conv": _linear_convolutions(model),
        "scores_shape": np.shape(scores),
        "n_params": model.count_params(),
        "n_examples": len(x),
    }


def _structure_problems(summary) -> list[str]:
    problems = []
    if summary["n_conv"] < 2:
        problems.append(
            f"at least two Conv2D layers expected, found {summary['n_conv']}"
        )
    if summary["n_pool"] < 1:
        problems.append("at least one MaxPool2D layer expected, found none")
    if summary["n_linear_conv"]:
        problems.append(
            f"{summary['n_linear_conv']} Conv2D layer(s) without a non-linearity "
            "after them: a convolution must be followed by an activation "
            "(activation='relu' or an activation layer) before the next "
            "weighted layer"
        )
    want = (summary["n_examples"], 10)
    if tuple(summary["scores_shape"]) != want:
        problems.append(
            f"scores of shape {want} expected for {summary['n_examples']} images "
            f"(N, 1, 8, 8), received shape {summary['scores_shape']}"
        )
    if summary["n_params"] >= MAX_PARAMS:
        problems.append(
            f"fewer than {MAX_PARAMS} parameters expected, the model has "
            f"{summary['n_params']}"
        )
    return problems


def _lenet_call(fn, x):
    return _summary(fn(seed=0), x)


def _lenet_compare(expected, summary):
    return "; ".join(_structure_problems(summary)) or None


def _held_out(rng):
    """A random subset of the test images (never used for training)."""
    data = load_digits()
    index = np.sort(rng.choice(len(data.y_test), size=300, replace=False))
    return {"x": data.x_test[index], "y": data.y_test[index]}


def _accuracy_call(model, x):
    """The classes ``model`` predicts; the labels never reach it."""
    if model is None:
        raise NotImplementedError(
            "lenet is None: implement build_lenet and train_lenet and run the "
            "training cell first"
        )
    if not hasattr(model, "predict"):
        raise TypeError(f"lenet must be the trained model, got {type(model).__name__}")
    scores = np.asarray(model.predict(x))
    if scores.shape != (len(x), 10):
        raise ValueError(
            f"the model must output scores of shape (N, 10), got {scores.shape}"
        )
    return np.argmax(scores, axis=1), _structure_problems(_summary(model, x))


# ---------------------------------------------------------- augmentation


def _shift_inputs(rng):
    n, c = int(rng.integers(4, 8)), int(rng.integers(1, 3))
    height, width = (int(v) for v in rng.integers(5, 9, size=2))
    shifts = rng.integers(-3, 4, size=(n, 2))
    shifts[0] = (0, 0)
    shifts[1] = (2, -1)
    shifts[2] = (-height - 1, 0)  # the whole image leaves the frame
    shifts[3] = (0, width)  # exactly the width: nothing stays either
    return {"x": rng.random((n, c, height, width)), "shifts": shifts}


def _shift_call(fn, x, shifts):
    original = x.copy()
    out = fn(x, shifts)
    if not np.array_equal(x, original):
        raise ValueError("shift_images modified its input x; return a new array")
    return out


def _random_shift_inputs(rng):
    return {
        "x": rng.random((int(rng.integers(5, 10)), 1, 8, 8)),
        "max_shift": int(rng.integers(1, 3)),
        "rng": _seeded(rng),
    }


# ------------------------------------------------------- gradient norms


def _norm_inputs(rng):
    depth = int(rng.integers(2, 5))
    layers = [Conv2D(4, 3, padding="same", activation="tanh")]
    for i in range(depth):
        conv = Conv2D(4, 3, padding="same", activation="sigmoid")
        layers.append(Residual(conv) if i % 2 else conv)  # plain and residual mixed
    model = Sequential([*layers, Flatten(), Dense(10)], seed=int(rng.integers(2**31)))
    n = int(rng.integers(4, 9))
    return {
        "model": model,
        "x": rng.random((n, 1, 6, 6)),
        "y": rng.integers(0, 10, size=n),
    }


def _norm_call(fn, model, x, y):
    return np.asarray(fn(model, x, y), dtype=np.float64)


# ------------------------------------------------- a two-branch block


def _branch_layers(seed):
    """Three branches on a (C, 5, 5) input, as in an Inception module."""
    return [
        [Conv2D(3, 3, padding="same", activation="relu")],
        [Conv2D(2, 1, activation="tanh"), Conv2D(2, 3, padding="same")],
        [Conv2D(1, 1)],
    ]


def _branches_inputs(rng):
    n, c = int(rng.integers(2, 5)), int(rng.integers(1, 4))
    return {
        "x": rng.standard_normal((n, c, 5, 5)),
        "dout": rng.standard_normal((n, 6, 5, 5)),
    }


def _branches_call(cls, x, dout):
    block = cls(_branch_layers(0))
    block.build(x.shape[1:], np.random.default_rng(0))
    out = block.forward(x)
    dx = block.backward(dout)
    grads = [block.grads[key] for key in sorted(block.grads)]
    return out, dx, np.concatenate([g.ravel() for g in grads])


def _branches_reference(x, dout):
    rng = np.random.default_rng(0)
    chains = [Chain(layers) for layers in _branch_layers(0)]
    outs = []
    for chain in chains:
        chain.build(x.shape[1:], rng)
        outs.append(chain.forward(x))
    dx = np.zeros_like(x)
    start = 0
    grads = {}
    for i, (chain, out) in enumerate(zip(chains, outs, strict=True)):
        stop = start + out.shape[1]
        dx += chain.backward(dout[:, start:stop])
        start = stop
        grads.update({f"{i}.{key}": g for key, g in chain.grads.items()})
    flat = np.concatenate([grads[key].ravel() for key in sorted(grads)])
    return np.concatenate(outs, axis=1), dx, flat


# ------------------------------------------------------ the custom loss


def _smoothing_inputs(rng):
    n, k = int(rng.integers(3, 9)), int(rng.integers(3, 11))
    return {
        "scores": 3.0 * rng.standard_normal((n, k)),
        "labels": rng.integers(0, k, size=n),
        "epsilon": float(rng.uniform(0.05, 0.3)),
    }


def _smoothing_call(fn, scores, labels, epsilon):
    value, dscores = fn(scores, labels, epsilon=epsilon)
    return np.float64(value), np.asarray(dscores)


CHECKS = [
    Check(
        name="count_conv_params",
        points=1,
        make_inputs=_count_inputs,
        call=_count_call,
        reference=_count_reference,
        hint="What does one filter own, through all its input channels?",
        misconceptions=MISCONCEPTIONS["count_conv_params"],
        more_hints=MORE_HINTS["count_conv_params"],
    ),
    Check(
        name="param_counts",
        points=2,
        make_inputs=_three_ways_inputs,
        call=_three_ways_call,
        reference=_three_ways_reference,
        outputs=("dense", "locally connected", "convolutional"),
        hint=(
            "Count, for each layer, how many output units there are and what each one "
            "sees: all the inputs, a window through the channels, or a filter shared "
            "by its whole channel. Every unit (or shared filter) has a bias."
        ),
        misconceptions=MISCONCEPTIONS["param_counts"],
        more_hints=MORE_HINTS["param_counts"],
    ),
    Check(
        name="q_weight_growth",
        points=1,
        make_inputs=_no_inputs,
        call=_answer,
        reference=_weight_growth_reference,
        outputs=("dense factor", "convolutional factor"),
        hint="Which factors of each layer's weight count grow with the image?",
        misconceptions=MISCONCEPTIONS["q_weight_growth"],
        more_hints=MORE_HINTS["q_weight_growth"],
    ),
    Check(
        name="receptive_field_step",
        points=1,
        make_inputs=_step_inputs,
        call=_step_call,
        reference=_step_reference,
        outputs=("size", "jump"),
        hint=(
            "A window of k units of the layer below spans the gaps between its units; "
            "how many input pixels is one gap? And how far apart are the new layer's "
            "units?"
        ),
        misconceptions=MISCONCEPTIONS["receptive_field_step"],
        more_hints=MORE_HINTS["receptive_field_step"],
    ),
    Check(
        name="receptive_field",
        points=1,
        make_inputs=_stack_inputs,
        call=_stack_call,
        reference=_stack_reference,
        hint="Start from one input pixel; take one step per layer, as data flows.",
        misconceptions=MISCONCEPTIONS["receptive_field"],
        more_hints=MORE_HINTS["receptive_field"],
    ),
    Check(
        name="q_layers_to_cover",
        points=1,
        make_inputs=_no_inputs,
        call=_answer,
        reference=_layers_to_cover_reference,
        hint="What does each stride-1 3x3 layer add to the field?",
        misconceptions=MISCONCEPTIONS["q_layers_to_cover"],
        more_hints=MORE_HINTS["q_layers_to_cover"],
    ),
    Check(
        name="build_lenet",
        needs_dlcore=True,
        points=2,
        make_inputs=lambda rng: {"x": rng.random((5, 1, 8, 8))},
        call=_lenet_call,
        compare=_lenet_compare,
        hint="Convolution with an activation, pooling, twice; flatten; score.",
        misconceptions=MISCONCEPTIONS["build_lenet"],
        more_hints=MORE_HINTS["build_lenet"],
    ),
    Check(
        name="lenet_accuracy",
        needs_dlcore=True,
        points=2,
        make_inputs=_held_out,
        call=_accuracy_call,
        reference=lambda x, y: y,  # the labels, kept by the grader
        compare=_accuracy_compare,
        held_out=("y",),
        hint=(
            "Compile with the cross-entropy of the scores and an adaptive optimizer; a"
            " few epochs on the training images only should reach the target."
        ),
        more_hints=MORE_HINTS["lenet_accuracy"],
    ),
    Check(
        name="shift_images",
        points=2,
        make_inputs=_shift_inputs,
        call=_shift_call,
        reference=_reference_shift,
        hint=(
            "Each output pixel comes from the input pixel the shift moved there, if "
            "that pixel exists; the uncovered border stays zero (nothing wraps "
            "around)."
        ),
        misconceptions=MISCONCEPTIONS["shift_images"],
        more_hints=MORE_HINTS["shift_images"],
    ),
    Check(
        name="random_shift",
        points=1,
        make_inputs=_random_shift_inputs,
        call=lambda fn, x, max_shift, rng: fn(x, max_shift, rng),
        reference=_random_shift_reference,
        hint=(
            "Draw every image's (dy, dx) from the generator in the single call the "
            "docstring states (mind which bound is included), then reuse shift_images."
        ),
        misconceptions=MISCONCEPTIONS["random_shift"],
        more_hints=MORE_HINTS["random_shift"],
    ),
    Check(
        name="gradient_norms",
        needs_dlcore=True,
        points=2,
        make_inputs=_norm_inputs,
        call=_norm_call,
        reference=_norm_reference,
        rtol=1e-6,
        hint=(
            "One forward and one backward pass on the batch, then the size of every "
            "weighted layer's weight gradient, including the layers nested in blocks."
        ),
        misconceptions=MISCONCEPTIONS["gradient_norms"],
        more_hints=MORE_HINTS["gradient_norms"],
    ),
    Check(
        name="q_bottleneck_params",
        points=1,
        make_inputs=_no_inputs,
        call=_answer,
        reference=_bottleneck_reference,
        outputs=("basic block", "bottleneck block"),
        hint="Count each convolution of both blocks with count_conv_params.",
        misconceptions=MISCONCEPTIONS["q_bottleneck_params"],
        more_hints=MORE_HINTS["q_bottleneck_params"],
    ),
    Check(
        name="branches_backward",
        needs_dlcore=True,
        points=2,
        make_inputs=_branches_inputs,
        call=_branches_call,
        reference=_branches_reference,
        outputs=("out", "dx", "parameter gradients (sorted by key)"),
        hint=(
            "Give each branch the part of dout that its own output channels received, "
            "and combine what the branches send back to their shared input."
        ),
        misconceptions=MISCONCEPTIONS["branches_backward"],
        more_hints=MORE_HINTS["branches_backward"],
    ),
    Check(
        name="smoothed_cross_entropy",
        points=2,
        make_inputs=_smoothing_inputs,
        call=_smoothing_call,
        reference=_smoothing_reference,
        outputs=("value", "dscores"),
        hint=(
            "Build the smoothed target distribution (it still sums to 1), compare it "
            "with the softmax probabilities computed stably, and average over the "
            "examples."
        ),
        misconceptions=MISCONCEPTIONS["smoothed_cross_entropy"],
        more_hints=MORE_HINTS["smoothed_cross_entropy"],
    ),
]
