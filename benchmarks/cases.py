"""The benchmark cases: what is timed, for dlcore and for each baseline.

A case maps implementation names to zero-argument callables doing the same
work: ``"dlcore"``, ``"torch"`` (PyTorch CPU, same threads, when
installed), ``"numpy"`` (a plain NumPy implementation from
:mod:`benchmarks.baselines`) and ``"naive"`` (loops from the definition,
run on ``naive_batch`` examples; the runner scales its time to the full
batch).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import baselines as base

# The course's convolution shapes (issue 4): (N, C, H=W, F), 3x3, padding 1.
CONV_SHAPES = [(64, 1, 28, 8), (64, 8, 14, 16), (128, 16, 8, 32)]
DTYPES = (np.float32, np.float64)
NAIVE_BATCH = 2


@dataclass
class Case:
    group: str
    label: str
    dtype: str
    impls: dict = field(default_factory=dict)
    naive: object = None  # callable on NAIVE_BATCH examples
    naive_scale: float = 1.0  # full batch / NAIVE_BATCH


def _torch():
    try:
        import torch
    except ImportError:
        return None
    return torch


def _tensor(torch, a, grad=False):
    t = torch.from_numpy(np.ascontiguousarray(a))
    return t.requires_grad_(grad)


def _fwd_bwd(forward, backward, args, dout, kwargs=None):
    kwargs = kwargs or {}

    def run():
        _, cache = forward(*args, **kwargs)
        backward(dout, cache)

    return run


def _torch_fwd_bwd(torch, fn, tensors, dout, **kwargs):
    grad = torch.from_numpy(dout)

    def run():
        for t in tensors:
            t.grad = None
        fn(*tensors, **kwargs).backward(grad)

    return run


# ----------------------------------------------------------- convolutions


def _pair(module, name: str) -> tuple:
    """``module``'s ``<name>_forward`` and ``<name>_backward``."""
    return getattr(module, f"{name}_forward"), getattr(module, f"{name}_backward")


def _conv_geometry(dims: int, N: int, C: int, H: int, F: int):
    """Input and weight shapes, label and baseline stride/padding of a case.

    The 1-D case holds the same positions as the 2-D one, as one long
    signal per channel.
    """
    if dims == 2:
        label = f"N={N} C={C} {H}x{H} F={F} 3x3 pad 1"
        return (N, C, H, H), (F, C, 3, 3), label, (1, 1), (1, 1)
    label = f"N={N} C={C} L={H * H} F={F} k=3 pad 1"
    return (N, C, H * H), (F, C, 3), label, 1, 1


def conv_cases(torch):
    import dlcore.functional

    cases = []
    for dims in (2, 1):
        name = f"conv{dims}d"
        mine = _pair(dlcore.functional, name)
        numpy_pair = _pair(base, f"im2col_{name}")
        naive_pair = _pair(base, f"naive_{name}")
        for dtype in DTYPES:
            for N, C, H, F in CONV_SHAPES:
                rng = np.random.default_rng(0)
                shape, w_shape, label, stride, padding = _conv_geometry(
                    dims, N, C, H, F
                )
                baseline_kwargs = {"stride": stride, "padding": padding}
                x = rng.standard_normal(shape).astype(dtype)
                W = (rng.standard_normal(w_shape) * 0.1).astype(dtype)
                b = np.zeros(F, dtype)
                dout = rng.standard_normal((N, F, *shape[2:])).astype(dtype)
                case = Case(f"{name} forward+backward", label, dtype.__name__)
                case.impls["dlcore"] = _fwd_bwd(*mine, (x, W, b), dout, {"padding": 1})
                case.impls["numpy"] = _fwd_bwd(
                    *numpy_pair, (x, W, b), dout, baseline_kwargs
                )
                case.naive = _fwd_bwd(
                    *naive_pair,
                    (x[:NAIVE_BATCH], W, b),
                    dout[:NAIVE_BATCH],
                    baseline_kwargs,
                )
                case.naive_scale = N / NAIVE_BATCH
                if torch is not None:
                    fn = getattr(torch.nn.functional, name)
                    tensors = [_tensor(torch, a, True) for a in (x, W, b)]
                    case.impls["torch"] = _torch_fwd_bwd(
                        torch, fn, tensors, dout, padding=1
                    )
                cases.append(case)
    return cases


