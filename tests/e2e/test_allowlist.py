"""Approving an app for the allowlist in a real browser (issue 16).

Done when: a new admin of an org with the allowlist switched on sees, on Authorized apps, an
app one of their users authorized, clicks Approve, sees exactly the scopes being approved,
confirms, and the app is on the allowlist, so the user's token for it works again; and
Remove asks before it takes the app off.
"""

from __future__ import annotations

import re

import pytest
import requests

from accounts.access import Access
from accounts.services import organization_bootstrap
from connected_apps import controls
from connected_apps.models import AllowlistEntry
from connected_apps.services import connected_app_create
from oauth.services import authorization_grant
from tests.factories import UserFactory
from tests.oauth.helpers import mint_access_token
from tests.oauth.tokenkit import PROFILE_URL

pytestmark = pytest.mark.browser

PASSWORD = "dana-pass-8f3K2x!"
PAGE = "/access-management/authorized-apps/"


@pytest.fixture
def world(transactional_db):
    """Acme (allowlist on, a brand-new admin Dana, a user Bob) and Globex's Expense Tracker,
    which Bob authorized; Bob's token for it is refused while the app is not allowlisted."""
    acme = organization_bootstrap(
        org_name="Acme", username="dana", password=PASSWORD, email="dana@acme.example"
    )
    globex = organization_bootstrap(
        org_name="Globex", username="gus", password="gus-pass-8f3K2x!", email="gus@globex.example"
    )
    app = connected_app_create(
        access=Access(user=globex.admin),
        owner=globex.organization,
        client_name="Expense Tracker",
        grant_types=["authorization_code", "refresh_token"],
        redirect_uris=["https://tracker.example/callback"],
        scopes=["openid", "profile", "view:environment"],
        audience="everyone",
    ).app
    bob = UserFactory(organization=acme.organization, username="bob")
    authorization_grant(user=bob, app=app, scopes=["profile"])
    controls.org_settings_update(
        access=Access(user=acme.admin), org=acme.organization, allowlist_enabled=True
    )
    token = mint_access_token(user=bob, app=app, scope="profile")
    return acme, app, token


def profile_status(live_server, token: str) -> int:
    response = requests.get(
        f"{live_server.url}{PROFILE_URL}", headers={"Authorization": f"Bearer {token}"}, timeout=10
    )
    return response.status_code


def test_a_new_admin_approves_an_app_their_user_authorized(page, live_server, world, screenshot):
    from playwright.sync_api import expect

    acme, app, token = world
    assert profile_status(live_server, token) == 401

    page.goto(PAGE)
    page.get_by_label("Username").fill("dana")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in", exact=True).click()
    page.wait_for_url(re.compile(re.escape(PAGE) + "$"))

    candidates = page.get_by_role("table", name="Approve an app your users authorized")
    row = candidates.get_by_role("row").filter(has_text="Expense Tracker")
    expect(row).to_contain_text("Globex")
    expect(row).to_contain_text("1 user")
    expect(row).to_contain_text("Read your profile")
    expect(row).to_contain_text("View environments")
    screenshot(page, "candidates")
    row.get_by_role("link", name="Approve Expense Tracker").click()

    expect(page.get_by_role("heading", name="Approve Expense Tracker for Acme?")).to_be_visible()
    scopes = page.get_by_role("list", name=re.compile("Every user of Acme may let Expense Tracker"))
    expect(scopes.get_by_role("listitem")).to_have_count(3)
    expect(scopes).to_contain_text("Know your username and unique id")
    expect(scopes).to_contain_text("Read your profile")
    expect(scopes).to_contain_text("View environments")
    assert not AllowlistEntry.objects.exists()
    screenshot(page, "confirm-approve")
    page.get_by_role("button", name="Approve Expense Tracker").click()

    page.wait_for_url(re.compile(re.escape(PAGE) + "$"))
    expect(
        page.get_by_text("Expense Tracker is allowlisted with its current scopes.")
    ).to_be_visible()
    allowlist = page.get_by_role("table", name="Allowlist")
    expect(allowlist.get_by_role("row").filter(has_text="Expense Tracker")).to_be_visible()
    expect(page.get_by_text("Every app your users authorized is allowlisted")).to_be_visible()
    entry = AllowlistEntry.objects.get(organization=acme.organization, app=app)
    assert sorted(entry.approved_scopes) == ["openid", "profile", "view:environment"]
    assert entry.approved_by == acme.admin
    assert profile_status(live_server, token) == 200

    # Remove asks first; Cancel changes nothing, confirming takes it off.
    allowlist.get_by_role("link", name="Remove Expense Tracker").click()
    expect(
        page.get_by_role("heading", name="Remove Expense Tracker from the allowlist?")
    ).to_be_visible()
    screenshot(page, "confirm-remove")
    page.get_by_role("link", name="Cancel").click()
    page.wait_for_url(re.compile(re.escape(PAGE) + "$"))
    assert AllowlistEntry.objects.filter(app=app).exists()
    assert profile_status(live_server, token) == 200

    page.get_by_role("table", name="Allowlist").get_by_role(
        "link", name="Remove Expense Tracker"
    ).click()
    page.get_by_role("button", name="Remove Expense Tracker from the allowlist").click()
    page.wait_for_url(re.compile(re.escape(PAGE) + "$"))
    expect(page.get_by_text("Expense Tracker is no longer on the allowlist.")).to_be_visible()
    assert not AllowlistEntry.objects.filter(app=app).exists()
    assert profile_status(live_server, token) == 401
    expect(
        page.get_by_role("table", name="Approve an app your users authorized").get_by_role(
            "link", name="Approve Expense Tracker"
        )
    ).to_be_visible()
