"""The suite runs on the services it was given: PostgreSQL and Redis when their URLs are set."""

from __future__ import annotations

import os
import uuid

import pytest
from django.conf import settings
from django.core.cache import cache
from django.db import connection


@pytest.mark.django_db
def test_database_is_the_one_configured():
    expected = (
        "postgresql" if os.environ.get("DATABASE_URL", "").startswith("postgres") else ("sqlite")
    )
    assert connection.vendor == expected
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        assert cursor.fetchone()[0] == 1


def test_cache_is_the_one_configured_and_round_trips():
    backend = settings.CACHES["default"]["BACKEND"]
    if os.environ.get("REDIS_URL"):
        assert backend.endswith("RedisCache")
    else:
        assert backend.endswith("LocMemCache")
    key = f"infra-{uuid.uuid4()}"
    cache.set(key, {"ok": True}, 5)
    assert cache.get(key) == {"ok": True}
    cache.delete(key)
    assert cache.get(key) is None


def test_production_refuses_to_start_without_a_secret_key(tmp_path):
    import subprocess
    import sys

    env = {**os.environ, "DOORMAN_ENV": "production", "DOORMAN_SECRET_KEY": ""}
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "import django, os; os.environ['DJANGO_SETTINGS_MODULE']="
            "'config.settings'; django.setup()",
        ],
        env=env,
        capture_output=True,
        text=True,
        cwd=settings.BASE_DIR,
        check=False,
    )
    assert result.returncode != 0
    assert "DOORMAN_SECRET_KEY is required" in result.stderr
    assert settings.DEBUG is False or os.environ.get("DOORMAN_DEBUG")


def test_a_log_line_is_printed_once_with_debug_on(tmp_path):
    """With DEBUG on (`DOORMAN_DEBUG=true bin/start`), Django's own console handler would print
    every line a second time (issue 16)."""
    import os
    import subprocess
    import sys

    env = {
        **os.environ,
        "DOORMAN_ENV": "development",
        "DOORMAN_DEBUG": "true",
        "DOORMAN_SQLITE_PATH": str(tmp_path / "db.sqlite3"),
        "DJANGO_SETTINGS_MODULE": "config.settings",
    }
    env.pop("DATABASE_URL", None)
    code = (
        "import django, logging; django.setup(); "
        "logging.getLogger('django.request').warning('a line')"
    )
    done = subprocess.run(  # noqa: S603 -- this interpreter, a constant program
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.stderr.count("a line") == 1, done.stderr
