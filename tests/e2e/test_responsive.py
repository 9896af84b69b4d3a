"""One responsive layout (issue 16): every portal page reachable from the navigation, at phone
(390x844) and desktop (1366x900) width, with no sideways scrolling, no serious or critical
axe-core violation (axe from npm, tests/e2e/axe.py), no console error and no server error;
and on a phone the navigation is a drawer opened by a "Menu" button.

Each page leaves a screenshot in test-artifacts/screenshots/.
"""

from __future__ import annotations

import pytest
from django.urls import reverse

from accounts.access import Access
from accounts.services import (
    environment_create,
    identity_provider_create,
    organization_bootstrap,
    user_create,
)
from connected_apps import controls
from connected_apps.services import connected_app_create
from oauth.services import authorization_grant
from tests.e2e.axe import axe_violations
from tests.e2e.test_portal import sign_in

pytestmark = pytest.mark.browser

PASSWORD = "responsive-pass-5Hk2rQ!"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1366, "height": 900}


def horizontal_overflow(page) -> int:
    """How many CSS pixels the page is wider than the viewport (0: no sideways scrolling)."""
    return page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")


@pytest.fixture
def portal_with_data():
    """An admin of a long-named org with an environment, a member, an own-behalf app holding
    long scope codes, and a third-party app the admin authorized and the org allowlisted."""
    setup = organization_bootstrap(
        org_name="Acme Corporation of Very Long Names",
        username="margaret",
        password=PASSWORD,
        email="margaret.hamilton.with.a.long.address@apollo-guidance.example",
    )
    org, admin = setup.organization, setup.admin
    access = Access(user=admin)
    environment = environment_create(
        access=access, org=org, name="Production environment for payments", type="production"
    )
    member = user_create(
        access=access,
        org=org,
        username="bartholomew.longname",
        email="bartholomew.longname@apollo-guidance.example",
        password=PASSWORD,
        first_name="Bartholomew",
        last_name="Longname-Featherstonehaugh",
    )
    own_app = connected_app_create(
        access=access,
        owner=org,
        client_name="Continuous deployment robot",
        grant_types=["client_credentials"],
        redirect_uris=[],
        scopes=[
            {"scope": "read:organization", "context_params": {"org": str(org.id)}},
            {
                "scope": "view:environment",
                "context_params": {"org": str(org.id), "environment": str(environment.id)},
            },
        ],
        audience="internal",
    ).app
    other = organization_bootstrap(
        org_name="Third Party Integrations",
        username="vendor",
        password=PASSWORD,
        email="vendor@third-party.example",
    )
    foreign_app = connected_app_create(
        access=Access(user=other.admin),
        owner=other.organization,
        client_name="Calendar synchronisation for teams",
        grant_types=["authorization_code", "refresh_token"],
        redirect_uris=["https://calendar.third-party.example/oauth/callback"],
        scopes=["openid", "profile", "email", "offline_access", "view:environment"],
        audience="everyone",
    ).app
    authorization_grant(
        user=admin, app=foreign_app, scopes=["openid", "profile", "email", "view:environment"]
    )
    controls.allowlist_approve(access=access, org=org, client_id=foreign_app.client_id)
    provider = identity_provider_create(
        access=access,
        org=org,
        name="Apollo Guidance single sign-on",
        kind="oidc",
        settings={
            "issuer": "https://login.apollo-guidance.example/realms/engineering-and-operations",
            "client_id": "doorman-apollo-guidance-computer-portal",
            "client_secret": "upstream-secret-for-the-test",
            "domains": ["apollo-guidance.example", "mission-control-operations.example"],
        },
    )
    return {
        "provider": provider,
        "org": org,
        "admin": admin,
        "member": member,
        "app": own_app,
        "foreign_app": foreign_app,
    }


