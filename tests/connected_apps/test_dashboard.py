"""The portal's home page, a dashboard per role (issue 16): the figures an Organization
Administrator sees (and only of the orgs they administer), a developer's apps' usage, a member's
access, end users sent to My apps, and a fixed query count."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.access import Access
from accounts.catalog import Permission
from audit.models import AuditAction, AuditOutcome
from audit.services import audit_record
from connected_apps import controls
from connected_apps.dashboard import DASHBOARD_APPS, RECENT_EVENTS
from connected_apps.models import AppUsageDay
from connected_apps.services import connected_app_set_scopes
from oauth.services import authorization_grant
from tests.audit.test_audit_page import _at as event_moved
from tests.factories import (
    AdminRoleFactory,
    OrganizationFactory,
    PermissionGrantFactory,
    UserFactory,
)
from tests.oauth.tokenkit import client_credentials, post_form

pytestmark = pytest.mark.django_db

HOME = reverse("portal:home")
AUDIT = reverse("audit:log")
APPS = reverse("connected_apps:app_list")
AUTHORIZED = reverse("connected_apps:authorized_apps")
CREATE = reverse("connected_apps:app_create")


def web(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def figure(html: str, name: str) -> dict[str, str]:
    """A figure tile: its value, where the value links, and its note (tags stripped)."""
    match = re.search(rf'<div class="stat" data-figure="{name}">(.*?)</div>', html, re.S)
    assert match, name
    tile = match.group(1)
    value = re.search(r"<a href=\"([^\"]*)\" data-value>(.*?)</a>", tile, re.S)
    note = re.search(r'<dd class="dashboard-note">(.*?)</dd>', tile, re.S)
    return {
        "value": value.group(2).strip() if value else "",
        "href": value.group(1).replace("&amp;", "&") if value else "",
        "note": re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", note.group(1))).strip() if note else "",
        "html": tile,
    }


def days_ago(n: int):
    return timezone.now().date() - timedelta(days=n)


def refusal(app, *, org, age: timedelta | None = None):
    """A token.refused event of `app`, as the token endpoint records it (its owner's trail)."""
    event = audit_record(
        action=AuditAction.TOKEN_REFUSED,
        organization=org,
        actor=None,
        actor_app=app,
        target=app,
        target_type="connected_app",
        outcome=AuditOutcome.FAILURE,
        details={"grant_type": "client_credentials", "error": "invalid_client"},
    )
    if age is not None:
        event_moved(event.id, timezone.now() - age)
    return event


@pytest.fixture
def foreign_app(make_app, other_admin):
    """Another tenant's app open to everyone."""
    return make_app(actor=other_admin, client_name="Third Party", audience="everyone").app


# -- an Organization Administrator --------------------------------------------------------------
def test_an_admin_sees_the_org_figures_each_linking_to_its_page(
    org, admin, member, code_app, cc_app, foreign_app, other_org
):
    authorization_grant(user=member, app=code_app.app, scopes=["openid"])
    authorization_grant(user=member, app=foreign_app, scopes=["profile"])
    authorization_grant(user=admin, app=foreign_app, scopes=["profile"])
    # Tokens: rolled-up days, and today's count still in the cache (two real token requests).
    AppUsageDay.objects.create(app=cc_app.app, day=days_ago(0), tokens_issued=3)
    AppUsageDay.objects.create(app=code_app.app, day=days_ago(10), tokens_issued=7)
    AppUsageDay.objects.create(app=code_app.app, day=days_ago(45), tokens_issued=100)  # too old
    AppUsageDay.objects.create(app=foreign_app, day=days_ago(0), tokens_issued=50)  # not ours
    for _ in range(2):
        assert post_form(client_credentials(cc_app)).status_code == 200
    # Refusals: one by the token endpoint itself, two recorded earlier, one elsewhere.
    assert post_form(client_credentials(code_app)).status_code in (400, 401)
    refusal(cc_app.app, org=org, age=timedelta(days=5))
    refusal(cc_app.app, org=org, age=timedelta(days=40))  # outside the 30 days
    refusal(foreign_app, org=other_org)  # another tenant's trail

    html = web(admin).get(HOME).content.decode()

    assert "Organization Administrator" in html and "Acme" in html
    apps = figure(html, "apps")
    assert (apps["value"], apps["href"]) == ("3", APPS)
    assert apps["note"] == "2 owned, 1 from other organizations your people authorized"
    assert f'href="{AUTHORIZED}"' in apps["html"]
    users = figure(html, "authorized-users")
    assert (users["value"], users["href"]) == ("2", AUTHORIZED)
    assert users["note"] == "3 live authorizations"
    tokens = figure(html, "tokens-today")
    assert (tokens["value"], tokens["href"]) == ("5", APPS)
    assert tokens["note"] == "12 in 30 days, to your apps"
    refused = figure(html, "refused-today")
    today = timezone.now().date()
    assert refused["value"] == "1"
    assert refused["href"] == f"{AUDIT}?action=token.refused&from={today:%Y-%m-%d}"
    assert refused["note"] == "2 in 30 days"
    assert f"from={days_ago(29):%Y-%m-%d}" in refused["html"]
    # The chart is the usage chart of an app's page, for the org's apps together.
    assert "data-usage-chart" in html
    assert "12 tokens issued in the last 30 days" in html


def test_the_refusal_links_open_the_refusals_they_count(org, admin, cc_app):
    refusal(cc_app.app, org=org)
    refusal(cc_app.app, org=org, age=timedelta(days=3))
    client = web(admin)
    html = client.get(HOME).content.decode()
    today = client.get(figure(html, "refused-today")["href"])
    assert today.status_code == 200 and today.context["page_obj"].paginator.count == 1
    month = re.search(r'href="([^"]*)" data-figure="refused-30-days"', html).group(1)
    assert client.get(month.replace("&amp;", "&")).context["page_obj"].paginator.count == 2


def test_pending_allowlist_changes_are_counted_and_link_to_authorized_apps(
    org, admin, member, make_app, other_admin, foreign_app
):
    access = Access(user=admin)
    controls.org_settings_update(access=access, org=org, allowlist_enabled=True)
    listed = make_app(actor=other_admin, client_name="Listed", audience="everyone").app
    changed = make_app(actor=other_admin, client_name="Changed", audience="everyone").app
    for app in (foreign_app, listed, changed):
        authorization_grant(user=member, app=app, scopes=["profile"])
    for app in (listed, changed):
        controls.allowlist_approve(access=access, org=org, client_id=app.client_id)
    connected_app_set_scopes(
        access=Access(user=other_admin), app=changed, scopes=["openid", "profile", "read:users"]
    )

    tile = figure(web(admin).get(HOME).content.decode(), "allowlist-pending")

    assert (tile["value"], tile["href"]) == ("2", AUTHORIZED)
    assert tile["note"] == "1 to approve · 1 to re-approve"


def test_with_the_allowlist_off_pending_approvals_say_nothing_is_blocked(
    admin, member, foreign_app
):
    authorization_grant(user=member, app=foreign_app, scopes=["profile"])
    tile = figure(web(admin).get(HOME).content.decode(), "allowlist-pending")
    assert tile["value"] == "1"
    assert tile["note"] == "1 to approve Allowlist off: apps are not blocked"


def test_with_nothing_pending_the_allowlist_tile_says_nothing_waits(org, admin):
    controls.org_settings_update(access=Access(user=admin), org=org, allowlist_enabled=True)
    tile = figure(web(admin).get(HOME).content.decode(), "allowlist-pending")
    assert (tile["value"], tile["note"]) == ("0", "Nothing waiting")


def test_an_org_with_apps_but_no_token_request_says_so_instead_of_an_empty_chart(admin, cc_app):
    html = web(admin).get(HOME).content.decode()
    assert "No token requests in the last 30 days." in html
    assert "data-usage-chart" not in html
    assert "curl" not in html  # the example request is the app page's


def test_recent_events_are_the_audit_logs_latest_named_as_it_names_them(
    org, admin, code_app, other_org, other_admin
):
    for _ in range(RECENT_EVENTS + 3):
        audit_record(action=AuditAction.USER_PROFILE_CHANGED, organization=org, actor=admin)
    refusal(code_app.app, org=org)
    audit_record(action=AuditAction.USER_CREATED, organization=other_org, actor=other_admin)

    page = web(admin).get(HOME)
    rows = page.context["events"]

    assert len(rows) == RECENT_EVENTS
    assert rows[0]["label"] == "Token refused"
    assert rows[0]["target"].name == "Test App"  # audit.targets names the app
    html = page.content.decode()
    assert f'href="{AUDIT}">Open the audit log' in html
    section = html[html.index('id="events-heading"') :]
    assert "Test App" in section and "Failure" in section and "acme-admin" in section
    assert "globex-admin" not in html


def test_an_admin_without_apps_or_events_is_shown_where_to_start(db):
    root = OrganizationFactory(name="Empty Co")
    admin = UserFactory(organization=root, username="lonely-admin")
    AdminRoleFactory(user=admin, organization=root)

    html = web(admin).get(HOME).content.decode()

    assert "Empty Co owns no app yet." in html
    assert f'<a class="button button-primary" href="{CREATE}">Create App</a>' in html
    assert "Nothing happened in Empty Co yet." in html
    assert figure(html, "tokens-today")["value"] == "0"


# -- who sees which figures ------------------------------------------------------------------------
@pytest.fixture
def business_group(org):
    return OrganizationFactory(parent=org, name="Payments BG")


@pytest.fixture
def root_and_bg_activity(org, admin, make_app, business_group):
    """An app in the root org and one in its BG, each with tokens, a refusal and an event."""
    root_app = make_app(client_name="Root Secret App").app
    bg_app = make_app(client_name="BG App", owner=business_group).app
    AppUsageDay.objects.create(app=root_app, day=days_ago(0), tokens_issued=777)
    AppUsageDay.objects.create(app=bg_app, day=days_ago(0), tokens_issued=4)
    refusal(root_app, org=org)
    refusal(root_app, org=org)
    refusal(bg_app, org=business_group)
    audit_record(
        action=AuditAction.USER_PERMISSIONS_CHANGED,
        organization=org,
        actor=admin,
        details={"note": "root-only-event"},
    )
    return {"root_app": root_app, "bg_app": bg_app}


def test_a_business_group_admin_sees_the_business_group_only(
    org, business_group, root_and_bg_activity
):
    bg_admin = UserFactory(organization=org, username="bg-admin")
    AdminRoleFactory(user=bg_admin, organization=business_group)

    page = web(bg_admin).get(HOME)
    html = page.content.decode()

    assert "Payments BG" in html and "a business group of Acme" in html
    assert figure(html, "apps")["value"] == "1"
    assert figure(html, "tokens-today")["value"] == "4"
    assert figure(html, "refused-today")["value"] == "1"
    assert figure(html, "authorized-users")["href"] == APPS  # Authorized apps is the root's
    assert 'data-figure="allowlist-pending"' not in html  # the allowlist is the root's
    # The root's 777 tokens as a number of its own (ids in links may hold the digits).
    assert not re.search(r"(?<![\w-])777(?![\w-])", html) and "Root Secret App" not in html
    assert all(row["event"].organization_id == business_group.id for row in page.context["events"])
    assert "User permissions changed" not in html


def test_a_member_with_one_permission_in_a_business_group_sees_no_org_figures(
    org, business_group, root_and_bg_activity
):
    developer = UserFactory(organization=org, username="bg-developer")
    PermissionGrantFactory(
        user=developer, organization=business_group, permission=Permission.MANAGE_CONNECTED_APPS
    )
    reader = UserFactory(organization=org, username="bg-reader")
    PermissionGrantFactory(
        user=reader, organization=business_group, permission=Permission.READ_AUDIT_LOGS
    )

    page = web(developer).get(HOME)
    html = page.content.decode()
    assert page.status_code == 200 and page.context["role"] == "developer"
    assert [row.app.name for row in page.context["figures"].rows] == ["BG App"]
    # The root's 777 tokens as a number of its own (ids in links may hold the digits).
    assert not re.search(r"(?<![\w-])777(?![\w-])", html) and "Root Secret App" not in html
    assert "Token refused" not in html and "root-only-event" not in html
    assert 'data-figure="refused-today"' not in html

    page = web(reader).get(HOME)
    html = page.content.decode()
    assert page.status_code == 200 and page.context["role"] == "member"
    assert "figures" not in page.context and "events" not in page.context
    # The root's 777 tokens as a number of its own (ids in links may hold the digits).
    assert (
        not re.search(r"(?<![\w-])777(?![\w-])", html)
        and "Root Secret App" not in html
        and "BG App" not in html
    )
    assert "Token refused" not in html and "User permissions changed" not in html
    assert "Your access" in html and "read:audit_logs" in html


# -- a developer -----------------------------------------------------------------------------------
def test_a_developer_sees_each_of_their_apps_usage(org, admin, make_app):
    developer = UserFactory(organization=org, username="dev")
    PermissionGrantFactory(
        user=developer, organization=org, permission=Permission.MANAGE_CONNECTED_APPS
    )
    busy = make_app(actor=developer, client_name="Busy App").app
    idle = make_app(actor=developer, client_name="Idle App").app
    AppUsageDay.objects.create(app=busy, day=days_ago(0), tokens_issued=6)
    AppUsageDay.objects.create(app=busy, day=days_ago(3), tokens_issued=4)
    AppUsageDay.objects.create(app=idle, day=days_ago(29), tokens_issued=2)
    AppUsageDay.objects.create(app=idle, day=days_ago(30), tokens_issued=50)  # too old
    type(busy).objects.filter(pk=busy.pk).update(last_used_at=timezone.now())

    page = web(developer).get(HOME)
    html = page.content.decode()

    assert page.context["role"] == "developer"
    assert "Organization Administrator" not in html
    assert figure(html, "apps")["value"] == "2"
    assert re.search(r'data-figure="tokens-today"><dt>[^<]*</dt><dd data-value>6<', html)
    assert re.search(r'data-figure="tokens-30-days"><dt>[^<]*</dt><dd data-value>12<', html)
    rows = re.findall(
        r'<tr data-app="([^"]+)">.*?href="([^"]+)">([^<]+)</a>.*?data-today>(\d+)<'
        r".*?data-30-days>(\d+)<.*?Last used\">(.*?)</td>",
        html,
        re.S,
    )
    assert [(r[1], r[2], r[3], r[4]) for r in rows] == [
        (reverse("connected_apps:app_detail", args=[busy.client_id]), "Busy App", "6", "10"),
        (reverse("connected_apps:app_detail", args=[idle.client_id]), "Idle App", "0", "2"),
    ]
    assert "just now" in rows[0][5] and "Never" in rows[1][5]


def test_a_developer_sees_last_used_stamped_by_a_real_token_request(org, cc_app):
    """Last used and today's count come from the same token requests: the dashboard never says
    "Never" beside tokens issued through the token endpoint (rows written straight into
    AppUsageDay, as test data does, carry no last_used_at)."""
    developer = UserFactory(organization=org, username="dev")
    PermissionGrantFactory(
        user=developer, organization=org, permission=Permission.MANAGE_CONNECTED_APPS
    )
    for _ in range(3):  # the first stamps it; the memo'd app copy of the others must not hide it
        assert post_form(client_credentials(cc_app)).status_code == 200

    html = web(developer).get(HOME).content.decode()

    row = re.search(r'<tr data-app="[^"]+">(.*?)</tr>', html, re.S).group(1)
    assert re.search(r"data-today>3<", row)
    last_used = re.search(r'data-label="Last used">(.*?)</td>', row, re.S).group(1)
    assert "just now" in last_used and "Never" not in last_used


def test_a_developer_with_many_apps_sees_the_last_used_and_a_link_to_all(org, make_app):
    developer = UserFactory(organization=org, username="dev")
    PermissionGrantFactory(
        user=developer, organization=org, permission=Permission.MANAGE_CONNECTED_APPS
    )
    for n in range(DASHBOARD_APPS + 2):
        make_app(actor=developer, client_name=f"App {n:02}")

    html = web(developer).get(HOME).content.decode()

    assert html.count("<tr data-app=") == DASHBOARD_APPS
    assert f'<a href="{APPS}">All {DASHBOARD_APPS + 2} apps</a>' in html


def test_a_developer_without_apps_is_shown_create_app(org):
    developer = UserFactory(organization=org, username="dev")
    PermissionGrantFactory(
        user=developer, organization=org, permission=Permission.MANAGE_CONNECTED_APPS
    )
    html = web(developer).get(HOME).content.decode()
    assert "You have no connected apps yet." in html
    assert f'<a class="button button-primary" href="{CREATE}">Create App</a>' in html


# -- an end user -----------------------------------------------------------------------------------
def test_an_end_user_is_sent_to_my_apps(member):
    response = web(member).get(HOME)
    assert response.status_code == 302
    assert response["Location"] == reverse("connected_apps:my_apps")


def test_signed_out_visitors_are_asked_to_sign_in(db):
    response = Client().get(HOME)
    assert response.status_code == 302 and response["Location"].startswith("/auth/login/")


# -- cost ------------------------------------------------------------------------------------------
# Sign-in checks, Access, the navigation's and the page's own reads: 22 for an administrator,
# plus one per type of target the recent events name (audit.targets: 8 types at most).
ADMIN_QUERIES = 22 + 8
DEVELOPER_QUERIES = 15


def _busy_org(org, admin, member, make_app, other_admin, n: int) -> None:
    access = Access(user=admin)
    controls.org_settings_update(access=access, org=org, allowlist_enabled=True)
    for i in range(n):
        own = make_app(client_name=f"Own {i}").app
        foreign = make_app(actor=other_admin, client_name=f"Foreign {i}", audience="everyone").app
        AppUsageDay.objects.create(app=own, day=days_ago(i % 30), tokens_issued=i + 1)
        authorization_grant(user=member, app=own, scopes=["openid"])
        authorization_grant(user=member, app=foreign, scopes=["openid"])
        if i % 2:
            controls.allowlist_approve(access=access, org=org, client_id=foreign.client_id)
        refusal(own, org=org)
        refusal(foreign, org=org)


@pytest.mark.parametrize("apps", [1, 8])
def test_the_admin_dashboard_costs_a_fixed_number_of_queries(
    org, admin, member, make_app, other_admin, django_assert_max_num_queries, apps
):
    _busy_org(org, admin, member, make_app, other_admin, apps)
    client = web(admin)
    with django_assert_max_num_queries(ADMIN_QUERIES):
        response = client.get(HOME)
    assert response.status_code == 200
    assert figure(response.content.decode(), "apps")["value"] == str(2 * apps)


@pytest.mark.parametrize("apps", [1, 8])
def test_the_developer_dashboard_costs_a_fixed_number_of_queries(
    org, make_app, django_assert_max_num_queries, apps
):
    developer = UserFactory(organization=org, username="dev")
    PermissionGrantFactory(
        user=developer, organization=org, permission=Permission.MANAGE_CONNECTED_APPS
    )
    for i in range(apps):
        app = make_app(actor=developer, client_name=f"App {i}").app
        AppUsageDay.objects.create(app=app, day=days_ago(i % 30), tokens_issued=i + 1)
        authorization_grant(user=developer, app=app, scopes=["openid"])
    client = web(developer)
    with django_assert_max_num_queries(DEVELOPER_QUERIES):
        response = client.get(HOME)
    assert response.status_code == 200
