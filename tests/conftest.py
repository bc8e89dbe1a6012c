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


# The two long runs that many tests read, started in the background as soon
# as a test that reads them is collected: the one autograde of the course
# (tests/course_run.py) and every solution notebook in full
# (tests/full_runs.py).
import course_run  # noqa: E402
import full_runs  # noqa: E402
from course_run import graded  # noqa: E402, F401

# A real PostgreSQL server (tests/postgres_server.py) for the distributed tests.
from postgres_server import postgres_db, postgres_server  # noqa: E402, F401


def pytest_collection_finish(session):
    """Start the long runs now if a collected test reads them: they then
    use the core that the unit tests, run first, leave idle."""
    if any("graded" in getattr(item, "fixturenames", ()) for item in session.items):
        course_run.start_in_background(session.config)
    if any(full_runs.WANTED_BY in item.nodeid for item in session.items):
        full_runs.start()


def pytest_sessionfinish(session, exitstatus):
    course_run.finish()
    full_runs.cleanup()
