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
# Every solution notebook in full, started in the background
# (tests/full_runs.py) as soon as a test that reads them is collected.
import full_runs  # noqa: E402
from course_run import graded  # noqa: E402, F401

# A real PostgreSQL server (tests/postgres_server.py) for the distributed tests.
from postgres_server import postgres_db, postgres_server  # noqa: E402, F401

# The fixtures that wait for the two background jobs of the suite: the
# shared course run (both cores, minutes) and the full runs (one core).
READS_THE_COURSE_RUNS = {"graded", "full_runs"}


def pytest_collection_modifyitems(session, config, items):
    """The tests that read the shared course run or the full runs go last,
    in their order: the full runs then have the single-core tests before
    them to overlap with, instead of competing with the course run for
    both cores, and no test waits for them while a core is idle. (Without
    this the order of the test files decides, and a file of such tests
    early in the alphabet made the suite minutes slower.)"""
    items.sort(key=lambda item: bool(READS_THE_COURSE_RUNS & {*item.fixturenames}))


def pytest_collection_finish(session):
    if session.config.option.collectonly:
        return  # nothing runs: the notebooks need not either
    if any(full_runs.WANTED_BY in item.nodeid for item in session.items):
        full_runs.start()


def pytest_sessionfinish(session, exitstatus):
    full_runs.cleanup()
