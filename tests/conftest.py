import numpy as np
import pytest


@pytest.fixture
def rng():
    """A fresh, seeded generator per test: tests never share random state."""
    return np.random.default_rng(1234)


@pytest.fixture
def torch():
    """PyTorch if installed (double precision by default), else skip the test."""
    torch = pytest.importorskip("torch")
    torch.set_default_dtype(torch.float64)
    return torch