def portal_pages(data) -> list[tuple[str, str]]:
    org, member, app = data["org"], data["member"], data["app"]
    return [
        ("home", reverse("portal:home")),
        ("organization", reverse("portal:organization_tree")),
        ("organization-detail", reverse("portal:organization_detail", args=[org.id])),
        ("users", reverse("portal:users")),
        ("user-permissions", reverse("portal:user_permissions", args=[org.id, member.id])),
        ("environments", reverse("portal:environment_list", args=[org.id])),
        ("connected-apps", reverse("connected_apps:app_list")),
        ("app-page", reverse("connected_apps:app_detail", args=[app.client_id])),
        ("authorized-apps", reverse("connected_apps:authorized_apps")),
        ("my-apps", reverse("connected_apps:my_apps")),
        ("audit-log", reverse("audit:log")),
        ("account", reverse("portal:account")),
        ("sessions", reverse("portal:sessions")),
        ("playground", reverse("developer:playground")),
        ("api-docs", reverse("developer:api_docs")),
    ]


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_every_portal_page_fits_the_screen(page, screenshot, portal_with_data, viewport):
    console_errors: list[str] = []
    server_errors: list[str] = []
    page.on("console", lambda m: m.type == "error" and console_errors.append(m.text))
    page.on("pageerror", lambda error: console_errors.append(str(error)))
    page.on("response", lambda r: r.status >= 500 and server_errors.append(f"{r.status} {r.url}"))
    page.set_viewport_size(viewport)
    sign_in(page, "margaret", PASSWORD)

    overflowing: dict[str, int] = {}
    inaccessible: dict[str, list[str]] = {}
    for name, url in portal_pages(portal_with_data):
        response = page.goto(url)
        assert response is not None and response.status == 200, (name, response)
        page.wait_for_load_state("networkidle")
        screenshot(page, name)
        overflow = horizontal_overflow(page)
        if overflow:
            overflowing[name] = overflow
        # The API docs' Swagger UI is the vendor's widget, not Doorman's markup: its own
        # contrast and nested controls are left out; the page around it is checked.
        violations = axe_violations(page, exclude=("#swagger-ui",) if name == "api-docs" else ())
        if violations:
            inaccessible[name] = violations
    assert overflowing == {}, f"pages wider than {viewport['width']} px: {overflowing}"
    assert inaccessible == {}, (
        f"axe-core (serious, critical) at {viewport['width']} px: {inaccessible}"
    )
    assert console_errors == []
    assert server_errors == []


def test_the_menu_is_a_drawer_on_a_phone(page, screenshot, portal_with_data):
    from playwright.sync_api import expect

    page.set_viewport_size(PHONE)
    sign_in(page, "margaret", PASSWORD)
    page.goto(reverse("connected_apps:authorized_apps"))
    nav = page.get_by_role("navigation", name="Access Management")
    menu = page.get_by_role("button", name="Menu", exact=True)
    expect(nav).to_be_hidden()
    expect(menu).to_have_attribute("aria-expanded", "false")
    assert menu.get_attribute("aria-controls") == "sidenav"
    assert page.locator("#sidenav").get_attribute("aria-label") == "Access Management"

    # Opened from the keyboard: focus goes into the drawer, the current page is marked there.
    menu.focus()
    page.keyboard.press("Enter")
    expect(nav).to_be_visible()
    expect(menu).to_have_attribute("aria-expanded", "true")
    current = nav.locator('a[aria-current="page"]')
    expect(current).to_have_text("Authorized apps")
    expect(current).to_be_in_viewport()
    assert page.evaluate("() => document.activeElement.closest('nav') !== null")
    assert horizontal_overflow(page) == 0
    page.wait_for_function(
        "getComputedStyle(document.getElementById('sidenav')).transform === 'none'"
    )
    screenshot(page, "drawer-open")

    # Escape closes it and gives focus back to the Menu button.
    page.keyboard.press("Escape")
    expect(nav).to_be_hidden()
    expect(menu).to_have_attribute("aria-expanded", "false")
    expect(menu).to_be_focused()

    # The close button does too.
    page.keyboard.press("Enter")
    expect(nav).to_be_visible()
    nav.get_by_role("button", name="Close menu").click()
    expect(nav).to_be_hidden()
    expect(menu).to_be_focused()

    # A link in the drawer goes there.
    menu.click()
    nav.get_by_role("link", name="My apps", exact=True).click()
    page.wait_for_url("**/my-apps/")
    expect(page.get_by_role("button", name="Menu", exact=True)).to_have_attribute(
        "aria-expanded", "false"
    )
    screenshot(page, "drawer-closed")


def test_without_javascript_the_menu_is_a_stacked_list(browser, live_server, portal_with_data):
    from playwright.sync_api import expect

    context = browser.new_context(
        base_url=live_server.url, viewport=PHONE, java_script_enabled=False
    )
    try:
        page = context.new_page()
        sign_in(page, "margaret", PASSWORD)
        page.goto(reverse("connected_apps:authorized_apps"))
        nav = page.get_by_role("navigation", name="Access Management")
        expect(nav).to_be_visible()
        expect(page.get_by_role("button", name="Menu", exact=True)).to_be_hidden()
        for name in ("Overview", "Authorized apps", "My apps", "Playground"):
            link = nav.get_by_role("link", name=name, exact=True)
            expect(link).to_be_visible()
            box = link.bounding_box()
            assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
        assert horizontal_overflow(page) == 0
    finally:
        context.close()


def test_desktop_keeps_the_side_menu(page, portal_with_data):
    from playwright.sync_api import expect

    page.set_viewport_size(DESKTOP)
    sign_in(page, "margaret", PASSWORD)
    expect(page.get_by_role("navigation", name="Access Management")).to_be_visible()
    expect(page.get_by_role("button", name="Menu", exact=True)).to_be_hidden()


