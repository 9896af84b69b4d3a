"""Create App from the keyboard (issue 16), in Chromium.

Done when: a new admin skips the navigation with the first Tab ("Skip to main content"),
starts typing the app's name at once (it has the focus), creates an app acting on its own
behalf (name, type and owner; scopes with their contexts ticked as checkboxes; review; Create app)
and an app acting on behalf of a user (a sign-in step where redirect URIs are required with
the authorization code grant) without a mouse, and sees each client secret once; each step
passes axe-core and fits a 390 px phone; and without JavaScript the same page is one form
that creates the app.
"""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from accounts.access import Access
from accounts.models import Environment, Organization
from accounts.services import business_group_create, environment_create, organization_bootstrap
from connected_apps.models import AppScope, ConnectedApp
from tests.e2e.axe import axe_violations
from tests.e2e.test_portal import sign_in

pytestmark = pytest.mark.browser

PASSWORD = "wizard-pass-7Rt3vQ!"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1366, "height": 900}
CREATE = "/access-management/connected-apps/new/"


@pytest.fixture
def new_admin(transactional_db):
    """A freshly signed-up org: Northwind, a Retail business group, four environments."""
    setup = organization_bootstrap(
        org_name="Northwind", username="nadia", password=PASSWORD, email="nadia@northwind.example"
    )
    access = Access(user=setup.admin)
    retail = business_group_create(access=access, parent=setup.organization, name="Retail")
    for name, kind in (("Production", "production"), ("Sandbox", "sandbox"), ("QA", "sandbox")):
        environment_create(access=access, org=setup.organization, name=name, type=kind)
    environment_create(access=access, org=retail, name="Retail Sandbox", type="sandbox")
    return setup


def fits_and_passes_axe(page, name: str, problems: dict) -> None:
    overflow = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
    violations = axe_violations(page)
    if overflow or violations:
        problems[name] = {"overflow": overflow, "axe": violations}


def credentials_sticking_out(page) -> dict[str, float]:
    """The credential values (or Copy buttons) whose right edge passes their card's, in px: a
    secret without a hyphen is one unbreakable word unless the page lets it wrap anywhere."""
    return page.evaluate(
        """() => Object.fromEntries(
            [...document.querySelectorAll(".credential-value, [data-copy]")].map((el) => {
                const card = el.closest(".panel").getBoundingClientRect();
                const own = el.getBoundingClientRect();
                return [el.id || el.getAttribute("aria-label"), own.right - card.right];
            }).filter(([, past]) => past > 0)
        )"""
    )


