"""dlcore.progress: fit's progress bars as a widget, text or nothing, chosen by
``set_progress`` or ``$DLCORE_PROGRESS`` (the switch a notebook runner sets)."""

from __future__ import annotations

import numpy as np
import pytest

from dlcore import progress
from dlcore.layers import Dense
from dlcore.model import Sequential


@pytest.fixture(autouse=True)
def _no_choice(monkeypatch):
    monkeypatch.delenv(progress.ENVIRONMENT_VARIABLE, raising=False)
    progress.set_progress(None)
    yield
    progress.set_progress(None)


def _fit(verbose=1):
    rng = np.random.default_rng(0)
    model = Sequential([Dense(2, input_dim=3)], seed=0)
    model.compile(loss="mean_squared_error", optimizer="sgd")
    model.fit(rng.standard_normal((8, 3)), rng.standard_normal((8, 2)), epochs=2,
              verbose=verbose)  # fmt: skip


def test_the_default_is_auto_and_the_environment_chooses(monkeypatch):
    assert progress.get_progress() == "auto"
    for mode in progress.MODES:
        monkeypatch.setenv("DLCORE_PROGRESS", f" {mode.upper()} ")
        assert progress.get_progress() == mode
    monkeypatch.setenv("DLCORE_PROGRESS", "")
    assert progress.get_progress() == "auto"


def test_the_setter_wins_over_the_environment(monkeypatch):
    monkeypatch.setenv("DLCORE_PROGRESS", "text")
    progress.set_progress("off")
    assert progress.get_progress() == "off"
    progress.set_progress(None)
    assert progress.get_progress() == "text"


def test_bad_modes_name_the_setting(monkeypatch):
    with pytest.raises(
        ValueError, match=r"mode must be one of auto, text, off, got 'widget'"
    ):
        progress.set_progress("widget")
    monkeypatch.setenv("DLCORE_PROGRESS", "1")
    with pytest.raises(
        ValueError, match=r"DLCORE_PROGRESS must be one of auto, text, off, got '1'"
    ):
        progress.get_progress()


@pytest.mark.parametrize(
    "mode, expected", [("auto", "auto"), ("text", "text"), ("off", "text")]
)
def test_fit_takes_its_bar_from_the_mode(monkeypatch, mode, expected):
    made = []

    def recording(name):
        real = progress.text_tqdm

        def factory(*args, **kwargs):
            made.append((name, kwargs["disable"]))
            return real(*args, **kwargs)

        return factory

    monkeypatch.setattr(progress, "auto_tqdm", recording("auto"))
    monkeypatch.setattr(progress, "text_tqdm", recording("text"))
    monkeypatch.setenv("DLCORE_PROGRESS", mode)
    _fit(verbose=1)
    epochs_bar = made[0]
    assert epochs_bar == (expected, mode == "off")


def test_text_bars_reach_stderr_and_off_silences_them(capsys):
    progress.set_progress("text")
    _fit(verbose=1)
    assert "fit" in capsys.readouterr().err
    progress.set_progress("off")
    _fit(verbose=2)
    assert capsys.readouterr().err == ""


def test_the_kernels_nbgrader_starts_show_text(monkeypatch, tmp_path):
    """The hand-over: the autograder, not dlcore, decides that graded runs
    show text bars (each kernel runs the configured exec lines at start)."""
    from ipykernel.kernelapp import IPKernelApp

    from autograder.nbgrader_config import course_config

    monkeypatch.setenv("AUTOGRADER_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("DLCORE_PROGRESS", "auto")  # restored after the test
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    app = IPKernelApp()
    app.parse_command_line(list(course_config(tmp_path).Execute.extra_arguments))
    for line in app.exec_lines:
        exec(line, {})
    assert progress.get_progress() == "text"
