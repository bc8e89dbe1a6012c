"""The grading run's bookkeeping, without executing notebooks
(``autograder/grading/``): content hashes, the ledger, argument checks."""

from __future__ import annotations

import json

import pytest
from fresh_imports import packages_imported_after

from autograder.grading.coordinator import autograde
from autograder.grading.ledger import Ledger
from autograder.grading.units import content_hash, plan_units
from autograder.pipeline import CommandError


def _course(tmp_path):
    root = tmp_path / "course"
    (root / "solutions" / "a1").mkdir(parents=True)
    (root / "solutions" / "a1" / "a1.ipynb").write_text("{source}")
    work = tmp_path / "submitted" / "ann" / "a1"
    work.mkdir(parents=True)
    (work / "a1.ipynb").write_text("{answer}")
    (work / "timestamp.txt").write_text("2025-03-01 11:30:00 UTC")
    return root, tmp_path / "submitted", work


def test_the_content_hash_follows_the_submission_and_the_source(tmp_path):
    root, submitted, work = _course(tmp_path)
    first = content_hash(root, submitted, "a1", "ann")
    assert content_hash(root, submitted, "a1", "ann") == first
    (work / "a1.ipynb").write_text("{answer, changed}")
    second = content_hash(root, submitted, "a1", "ann")
    assert second != first
    (root / "solutions" / "a1" / "a1.ipynb").write_text("{source, changed}")
    assert content_hash(root, submitted, "a1", "ann") not in (first, second)
    # another student's identical work is another unit
    other = submitted / "bob" / "a1"
    other.mkdir(parents=True)
    for path in work.iterdir():
        (other / path.name).write_bytes(path.read_bytes())
    units = plan_units(root, submitted, {"a1": ["ann", "bob"]})
    assert [u.key for u in units] == ["ann/a1", "bob/a1"]
    assert units[0].digest != units[1].digest


def test_the_ledger_lists_graded_units_per_gradebook(tmp_path):
    root, submitted, work = _course(tmp_path)
    (unit,) = plan_units(root, submitted, {"a1": ["ann"]})
    ledger = Ledger(tmp_path / "grading", "sqlite:///one.db")
    assert not ledger.is_graded(unit)
    ledger.record(unit)
    assert Ledger(tmp_path / "grading", "sqlite:///one.db").is_graded(unit)
    # another gradebook has its own ledger; no URL is written down
    assert not Ledger(tmp_path / "grading", "postgresql://u:pw@h/db").is_graded(unit)
    for path in (tmp_path / "grading").iterdir():
        assert "one.db" not in path.name and "one.db" not in path.read_text()
    (work / "a1.ipynb").write_text("{answer, changed}")
    (changed,) = plan_units(root, submitted, {"a1": ["ann"]})
    assert not ledger.is_graded(changed)
    ledger.forget(unit)
    data = json.loads(ledger.path.read_text())
    assert data["graded"] == {"a1": {}}


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"workers": 0}, "--workers must be a whole number >= 1, received 0"),
        ({"workers": 2, "scheduler": "tcp://h:8786"}, "not both"),
        ({"db_url": "mysql://h/db"}, "received 'mysql://h/db'"),
    ],
)
def test_bad_options_are_refused_naming_them(tmp_path, options, message):
    root, submitted, _ = _course(tmp_path)
    with pytest.raises(CommandError, match=message):
        autograde(root, submitted, None, **options)


def _worker_settings() -> dict:
    import dask

    from autograder.grading.coordinator import QUIET_DIAGNOSTICS

    return {key: dask.config.get(key) for key in QUIET_DIAGNOSTICS}


def test_the_local_cluster_keeps_dasks_diagnostics_quiet():
    """Dask's dashboard profiler and ticks cost CPU the kernels need: the
    local cluster's workers and scheduler run with QUIET_DIAGNOSTICS."""
    from autograder.grading.coordinator import QUIET_DIAGNOSTICS, _client

    with _client(1, None) as client:
        (seen,) = client.run(_worker_settings).values()
        on_scheduler = client.run_on_scheduler(_worker_settings)
    assert seen == QUIET_DIAGNOSTICS
    assert on_scheduler == QUIET_DIAGNOSTICS


def test_importing_the_grading_stack_builds_no_iri_parsers():
    """jsonschema 4.25+ loads rfc3987-syntax, which builds 35 Lark parsers
    on import: about 3 s of CPU in every grading worker and command
    (pyproject.toml keeps jsonschema below 4.25)."""
    imported = packages_imported_after(
        "import nbformat, nbgrader.api, autograder.grading.worker"
    )
    assert not {"lark", "rfc3987_syntax"} & imported


def test_the_commands_load_dask_and_matplotlib_only_where_used():
    """`release`, `export`, `feedback` ... start without the coordinator's
    Dask and the report's matplotlib (a second of imports each);
    `autograde` and `report` load them when they run."""
    assert not {"distributed", "matplotlib"} & packages_imported_after(
        "import autograder.cli"
    )


def test_the_warm_up_runs_again_only_when_the_caches_changed(tmp_path, monkeypatch):
    """Workers that start together find the caches warm from the marker and
    skip the exercise; a cache that changed since is warmed again."""
    from autograder.grading import warmup

    runs = tmp_path / "runs"
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path / "numba"))
    monkeypatch.setenv("MPLCONFIGDIR", str(tmp_path / "mpl"))
    (tmp_path / "mpl").mkdir()
    monkeypatch.setattr(warmup, "EXERCISE", f"open({str(runs)!r}, 'a').write('x')")

    def exercises_after_a_new_process_warms() -> int:
        monkeypatch.setattr(warmup, "_WARM", [])
        assert warmup.warm_numba_cache()
        return runs.read_text().count("x")

    assert exercises_after_a_new_process_warms() == 1
    assert exercises_after_a_new_process_warms() == 1
    (tmp_path / "numba" / "kernel.nbi").write_text("compiled since")
    assert exercises_after_a_new_process_warms() == 2
    (tmp_path / "mpl" / "fontlist-v390.json").write_text("{}")
    assert exercises_after_a_new_process_warms() == 3
    assert exercises_after_a_new_process_warms() == 3
