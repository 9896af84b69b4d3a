"""The app's page (issue 16): one place for its fields, usage first with a range (`?days=`),
counters that mean something for each kind of app, and token requests issued vs refused, the
refused ones counted from the audit trail; the same figures in the usage API."""

from __future__ import annotations

import re
from contextlib import contextmanager
from datetime import timedelta
from unittest import mock

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from audit.models import AuditAction, AuditOutcome
from audit.selectors import token_refusals_per_day
from audit.services import RequestMeta
from connected_apps.models import AppUsageDay, ConnectedApp
from connected_apps.selectors import USAGE_DAYS_INVALID
from connected_apps.usage import usage_record_token_issued
from oauth.issuance import token_event_record
from oauth.services import authorization_grant
from tests.factories import PermissionGrantFactory, UserFactory

pytestmark = pytest.mark.django_db

TOKEN_URL = "/accounts/api/v2/oauth2/token"
APPS_API = "/accounts/api/connectedApplications"
BAD_RANGES = ["0", "31", "abc", "7.5", " 7", "-7", "٣", "007", "1e1", "99999999999999999999"]
USAGE_KEYS = {"organizations", "users", "tokens_issued", "tokens_refused", "last_used_at"}


def page_url(app: ConnectedApp, **query: object) -> str:
    url = reverse("connected_apps:app_detail", args=[app.client_id])
    return url + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else "")