def test_a_new_admin_creates_both_kinds_of_app_from_the_keyboard(page, screenshot, new_admin):
    from playwright.sync_api import expect

    problems: dict[str, object] = {}
    page.set_viewport_size(PHONE)
    sign_in(page, "nadia", PASSWORD)

    # -- the first Tab skips the navigation -------------------------------------------------
    page.goto("/access-management/connected-apps/")
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to main content")
    expect(skip).to_be_focused()
    expect(skip).to_be_in_viewport()
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.closest('main') !== null")

    # -- an app acting on its own behalf: App, Scopes, Review -------------------------------
    page.goto(CREATE)
    name = page.get_by_label("App name")
    expect(name).to_be_focused()  # no Tab at all to the first field
    page.keyboard.type("Nightly Sync")
    page.keyboard.press("Tab")
    expect(
        page.get_by_role("radio", name=re.compile("App acts on behalf of a user"))
    ).to_be_focused()
    page.keyboard.press("ArrowDown")  # the radio group: arrows choose
    expect(page.get_by_role("radio", name=re.compile("own behalf"))).to_be_checked()
    steps = page.get_by_role("list", name="Steps")
    expect(steps.get_by_role("listitem")).to_have_count(3)
    expect(steps).not_to_contain_text("Sign-in")
    page.keyboard.press("Tab")
    expect(page.get_by_label("Owner organization or business group")).to_be_focused()
    fits_and_passes_axe(page, "own-app", problems)
    screenshot(page, "own-app")
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Next")).to_be_focused()
    page.keyboard.press("Enter")

    expect(page.get_by_role("heading", name="Scopes")).to_be_focused()
    expect(page.get_by_label("Know your username and unique id")).to_be_hidden()
    # The step speaks about this kind of app only.
    expect(page.get_by_text("more than these scopes, in the places you choose")).to_be_visible()
    expect(page.get_by_text("more than the user who allows it may")).to_be_hidden()
    read_users = page.get_by_label("View users and their permissions")
    read_users.press("Space")
    expect(read_users).to_be_checked()
    page.get_by_label("View environments").press("Space")
    where = page.get_by_role("group", name=re.compile("Where view:environment applies"))
    expect(where).to_be_visible()
    # Every environment listed, each a labelled checkbox: nothing cut off, nothing to Ctrl-click.
    for environment in ("Production", "Sandbox", "QA", "Retail Sandbox"):
        expect(where.get_by_role("checkbox", name=re.compile(f": {environment} "))).to_be_visible()
    where.get_by_role("checkbox", name=re.compile("Northwind: Production")).press("Space")
    where.get_by_role("checkbox", name=re.compile("Northwind: QA")).press("Space")
    retail = Organization.objects.get(name="Retail")
    page.get_by_role("group", name=re.compile("Where read:users applies")).get_by_role(
        "checkbox", name="Retail", exact=True
    ).press("Space")
    fits_and_passes_axe(page, "own-app-scopes", problems)
    screenshot(page, "own-app-scopes")
    page.get_by_role("button", name="Next").press("Enter")

    review = page.locator("[data-review]")
    expect(review).to_contain_text("Nightly Sync")
    expect(review).to_contain_text("Client credentials")
    expect(review).to_contain_text("(view:environment) in Northwind / Production, Northwind / QA")
    expect(review).to_contain_text("(read:users) in Retail")
    fits_and_passes_axe(page, "own-app-review", problems)
    page.get_by_role("button", name="Create app").press("Enter")

    expect(page.get_by_role("heading", name="Nightly Sync is ready")).to_be_visible()
    app = ConnectedApp.objects.get(name="Nightly Sync")
    secret = page.locator("#client-secret").inner_text().strip()
    assert len(secret) >= 43
    assert app.grant_types == ["client_credentials"]
    environments = {e.name: e.id for e in Environment.objects.all()}
    assert set(
        AppScope.objects.filter(app=app).values_list(
            "scope", "context_org_id", "context_environment_id"
        )
    ) == {
        ("view:environment", new_admin.organization.id, environments["Production"]),
        ("view:environment", new_admin.organization.id, environments["QA"]),
        ("read:users", retail.id, None),
    }
    fits_and_passes_axe(page, "own-app-secret", problems)
    assert credentials_sticking_out(page) == {}
    screenshot(page, "own-app-secret")
    page.goto(f"/access-management/connected-apps/{app.client_id}/")
    assert secret not in page.content()  # once

    # -- an app acting on behalf of a user: App, Sign-in, Scopes, Review -------------------
    page.goto(CREATE)
    expect(page.get_by_label("App name")).to_be_focused()
    page.keyboard.type("Team Calendar")
    expect(steps.get_by_role("listitem")).to_have_count(4)
    page.keyboard.press("Enter")  # in a text field, Enter moves on; it never sends the form

    expect(page.get_by_role("heading", name="How people sign in")).to_be_focused()
    expect(page.get_by_role("checkbox", name="Authorization code")).to_be_checked()
    redirect_uris = page.get_by_label("Redirect URIs (required for authorization code)")
    expect(page.get_by_label("Public keys")).to_be_hidden()
    page.get_by_role("checkbox", name="JWT bearer").press("Space")  # keys become required
    expect(page.get_by_label("Public keys (required for JWT bearer)")).to_be_visible()
    page.get_by_role("checkbox", name="JWT bearer").press("Space")
    expect(page.get_by_label("Public keys")).to_be_hidden()
    page.get_by_role("button", name="Next").press("Enter")
    alert = page.get_by_role("alert").filter(has_text="need at least one redirect URI")
    expect(alert).to_be_visible()
    expect(redirect_uris).to_be_focused()  # the error is where the answer goes
    assert alert.get_attribute("id") in redirect_uris.get_attribute("aria-describedby").split()
    fits_and_passes_axe(page, "user-app-sign-in", problems)
    screenshot(page, "user-app-refused")
    page.keyboard.type("https://calendar.northwind.example/callback")
    expect(alert).to_have_count(0)
    page.get_by_label("All platform users").press("Space")
    page.get_by_role("button", name="Next").press("Enter")

    expect(page.get_by_role("heading", name="Scopes")).to_be_focused()
    expect(where).to_be_hidden()  # contexts are for apps acting on their own behalf
    expect(page.get_by_text("more than the user who allows it may")).to_be_visible()
    expect(page.get_by_text("more than these scopes, in the places you choose")).to_be_hidden()
    for description in ("Know your username and unique id", "Read your email address"):
        page.get_by_label(description).press("Space")
    page.get_by_role("button", name="Next").press("Enter")
    review = page.locator("[data-review]")
    expect(review).to_contain_text("https://calendar.northwind.example/callback")
    expect(review).to_contain_text("All platform users")
    page.get_by_role("button", name="Create app").press("Enter")

    expect(page.get_by_role("heading", name="Team Calendar is ready")).to_be_visible()
    app = ConnectedApp.objects.get(name="Team Calendar")
    assert app.grant_types == ["authorization_code", "refresh_token"]
    assert app.redirect_uris == "https://calendar.northwind.example/callback"
    assert app.audience == "everyone"
    secret = page.locator("#client-secret").inner_text().strip()
    assert len(secret) >= 43
    page.goto(f"/access-management/connected-apps/{app.client_id}/")
    assert secret not in page.content()
    assert problems == {}, problems


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_the_secret_pages_fit_and_pass_axe(page, screenshot, new_admin, viewport):
    """The client secret, shown once after Create App and after rotating it: a 43-character
    secret and a 32-character client ID wrap inside their card, nothing scrolls sideways."""
    from playwright.sync_api import expect

    problems: dict[str, object] = {}
    page.set_viewport_size(viewport)
    sign_in(page, "nadia", PASSWORD)
    page.goto(CREATE)
    page.get_by_label("App name").fill("Nightly Sync")
    page.get_by_role("radio", name=re.compile("own behalf")).check()
    page.get_by_role("button", name="Next").click()
    page.get_by_label("View users and their permissions").check()
    page.get_by_role("button", name="Next").click()
    page.get_by_role("button", name="Create app").click()
    expect(page.get_by_role("heading", name="Nightly Sync is ready")).to_be_visible()
    expect(page.get_by_role("button", name="Copy client secret")).to_be_visible()
    fits_and_passes_axe(page, "created-secret", problems)
    assert credentials_sticking_out(page) == {}
    screenshot(page, "created-secret")

    app = ConnectedApp.objects.get(name="Nightly Sync")
    page.goto(reverse("connected_apps:app_rotate_secret", args=[app.client_id]))
    page.get_by_role("button", name="Rotate secret").click()
    expect(page.get_by_role("heading", name="New client secret for Nightly Sync")).to_be_visible()
    fits_and_passes_axe(page, "rotated-secret", problems)
    assert credentials_sticking_out(page) == {}
    screenshot(page, "rotated-secret")
    assert problems == {}, f"at {viewport['width']} px: {problems}"


