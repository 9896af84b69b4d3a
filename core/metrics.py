"""Prometheus metrics at `/metrics` (issue 13): requests, tokens, the bearer-token cache and
Redis, for a scraper holding DOORMAN_METRICS_TOKEN.

prometheus_client, the Prometheus project's own client, rather than django-prometheus: the
token fast path (oauth/wsgi.py) never reaches Django's middleware, so its requests must be
counted by hand anyway; django-prometheus counts the database and the cache by replacing
their backends (ours are custom: core/db.py, core/cache.py) and adds a dozen updates to
every request. Here a request costs one counter and one histogram update, in memory (or in
an mmap'd file in multiprocess mode): no database statement, no Redis round trip.

Served by several worker processes (bin/serve sets PROMETHEUS_MULTIPROC_DIR before any import
of prometheus_client), each worker writes its counts to files in that directory and a scrape
adds them all up (prometheus_client's multiprocess mode); otherwise (tests, bin/start) the
process's own registry is exposed. A scrape reads neither the database nor Redis, so it works
during their outages.

Every label is bounded: the endpoint is the URL pattern Django resolved (never the raw path;
a path nothing resolves is `unmatched`), a method outside the standard few is `other`.
"""

from __future__ import annotations

import contextlib
import os
import time

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.urls import ResolverMatch
from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import choose_encoder
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead

UNMATCHED = "unmatched"
OTHER = "other"
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
# Token and bearer requests take milliseconds; the portal's pages and exports longer.
LATENCY_BUCKETS = (0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

HTTP_REQUESTS = Counter(
    "doorman_http_requests",
    "HTTP requests answered, by endpoint (URL pattern), method and status.",
    ["endpoint", "method", "status"],
)
HTTP_DURATION = Histogram(
    "doorman_http_request_duration_seconds",
    "Time to answer an HTTP request, by endpoint (URL pattern).",
    ["endpoint"],
    buckets=LATENCY_BUCKETS,
)
REDIS_DEGRADED = Gauge(
    "doorman_redis_degraded",
    "1 while a worker's Redis breaker is tripped (Redis failed and has not answered since): "
    "the service goes on from PostgreSQL. 0 when Redis is ok or not configured.",
    multiprocess_mode="livemax",
)
REDIS_BREAKER_OPENINGS = Counter(
    "doorman_redis_breaker_openings",
    "Times a Redis failure opened a worker's breaker (Redis left alone for "
    "DOORMAN_REDIS_RETRY_SECONDS).",
)


def endpoint_label(match: ResolverMatch | None) -> str:
    """The URL pattern `match` resolved to (`/accounts/api/organizations/<uuid:org_id>`),
    or `unmatched`."""
    route = getattr(match, "route", None)
    return UNMATCHED if route is None else f"/{route}"


# (endpoint, method, status) → its request counter and its endpoint's histogram: a label
# lookup costs more than the update itself. Bounded, as the labels are.
_children: dict[tuple[str, str, int], tuple] = {}


def request_observe(endpoint: str, method: str, status: int, seconds: float) -> None:
    key = (endpoint, method if method in METHODS else OTHER, status)
    children = _children.get(key)
    if children is None:
        children = _children[key] = (HTTP_REQUESTS.labels(*key), HTTP_DURATION.labels(endpoint))
    children[0].inc()
    children[1].observe(seconds)


class RequestMetricsMiddleware:
    """First in MIDDLEWARE: every request Django answers, timed from the top of the stack.
    The endpoint is the resolution Django (or MachineRequestMiddleware) already made."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = self.get_response(request)
        endpoint = endpoint_label(request.resolver_match)
        elapsed = time.perf_counter() - started
        request_observe(endpoint, request.method, response.status_code, elapsed)
        return response


def exposition(accept: str = "") -> tuple[bytes, str]:
    """The exposition body and its content type (OpenMetrics when the scraper asks)."""
    encoder, content_type = choose_encoder(accept)
    path = settings.PROMETHEUS_MULTIPROC_DIR
    if not path:
        return encoder(REGISTRY), content_type
    _forget_dead_workers(path)
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=path)
    return encoder(registry), content_type


def _forget_dead_workers(path: str) -> None:
    """Drop the live gauges of workers that are gone: granian has no worker-exit hook to
    call prometheus_client's mark_process_dead, so a scrape does it (their counters stay)."""
    for name in os.listdir(path):
        if not name.startswith("gauge_live") or not name.endswith(".db"):
            continue
        pid = name[: -len(".db")].rsplit("_", 1)[-1]
        if not pid.isdigit() or int(pid) <= 0:
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            with contextlib.suppress(FileNotFoundError):  # another scrape removed it first
                mark_process_dead(int(pid), path)
        except PermissionError:  # alive, someone else's
            pass
