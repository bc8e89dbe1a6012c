"""What every kernel nbgrader starts gets from the kernel launcher before
it is confined: private cache folders, seeded from the warm shared ones."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from autograder.trusted import sandbox

FONT_LIST = "fontlist-v3.11.0.json"

REPORT = (
    "import json, os; folder = os.environ['MPLCONFIGDIR'];"
    "print(json.dumps({'folder': folder, 'names': sorted(os.listdir(folder))}))"
)


def _launch(tmp_path, env_extra: dict[str, str]) -> dict:
    for name in ("state", "course", "private", "work"):
        (tmp_path / name).mkdir(exist_ok=True)
    env = dict(
        os.environ,
        AUTOGRADER_STATE_DIR=str(tmp_path / "state"),
        AUTOGRADER_COURSE_ROOT=str(tmp_path / "course"),
        **env_extra,
    )
    command = [sys.executable, "-m", "autograder.trusted.kernel_launcher"]
    command += ["--private", str(tmp_path / "private"), "--"]
    command += [sys.executable, "-c", REPORT]
    proc = subprocess.run(
        command,
        cwd=tmp_path / "work",
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_a_kernel_starts_with_the_users_matplotlib_font_list(tmp_path):
    shared = tmp_path / "shared-mpl"
    shared.mkdir()
    (shared / FONT_LIST).write_text("{}")
    (shared / "matplotlibrc").write_text("backend: agg\n")
    seen = _launch(tmp_path, {"MPLCONFIGDIR": str(shared)})
    assert seen["folder"] == str(tmp_path / "private" / "matplotlib")
    # the font list only: not the user's settings
    assert seen["names"] == [FONT_LIST]


def test_a_kernel_without_a_font_list_to_copy_starts_with_an_empty_folder(tmp_path):
    empty = tmp_path / "no-mpl"
    empty.mkdir()
    seen = _launch(tmp_path, {"MPLCONFIGDIR": str(empty), "XDG_CACHE_HOME": str(empty)})
    assert seen["names"] == []


def test_seed_font_list_reads_the_xdg_cache_when_mplconfigdir_is_unset(
    tmp_path, monkeypatch
):
    (tmp_path / "cache" / "matplotlib").mkdir(parents=True)
    (tmp_path / "cache" / "matplotlib" / FONT_LIST).write_text("{}")
    (tmp_path / "target").mkdir()
    monkeypatch.delenv("MPLCONFIGDIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    sandbox.seed_font_list(tmp_path / "target")
    assert os.listdir(tmp_path / "target") == [FONT_LIST]
