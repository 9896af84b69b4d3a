"""The account page on a phone (390x844): reached from the user menu, nothing wider than the
screen, and the name form usable there."""

from __future__ import annotations

import pytest

from accounts.services import organization_bootstrap
from tests.e2e.test_portal import expect_message, sign_in

pytestmark = pytest.mark.browser

PASSWORD = "account-pass-4Tq9vW!"
PHONE = {"width": 390, "height": 844}


def horizontal_overflow(page) -> int:
    """How many CSS pixels the page is wider than the viewport (0: no sideways scrolling)."""
    return page.evaluate(
        "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )


def test_the_account_page_fits_a_phone(page, screenshot):
    from playwright.sync_api import expect

    organization_bootstrap(
        org_name="Acme Corporation of Very Long Names",
        username="margaret",
        password=PASSWORD,
        email="margaret.hamilton.with.a.long.address@apollo-guidance.example",
    )
    page.set_viewport_size(PHONE)
    sign_in(page, "margaret", PASSWORD)

    page.get_by_role("link", name="Your account: signed in as margaret").click()
    page.wait_for_url("**/account/")
    expect(page.get_by_role("heading", name="margaret", level=1)).to_be_visible()
    for heading in ("Profile", "Sign-in security", "Where you are signed in", "My apps"):
        expect(page.get_by_role("heading", name=heading, level=2)).to_be_visible()
    expect(page.get_by_role("link", name="Sign out everywhere")).to_be_visible()
    assert horizontal_overflow(page) == 0
    screenshot(page, "phone")

    page.get_by_label("First name").fill("Margaret")
    page.get_by_label("Last name").fill("Hamilton")
    page.get_by_role("button", name="Save name").click()
    expect_message(page, "Your name is saved.")
    expect(page.get_by_role("heading", name="Margaret Hamilton", level=1)).to_be_visible()
    assert horizontal_overflow(page) == 0
    screenshot(page, "phone-saved")

    # allauth's pages lead back here.
    page.get_by_role("link", name="All two-factor settings").click()
    page.wait_for_url("**/auth/2fa/")
    assert horizontal_overflow(page) == 0
    screenshot(page, "phone-two-factor")
    page.get_by_role("navigation", name="Breadcrumb").get_by_role("link").click()
    page.wait_for_url("**/account/")

    page.set_viewport_size({"width": 1280, "height": 800})
    assert horizontal_overflow(page) == 0
    screenshot(page, "desktop")
