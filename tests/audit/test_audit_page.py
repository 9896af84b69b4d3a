"""The Audit log page as an investigator reads it (issue 16): readable details, targets and
actors by name with links, date filters that refuse bad input, a layout that fits, and an
activity chart. All over HTTP with Django's test client."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from audit.models import AuditAction
from audit.services import audit_record

pytestmark = pytest.mark.django_db
PAGE = "/access-management/audit/"


def signed_in(user):
    client = Client()
    client.force_login(user)
    return client


def text_of(html: bytes) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html.decode()))


# ---- 1. Readable details --------------------------------------------------------------------


def test_details_read_as_key_value_not_python_reprs(org, admin):
    audit_record(
        action=AuditAction.TOKEN_ISSUED,
        organization=org,
        actor=admin,
        details={"scopes": ["openid", "profile"], "offline": True, "nonce": None},
    )
    body = signed_in(admin).get(PAGE).content.decode()
    assert "['openid', 'profile']" not in body and "None" not in text_of(body.encode())
    assert '<span class="audit-chip">openid</span><span class="audit-chip">profile</span>' in body
    assert "<dt>offline</dt><dd>Yes</dd>" in body
    assert '<dt>nonce</dt><dd><span class="muted">—</span></dd>' in body


def test_before_and_after_are_a_diff_table_with_the_changes_marked(org, admin):
    audit_record(
        action=AuditAction.APP_UPDATED,
        organization=org,
        actor=admin,
        details={
            "client_id": "abc",
            "before": {"name": "Old", "enabled": True, "scopes": ["a"]},
            "after": {"name": "New", "enabled": True, "scopes": ["a", "b"]},
        },
    )
    body = signed_in(admin).get(PAGE).content.decode()
    assert "{'enabled': True" not in body
    table = body[body.index('<table class="audit-diff">') :]
    table = table[: table.index("</table>")]
    assert '<th scope="col">Field</th>' in table
    assert (
        '<tr class="audit-changed"><th scope="row">name</th><td>Old</td><td>New</td></tr>' in table
    )
    assert '<tr><th scope="row">enabled</th><td>Yes</td><td>Yes</td></tr>' in table
    assert table.count("audit-changed") == 2  # name and scopes, not enabled
    assert "<dt>client id</dt><dd>abc</dd>" in body


def test_details_are_escaped(org, admin):
    audit_record(
        action=AuditAction.USER_PROFILE_CHANGED,
        organization=org,
        actor=admin,
        details={"<b>k</b>": "<script>alert(1)</script>", "list": ["<i>x</i>"]},
    )
    body = signed_in(admin).get(PAGE).content.decode()
    assert "<script>alert(1)</script>" not in body and "<i>x</i>" not in body
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body and "&lt;b&gt;k&lt;/b&gt;" in body


def test_mappings_in_a_list_are_chips_of_words_with_the_org_named(org, admin):
    audit_record(
        action=AuditAction.APP_CREATED,
        organization=org,
        actor=admin,
        details={
            "scopes": [
                {"scope": "read:organization", "org": str(org.id)},
                {"scope": "read:users", "org": "e6ba4d95-0000-4000-8000-000000000000"},
                {"scope": "openid"},
            ]
        },
    )
    body = signed_in(admin).get(PAGE).content.decode()
    assert "{&#x27;" not in body and "{'" not in body  # never a Python repr
    assert '<span class="audit-chip">read:organization · org Acme</span>' in body
    assert (
        '<span class="audit-chip" title="org e6ba4d95-0000-4000-8000-000000000000">'
        "read:users (org e6ba4d95…)</span>"
    ) in body
    assert '<span class="audit-chip">openid</span>' in body


def test_a_mapping_chip_without_a_known_key_lists_its_pairs_in_words():
    from accounts.templatetags.audit_tags import audit_details

    html = str(audit_details({"items": [{"kind": "x", "on": True, "ids": [1, 2]}, {}]}))
    assert '<span class="audit-chip">kind x · on yes · ids 1, 2</span>' in html
    assert '<span class="audit-chip">—</span>' in html


# ---- 2. Targets and actors by name, with links -----------------------------------------------


def test_targets_and_actors_are_named_and_linked(org, admin, member, code_app, cc_app):
    from connected_apps.models import Authorization

    app = code_app.app
    authorization = Authorization.objects.create(user=member, app=app, scopes=["openid"])
    audit_record(
        action=AuditAction.AUTHORIZATION_GRANTED,
        organization=org,
        actor=member,
        actor_app=app,
        target=authorization,
        target_type="authorization",
    )
    audit_record(
        action=AuditAction.TOKEN_ISSUED,
        organization=org,
        actor=None,
        actor_app=cc_app.app,
        target=cc_app.app,
    )
    audit_record(
        action=AuditAction.USER_PERMISSIONS_CHANGED, organization=org, actor=admin, target=member
    )
    body = signed_in(admin).get(PAGE).content.decode()
    app_url = f"/access-management/connected-apps/{app.client_id}/"
    assert f'<a href="{app_url}">Test App for {member.username}</a>' in body
    assert f'<a href="/access-management/users/{member.id}/">{member.username}</a>' in body
    assert f'<a href="/access-management/users/{admin.id}/">{admin.username}</a>' in body
    # The acting app by its name, its client_id in small text.
    robot = f'<a href="/access-management/connected-apps/{cc_app.app.client_id}/">CI Robot</a>'
    assert robot + f' <code class="small muted audit-id">{cc_app.app.client_id}</code>' in body
    assert "connected_app 2" not in text_of(body.encode())
    assert f"authorization {authorization.id}" not in text_of(body.encode())


def test_deleted_targets_and_actors_show_as_deleted_with_their_id(org, admin, member):
    class Gone:
        pk = 987654
        client_id = "gone-client"
        name = "Gone app"

    audit_record(
        action=AuditAction.APP_DELETED,
        organization=org,
        actor=None,
        actor_app=Gone(),
        target=Gone(),
        target_type="connected_app",
    )
    body = text_of(signed_in(admin).get(PAGE).content)
    assert "App (deleted) 987654" in body
    assert "App Gone app (deleted) gone-client" in body


def test_one_query_per_target_type_whatever_the_number_of_rows(
    org, admin, make_app, django_assert_max_num_queries
):
    def record(n: int) -> None:
        for _ in range(n):
            made = make_app(client_name="App")
            audit_record(
                action=AuditAction.TOKEN_ISSUED,
                organization=org,
                actor=admin,
                actor_app=made.app,
                target=made.app,
                target_type="connected_app",
            )
            audit_record(
                action=AuditAction.USER_PERMISSIONS_CHANGED,
                organization=org,
                actor=admin,
                target=admin,
            )

    client = signed_in(admin)
    record(2)
    client.get(PAGE)
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as few:
        client.get(PAGE)
    record(10)
    with django_assert_max_num_queries(len(few.captured_queries)):
        body = client.get(PAGE).content.decode()
    # 12 apps created, 12 apps given a token, 12 acting apps: all named
    assert body.count(">App</a>") == 36


# ---- 3. Filters: date inputs, presets, and bad values refused --------------------------------


def _at(event_id, when):
    """Move an event in time (the table refuses UPDATE: a test-only trigger bypass)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL session_replication_role = replica")
        cursor.execute(
            "UPDATE audit_auditevent SET created_at = %s WHERE id = %s", [when, event_id]
        )
        cursor.execute("SET LOCAL session_replication_role = DEFAULT")


