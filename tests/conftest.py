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


# The one autograde run of the course that the pipeline and notebook tests share.
from course_run import graded  # noqa: E402, F401

# A real PostgreSQL server (tests/postgres_server.py) for the distributed tests.
from postgres_server import postgres_db, postgres_server  # noqa: E402, F401
