"""The speed engine behind :mod:`dlcore.functional`'s convolution and pooling.

Nothing here is public. The readable, documented functions are in
``dlcore/functional/conv.py`` and ``dlcore/functional/pooling.py``; they
validate the input and state the math, and hand the arrays to this package
(as CS231n keeps ``fast_layers.py`` apart from ``layers.py``):

* :mod:`.conv_engine` chooses how a convolution runs: :mod:`.conv_grouped`
  (stride 1 keeping the width, a few images at a time) or
  :mod:`.conv_batch` (the whole batch in one flat layout of planes), both
  using :mod:`.conv_common` (scratch memory, weights as tap matrices);
* :mod:`.conv` and :mod:`.pooling` hold the Numba loops;
* :mod:`.threads` splits a loop's range over a few Python threads.

Design rules every kernel follows (see ``benchmarks/README.md`` for the
measurements behind them):

* ``@njit(cache=True, nogil=True)`` and no signatures: importing
  :mod:`dlcore` compiles nothing, the first call compiles (or loads from the
  on-disk cache) one specialization per dtype. :mod:`dlcore.functional`
  imports this package's modules inside its functions, at the first
  convolution or pooling: Numba takes about 0.4 s of CPU to import, which
  every notebook without them would pay in every kernel. Callers pass C-contiguous
  arrays of one dtype and Python ints, so float32 and float64 are the only
  two specializations of each kernel. A kernel that calls another one
  passes ``np.intp(0)`` rather than the literal ``0``: Numba would compile
  the callee once more for the constant.
* Serial loops. Work is split over threads by :mod:`dlcore._kernels.threads`
  (the kernels release the GIL), not by ``numba.prange``: a Numba parallel
  region next to a multithreaded OpenBLAS call stalls for milliseconds on a
  2-core machine because both thread pools spin-wait.
* Arithmetic stays in the arrays' dtype: accumulators start from array
  elements, never from a literal ``0.0`` (which would be float64).
* Slices are taken once per block and indexed with bare loop variables, so
  the inner loops are long, contiguous and vectorized.
* Everything also runs as plain Python under ``NUMBA_DISABLE_JIT=1``
  (slowly), which the test suite checks on small shapes.
"""
