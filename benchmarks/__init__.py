"""Benchmarks of dlcore against NumPy, naive loops and (if installed) PyTorch.

Run ``python -m benchmarks`` from the repository root (``make benchmark``);
see ``benchmarks/README.md`` for the options and the latest numbers. The
modules here are not tests: pytest does not collect them.
"""
