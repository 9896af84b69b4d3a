"""/metrics (issue 13): Prometheus counters of requests, tokens, the bearer-token cache and the
Redis breaker, scraped the way Prometheus does, behind DOORMAN_METRICS_TOKEN."""

from __future__ import annotations

import os
import subprocess
import uuid

import pytest
from django.core import signals
from django.db import OperationalError, close_old_connections, connection
from django.test import Client, override_settings
from django.test.utils import CaptureQueriesContext
from prometheus_client.parser import text_string_to_metric_families

from connected_apps.models import GrantType
from core import metrics
from core.cache import HotPathRedis
from tests.oauth.helpers import bearer, mint_access_token
from tests.oauth.tokenkit import TOKEN_URL, basic, client_credentials, post_form, post_json
from tests.wsgi_kit import call

pytestmark = pytest.mark.django_db

TOKEN = "metrics-" + "s3cret" * 4
TOKEN_ENDPOINT = "/accounts/api/v2/oauth2/token"
CC = "client_credentials"


@pytest.fixture(autouse=True)
def metrics_on():
    with override_settings(DOORMAN_METRICS_TOKEN=TOKEN):
        yield


def scrape() -> dict[tuple[str, frozenset], float]:
    """Every sample of a scrape: (name, labels) → value."""
    response = Client().get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200, response.content
    samples = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            samples[sample.name, frozenset(sample.labels.items())] = sample.value
    return samples


