"""The README's three screenshots (issue 16): the dashboard, the consent screen and the audit
log, taken from a portal with some traffic, at desktop width.

The test writes test-artifacts/screenshots/readme-{dashboard,consent,audit-log}.png on every
run and checks that the README shows the copies kept in docs/screenshots/. To refresh them
after a visible change: run this test, then
`cp test-artifacts/screenshots/readme-*.png docs/screenshots/` and drop the `readme-` prefix.
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
import requests
from django.contrib.auth import get_user_model
from django.urls import reverse
from django.utils import timezone

from accounts.access import Access
from accounts.services import environment_create, organization_bootstrap, user_create
from connected_apps.models import AppUsageDay
from connected_apps.services import connected_app_create
from oauth.services import authorization_grant
from tests.e2e.conftest import SCREENSHOTS
from tests.e2e.test_portal import sign_in
from tests.oauth.code_flow import TOKEN_URL, authorize_url, pkce_pair

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
README_SHOTS = ("dashboard", "consent", "audit-log")
PASSWORD = "readme-pass-4Qm9sX!"
VIEWPORT = {"width": 1366, "height": 900}


def test_the_readme_shows_the_three_screenshots():
    readme = (ROOT / "README.md").read_text()
    for name in README_SHOTS:
        path = f"docs/screenshots/{name}.png"
        assert f"]({path})" in readme, f"the README shows {path}"
        assert (ROOT / path).stat().st_size > 10_000, f"{path} is a real screenshot"


@pytest.fixture
def portal_in_use(live_server):
    """Acme's administrator with an environment, a colleague, an own-behalf app that asked for
    tokens over HTTP today (some with a wrong secret) and on the 29 days before (the rows the
    usage rollup keeps), and another company's app the colleague authorized."""
    setup = organization_bootstrap(
        org_name="Acme", username="ada", password=PASSWORD, email="ada@acme.example"
    )
    org, admin = setup.organization, setup.admin
    access = Access(user=admin)
    environment = environment_create(access=access, org=org, name="Production", type="production")
    user_create(
        access=access,
        org=org,
        username="grace",
        email="grace@acme.example",
        password=PASSWORD,
        first_name="Grace",
        last_name="Hopper",
    )
    billing = connected_app_create(
        access=access,
        owner=org,
        client_name="Nightly billing export",
        grant_types=["client_credentials"],
        redirect_uris=[],
        scopes=[
            {
                "scope": "view:environment",
                "context_params": {"org": str(org.id), "environment": str(environment.id)},
            }
        ],
    )
    today = timezone.now().date()
    AppUsageDay.objects.bulk_create(
        AppUsageDay(app=billing.app, day=today - timedelta(days=n), tokens_issued=24 + (n * 7) % 19)
        for n in range(1, 30)
    )
    for secret in [billing.client_secret] * 9 + ["not-the-secret"] * 2:
        requests.post(
            live_server.url + TOKEN_URL,
            data={"grant_type": "client_credentials"},
            auth=(billing.app.client_id, secret),
            timeout=10,
        )
    vendor = organization_bootstrap(
        org_name="Tracker Inc.", username="tracker", password=PASSWORD, email="dev@tracker.example"
    )
    expenses = connected_app_create(
        access=Access(user=vendor.admin),
        owner=vendor.organization,
        client_name="Expense Tracker",
        grant_types=["authorization_code", "refresh_token"],
        redirect_uris=["https://tracker.example/callback"],
        scopes=["openid", "profile", "email", "offline_access", "view:environment"],
        website_url="https://tracker.example/about",
        audience="everyone",
    ).app
    grace = get_user_model().objects.get(username="grace")
    authorization_grant(user=grace, app=expenses, scopes=["openid", "profile", "email"])
    return {"expenses": expenses}


def test_the_readme_screenshots_are_taken_from_a_portal_in_use(page, portal_in_use):
    from playwright.sync_api import expect

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.set_viewport_size(VIEWPORT)
    sign_in(page, "ada", PASSWORD)

    page.goto(reverse("portal:home"))
    figure = page.locator('[data-figure="refused-today"] [data-value]')
    expect(figure).to_have_text("2")
    page.screenshot(path=str(SCREENSHOTS / "readme-dashboard.png"))

    page.goto(
        authorize_url(
            portal_in_use["expenses"],
            challenge=pkce_pair()[1],
            redirect_uri="https://tracker.example/callback",
            scope="openid profile email offline_access",
        )
    )
    expect(page.get_by_role("button", name="Allow")).to_be_visible()
    page.screenshot(path=str(SCREENSHOTS / "readme-consent.png"))

    page.goto(reverse("audit:log"))
    for row in page.locator(".audit-details-row details").all()[:2]:
        row.locator("summary").click()
    page.get_by_role("heading", name=re.compile("^Events")).evaluate(
        "heading => { heading.scrollIntoView({block: 'start'}); window.scrollBy(0, -100); }"
    )
    expect(
        page.locator("tbody").get_by_text(re.compile("Token (refused|issued)")).first
    ).to_be_visible()
    page.screenshot(path=str(SCREENSHOTS / "readme-audit-log.png"))
    for name in README_SHOTS:
        assert (SCREENSHOTS / f"readme-{name}.png").stat().st_size > 10_000
