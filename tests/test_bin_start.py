"""`bin/setup` (issue 16): it says what it is doing and keeps pip's output out unless it fails."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from django.conf import settings

BASE_DIR = Path(settings.BASE_DIR)

FAKE_PYTHON = """#!/usr/bin/env bash
# Stands in for python3 and .venv/bin/python: `-m venv DIR` makes DIR/bin/python (this script),
# `-m pip …` prints what pip prints and fails when FAKE_PIP_FAILS is set.
case "$1 $2" in
  "--version ") echo "Python 3.11.0" ;;
  "-m venv") mkdir -p "$3/bin" && cp "$0" "$3/bin/python" ;;
  "-m pip")
    echo "Collecting django>=5.2"
    echo "  Downloading Django-5.2-py3-none-any.whl (8.3 MB)"
    if [ -n "${FAKE_PIP_FAILS:-}" ]; then
      echo "ERROR: No matching distribution found for granian" >&2
      exit 1
    fi ;;
  *) exit 2 ;;
esac
"""


# -- bin/setup -------------------------------------------------------------------------------------
@pytest.fixture
def project(tmp_path) -> Path:
    """A copy of bin/setup in an empty project whose Python is FAKE_PYTHON."""
    (tmp_path / "bin").mkdir()
    shutil.copy(BASE_DIR / "bin" / "setup", tmp_path / "bin" / "setup")
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "doorman"\n')
    fake = tmp_path / "python3"
    fake.write_text(FAKE_PYTHON)
    fake.chmod(0o755)
    return tmp_path


def run_setup(project: Path, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(  # noqa: S603 -- a copy of our own script
        [str(project / "bin" / "setup")],
        env={"PATH": os.environ["PATH"], "PYTHON": str(project / "python3"), **env},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def test_setup_says_what_it_does_and_keeps_pips_output_in_its_log(project):
    first = run_setup(project)
    assert first.returncode == 0, first.stderr
    assert first.stdout.splitlines() == [
        "==> Creating .venv with Python 3.11.0…",
        "==> Installing Python packages (first run, about 40 s)…",
    ]
    assert first.stderr == ""
    assert "Collecting django" in (project / "var" / "pip-install.log").read_text()

    again = run_setup(project)
    assert (again.returncode, again.stdout, again.stderr) == (0, "", "")

    with (project / "pyproject.toml").open("a") as pyproject:
        pyproject.write('dependencies = ["django>=5.2"]\n')
    changed = run_setup(project)
    assert changed.stdout.splitlines() == ["==> Updating Python packages (pyproject.toml changed)…"]


def test_a_failed_install_shows_the_end_of_pips_log_and_fails(project):
    failed = run_setup(project, FAKE_PIP_FAILS="1")
    assert failed.returncode == 1
    assert "Installing Python packages (first run, about 40 s)…" in failed.stdout
    assert "ERROR: No matching distribution found for granian" in failed.stderr
    assert "pip install failed; the whole log is in var/pip-install.log" in failed.stderr
    # Nothing was recorded as installed: the next run tries again.
    assert not (project / ".venv" / ".doorman-installed").exists()
    assert "Installing Python packages" in run_setup(project).stdout
