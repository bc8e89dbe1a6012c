"""dlcore: the course's small deep-learning library, NumPy for the math and
Numba for the loops.

Importing it compiles nothing: the Numba kernels compile on first use and are
cached on disk.
"""

__version__ = "0.1.0"