def pool_cases(torch):
    import dlcore.functional

    cases = []
    for kind in ("max", "avg"):
        for dtype in DTYPES:
            for N, _, H, C in CONV_SHAPES:  # pooling the convolutions' outputs
                rng = np.random.default_rng(0)
                x = rng.standard_normal((N, C, H, H)).astype(dtype)
                dout = rng.standard_normal((N, C, H // 2, H // 2)).astype(dtype)
                case = Case(
                    f"{kind}pool2d 2x2 forward+backward",
                    f"N={N} C={C} {H}x{H}",
                    dtype.__name__,
                )
                case.impls["dlcore"] = _fwd_bwd(
                    *_pair(dlcore.functional, f"{kind}pool2d"), (x, 2), dout
                )
                case.impls["numpy"] = _fwd_bwd(
                    *_pair(base, f"numpy_{kind}pool2d"), (x, (2, 2), (2, 2)), dout
                )
                case.naive = _fwd_bwd(
                    base.naive_pool2d_forward,
                    base.naive_pool2d_backward,
                    (x[:NAIVE_BATCH], (2, 2), (2, 2), kind),
                    dout[:NAIVE_BATCH],
                )
                case.naive_scale = N / NAIVE_BATCH
                if torch is not None:
                    fn = getattr(torch.nn.functional, f"{kind}_pool2d")
                    tensors = [_tensor(torch, x, True)]
                    case.impls["torch"] = _torch_fwd_bwd(
                        torch, lambda t, fn=fn: fn(t, 2), tensors, dout
                    )
                cases.append(case)
    return cases


def batchnorm_cases(torch):
    from dlcore.functional import batchnorm_backward, batchnorm_forward

    cases = []
    for dtype in DTYPES:
        for N, _, H, C in CONV_SHAPES:
            rng = np.random.default_rng(0)
            x = rng.standard_normal((N, C, H, H)).astype(dtype)
            gamma = np.ones(C, dtype)
            beta = np.zeros(C, dtype)
            dout = rng.standard_normal(x.shape).astype(dtype)
            case = Case(
                "batchnorm forward+backward (training)",
                f"N={N} C={C} {H}x{H}",
                dtype.__name__,
            )
            case.impls["dlcore"] = _fwd_bwd(
                batchnorm_forward, batchnorm_backward, (x, gamma, beta), dout
            )
            case.naive = _fwd_bwd(
                base.naive_batchnorm_forward,
                base.naive_batchnorm_backward,
                (x[:NAIVE_BATCH], gamma, beta),
                dout[:NAIVE_BATCH],
            )
            case.naive_scale = N / NAIVE_BATCH
            if torch is not None:
                tensors = [_tensor(torch, a, True) for a in (x, gamma, beta)]

                def bn(t, g, b):
                    return torch.nn.functional.batch_norm(
                        t, None, None, g, b, training=True, eps=1e-5
                    )

                case.impls["torch"] = _torch_fwd_bwd(torch, bn, tensors, dout)
            cases.append(case)
    return cases


# ------------------------------------------------------------- networks


def _torch_mlp(torch, sizes, dtype):
    modules = []
    for a, b in zip(sizes[:-1], sizes[1:], strict=True):
        modules += [torch.nn.Linear(a, b), torch.nn.ReLU()]
    model = torch.nn.Sequential(*modules[:-1]).to(_torch_dtype(torch, dtype))
    return model, torch.optim.Adam(model.parameters(), lr=1e-3)


def _torch_dtype(torch, dtype):
    return torch.float32 if dtype == np.float32 else torch.float64


def _torch_step(torch, model, optimizer, x, y):
    optimizer.zero_grad()
    loss = torch.nn.functional.cross_entropy(model(x), y)
    loss.backward()
    optimizer.step()
    return loss


def mlp_cases(torch):
    from dlcore.layers import Dense
    from dlcore.model import Sequential
    from dlcore.optim import Adam

    sizes = (64, 256, 256, 10)
    cases = []
    for dtype in DTYPES:
        rng = np.random.default_rng(0)
        x = rng.standard_normal((128, sizes[0])).astype(dtype)
        y = rng.integers(0, sizes[-1], 128)
        model = Sequential(
            [
                Dense(256, activation="relu", input_dim=64),
                Dense(256, activation="relu"),
                Dense(10),
            ],
            seed=0,
        )
        model.compile(loss="softmax_cross_entropy", optimizer=Adam(lr=1e-3))
        case = Case(
            "MLP training step (Adam)", "batch 128, 64-256-256-10", dtype.__name__
        )
        case.impls["dlcore"] = lambda model=model, x=x, y=y: model.train_on_batch(x, y)
        Ws = [
            rng.standard_normal((o, i)) * 0.05
            for i, o in zip(sizes[:-1], sizes[1:], strict=True)
        ]
        bs = [np.zeros(o) for o in sizes[1:]]
        case.naive = lambda Ws=Ws, bs=bs, x=x, y=y: base.naive_mlp_step(
            (Ws, bs), x[:NAIVE_BATCH].astype(np.float64), y[:NAIVE_BATCH]
        )
        case.naive_scale = 128 / NAIVE_BATCH
        if torch is not None:
            net, opt = _torch_mlp(torch, sizes, dtype)
            xt, yt = torch.from_numpy(x), torch.from_numpy(y)
            case.impls["torch"] = lambda net=net, opt=opt, xt=xt, yt=yt: _torch_step(
                torch, net, opt, xt, yt
            )
        cases.append(case)
    return cases


def _dlcore_cnn(seed=0):
    from dlcore.layers import Conv2D, Dense, Flatten, MaxPool2D
    from dlcore.model import Sequential
    from dlcore.optim import Adam

    model = Sequential(
        [
            Conv2D(16, 3, padding="same", activation="relu", input_shape=(1, 8, 8)),
            MaxPool2D(2),
            Conv2D(32, 3, padding="same", activation="relu"),
            MaxPool2D(2),
            Flatten(),
            Dense(10),
        ],
        seed=seed,
    )
    model.compile(loss="softmax_cross_entropy", optimizer=Adam(lr=3e-3))
    return model


def _torch_cnn(torch, dtype, seed=0):
    torch.manual_seed(seed)
    nn = torch.nn
    model = nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(32 * 2 * 2, 10),
    ).to(_torch_dtype(torch, dtype))
    return model, torch.optim.Adam(model.parameters(), lr=3e-3)


def _dlcore_digits_mlp(seed=0):
    from dlcore.layers import Dense
    from dlcore.model import Sequential
    from dlcore.optim import Adam

    model = Sequential(
        [Dense(128, activation="relu", input_dim=64), Dense(10)], seed=seed
    )
    model.compile(loss="softmax_cross_entropy", optimizer=Adam(lr=1e-3))
    return model


def _torch_epoch(torch, model, optimizer, x, y, batch_size, order):
    """One epoch visiting the examples in ``order`` (a tensor of indices)."""
    for start in range(0, len(x), batch_size):
        index = order[start : start + batch_size]
        _torch_step(torch, model, optimizer, x[index], y[index])


def _built(model, dtype):
    """Build a dlcore model in ``dtype`` now, so its initial weights can be copied."""
    model.dtype = np.dtype(dtype)
    model.build()
    return model


def _copy_weights(torch, model, net):
    """Give the PyTorch ``net`` the dlcore ``model``'s current weights.

    Both list (weight, bias) per layer in the same order and shapes
    (``Dense.W`` is ``(out, in)`` like ``nn.Linear.weight``, ``Conv2D.W``
    ``(F, C, KH, KW)`` like ``nn.Conv2d.weight``), so the two start from
    the same point instead of from two different default initializations.
    """
    ours = list(model.parameters().values())
    theirs = list(net.parameters())
    if [a.shape for a in ours] != [tuple(t.shape) for t in theirs]:
        raise RuntimeError("the dlcore and PyTorch networks differ in shape")
    with torch.no_grad():
        for a, t in zip(ours, theirs, strict=True):
            t.copy_(torch.from_numpy(np.array(a, dtype=a.dtype)))


def _torch_accuracy(torch, model, x, y):
    with torch.no_grad():
        return float((model(x).argmax(dim=1) == y).double().mean())


def _digits(dtype, flat):
    from dlcore.data import load_digits

    d = load_digits(flat=flat, dtype=dtype)
    x = np.concatenate([d.x_train, d.x_val])
    y = np.concatenate([d.y_train, d.y_val])
    return x, y, d.x_test, d.y_test


EPOCHS, BATCH = 20, 64
SHUFFLE_SEED = 0


def digits_cases(torch):
    """One epoch of the digits CNN (timed repeatedly)."""
    cases = []
    for dtype in DTYPES:
        x, y, _, _ = _digits(dtype, flat=False)
        case = Case(
            "digits CNN, one epoch (Adam)",
            f"{len(x)} images 1x8x8, batch {BATCH}",
            dtype.__name__,
        )
        model = _built(_dlcore_cnn(), dtype)

        def dl_epoch(model=model, x=x, y=y):
            model.fit(x, y, epochs=1, batch_size=BATCH, verbose=0)

        case.impls["dlcore"] = dl_epoch
        if torch is not None:
            net, opt = _torch_cnn(torch, dtype)
            _copy_weights(torch, model, net)
            xt, yt = torch.from_numpy(x), torch.from_numpy(y)
            gen = torch.Generator().manual_seed(0)

            def torch_epoch(net=net, opt=opt, xt=xt, yt=yt, gen=gen):
                order = torch.randperm(len(xt), generator=gen)
                _torch_epoch(torch, net, opt, xt, yt, BATCH, order)

            case.impls["torch"] = torch_epoch
        cases.append(case)
    return cases


def end_to_end(torch, dtype, network: str) -> dict:
    """Train from scratch for EPOCHS epochs; wall time and test accuracy.

    Like for like: PyTorch's network starts from a copy of dlcore's initial
    weights and visits the batches in the same order (the permutations
    dlcore's ``fit`` draws from ``seed=SHUFFLE_SEED``, converted to tensors
    before the clock starts), with the same architecture, optimizer,
    learning rate, epochs and batch size. What remains different is
    floating-point rounding, so the accuracies should agree closely.
    """
    import time

    from dlcore.model import accuracy

    flat = network == "MLP"
    x, y, x_test, y_test = _digits(dtype, flat)
    results = {}
    model = _built(_dlcore_digits_mlp() if flat else _dlcore_cnn(), dtype)
    if torch is not None:
        if flat:
            net, opt = _torch_mlp(torch, (64, 128, 10), dtype)
        else:
            net, opt = _torch_cnn(torch, dtype)
        _copy_weights(torch, model, net)  # before dlcore trains its own copy
    start = time.perf_counter()
    model.fit(x, y, epochs=EPOCHS, batch_size=BATCH, seed=SHUFFLE_SEED, verbose=0)
    seconds = time.perf_counter() - start
    results["dlcore"] = (seconds, accuracy(model.predict(x_test), y_test))
    if torch is not None:
        # fit draws one permutation per epoch from this generator.
        shuffle = np.random.default_rng(SHUFFLE_SEED)
        orders = [torch.from_numpy(shuffle.permutation(len(x))) for _ in range(EPOCHS)]
        xt, yt = torch.from_numpy(x), torch.from_numpy(y)
        start = time.perf_counter()
        for order in orders:
            _torch_epoch(torch, net, opt, xt, yt, BATCH, order)
        seconds = time.perf_counter() - start
        acc = _torch_accuracy(
            torch, net, torch.from_numpy(x_test), torch.from_numpy(y_test)
        )
        results["torch"] = (seconds, acc)
    return results


GROUPS = {
    "conv": conv_cases,
    "pool": pool_cases,
    "batchnorm": batchnorm_cases,
    "mlp": mlp_cases,
    "digits": digits_cases,
}
