"""Red-team review of a3833a1..eaba59d (issue 16): the per-role dashboard at `/`, an
administrator's password reset and removal of a member, the app page's usage with refusals and
`?days=`, the reworked Create App page, and mail failures as 503.

Every attack goes over HTTP with Django's test client (DRF's APIClient for the JSON API). A
test marked "Found by review" failed against the code before its fix; the others pin a
property an attacker would try to break and found holding.
"""

from __future__ import annotations

import base64
import uuid

import pytest
from django.core import mail
from django.test import Client, override_settings
from rest_framework.test import APIClient

from accounts.access import Access
from accounts.models import User
from audit.models import AuditAction, AuditEvent
from connected_apps.models import ConnectedApp
from connected_apps.services import connected_app_create
from tests.accounts.member_admin_kit import user_url
from tests.factories import (
    AdminRoleFactory,
    OrganizationFactory,
    PermissionGrantFactory,
    UserFactory,
)
from tests.oauth.helpers import bearer
from tests.oauth.tokenkit import isolated_throttle  # noqa: F401 (autouse fixture)
from tests.test_redis_faults import hot_path_reset  # noqa: F401 (fixture)

pytestmark = pytest.mark.django_db

TOKEN_URL = "/accounts/api/v2/oauth2/token"
INTROSPECT_URL = "/accounts/api/v2/oauth2/introspect"
API = "/accounts/api"


def api_as(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user=user)
    return client


