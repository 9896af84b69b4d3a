"""Liveness and readiness for load balancers and orchestrators (issue 13).

`/healthz`: the process answers (no dependency is asked). `/readyz`: PostgreSQL answers and
every migration is applied (else 503 with Retry-After: send no traffic here yet); Redis is
reported, `ok` or `degraded`, never a reason to be unready, since the service runs without it
(slower, from PostgreSQL).
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_not_required
from django.db import DatabaseError, connection
from django.db.migrations.executor import MigrationExecutor
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from config.cache import redis_status

RETRY_AFTER_SECONDS = 5


@never_cache
@require_GET
@login_not_required
def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


def _database_status() -> str:
    """`ok`, `unreachable`, or `migrations_pending`."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        executor = MigrationExecutor(connection)
        pending = executor.migration_plan(executor.loader.graph.leaf_nodes())
    except DatabaseError:
        return "unreachable"
    return "migrations_pending" if pending else "ok"


@never_cache
@require_GET
@login_not_required
def readyz(request: HttpRequest) -> JsonResponse:
    database = _database_status()
    ready = database == "ok"
    response = JsonResponse(
        {"status": "ok" if ready else "unavailable", "database": database, "redis": redis_status()},
        status=200 if ready else 503,
    )
    if not ready:
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response