def web(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def stat(html: str, name: str) -> str:
    match = re.search(rf'data-stat="{name}">(.*?)</dd>', html, re.S)
    assert match, name
    return re.sub(r"<[^>]+>", "", match.group(1)).strip()


def table_rows(html: str) -> list[tuple[str, str, str]]:
    """(day, issued, refused) of the chart's table, newest first."""
    return re.findall(
        r'<time datetime="([0-9-]+)">[^<]*</time></td><td class="numeric" data-label="Tokens '
        r'issued">(\d+)</td><td class="numeric" data-label="Tokens refused">(\d+)</td>',
        html,
    )


@contextmanager
def days_ago(days: int):
    """Events recorded inside are dated `days` ago (created_at is set on insert)."""
    when = timezone.now() - timedelta(days=days)
    with mock.patch("django.utils.timezone.now", return_value=when):
        yield


def refusal(app: ConnectedApp) -> None:
    token_event_record(
        action=AuditAction.TOKEN_REFUSED,
        app=app,
        user=None,
        outcome=AuditOutcome.FAILURE,
        details={"grant_type": "client_credentials", "error": "invalid_client"},
        meta=RequestMeta(),
    )


def token_request(app: ConnectedApp, secret: str, **extra: str):
    return Client().post(
        TOKEN_URL,
        {
            "grant_type": "client_credentials",
            "client_id": app.client_id,
            "client_secret": secret,
            **extra,
        },
    )


# ---------------------------------------------------------------------------------------------
# One place for the fields, usage first
# ---------------------------------------------------------------------------------------------
def test_usage_comes_first_and_each_field_is_shown_once(admin, code_app):
    app = code_app.app
    html = web(admin).get(page_url(app)).content.decode()
    nav = re.search(r'<nav class="tabs app-sections".*?</nav>', html, re.S).group(0)
    assert re.findall(r'href="#([a-z-]+)"', nav) == [
        "overview",
        "settings",
        "scopes",
        "danger-zone",
    ]
    positions = [html.index(f'id="{section}"') for section in ("overview", "settings", "scopes")]
    assert positions == sorted(positions)
    assert html.index('id="danger-zone"') > positions[-1]
    # Each field once, in the settings form: no read-only copy beside it.
    assert "Details</h2>" not in html
    assert html.count("https://client.example/callback") == 1
    assert html.count(f'<code id="client-id" class="opaque-id">{app.client_id}</code>') == 1
    assert html.count("Members of this organization only") == 1
    assert html.count("Authorization code") == 1


def test_the_danger_zone_holds_the_actions_that_ask_first(admin, code_app):
    app = code_app.app
    client = web(admin)
    html = client.get(page_url(app)).content.decode()
    zone = html[html.index('id="danger-zone"') :]
    for name in ("app_rotate_secret", "app_disable", "app_delete"):
        target = reverse(f"connected_apps:{name}", args=[app.client_id])
        assert f'href="{target}"' in zone, name
        assert html.count(f'href="{target}"') == 1, name
    ConnectedApp.objects.filter(pk=app.pk).update(enabled=False)
    zone = client.get(page_url(app)).content.decode().split('id="danger-zone"')[1]
    assert ">Enable</button>" in zone
    assert reverse("connected_apps:app_disable", args=[app.client_id]) not in zone


# ---------------------------------------------------------------------------------------------
# Counters for each kind of app
# ---------------------------------------------------------------------------------------------
def test_an_app_acting_for_users_counts_organizations_and_users(admin, member, code_app):
    app = code_app.app
    authorization_grant(user=member, app=app, scopes=["openid"])
    html = web(admin).get(page_url(app)).content.decode()
    assert (stat(html, "organizations"), stat(html, "users"), stat(html, "last-used")) == (
        "1",
        "1",
        "Never",
    )
    assert 'data-stat="tokens-issued"' not in html
    assert "live authorization" in html


def test_an_own_behalf_app_counts_tokens_issued_and_refused_not_users(admin, cc_app):
    app = cc_app.app
    for _ in range(3):
        usage_record_token_issued(app=app)
    refusal(app)
    with days_ago(10):
        refusal(app)
    client = web(admin)
    html = client.get(page_url(app)).content.decode()
    assert 'data-stat="organizations"' not in html
    assert 'data-stat="users"' not in html
    assert "live authorization" not in html
    assert (stat(html, "tokens-issued"), stat(html, "tokens-refused")) == ("3", "2")
    assert stat(html, "last-used") == "just now"
    # The counters follow the range.
    html = client.get(page_url(app, days=7)).content.decode()
    assert (stat(html, "tokens-issued"), stat(html, "tokens-refused")) == ("3", "1")


# ---------------------------------------------------------------------------------------------
# Issued vs refused, refusals caused over HTTP
# ---------------------------------------------------------------------------------------------
def test_refused_token_requests_are_counted_apart_from_issued_ones(admin, cc_app):
    app = cc_app.app
    assert token_request(app, cc_app.client_secret).status_code == 200
    assert token_request(app, "not-the-secret").status_code == 401  # invalid_client
    # A scope it does not hold: invalid_scope (RFC 6749 §5.2).
    assert token_request(app, cc_app.client_secret, scope="manage:users").status_code == 400
    # A request naming no known app is nobody's refusal.
    Client().post(TOKEN_URL, {"grant_type": "client_credentials", "client_id": "f" * 32})

    html = web(admin).get(page_url(app)).content.decode()
    assert (stat(html, "tokens-issued"), stat(html, "tokens-refused")) == ("1", "2")
    today = timezone.now().date().isoformat()
    assert table_rows(html)[0] == (today, "1", "2")
    assert html.count('class="chart-bar"') == 1
    assert html.count('class="chart-refused"') == 1
    assert "1 token issued in the last 30 days; 2 refused" in html
    assert f"{timezone.now():%a} {timezone.now().day} {timezone.now():%b}: 1 issued, 2 refused" in (
        html
    )

    body = web(admin).get(f"{APPS_API}/{app.client_id}/usage").json()
    assert set(body) == USAGE_KEYS
    assert body["tokens_issued"][-1] == {"date": today, "count": 1}
    assert body["tokens_refused"][-1] == {"date": today, "count": 2}
    assert [d["date"] for d in body["tokens_refused"]] == [d["date"] for d in body["tokens_issued"]]


def test_refusals_of_other_apps_and_other_events_are_not_counted(admin, cc_app, make_app):
    app, other = cc_app.app, make_app(client_name="Other").app
    refusal(other)
    token_event_record(
        action=AuditAction.TOKEN_ISSUED, app=app, user=None, details={}, meta=RequestMeta()
    )
    with days_ago(31):
        refusal(app)  # before the window
    html = web(admin).get(page_url(app)).content.decode()
    assert stat(html, "tokens-refused") == "0"
    assert 'class="chart-refused"' not in html


# ---------------------------------------------------------------------------------------------
# The range: presets, any whole number of days up to 30, and a bad one refused
# ---------------------------------------------------------------------------------------------
def test_range_presets_narrow_the_chart_and_the_table(admin, code_app):
    app = code_app.app
    today = timezone.now().date()
    AppUsageDay.objects.create(app=app, day=today - timedelta(days=3), tokens_issued=4)
    AppUsageDay.objects.create(app=app, day=today - timedelta(days=20), tokens_issued=6)
    with days_ago(20):
        refusal(app)
    client = web(admin)

    html = client.get(page_url(app)).content.decode()  # 30 days unless asked
    assert len(table_rows(html)) == 30
    assert "10 tokens issued in the last 30 days; 1 refused" in html
    assert "Tokens issued and refused per day, last 30 days" in html
    assert '<a class="chip" href="?days=30" aria-current="true">Last 30 days</a>' in html
    assert 'href="?days=7">Last 7 days</a>' in html

    response = client.get(page_url(app, days=7))
    assert response.status_code == 200
    html = response.content.decode()
    rows = table_rows(html)
    assert [day for day, _, _ in rows] == [
        (today - timedelta(days=i)).isoformat() for i in range(7)
    ]
    assert "4 tokens issued in the last 7 days; 0 refused" in html
    assert '<a class="chip" href="?days=7" aria-current="true">Last 7 days</a>' in html
    assert html.count('class="chart-bar"') == 1

    # Any whole number of days up to what is kept; one day reads as "today".
    assert len(table_rows(client.get(page_url(app, days=21)).content.decode())) == 21
    html = client.get(page_url(app, days=1)).content.decode()
    assert "No token requests today." in html
    assert "<svg" not in html


def test_an_own_behalf_app_never_asked_shows_how_to_ask_not_an_empty_chart(admin, cc_app):
    app = cc_app.app
    html = web(admin).get(page_url(app)).content.decode()
    assert "No token requests in the last 30 days." in html
    assert "data-usage-chart" not in html and "Show the numbers as a table" not in html
    example = re.search(r'<pre class="chart-empty-example"><code>(.*?)</code></pre>', html).group(1)
    assert example == (
        f"curl -X POST {settings.DOORMAN_BASE_URL}{TOKEN_URL} -d grant_type=client_credentials"
        f' -d client_id={app.client_id} -d client_secret="$CLIENT_SECRET"'
    )
    assert cc_app.client_secret not in html
    # Its first token request replaces the sentence with the chart.
    assert token_request(app, cc_app.client_secret).status_code == 200
    html = web(admin).get(page_url(app)).content.decode()
    assert "data-usage-chart" in html and "chart-empty-example" not in html


def test_an_app_acting_for_users_has_no_example_request(admin, code_app):
    html = web(admin).get(page_url(code_app.app)).content.decode()
    assert "No token requests in the last 30 days." in html
    assert "curl" not in html


@pytest.mark.parametrize("days", BAD_RANGES)
def test_a_bad_range_is_a_400_with_the_error_and_no_figures(admin, cc_app, days):
    response = web(admin).get(page_url(cc_app.app), {"days": days})
    assert response.status_code == 400
    html = response.content.decode()
    assert USAGE_DAYS_INVALID in html
    assert 'role="alert"' in html
    assert "data-stat=" not in html
    assert "<svg" not in html
    # The presets still lead back, and the rest of the page is there.
    assert 'href="?days=30">Last 30 days</a>' in html
    assert 'name="client_name"' in html


def test_the_range_is_checked_only_for_who_may_read_the_app(member, other_admin, cc_app):
    """A bad range answers no one who may not see the app: 403 in the tenant, 404 outside."""
    assert web(member).get(page_url(cc_app.app), {"days": "abc"}).status_code == 403
    assert web(other_admin).get(page_url(cc_app.app), {"days": "abc"}).status_code == 404
    api = f"{APPS_API}/{cc_app.app.client_id}/usage?days=abc"
    assert web(member).get(api).status_code == 403
    assert web(other_admin).get(api).status_code == 404


def test_a_bg_manager_sees_the_figures_of_their_bg_apps_only(org, make_app, cc_app):
    from tests.factories import OrganizationFactory

    retail = OrganizationFactory(name="Retail", parent=org)
    manager = UserFactory(organization=org)
    PermissionGrantFactory(user=manager, organization=retail, permission="manage:connected_apps")
    bg_app = make_app(client_name="Retail app", owner=retail).app
    client = web(manager)
    assert client.get(page_url(bg_app, days=7)).status_code == 200
    assert client.get(page_url(cc_app.app, days=7)).status_code == 403
    assert client.get(f"{APPS_API}/{cc_app.app.client_id}/usage").status_code == 403


# ---------------------------------------------------------------------------------------------
# The usage API: `tokens_refused` and `days`
# ---------------------------------------------------------------------------------------------
def test_the_usage_api_takes_days_and_keeps_its_fields(admin, code_app):
    app = code_app.app
    refusal(app)
    client = web(admin)
    body = client.get(f"{APPS_API}/{app.client_id}/usage").json()
    assert set(body) == USAGE_KEYS
    assert len(body["tokens_issued"]) == len(body["tokens_refused"]) == 30
    assert body["tokens_refused"][-1]["count"] == 1
    body = client.get(f"{APPS_API}/{app.client_id}/usage?days=7").json()
    assert len(body["tokens_issued"]) == len(body["tokens_refused"]) == 7
    assert body["tokens_issued"][-1]["date"] == timezone.now().date().isoformat()
    org_route = f"/accounts/api/organizations/{app.owner_org_id}/connectedApplications"
    body = client.get(f"{org_route}/{app.client_id}/usage?days=1").json()
    assert len(body["tokens_refused"]) == 1


@pytest.mark.parametrize("days", BAD_RANGES)
def test_the_usage_api_refuses_a_bad_days_with_a_json_400(admin, code_app, days):
    response = web(admin).get(f"{APPS_API}/{code_app.app.client_id}/usage", {"days": days})
    assert response.status_code == 400
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert body == {
        "error": "invalid_request",
        "message": f"days: {USAGE_DAYS_INVALID}",
        "fields": {"days": [USAGE_DAYS_INVALID]},
    }


# ---------------------------------------------------------------------------------------------
# Cost: the page's queries do not grow with the days or the events
# ---------------------------------------------------------------------------------------------
def test_the_page_costs_the_same_whatever_the_days_or_the_events(
    admin, cc_app, django_assert_max_num_queries
):
    app = cc_app.app
    client = web(admin)
    client.get(page_url(app))  # the session and the user are warm
    with CaptureQueriesContext(connection) as few:
        assert client.get(page_url(app, days=7)).status_code == 200
    today = timezone.now().date()
    for i in range(30):
        AppUsageDay.objects.create(app=app, day=today - timedelta(days=i), tokens_issued=i + 1)
        with days_ago(i):
            for _ in range(3):
                refusal(app)
        usage_record_token_issued(app=app)
    with django_assert_max_num_queries(len(few.captured_queries)):
        html = client.get(page_url(app, days=30)).content.decode()
    assert stat(html, "tokens-refused") == "90"
    with django_assert_max_num_queries(18):
        client.get(page_url(app))


def test_refusals_per_day_read_the_partial_index(cc_app):
    """The refusal count reads the `token.refused` partial index, not the app's every event."""
    if connection.vendor != "postgresql":
        pytest.skip("EXPLAIN's plan is PostgreSQL's")
    today = timezone.now().date()
    queries = CaptureQueriesContext(connection)
    with queries:
        token_refusals_per_day(client_id=cc_app.app.client_id, first=today, last=today)
    (query,) = queries.captured_queries
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("EXPLAIN " + query["sql"])
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "audit_event_app_refusals" in plan, plan
