"""`bin/start` and `bin/setup` (issue 16): they say what they are doing, keep pip's output out
unless it fails, and the embedded portal answers a wrong URL with Doorman's own 404 page (JSON
on API paths), never Django's technical page, while still serving its static files.

`bin/start` runs here for real on a free port with its SQLite file (and the demo admin's
password next to it) in a temporary folder, so it touches neither `var/` nor a running portal;
the project's .venv exists already, so `bin/setup` has nothing to do.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from django.conf import settings

BASE_DIR = Path(settings.BASE_DIR)
STARTED_WITHIN = 60  # seconds, from the command to the first answer
TECHNICAL_PAGE = ("You're seeing this error because you have", "Using the URLconf defined in")

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


# -- bin/start -------------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Started:
    """bin/start running in its own process group, its output collected as it comes."""

    def __init__(self, data_dir: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        # What bin/start would see in a fresh shell: none of the suite's settings.
        env = {
            name: value
            for name, value in os.environ.items()
            if not name.startswith(("DOORMAN_", "DJANGO_"))
            and name not in {"DATABASE_URL", "REDIS_URL"}
        }
        env |= {
            "DOORMAN_PORT": str(self.port),
            "DOORMAN_SQLITE_PATH": str(data_dir / "doorman.sqlite3"),
            "PYTHONUNBUFFERED": "1",
        }
        self.lines: list[str] = []
        self.process = subprocess.Popen(  # noqa: S603 -- our own script
            [str(BASE_DIR / "bin" / "start")],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,  # runserver's reloader and its child go with the group
        )
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def wait_until_answering(self) -> None:
        deadline = time.monotonic() + STARTED_WITHIN
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"bin/start exited {self.process.returncode}:\n{self.output}")
            if f"Doorman is running at  {self.url}/" in self.output:
                try:
                    requests.get(f"{self.url}/healthz", timeout=2)
                    return
                except requests.ConnectionError:
                    pass
            time.sleep(0.2)
        pytest.fail(f"bin/start did not answer within {STARTED_WITHIN} s:\n{self.output}")

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        self.reader.join(timeout=5)


@pytest.fixture
def started(tmp_path) -> Iterator[Started]:
    stamp = BASE_DIR / ".venv" / ".doorman-installed"
    wanted = hashlib.sha256((BASE_DIR / "pyproject.toml").read_bytes()).hexdigest()
    if not stamp.exists() or stamp.read_text().strip() != wanted:
        pytest.skip("bin/setup would install packages first: run bin/setup (bin/test does).")
    server = Started(tmp_path)
    try:
        server.wait_until_answering()
        yield server
    finally:
        server.stop()


def test_bin_start_says_what_it_does_and_serves_doormans_own_error_pages(started, tmp_path):
    page = requests.get(f"{started.url}/no-such-page", timeout=10)
    assert page.status_code == 404
    assert page.headers["Content-Type"].startswith("text/html")
    assert "<h1>Page not found</h1>" in page.text
    assert not any(marker in page.text for marker in TECHNICAL_PAGE)

    api = requests.get(f"{started.url}/accounts/api/no-such-thing", timeout=10)
    assert api.status_code == 404
    assert api.headers["Content-Type"] == "application/json"
    assert api.json()["error"] == "not_found"

    # DEBUG is off, and the static files are still served.
    css = requests.get(f"{started.url}/static/css/portal.css", timeout=10)
    assert css.status_code == 200
    assert css.headers["Content-Type"].startswith("text/css")
    sign_in = requests.get(f"{started.url}/auth/login/", timeout=10)
    assert sign_in.status_code == 200

    started.stop()
    lines = started.lines
    preparing = lines.index("==> Preparing the database…")
    creating = lines.index("==> Creating the demo organization…")
    running = next(i for i, line in enumerate(lines) if "Doorman is running at" in line)
    assert preparing < creating < running
    assert "Sign in as             admin / " in started.output
    # The demo admin's password sits next to the SQLite file, not in the project's var/.
    assert (tmp_path / "demo-admin-password").stat().st_mode & 0o777 == 0o600
    # Each request is logged once (Django's console handler and the root's would print twice).
    about_the_404 = [line for line in lines if "/no-such-page" in line]
    assert about_the_404, started.output
    assert len(about_the_404) == len(set(about_the_404)), started.output
    assert sum("GET /no-such-page" in line for line in lines) == 1, started.output
    assert "Traceback" not in started.output