def browser_as(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def client_credentials(app, secret: str):
    return Client().post(
        TOKEN_URL,
        {"grant_type": "client_credentials", "client_id": app.client_id, "client_secret": secret},
    )


def introspect(app_with_secret, raw: str) -> dict:
    credentials = f"{app_with_secret.app.client_id}:{app_with_secret.client_secret}"
    response = Client().post(
        INTROSPECT_URL,
        {"token": raw},
        HTTP_AUTHORIZATION="Basic " + base64.b64encode(credentials.encode()).decode(),
    )
    assert response.status_code == 200, response.content
    return response.json()


def redis_away():
    """The cache is a Redis nobody answers on (a closed port): refused at once."""
    return override_settings(
        CACHES={
            "default": {
                "BACKEND": "core.cache.SharedClientRedisCache",
                "LOCATION": "redis://127.0.0.1:1/0",
            }
        },
        DOORMAN_REDIS_TIMEOUT=0.3,
        DOORMAN_REDIS_RETRY_SECONDS=0.2,
    )


def robot_of(creator, org, scopes: list[str]):
    """An own-behalf app `creator` made in `org`, holding `scopes` there: (app, secret)."""
    created = connected_app_create(
        access=Access(user=creator),
        owner=org,
        client_name="HR Robot",
        grant_types=["client_credentials"],
        scopes=[{"scope": s, "context_params": {"org": str(org.id)}} for s in scopes],
    )
    return created.app, created.client_secret


# -- removal: an own-behalf app its removed creator leaves behind ------------------------------
def test_a_removed_creators_robot_is_refused_by_introspection_and_the_token_endpoint(
    admin, org, code_app
):
    """Found by review, now fixed.

    A developer made an own-behalf app and kept its secret; the admin removes them. The
    resource APIs refuse the app's tokens from then on (it acts with its creator's profile,
    SPEC §3, and there is none), as the removal page promises. But the token endpoint kept
    issuing tokens to it (200, counted as issued), and introspection kept answering
    `"active": true` for them: every resource server that introspects (RFC 7662) went on
    accepting, with the app's scopes, tokens of a robot whose creator is gone."""
    developer = UserFactory(organization=org, username="departing-dev")
    AdminRoleFactory(user=developer, organization=org)
    robot, secret = robot_of(developer, org, ["read:users"])
    issued = client_credentials(robot, secret)
    assert issued.status_code == 200
    before = issued.json()["access_token"]
    assert introspect(code_app, before)["active"] is True  # remembered by this worker

    assert api_as(admin).delete(user_url(org, developer)).status_code == 204

    users = f"{API}/organizations/{org.id}/users"
    assert Client().get(users, **bearer(before)).status_code == 401
    assert introspect(code_app, before) == {"active": False}, "a refused token is active"
    again = client_credentials(robot, secret)
    assert again.status_code in (400, 401), again.content
    assert again.json()["error"] in ("unauthorized_client", "invalid_client")
    assert AuditEvent.objects.filter(
        action=AuditAction.TOKEN_REFUSED, actor_client_id=robot.client_id
    ).exists()


# -- a member another administrator removed meanwhile -----------------------------------------
@pytest.fixture
def removed_meanwhile(monkeypatch):
    """Another administrator's removal of the member commits after this request read the
    member (its 404 check) and before the service locks their row: the race two admins
    clicking Remove at once run."""
    from accounts.services import members

    checked = members._require_member_admin

    def check_then_lose_the_race(access, user):
        root = checked(access, user)
        User.objects.filter(pk=user.pk).delete()
        return root

    monkeypatch.setattr(members, "_require_member_admin", check_then_lose_the_race)


@pytest.mark.parametrize(
    ("method", "suffix", "body"),
    [
        ("delete", "", None),
        ("post", "/passwordReset", None),
        ("patch", "", {"enabled": False}),
    ],
)
def test_acting_on_a_member_removed_meanwhile_is_a_404_not_a_500(
    removed_meanwhile, admin, member, org, method, suffix, body
):
    """Found by review, now fixed: the service re-read the member with `.get()`, so the
    second of two administrators removing (or resetting, or disabling) the same member got a
    500 (User.DoesNotExist) instead of the 404 the member's absence is."""
    client = api_as(admin)
    client.raise_request_exception = False
    response = getattr(client, method)(user_url(org, member) + suffix, body, format="json")
    assert response.status_code == 404, response.content
    assert response.json()["error"] == "not_found"


def test_the_portals_remove_of_a_member_removed_meanwhile_is_a_404(
    removed_meanwhile, admin, member, org
):
    browser = browser_as(admin)
    browser.raise_request_exception = False
    page = f"/access-management/organizations/{org.id}/users/{member.id}/"
    assert browser.post(page + "remove").status_code == 404
    assert browser.post(page + "password-reset").status_code == 404


# -- a password reset while Redis is away ------------------------------------------------------
@pytest.mark.usefixtures("hot_path_reset")
def test_a_password_reset_with_redis_away_is_not_a_500(admin, member, org):
    """Found by review, now fixed: the per-member limit of reset emails was counted with a
    bare Redis call, so while Redis was away (the service otherwise goes on from
    PostgreSQL, core.cache.redis_optional) an administrator's reset answered 500. A limit
    that Redis trouble makes lenient for a moment is the house rule; the email still goes."""
    client = api_as(admin)
    client.raise_request_exception = False
    with redis_away():
        response = client.post(user_url(org, member) + "/passwordReset")
    assert response.status_code == 204, response.content
    assert [m.to for m in mail.outbox] == [[member.email]]


# -- held: what the review tried that the code already refused ---------------------------------
def test_the_dashboard_counts_no_other_tenants_refusals_and_shows_none_of_its_events(
    admin, org, other_admin, other_org, cc_app
):
    """Refusals are counted from the audit events of the viewer's org tree (token events are
    recorded in the app's owner org), never by a client_id another tenant could name. A
    stranger's wrong secrets naming Acme's app are Acme's refusals (they name its app: its
    log is where they belong), and Globex sees none of them."""
    globex_robot, _ = robot_of(other_admin, other_org, ["read:organization"])
    for _ in range(3):
        assert client_credentials(globex_robot, "wrong").status_code == 401
    assert client_credentials(cc_app.app, "wrong").status_code == 401

    acme = browser_as(admin).get("/")
    globex = browser_as(other_admin).get("/")
    assert acme.context["figures"].refused_today == 1
    assert globex.context["figures"].refused_today == 3
    assert {row["event"].organization_id for row in acme.context["events"]} <= {org.id}
    assert {row["event"].organization_id for row in globex.context["events"]} <= {other_org.id}
    assert "CI Robot" not in globex.content.decode()
    assert "HR Robot" not in acme.content.decode()


def test_a_business_group_developer_cannot_hand_post_contexts_beyond_their_power(org, other_org):
    """SPEC §10 through the reworked Create App page, its JS-hidden fields posted by hand: a
    member holding manage:connected_apps (and read:users) in one business group ticks
    read:users in the root org, in a sibling business group, in another tenant's org, and
    `full`; each is refused and nothing is created. Only what they hold, where they hold it,
    goes through."""
    team = OrganizationFactory(name="Team", parent=org)
    sibling = OrganizationFactory(name="Sibling", parent=org)
    dev = UserFactory(organization=org, username="team-dev")
    for permission in ("manage:connected_apps", "read:users"):
        PermissionGrantFactory(user=dev, organization=team, permission=permission)
    browser = browser_as(dev)

    def create(name: str, **fields) -> int:
        data = {
            "submission_id": str(uuid.uuid4()),
            "client_name": name,
            "app_type": "own",
            "owner": str(team.id),
            "scopes": ["read:users"],
            **fields,
        }
        return browser.post("/access-management/connected-apps/new/", data).status_code

    for name, where in (("Root", org), ("Sibling", sibling), ("Globex", other_org)):
        assert create(name, orgs_read_users=[str(where.id)]) == 200
        assert not ConnectedApp.objects.filter(name=name).exists(), name
    assert create("Everything", scopes=["full"]) == 200
    assert create("Owner elsewhere", owner=str(org.id)) == 200
    assert not ConnectedApp.objects.filter(name__in=["Everything", "Owner elsewhere"]).exists()

    assert create("Team", orgs_read_users=[str(team.id)]) == 200
    app = ConnectedApp.objects.get(name="Team")
    assert list(app.scope_grants.values_list("scope", "context_org_id")) == [
        ("read:users", team.id)
    ]


def test_the_new_json_endpoints_answer_json_for_bad_input(admin, member, org, code_app):
    """405, 404, CSRF and bad `days` on the endpoints of issue 16: JSON, never a 500."""
    client = api_as(admin)
    reset = user_url(org, member) + "/passwordReset"
    usage = f"{API}/connectedApplications/{code_app.app.client_id}/usage"
    answers = [
        client.get(reset),
        client.put(reset),
        client.post(user_url(org, member)),
        client.post(f"{API}/organizations/{org.id}/users/not-a-uuid/passwordReset"),
        client.delete(f"{API}/organizations/%00/users/{member.id}"),
        client.post(usage),
    ]
    for days in ("-1", "0", "31", "1e9", "9" * 40, "7.0", "\u0667", "%00"):
        answers.append(client.get(usage, {"days": days}))
    session = APIClient(enforce_csrf_checks=True)
    session.force_login(admin)
    answers += [session.delete(user_url(org, member)), session.post(reset)]
    for response in answers:
        assert 400 <= response.status_code < 500, (response.request, response.status_code)
        assert response["Content-Type"].startswith("application/json"), response.request
    assert User.objects.filter(pk=member.pk).exists()


# -- left open ---------------------------------------------------------------------------------
def test_disabling_a_creator_stops_their_robot_as_removing_them_does(admin, org, code_app):
    """Found by review, now fixed.

    A departing developer made an own-behalf app and kept its secret. The removal page
    tells the admin 'To keep their account but stop their access, disable them instead';
    disabled, the developer still minted tokens for the app and used its scopes, and
    introspection called them active, where removal stopped all three. A disabled user holds
    no power (SPEC §10), and the app acts with its creator's profile (SPEC §3): disabling
    stops the robot on the next request, on every path; enabling them again restores it."""
    developer = UserFactory(organization=org, username="departing-dev")
    AdminRoleFactory(user=developer, organization=org)
    robot, secret = robot_of(developer, org, ["read:users"])
    issued = client_credentials(robot, secret)
    assert issued.status_code == 200
    before = issued.json()["access_token"]
    users = f"{API}/organizations/{org.id}/users"
    assert Client().get(users, **bearer(before)).status_code == 200  # remembered, too
    assert introspect(code_app, before)["active"] is True

    disabled = api_as(admin).patch(user_url(org, developer), {"enabled": False}, format="json")
    assert disabled.status_code == 200

    assert Client().get(users, **bearer(before)).status_code == 401
    assert introspect(code_app, before) == {"active": False}
    refused = client_credentials(robot, secret)
    assert refused.status_code == 400, refused.content
    assert refused.json()["error"] == "unauthorized_client"

    enabled = api_as(admin).patch(user_url(org, developer), {"enabled": True}, format="json")
    assert enabled.status_code == 200
    assert Client().get(users, **bearer(before)).status_code == 200
    assert client_credentials(robot, secret).status_code == 200