@pytest.fixture
def dated(org, admin):
    from datetime import timedelta

    from django.utils import timezone

    now = timezone.now()
    ages = {
        "recent": timedelta(minutes=10),
        "today": timedelta(hours=5),
        "week": timedelta(days=3),
        "old": timedelta(days=30),
    }
    for name, age in ages.items():
        event = audit_record(
            action=AuditAction.USER_PROFILE_CHANGED,
            organization=org,
            actor=admin,
            details={"when": name},
        )
        _at(event.id, now - age)
    return now


def test_the_date_inputs_are_date_pickers_and_to_takes_the_whole_day(org, admin, dated):
    from datetime import timedelta

    client = signed_in(admin)
    page = client.get(PAGE)
    assert b'type="date" id="audit-from" name="from"' in page.content
    assert b'type="date" id="audit-to" name="to"' in page.content
    day = (dated - timedelta(days=3)).date().isoformat()
    response = client.get(PAGE, {"from": day, "to": day})
    assert response.status_code == 200
    assert [r["event"].details["when"] for r in response.context["events"]] == ["week"]
    assert f'value="{day}"'.encode() in response.content


@pytest.mark.parametrize(
    ("since", "seen"),
    [("1h", ["recent"]), ("24h", ["recent", "today"]), ("7d", ["recent", "today", "week"])],
)
def test_presets_are_links_counting_back_from_now(org, admin, dated, since, seen):
    client = signed_in(admin)
    page = client.get(PAGE, {"outcome": "success"})
    assert f'href="?outcome=success&amp;since={since}"'.encode() in page.content
    response = client.get(PAGE, {"outcome": "success", "since": since})
    assert [r["event"].details["when"] for r in response.context["events"]] == seen
    assert b'aria-current="true"' in response.content


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"from": "nonsense"}, "from"),
        ({"to": "2026-02-31"}, "to"),
        ({"from": "2026-03-02", "to": "2026-03-01"}, "to"),
        ({"outcome": "maybe"}, "outcome"),
        ({"since": "1y"}, "since"),
    ],
)
def test_a_bad_filter_is_a_400_with_the_error_on_its_field_and_no_list(
    org, admin, dated, params, field
):
    response = signed_in(admin).get(PAGE, params)
    assert response.status_code == 400
    assert field in response.context["filter_errors"]
    assert f'id="audit-{field}-error"'.encode() in response.content
    assert b"Fix the filters" in response.content
    assert "events" not in response.context and b"audit-events-heading" not in response.content


