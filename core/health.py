"""Liveness, readiness and metrics for load balancers, orchestrators and scrapers (issue 13).

`/healthz`: the process answers (no dependency is asked). `/readyz`: PostgreSQL answers and
every migration is applied (else 503 with Retry-After: send no traffic here yet); Redis is
reported, `ok` or `degraded`, never a reason to be unready, since the service runs without it
(slower, from PostgreSQL). `/metrics`: Prometheus's exposition (core/metrics.py) for a
scraper sending DOORMAN_METRICS_TOKEN, asking neither PostgreSQL nor Redis.
"""

from __future__ import annotations

import hmac

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.db import DatabaseError, connection
from django.db.migrations.executor import MigrationExecutor
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET

from core.api_errors import error_body
from core.cache import redis_status
from core.metrics import exposition

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


def _refusal(status: int, message: str) -> JsonResponse:
    return JsonResponse(error_body(status, message), status=status)


@never_cache
@csrf_exempt  # a scraper sends no CSRF token; any other method is a JSON 405 below
@login_not_required
def metrics(request: HttpRequest) -> HttpResponse:
    """Off (404) without DOORMAN_METRICS_TOKEN; with it, only for `Authorization: Bearer
    <token>` (RFC 6750 §2.1)."""
    token = settings.DOORMAN_METRICS_TOKEN
    if not token:
        return _refusal(404, "Not found.")
    scheme, _, presented = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        presented.strip().encode("utf-8", "replace"), token.encode()
    ):
        response = _refusal(401, "Send the metrics token: Authorization: Bearer <token>.")
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    if request.method not in ("GET", "HEAD"):
        response = _refusal(405, "Use GET.")
        response["Allow"] = "GET, HEAD"
        return response
    body, content_type = exposition(request.META.get("HTTP_ACCEPT", ""))
    return HttpResponse(body, content_type=content_type)