def test_without_javascript_create_app_is_one_form(browser, live_server, new_admin):
    from playwright.sync_api import expect

    context = browser.new_context(
        base_url=live_server.url, viewport=PHONE, java_script_enabled=False
    )
    try:
        page = context.new_page()
        sign_in(page, "nadia", PASSWORD)
        page.goto(CREATE)
        # Every part shows, saying which apps it is for; the server ignores what does not apply.
        expect(page.get_by_label("Redirect URIs (required for authorization code)")).to_be_visible()
        expect(page.get_by_text("(apps acting on behalf of a user)").first).to_be_visible()
        page.get_by_label("App name").fill("Backup Job")
        page.get_by_role("radio", name=re.compile("own behalf")).check()
        page.get_by_label("Read the audit log").check()
        page.get_by_role("group", name=re.compile("Where read:audit_logs applies")).get_by_role(
            "checkbox", name="Retail", exact=True
        ).check()
        assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") == 0
        page.get_by_role("button", name="Create app").click()
        expect(page.get_by_role("heading", name="Backup Job is ready")).to_be_visible()
        app = ConnectedApp.objects.get(name="Backup Job")
        assert app.grant_types == ["client_credentials"]
        assert list(AppScope.objects.filter(app=app).values_list("scope", "context_org__name")) == [
            ("read:audit_logs", "Retail")
        ]
    finally:
        context.close()