# ---- 4. Layout: fixed columns, details in their own expandable row, cards on a phone ----------


def test_details_open_in_their_own_row_and_cells_carry_their_label(org, admin):
    audit_record(
        action=AuditAction.TOKEN_ISSUED, organization=org, actor=admin, details={"scope": "x"}
    )
    body = signed_in(admin).get(PAGE).content.decode()
    assert '<table class="table audit-table">' in body
    row = body[body.index('<tr class="audit-details-row">') :]
    assert (
        row.index("<details>")
        < row.index("<summary>Details")
        < row.index('<dl class="audit-details">')
    )
    for label in ("Time (UTC)", "Action", "Outcome", "Actor", "Target", "Client IP"):
        assert f'data-label="{label}"' in body


def test_the_audit_log_styles_are_one_delimited_section_with_a_phone_layout():
    from pathlib import Path

    from django.conf import settings

    css = (Path(settings.BASE_DIR) / "static/css/portal.css").read_text()
    start = css.index("/* ==== Audit log")
    section = css[start : css.index("/* ==== End of Audit log")]
    assert "table-layout: fixed" in section and "overflow-wrap: anywhere" in section
    assert "@media (max-width: 640px)" in section and "attr(data-label)" in section


# ---- 5. Activity chart ------------------------------------------------------------------------


def test_the_activity_chart_counts_events_per_day_with_a_table_fallback(org, admin, dated):
    from datetime import timedelta

    response = signed_in(admin).get(PAGE)
    body = response.content.decode()
    chart = response.context["activity"]
    assert chart["step"] == "day" and chart["total"] == 4
    assert len(chart["bars"]) in (31, 32)  # 30 days back to today
    assert 'viewBox="0 0 720 200" preserveAspectRatio="xMidYMid meet" role="img"' in body
    assert body.count('<rect class="audit-bar"') == sum(1 for b in chart["bars"] if b["count"])
    week = (dated - timedelta(days=3)).date().isoformat()
    assert f"<tr><td>{week}</td><td>1</td></tr>" in body
    assert "Show as a table" in body


