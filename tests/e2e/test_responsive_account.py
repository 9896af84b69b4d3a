"""The rest of the pages a person meets (issue 16): allauth's account pages (email, password
reset, two-factor set-up, recovery codes, security keys and passkeys, re-authentication), the
audit log with every row's details open, and the error pages — at phone (390x844) and desktop
(1366x900) width, with the same checks as tests/e2e/test_responsive.py: no sideways
scrolling, no serious or critical axe-core violation, no console error, no server error.

Each page leaves a screenshot in test-artifacts/screenshots/.
"""

from __future__ import annotations

import pytest
from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
from django.contrib.auth import get_user_model
from django.urls import reverse

from tests.e2e import test_responsive
from tests.e2e.axe import axe_violations
from tests.e2e.test_portal import sign_in
from tests.e2e.test_responsive import DESKTOP, PASSWORD, PHONE, horizontal_overflow

pytestmark = pytest.mark.browser

portal_with_data = test_responsive.portal_with_data  # the same org, admin, apps and events


class PageChecks:
    """Loads pages and collects what is wrong with each: overflow, axe-core violations,
    console errors and 5xx answers."""

    def __init__(self, page, screenshot) -> None:
        self.page, self.screenshot = page, screenshot
        self.problems: dict[str, object] = {}
        self.errors: list[str] = []
        page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        page.on("pageerror", lambda error: self.errors.append(str(error)))
        page.on("response", lambda r: r.status >= 500 and self.errors.append(f"{r.status} {r.url}"))

    def visit(self, name: str, url: str, status: int = 200) -> None:
        response = self.page.goto(url)
        assert response is not None and response.status == status, (name, url, response)
        self.check(name)
        if status != 200:  # Chromium logs the page's own status as a console error
            answered = f"the server responded with a status of {status}"
            self.errors = [e for e in self.errors if answered not in e]

    def check(self, name: str) -> None:
        self.page.wait_for_load_state("networkidle")
        self.screenshot(self.page, name)
        overflow = horizontal_overflow(self.page)
        violations = axe_violations(self.page)
        if overflow or violations:
            self.problems[name] = {"overflow": overflow, "axe": violations}


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_account_pages_error_pages_and_the_open_audit_log_fit_and_pass_axe(
    page, screenshot, portal_with_data, viewport
):
    page.set_viewport_size(viewport)
    checks = PageChecks(page, screenshot)

    # Signed out: asking for a password reset, and the product's own 404 page.
    checks.visit("password-reset", reverse("account_reset_password"))
    page.get_by_label("Email").fill(portal_with_data["admin"].email)
    page.get_by_role("button", name="Reset my password").click()
    page.wait_for_url("**" + reverse("account_reset_password_done"))
    checks.check("password-reset-done")
    checks.visit("not-found", "/access-management/no-such-page/", status=404)

    sign_in(page, "margaret", PASSWORD)
    checks.visit("email", reverse("account_email"))
    checks.visit("totp-activate", reverse("mfa_activate_totp"))
    checks.visit("security-keys", reverse("mfa_list_webauthn"))
    checks.visit("security-key-add", reverse("mfa_add_webauthn"))
    checks.visit("reauthenticate", reverse("account_reauthenticate"))

    # The audit log with every event's details open, as an investigator reads it.
    checks.visit("audit-log", reverse("audit:log"))
    rows = page.locator(".audit-details-row details")
    assert rows.count() > 0, "the set-up made events with details"
    for index in range(rows.count()):
        rows.nth(index).locator("summary").click()
    assert page.locator(".audit-details-row details[open]").count() == rows.count()
    checks.check("audit-log-open")

    # With an authenticator app set up: its recovery codes, new codes, and turning it off.
    admin = get_user_model().objects.get(pk=portal_with_data["admin"].pk)
    TOTP.activate(admin, generate_totp_secret())
    RecoveryCodes.activate(admin)
    checks.visit("two-factor-on", reverse("mfa_index"))
    checks.visit("recovery-codes", reverse("mfa_view_recovery_codes"))
    checks.visit("recovery-codes-generate", reverse("mfa_generate_recovery_codes"))
    checks.visit("totp-deactivate", reverse("mfa_deactivate_totp"))
    # An admin page now asks for the second factor first (accounts.factors).
    page.goto(reverse("audit:log"))
    page.wait_for_url("**" + reverse("mfa_reauthenticate") + "**")
    checks.check("second-factor-step")

    assert checks.problems == {}, f"at {viewport['width']} px: {checks.problems}"
    assert checks.errors == []
