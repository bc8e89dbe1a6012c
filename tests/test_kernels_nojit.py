"""The Numba kernels behind convolution and pooling: lazy compilation, one
specialization per dtype, and the same results as plain Python
(``NUMBA_DISABLE_JIT=1``)."""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import dlcore.functional as F
from dlcore._kernels import conv as conv_kernels
from dlcore._kernels import pooling as pool_kernels

KERNELS = {
    f"{module.__name__}.{name}": getattr(module, name)
    for module in (conv_kernels, pool_kernels)
    for name in dir(module)
    if hasattr(getattr(module, name), "signatures")
}

# Small problems computed by every kernel, in the subprocess and here.
SMALL_PROBLEMS = textwrap.dedent(
    """
    import numpy as np
    import dlcore.functional as F

    def small_problems():
        rng = np.random.default_rng(7)
        results = {}
        x = rng.standard_normal((2, 3, 6, 5))
        W = rng.standard_normal((5, 3, 3, 2))
        b = rng.standard_normal(5)
        for name, stride, padding in [("s1", 1, 1), ("s2", (2, 1), (0, 2))]:
            out, cache = F.conv2d_forward(x, W, b, stride=stride, padding=padding)
            dout = rng.standard_normal(out.shape)
            grads = F.conv2d_backward(dout, cache)
            for key, value in zip(("out", "dx", "dW", "db"), (out, *grads)):
                results[f"conv2d_{name}_{key}"] = value
        # Stride 1 keeping the width: the grouped kernels (several images per
        # pass, column-shifted planes), in both dtypes.
        W3 = rng.standard_normal((5, 3, 3, 3))
        for dtype in (np.float64, np.float32):
            for padding in (1, (0, 1)):
                out, cache = F.conv2d_forward(
                    x.astype(dtype), W3.astype(dtype), b, padding=padding
                )
                grads = F.conv2d_backward(rng.standard_normal(out.shape), cache)
                tag = f"conv2d_grouped_{np.dtype(dtype).name}_{padding}"
                for key, value in zip(("out", "dx", "dW", "db"), (out, *grads)):
                    results[f"{tag}_{key}"] = value
        x1 = rng.standard_normal((2, 2, 9))
        out, cache = F.conv1d_forward(x1, W[:, :2, 0], b, stride=2, padding="valid")
        grads = F.conv1d_backward(rng.standard_normal(out.shape), cache)
        for key, value in zip(("out", "dx", "dW", "db"), (out, *grads)):
            results[f"conv1d_{key}"] = value
        x32 = x.astype(np.float32)
        out, cache = F.conv2d_forward(x32, W.astype(np.float32), b, padding=1)
        results["conv2d_f32_out"] = out
        results["conv2d_f32_dx"] = F.conv2d_backward(np.ones_like(out), cache)[0]
        for kind in ("max", "avg"):
            forward = getattr(F, f"{kind}pool2d_forward")
            backward = getattr(F, f"{kind}pool2d_backward")
            for window, stride in [(3, 2), (2, None)]:  # loops; unrolled 2x2
                out, cache = forward(x, window, stride)
                results[f"{kind}pool2d_{window}_out"] = out
                dout = rng.standard_normal(out.shape)
                results[f"{kind}pool2d_{window}_dx"] = backward(dout, cache)
            forward = getattr(F, f"{kind}pool1d_forward")
            backward = getattr(F, f"{kind}pool1d_backward")
            out, cache = forward(x1.astype(np.float32), 2)
            results[f"{kind}pool1d_out"] = out
            results[f"{kind}pool1d_dx"] = backward(np.ones_like(out), cache)
        return results
    """
)

NOJIT_SCRIPT = SMALL_PROBLEMS + textwrap.dedent(
    """
    import sys, types
    import numba
    from dlcore._kernels import conv, pooling

    assert numba.config.DISABLE_JIT, "NUMBA_DISABLE_JIT did not take effect"
    # With the JIT disabled the kernels are the plain Python functions.
    assert isinstance(conv.correlate_planes, types.FunctionType)
    assert isinstance(conv.grouped_forward, types.FunctionType)
    assert isinstance(pooling.window_max, types.FunctionType)
    np.savez(sys.argv[1], **small_problems())
    """
)


