"""Connected Apps and My apps in a real browser.

Done when: an org admin creates an app through the Create App wizard (only the steps its
type needs, the review, Save), copies the client secret with the Copy button (the clipboard
holds exactly the secret shown), the secret gets a token from the token endpoint, and the
app's page shows the usage chart with that token counted; an admin creates an
on-behalf-of-a-user app the same way; and a user who authorized an app revokes it in My apps
after confirming, after which its token no longer works.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import requests
from django.utils import timezone

from accounts.access import Access
from accounts.models import Environment, Organization, User
from accounts.services import (
    business_group_create,
    environment_create,
    organization_bootstrap,
    user_create,
)
from connected_apps.models import AppScope, AppUsageDay, Authorization, ConnectedApp
from connected_apps.services import connected_app_create
from oauth.services import authorization_grant
from tests.oauth.helpers import bearer, mint_access_token

pytestmark = pytest.mark.browser

ADMIN_PASSWORD = "admin-pass-8f3K2x!"
USER_PASSWORD = "member-pass-Q7w4zL!"


def sign_in(page, username: str, password: str, lands_on: str = "/") -> None:
    """Sign in; the home page (/) sends a user with nothing to manage on to My apps."""
    page.goto("/auth/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in", exact=True).click()
    page.wait_for_url(re.compile(re.escape(lands_on) + "$"))


def nav_link(page, name: str):
    return page.get_by_role("navigation", name="Access Management").get_by_role(
        "link", name=name, exact=True
    )


def expect_message(page, text: str) -> None:
    page.get_by_role("status").filter(has_text=text).first.wait_for()


def next_step(page) -> None:
    page.get_by_role("button", name="Next").click()


@pytest.fixture
def acme(transactional_db):
    setup = organization_bootstrap(
        org_name="Acme", username="alice", password=ADMIN_PASSWORD, email="alice@acme.example"
    )
    access = Access(user=setup.admin)
    retail = business_group_create(access=access, parent=setup.organization, name="Retail")
    environment_create(access=access, org=setup.organization, name="Production", type="production")
    environment_create(access=access, org=retail, name="Retail Sandbox", type="sandbox")
    return setup


def test_admin_creates_an_own_behalf_app_copies_the_secret_and_sees_usage(
    page, screenshot, live_server, acme
):
    from playwright.sync_api import expect

    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    sign_in(page, "alice", ADMIN_PASSWORD)

    # -- Owned apps, empty -------------------------------------------------------------------------
    nav_link(page, "Connected Apps").click()
    expect(page.get_by_role("heading", name="Connected Apps", exact=True)).to_be_visible()
    expect(page.get_by_text("You have no connected apps yet.")).to_be_visible()
    screenshot(page, "owned-apps-empty")
    page.get_by_role("link", name="Create App").first.click()

    # -- the wizard: name, type and owner; scopes; review (no sign-in step for this type) ----
    expect(page.get_by_role("heading", name="Create App")).to_be_visible()
    steps = page.get_by_role("list", name="Steps")
    expect(steps.get_by_role("listitem")).to_have_count(4)  # an app acting for users, first
    expect(page.get_by_role("button", name="Create app")).to_be_hidden()
    expect(page.get_by_label("App name")).to_be_focused()
    next_step(page)  # no name yet: the step does not move on
    expect(page.get_by_label("App name")).to_be_visible()
    page.get_by_label("App name").fill("Deploy Robot")
    screenshot(page, "wizard-name")

    page.get_by_text("App acts on its own behalf (client credentials)").click()
    expect(steps.get_by_role("listitem")).to_have_count(3)
    expect(steps).to_contain_text("App")
    expect(steps).not_to_contain_text("Sign-in")
    expect(page.get_by_label("Owner organization or business group")).to_have_value(
        str(acme.organization.id)
    )
    screenshot(page, "wizard-type")
    next_step(page)

    expect(page.get_by_role("heading", name="Scopes")).to_be_focused()
    expect(page.get_by_label("Redirect URIs")).to_be_hidden()
    expect(page.get_by_label("Do anything you can do")).to_be_hidden()  # no user, no `full`
    page.get_by_label("View environments").check()
    where = page.get_by_role("group", name=re.compile("Where view:environment applies"))
    where.get_by_label("Acme: Production").check()
    page.get_by_label("View the organization and its business groups").check()
    retail = Organization.objects.get(name="Retail")
    page.get_by_role("group", name=re.compile("Where read:organization applies")).get_by_label(
        "Retail", exact=True
    ).check()
    screenshot(page, "wizard-scopes")
    next_step(page)

    review = page.locator("[data-review]")
    expect(review).to_contain_text("Deploy Robot")
    expect(review).to_contain_text("App acts on its own behalf")
    expect(review).to_contain_text("View environments (view:environment) in Acme / Production")
    expect(review).to_contain_text("(read:organization) in Retail")
    screenshot(page, "wizard-review")
    page.get_by_role("button", name="Create app").click()

    # -- the secret, once --------------------------------------------------------------------------
    expect(page.get_by_role("heading", name="Deploy Robot is ready")).to_be_visible()
    expect_message(page, "Deploy Robot created.")
    app = ConnectedApp.objects.get(name="Deploy Robot")
    assert app.grant_types == ["client_credentials"]
    production = Environment.objects.get(name="Production")
    assert set(
        AppScope.objects.filter(app=app).values_list(
            "scope", "context_org_id", "context_environment_id"
        )
    ) == {
        ("view:environment", acme.organization.id, production.id),
        ("read:organization", retail.id, None),
    }
    secret = page.locator("#client-secret").inner_text().strip()
    assert len(secret) >= 43
    expect(page.locator("#client-id")).to_have_text(app.client_id)
    page.get_by_role("button", name="Copy client secret").click()
    expect(page.get_by_text("Copied", exact=True)).to_be_visible()
    assert page.evaluate("navigator.clipboard.readText()") == secret
    screenshot(page, "secret-shown-once")

    # The copied secret works at the token endpoint (and counts as usage).
    response = requests.post(
        f"{live_server.url}/accounts/api/v2/oauth2/token",
        data={"grant_type": "client_credentials"},
        auth=(app.client_id, secret),
        timeout=10,
    )
    assert response.status_code == 200, response.text
    assert "access_token" in response.json()

    # -- the app's page: usage chart ---------------------------------------------------------------
    today = timezone.now().date()
    for days_ago, count in ((1, 7), (2, 12), (4, 3), (9, 18), (15, 5), (22, 9)):
        AppUsageDay.objects.create(
            app=app, day=today - timedelta(days=days_ago), tokens_issued=count
        )
    page.get_by_role("link", name=re.compile("Go to Deploy Robot")).click()
    expect(page.get_by_role("heading", name=re.compile("Deploy Robot"))).to_be_visible()
    chart = page.get_by_role("img", name="Tokens issued and refused per day, last 30 days")
    expect(chart).to_be_visible()
    expect(page.locator(".chart-bar")).to_have_count(7)
    expect(page.locator("[data-stat=last-used]")).not_to_have_text("Never")
    expect(page.get_by_text("55 tokens issued in the last 30 days")).to_be_visible()
    assert secret not in page.content()
    screenshot(page, "app-detail")
    page.get_by_text("Show the numbers as a table").click()
    table = page.get_by_role("table", name="Tokens issued and refused per day")
    expect(table.get_by_role("row")).to_have_count(31)
    expect(table.get_by_role("row").nth(1)).to_contain_text("1")

    # -- back on Owned apps ------------------------------------------------------------------------
    nav_link(page, "Connected Apps").click()
    row = page.get_by_role("row").filter(has_text="Deploy Robot")
    expect(row).to_contain_text("On its own behalf")
    expect(row).to_contain_text("Enabled")
    screenshot(page, "owned-apps")


def test_admin_creates_an_app_acting_for_users(page, screenshot, acme):
    from playwright.sync_api import expect

    sign_in(page, "alice", ADMIN_PASSWORD)
    page.goto("/access-management/connected-apps/new/")
    page.get_by_label("App name").fill("Expense Tracker")
    expect(page.get_by_label("App acts on behalf of a user")).to_be_checked()
    retail = Organization.objects.get(name="Retail")
    page.get_by_label("Owner organization or business group").select_option(value=str(retail.id))
    next_step(page)

    expect(page.get_by_role("checkbox", name="Authorization code")).to_be_checked()
    expect(page.get_by_label("Public keys")).to_be_hidden()  # no JWT bearer grant
    redirect_uris = page.get_by_label("Redirect URIs (required for authorization code)")
    expect(redirect_uris).to_have_attribute("aria-required", "true")
    screenshot(page, "wizard-grants")
    next_step(page)  # authorization code without a redirect URI: refused here
    expect(
        page.get_by_role("alert").filter(has_text="need at least one redirect URI")
    ).to_be_visible()
    expect(redirect_uris).to_be_focused()
    expect(redirect_uris).to_have_attribute("aria-invalid", "true")
    redirect_uris.fill("https://expenses.example/callback\nhttp://localhost:8080/cb")
    page.get_by_label("Website URL").fill("https://expenses.example")
    page.get_by_label("All platform users").check()
    screenshot(page, "wizard-details")
    next_step(page)

    expect(
        page.get_by_role("group", name=re.compile("Where view:environment applies"))
    ).to_be_hidden()
    for description in (
        "Know your username and unique id",
        "Read your profile",
        "View environments",
    ):
        page.get_by_label(description).check()
    next_step(page)
    review = page.locator("[data-review]")
    expect(review).to_contain_text("https://expenses.example/callback")
    expect(review).to_contain_text("All platform users")
    expect(review).to_contain_text("Know your username and unique id (openid)")
    page.get_by_role("button", name="Create app").click()

    expect(page.get_by_role("heading", name="Expense Tracker is ready")).to_be_visible()
    app = ConnectedApp.objects.get(name="Expense Tracker")
    assert app.owner_org.name == "Retail"
    assert app.audience == "everyone"
    assert app.redirect_uris.split() == [
        "https://expenses.example/callback",
        "http://localhost:8080/cb",
    ]
    assert sorted(AppScope.objects.filter(app=app).values_list("scope", flat=True)) == [
        "openid",
        "profile",
        "view:environment",
    ]

    # Reloading the page sends the form again: no second app, and no secret on the way.
    page.reload()
    expect_message(page, "This app was already created")
    expect(page.locator("#client-secret")).to_have_count(0)
    assert ConnectedApp.objects.filter(name="Expense Tracker").count() == 1
    screenshot(page, "resent-form")


def test_user_revokes_an_app_in_my_apps(page, screenshot, live_server, acme):
    from playwright.sync_api import expect

    access = Access(user=acme.admin)
    bob = user_create(
        access=access,
        org=acme.organization,
        username="bob",
        email="bob@acme.example",
        password=USER_PASSWORD,
        first_name="Bob",
        last_name="Builder",
    )
    app = connected_app_create(
        access=access,
        owner=acme.organization,
        client_name="Expense Tracker",
        grant_types=["authorization_code", "refresh_token"],
        redirect_uris=["https://expenses.example/callback"],
        scopes=["openid", "profile", "email", "offline_access"],
        website_url="https://expenses.example",
    ).app
    authorization_grant(user=bob, app=app, scopes=["openid", "profile", "email"])
    token = mint_access_token(user=bob, app=app, scope="openid profile email")
    profile_url = f"{live_server.url}/accounts/api/profile"
    assert requests.get(profile_url, headers=_bearer(token), timeout=10).status_code == 200

    sign_in(page, "bob", USER_PASSWORD, lands_on="/my-apps/")
    expect(nav_link(page, "Connected Apps")).to_have_count(0)
    nav_link(page, "My apps").click()
    card = page.get_by_role("listitem").filter(has_text="Expense Tracker")
    expect(card).to_contain_text("Read your email address")
    expect(card).to_contain_text("Acme")
    expect(card).to_contain_text("https://expenses.example")
    screenshot(page, "my-apps")

    page.get_by_role("link", name="Revoke Expense Tracker").click()
    expect(page.get_by_role("heading", name="Revoke access of Expense Tracker?")).to_be_visible()
    screenshot(page, "my-apps-revoke-confirm")
    assert Authorization.objects.get(user=bob, app=app).revoked_at is None  # nothing yet
    page.get_by_role("button", name="Revoke access").click()

    expect_message(page, "Access of Expense Tracker revoked.")
    expect(page.get_by_text("You have not authorized any app.")).to_be_visible()
    screenshot(page, "my-apps-empty")
    assert Authorization.objects.get(user=bob, app=app).revoked_at is not None
    assert requests.get(profile_url, headers=_bearer(token), timeout=10).status_code == 401
    assert User.objects.filter(username="bob").exists()


def _bearer(raw: str) -> dict[str, str]:
    return {"Authorization": bearer(raw)["HTTP_AUTHORIZATION"]}