def pages_beyond_the_navigation(data) -> list[tuple[str, str]]:
    """Pages reached from other pages: confirmations, set-up forms, the consent screen."""
    from tests.oauth.code_flow import authorize_url, pkce_pair

    org, member, app, foreign = data["org"], data["member"], data["app"], data["foreign_app"]
    consent = authorize_url(
        foreign,
        challenge=pkce_pair()[1],
        redirect_uri="https://calendar.third-party.example/oauth/callback",
        scope="openid offline_access",
    )
    return [
        ("consent", consent),
        ("app-disable", reverse("connected_apps:app_disable", args=[app.client_id])),
        ("app-delete", reverse("connected_apps:app_delete", args=[app.client_id])),
        ("app-rotate", reverse("connected_apps:app_rotate_secret", args=[app.client_id])),
        ("app-create", reverse("connected_apps:app_create")),
        ("allowlist-remove", reverse("connected_apps:allowlist_remove", args=[foreign.client_id])),
        ("revoke-for-org", reverse("connected_apps:authorized_revoke", args=[foreign.client_id])),
        ("my-app-revoke", reverse("connected_apps:my_app_revoke", args=[foreign.client_id])),
        ("user-disable", reverse("portal:user_enabled", args=[org.id, member.id])),
        ("user-password-reset", reverse("portal:user_password_reset", args=[org.id, member.id])),
        ("user-remove", reverse("portal:user_remove", args=[org.id, member.id])),
        ("sso-setup", reverse("portal:sso_provider_create", args=[org.id])),
        (
            "identity-provider",
            reverse("portal:identity_provider_detail", args=[org.id, data["provider"].id]),
        ),
        (
            "sso-settings",
            reverse("portal:sso_provider_settings", args=[org.id, data["provider"].id]),
        ),
        (
            "identity-unlink",
            reverse("portal:identity_link_delete", args=[org.id, data["provider"].id, member.id]),
        ),
        (
            "allowlist-approve",
            reverse("connected_apps:allowlist_approve_confirm", args=[foreign.client_id]),
        ),
        ("user-detail", reverse("portal:user_detail", args=[member.id])),
        ("app-page-7-days", reverse("connected_apps:app_detail", args=[app.client_id]) + "?days=7"),
        ("sessions-end-all", reverse("portal:sessions_end_all")),
        ("two-factor", "/auth/2fa/"),
        ("password-change", "/auth/password/change/"),
        ("sign-out", "/auth/logout/"),
    ]


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_pages_beyond_the_navigation_fit_and_pass_axe(page, screenshot, portal_with_data, viewport):
    """The same checks on the sign-in and sign-up pages, then, signed in, on the pages other
    pages lead to."""
    problems: dict[str, object] = {}
    errors: list[str] = []
    page.on("console", lambda m: m.type == "error" and errors.append(m.text))
    page.on("response", lambda r: r.status >= 500 and errors.append(f"{r.status} {r.url}"))
    page.set_viewport_size(viewport)

    def check(name: str) -> None:
        page.wait_for_load_state("networkidle")
        screenshot(page, name)
        overflow = horizontal_overflow(page)
        violations = axe_violations(page)
        if overflow or violations:
            problems[name] = {"overflow": overflow, "axe": violations}

    for name, url in (("sign-in", "/auth/login/"), ("sign-up", "/auth/signup/")):
        assert page.goto(url).status == 200, name
        check(name)
    sign_in(page, "margaret", PASSWORD)
    for name, url in pages_beyond_the_navigation(portal_with_data):
        response = page.goto(url)
        assert response is not None and response.status == 200, (name, response)
        check(name)
    assert problems == {}, f"at {viewport['width']} px: {problems}"
    assert errors == []


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_the_developer_dashboard_fits_and_passes_axe(page, screenshot, portal_with_data, viewport):
    """The home page of a developer (manage:connected_apps, not an administrator) lists their
    apps' usage in a table that becomes cards on a phone."""
    from datetime import timedelta

    from django.utils import timezone

    from accounts.catalog import Permission
    from accounts.services import user_permissions_set
    from connected_apps.models import AppUsageDay

    data = portal_with_data
    developer = user_create(
        access=Access(user=data["admin"]),
        org=data["org"],
        username="grace.developer.with.a.long.name",
        email="grace@apollo-guidance.example",
        password=PASSWORD,
    )
    user_permissions_set(
        access=Access(user=data["admin"]),
        org=data["org"],
        user=developer,
        permissions=[Permission.MANAGE_CONNECTED_APPS.value],
    )
    today = timezone.now().date()
    for age, count in ((0, 12), (1, 40), (9, 7)):
        AppUsageDay.objects.create(
            app=data["app"], day=today - timedelta(days=age), tokens_issued=count
        )
    # Rows written straight into AppUsageDay stamp no last_used_at (a token request would).
    type(data["app"]).objects.filter(pk=data["app"].pk).update(last_used_at=timezone.now())
    page.set_viewport_size(viewport)
    sign_in(page, "grace.developer.with.a.long.name", PASSWORD)
    page.wait_for_load_state("networkidle")
    screenshot(page, "developer-dashboard")
    assert page.get_by_role("link", name="Continuous deployment robot").count() == 1
    assert horizontal_overflow(page) == 0
    assert axe_violations(page) == []