def _run_python(code, *args, env=None, timeout=300):
    result = subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=timeout,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_kernels_give_the_same_results_without_jit(tmp_path):
    path = tmp_path / "nojit.npz"
    _run_python(NOJIT_SCRIPT, str(path), env={"NUMBA_DISABLE_JIT": "1"})
    namespace = {}
    exec(SMALL_PROBLEMS, namespace)
    jitted = namespace["small_problems"]()
    with np.load(path) as plain:
        assert set(plain.files) == set(jitted)
        for key, value in jitted.items():
            assert plain[key].dtype == value.dtype, key
            tol = 1e-5 if value.dtype == np.float32 else 1e-12
            np.testing.assert_allclose(
                plain[key], value, rtol=tol, atol=tol, err_msg=key
            )


def test_importing_dlcore_compiles_nothing():
    code = textwrap.dedent(
        """
        import dlcore, dlcore.functional, dlcore.layers
        from dlcore._kernels import conv, pooling
        compiled = [
            name
            for module in (conv, pooling)
            for name in dir(module)
            if getattr(getattr(module, name), "signatures", None)
        ]
        print(compiled)
        """
    )
    assert _run_python(code).strip() == "[]"


def test_one_specialization_per_dtype(rng):
    """Contiguity, strides, paddings and shapes never trigger a new compilation."""
    x = rng.standard_normal((3, 5, 9, 4)).transpose(0, 3, 2, 1)  # non-contiguous
    for dtype in (np.float64, np.float32):
        xd = x.astype(dtype)[:, :, ::2]
        W = rng.standard_normal((3, 4, 2, 3))
        for stride, padding in [(1, 1), ((2, 1), 0), (1, "full")]:
            out, cache = F.conv2d_forward(xd, W, np.zeros(3), stride, padding)
            F.conv2d_backward(np.ones(out.shape)[:, :, :, ::-1], cache)
        out, cache = F.conv1d_forward(xd[:, :, 0], W[:, :, 0], np.zeros(3), 2, 1)
        F.conv1d_backward(np.ones(out.shape), cache)
        for kind in ("max", "avg"):
            for dims in (1, 2):
                forward = getattr(F, f"{kind}pool{dims}d_forward")
                backward = getattr(F, f"{kind}pool{dims}d_backward")
                data = xd if dims == 2 else xd[:, :, 0]
                out, cache = forward(data, 2, 1)
                backward(np.ones(out.shape).T.copy().T, cache)
    for name, kernel in KERNELS.items():
        dtypes = [str(sig[0].dtype) for sig in kernel.signatures]
        assert len(kernel.signatures) <= 2, (name, kernel.signatures)
        assert set(dtypes) <= {"float32", "float64"}, (name, dtypes)
        assert all(
            arg.layout == "C"
            for sig in kernel.signatures
            for arg in sig
            if hasattr(arg, "layout")
        ), (name, kernel.signatures)


@pytest.mark.parametrize("threads", ["1", "2"])
def test_results_do_not_depend_on_the_thread_count(tmp_path, threads):
    """Splitting the work over threads changes nothing but the summation order."""
    code = SMALL_PROBLEMS + textwrap.dedent(
        """
        import sys
        from dlcore._kernels import threads
        threads.set_num_threads(int(sys.argv[2]))
        # Force a split even on these small problems.
        import dlcore._kernels.conv_common as conv, dlcore.functional.pooling as pooling
        conv.MIN_WORK_PER_THREAD = conv.MIN_COPY_PER_THREAD = 1
        pooling._MIN_WORK_PER_THREAD = 1
        np.savez(sys.argv[1], **small_problems())
        """
    )
    path = tmp_path / "threads.npz"
    _run_python(code, str(path), threads)
    namespace = {}
    exec(SMALL_PROBLEMS, namespace)
    reference = namespace["small_problems"]()
    with np.load(path) as split:
        for key, value in reference.items():
            tol = 1e-5 if value.dtype == np.float32 else 1e-12
            np.testing.assert_allclose(
                split[key], value, rtol=tol, atol=tol, err_msg=key
            )