def value(samples: dict, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def label_values(samples: dict, name: str, label: str) -> set[str]:
    return {dict(labels)[label] for sample, labels in samples if sample == name}


def wsgi_token_request(body: str, **environ) -> int:
    """The status of a form POST to the token endpoint through the production WSGI
    application, whose fast path answers plain client_credentials requests ahead of Django.
    As Django's test client does, the request signals are kept from closing the test's
    connection (it holds the test's transaction)."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        return call(body, **environ).status_code
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


# -- protection ---------------------------------------------------------------------------------
@override_settings(DOORMAN_METRICS_TOKEN="")
def test_metrics_are_off_without_a_token():
    response = Client().get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"


@pytest.mark.parametrize(
    "authorization",
    [None, f"Bearer {TOKEN[:-1]}", f"Bearer {TOKEN}x", f"Basic {TOKEN}", "Bearer", "Bearer é"],
    ids=["none", "short", "long", "basic", "empty", "non-ascii"],
)
def test_metrics_need_the_token(authorization):
    headers = {} if authorization is None else {"HTTP_AUTHORIZATION": authorization}
    response = Client().get("/metrics", **headers)
    assert response.status_code == 401
    assert response.json()["error"] == "unauthorized"
    assert response["WWW-Authenticate"] == 'Bearer realm="metrics"'


def test_the_token_gets_the_prometheus_text_format():
    response = Client().get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=0.0.4")
    assert "no-cache" in response["Cache-Control"] or "max-age=0" in response["Cache-Control"]
    text = response.content.decode()
    assert "# TYPE doorman_http_requests_total counter" in text
    assert "# TYPE doorman_http_request_duration_seconds histogram" in text
    assert "# TYPE doorman_redis_degraded gauge" in text


def test_openmetrics_when_the_scraper_asks_for_it():
    response = Client().get(
        "/metrics",
        HTTP_AUTHORIZATION=f"Bearer {TOKEN}",
        HTTP_ACCEPT="application/openmetrics-text; version=1.0.0",
    )
    assert response["Content-Type"].startswith("application/openmetrics-text")
    assert response.content.endswith(b"# EOF\n")


def test_other_methods_are_a_json_405():
    response = Client().post("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 405
    assert response.json()["error"] == "method_not_allowed"
    assert response["Allow"] == "GET, HEAD"


def test_a_scrape_asks_neither_the_database_nor_redis(monkeypatch):
    def no_redis(*args, **kwargs):
        raise AssertionError("Redis was asked")

    monkeypatch.setattr("core.cache.HotPathRedis._with_connection", no_redis)
    monkeypatch.setattr("redis.Redis.execute_command", no_redis)
    with CaptureQueriesContext(connection) as queries:
        scrape()
    assert queries.captured_queries == []


# -- what is counted ----------------------------------------------------------------------------
def test_tokens_issued_and_refused_are_counted_on_both_paths(cc_app, monkeypatch):
    before = scrape()
    app = cc_app.app
    authorization = basic(app.client_id, cc_app.client_secret)
    # The WSGI fast path: a token, then a database outage (its own 503).
    assert wsgi_token_request(f"grant_type={CC}", HTTP_AUTHORIZATION=authorization) == 200

    def database_away(*args):
        raise OperationalError("gone")

    with monkeypatch.context() as patched:
        patched.setattr("oauth.wsgi.client_credentials_issue", database_away)
        assert wsgi_token_request(f"grant_type={CC}", HTTP_AUTHORIZATION=authorization) == 503
    # Django's token view: a token (a JSON body), a grant the app may not use, a grant type
    # nobody knows, and a body too broken to have a grant type.
    assert post_json(client_credentials(cc_app)).status_code == 200
    password = {"grant_type": "password", "username": "a", "password": "b"}
    assert post_form(password, HTTP_AUTHORIZATION=authorization).status_code == 400
    made_up = {"grant_type": f"made-up-{uuid.uuid4().hex}"}
    assert post_form(made_up, HTTP_AUTHORIZATION=authorization).status_code == 400
    malformed = Client().post(TOKEN_URL, "{", content_type="application/json")
    assert malformed.status_code == 400
    after = scrape()

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    issued, refused = "doorman_oauth_tokens_issued_total", "doorman_oauth_tokens_refused_total"
    assert moved(issued, grant_type=CC) == 2
    assert moved(refused, grant_type=CC, error="temporarily_unavailable") == 1
    assert moved(refused, grant_type="password", error="unauthorized_client") == 1
    assert moved(refused, grant_type="other", error="unsupported_grant_type") == 1
    assert moved(refused, grant_type="other", error="invalid_request") == 1
    known = {*GrantType.values, "other"}
    assert label_values(after, refused, "grant_type") <= known  # never the made-up one
    requests = "doorman_http_requests_total"
    assert moved(requests, endpoint=TOKEN_ENDPOINT, method="POST", status="200") == 2
    assert moved(requests, endpoint=TOKEN_ENDPOINT, method="POST", status="503") == 1
    assert moved(requests, endpoint=TOKEN_ENDPOINT, method="POST", status="400") == 3
    latency = "doorman_http_request_duration_seconds_count"
    assert moved(latency, endpoint=TOKEN_ENDPOINT) == 6


def test_bearer_cache_hits_and_misses_are_counted(cc_app, org):
    raw = mint_access_token(user=None, app=cc_app.app, scope="read:organization profile")
    before = scrape()
    url = f"/accounts/api/organizations/{org.id}"
    client = Client()
    for _ in range(3):
        assert client.get(url, **bearer(raw)).status_code == 200
    after = scrape()
    lookups = "doorman_bearer_cache_lookups_total"
    hits = value(after, lookups, result="hit") - value(before, lookups, result="hit")
    misses = value(after, lookups, result="miss") - value(before, lookups, result="miss")
    assert (misses, hits) == (1, 2)
    endpoint = "/accounts/api/organizations/<str:org_id>"  # the pattern, not the path
    requests = "doorman_http_requests_total"
    labels = {"endpoint": endpoint, "method": "GET", "status": "200"}
    assert value(after, requests, **labels) - value(before, requests, **labels) == 3


def test_random_paths_and_methods_add_no_label_values():
    client = Client()
    client.generic("XWARM", "/healthz")  # the labels these requests should all land under
    client.get("/no-such-page")
    scrape()
    before = scrape()
    for _ in range(5):
        client.get(f"/accounts/api/{uuid.uuid4().hex}")
        client.get(f"/{uuid.uuid4().hex}/{uuid.uuid4().hex}")
        client.generic(f"X{uuid.uuid4().hex[:8].upper()}", "/healthz")
    after = scrape()
    requests = "doorman_http_requests_total"
    for label in ("endpoint", "method"):
        new = label_values(after, requests, label) - label_values(before, requests, label)
        assert new <= {"unmatched", "other"}, new
    unmatched = {"endpoint": "unmatched", "method": "GET", "status": "404"}
    assert value(after, requests, **unmatched) - value(before, requests, **unmatched) == 10
    other = {"endpoint": "/healthz", "method": "other", "status": "405"}
    assert value(after, requests, **other) - value(before, requests, **other) == 5


def test_the_redis_breaker_is_a_gauge_and_its_openings_a_counter():
    breaker = HotPathRedis()  # not the process's own: its state is left alone
    openings = "doorman_redis_breaker_openings_total"
    before = scrape()
    breaker.failed()
    breaker.failed()  # already open: the same opening
    during = scrape()
    breaker._recovered()
    after = scrape()
    assert value(during, "doorman_redis_degraded") == 1
    assert value(during, openings) - value(before, openings) == 1
    assert value(after, "doorman_redis_degraded") == 0


def test_a_scrape_is_counted_like_any_request():
    before = scrape()
    after = scrape()
    labels = {"endpoint": "/metrics", "method": "GET", "status": "200"}
    assert value(after, "doorman_http_requests_total", **labels) == (
        value(before, "doorman_http_requests_total", **labels) + 1
    )


def test_a_scrape_drops_the_live_gauges_of_workers_that_are_gone(tmp_path):
    """granian has no worker-exit hook: the scrape calls mark_process_dead itself, so a dead
    worker's breaker state stops counting in doorman_redis_degraded (livemax)."""
    gone = subprocess.Popen(["true"])  # noqa: S607 - a process that has ended
    gone.wait()
    for pid in (gone.pid, os.getpid()):
        (tmp_path / f"gauge_livemax_{pid}.db").write_bytes(b"")
    (tmp_path / f"counter_{gone.pid}.db").write_bytes(b"")
    metrics._forget_dead_workers(str(tmp_path))
    left = sorted(path.name for path in tmp_path.iterdir())
    assert left == sorted([f"counter_{gone.pid}.db", f"gauge_livemax_{os.getpid()}.db"])