def test_the_chart_counts_per_hour_under_two_days_and_follows_the_filter(org, admin, dated):
    response = signed_in(admin).get(PAGE, {"since": "24h"})
    chart = response.context["activity"]
    assert chart["step"] == "hour" and chart["total"] == 2
    assert 24 <= len(chart["bars"]) <= 25


def test_no_chart_without_events(org, admin):
    response = signed_in(admin).get(PAGE, {"action": "token.issued"})
    assert response.context["activity"] is None and b"<svg" not in response.content


def test_one_bucket_is_a_chart_with_axes_and_a_bar_of_capped_width():
    from datetime import UTC, datetime

    from accounts.views.audit_chart import BASELINE, LEFT, MAX_BAR, WIDTH, activity_chart

    chart = activity_chart("hour", [(datetime(2026, 12, 6, 16, tzinfo=UTC), 3)])
    (bar,) = chart["bars"]
    assert bar["width"] == MAX_BAR  # not the whole box
    assert bar["x"] > LEFT and bar["x"] + bar["width"] < WIDTH
    assert bar["y"] + bar["height"] == BASELINE and bar["height"] > 0
    assert [t["value"] for t in chart["ticks"]] == [0, 1, 2, 3, 4]
    assert chart["labels"] == [{"x": bar["centre"], "text": "16:00"}]


def test_the_chart_bars_never_overlap_and_labels_are_few():
    from datetime import UTC, datetime, timedelta
    from itertools import pairwise

    from accounts.views.audit_chart import MAX_LABELS, activity_chart

    start = datetime(2026, 11, 1, tzinfo=UTC)
    chart = activity_chart("day", [(start + timedelta(days=i), i % 5) for i in range(40)])
    bars = chart["bars"]
    assert all(a["x"] + a["width"] < b["x"] for a, b in pairwise(bars))
    assert [t["value"] for t in chart["ticks"]] == [0, 1, 2, 3, 4]
    assert 2 <= len(chart["labels"]) <= MAX_LABELS
    assert chart["labels"][-1]["x"] == bars[-1]["centre"]
    assert all(b["height"] == 0 for b in bars if not b["count"])


def test_events_within_an_hour_chart_the_last_24_hours(org, admin):
    audit_record(action=AuditAction.TOKEN_ISSUED, organization=org, actor=admin)
    response = signed_in(admin).get(PAGE)
    chart = response.context["activity"]
    assert chart["step"] == "hour" and chart["total"] == 1
    assert len(chart["bars"]) == 24 and chart["first"] != chart["last"]
    body = text_of(response.content)
    assert f"{chart['first']} to {chart['last']} (UTC)" in body
    assert 'preserveAspectRatio="none"' not in response.content.decode()


# ---- 6. Filters folded on a phone, exports explained ------------------------------------------


def test_the_filters_fold_into_a_details_open_when_one_is_set(org, admin):
    client = signed_in(admin)
    body = client.get(PAGE).content.decode()
    assert '<details class="audit-filter-box" data-audit-filters>' in body
    assert 'App <span class="muted small">(client ID)</span>' in body
    assert "App client_id" not in body
    body = client.get(PAGE, {"actor": "acme-admin"}).content.decode()
    assert '<details class="audit-filter-box" open data-audit-filters>' in body
    assert "(1 active)" in body
    body = client.get(PAGE, {"from": "nonsense"}).content.decode()
    assert '<details class="audit-filter-box" open data-audit-filters>' in body


def test_the_two_exports_are_explained(org, admin):
    audit_record(action=AuditAction.TOKEN_ISSUED, organization=org, actor=admin)
    body = signed_in(admin).get(PAGE).content.decode()
    assert "Export CSV downloads now; Export in background prepares a file for large logs." in body
    assert body.count('aria-describedby="audit-export-hint"') == 2
