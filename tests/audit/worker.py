"""`run_task`: runs a Celery task the way this environment would.

Without REDIS_URL Celery is eager (config.settings) and the task runs in-process. With it, a
real worker thread consumes from Redis (celery.contrib.testing.worker) and writes its result to
Redis too; tests that use it need `django_db(transaction=True)` so the worker sees their rows.
"""

from __future__ import annotations

import pytest
from django.conf import settings

from config.celery import app as celery_app

REAL_WORKER = bool(settings.REDIS_URL)


@pytest.fixture(scope="module")
def celery_worker_thread():
    if not REAL_WORKER:
        yield None
        return
    from celery.contrib.testing.worker import start_worker

    previous = celery_app.conf.result_backend
    celery_app.conf.result_backend = settings.REDIS_URL
    try:
        with start_worker(celery_app, perform_ping_check=False, pool="solo") as worker:
            yield worker
    finally:
        celery_app.conf.result_backend = previous


@pytest.fixture
def run_task(celery_worker_thread):
    """`run_task(task, *args)`: the task's return value, however it ran."""

    def run(task, *args, timeout: float = 30):
        return task.delay(*args).get(timeout=timeout)

    return run
