"""The Access Management portal in a real browser.

Done when: an org admin signs in, creates a business group, an environment and a member, gives
the member `view:environment` on that environment only; the member then signs in, sees that
environment (and not the other one), gets no create form and a 403 on the Users page.
"""

from __future__ import annotations

import re

import pytest

from accounts.catalog import Permission
from accounts.models import Organization, PermissionGrant, User
from accounts.services import organization_bootstrap

pytestmark = pytest.mark.browser

ADMIN_PASSWORD = "admin-pass-8f3K2x!"
MEMBER_PASSWORD = "member-pass-Q7w4zL!"


def sign_in(page, username: str, password: str) -> None:
    page.goto("/auth/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in", exact=True).click()
    page.wait_for_url(re.compile(r"/$"))


def nav_link(page, name: str):
    return page.get_by_role("navigation", name="Access Management").get_by_role(
        "link", name=name, exact=True
    )


def expect_message(page, text: str) -> None:
    page.get_by_role("status").get_by_text(text).wait_for()


def test_admin_delegates_one_environment_to_a_member(page, screenshot):
    from playwright.sync_api import expect

    setup = organization_bootstrap(
        org_name="Acme", username="alice", password=ADMIN_PASSWORD, email="alice@acme.example"
    )
    root = setup.organization

    # -- the admin signs in -------------------------------------------------------------------
    page.goto("/auth/login/")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    screenshot(page, "login")
    sign_in(page, "alice", ADMIN_PASSWORD)
    expect(page.get_by_role("heading", name="Welcome, alice")).to_be_visible()
    expect(page.get_by_text("Organization Administrator").first).to_be_visible()
    screenshot(page, "admin-overview")

    # -- a business group -----------------------------------------------------------------------
    nav_link(page, "Organization").click()
    expect(page.get_by_role("heading", name="Organization", exact=True)).to_be_visible()
    screenshot(page, "organization-tree")
    page.get_by_role("list", name="Organization tree").get_by_role("link", name="Acme").click()
    page.get_by_label("Business group name").fill("Retail")
    page.get_by_role("button", name="Create business group").click()
    expect_message(page, "Business group Retail created.")
    expect(page.get_by_role("link", name="Retail", exact=True)).to_be_visible()
    screenshot(page, "organization-detail")
    assert Organization.objects.filter(parent=root, name="Retail").exists()

    # -- two environments in the root org -------------------------------------------------------
    nav_link(page, "Environments").click()
    expect(page.get_by_text("No environments yet.")).to_be_visible()
    screenshot(page, "environments-empty")
    for name, kind in (("Production", "Production"), ("Sandbox", "Sandbox")):
        page.get_by_label("Environment name").fill(name)
        page.get_by_label("Type").select_option(label=kind)
        page.get_by_role("button", name="Create environment").click()
        expect_message(page, f"Environment {name} created.")
    environments = page.get_by_role("table", name="Environments of Acme")
    expect(environments.get_by_role("row")).to_have_count(3)  # header + 2
    screenshot(page, "environments")
    production = root.environments.get(name="Production")

    # -- a member -------------------------------------------------------------------------------
    nav_link(page, "Users").click()
    expect(page.get_by_role("form", name="Add member")).to_be_hidden()  # behind its button
    page.locator("summary", has_text="Add member").click()
    form = page.get_by_role("form", name="Add member")
    form.get_by_label("Username").fill("bob")
    form.get_by_label("Email").fill("bob@acme.example")
    form.get_by_label("First name").fill("Bob")
    form.get_by_label("Last name").fill("Builder")
    form.get_by_label("Initial password").fill(MEMBER_PASSWORD)
    screenshot(page, "users-add-member")
    form.get_by_role("button", name="Add member").click()
    expect_message(page, "bob added to Acme.")
    bob = User.objects.get(username="bob")
    assert bob.organization_id == root.id

    # -- view:environment on Production only ----------------------------------------------------
    expect(page.get_by_role("heading", name="Bob Builder")).to_be_visible()
    page.get_by_label("View environments").check()
    page.get_by_role("group", name="Environment scope").get_by_label("Production").check()
    page.get_by_role("button", name="Save permissions").click()
    expect_message(page, "Permissions of bob in Acme saved.")
    expect(page.get_by_label("View environments")).to_be_checked()
    screenshot(page, "member-permissions")
    assert list(
        PermissionGrant.objects.filter(user=bob).values_list(
            "organization_id", "permission", "environment_id"
        )
    ) == [(root.id, Permission.VIEW_ENVIRONMENT.value, production.id)]

    nav_link(page, "Users").click()
    expect(page.get_by_role("link", name="bob", exact=True)).to_be_visible()
    screenshot(page, "users")

    # -- sign out -------------------------------------------------------------------------------
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(re.compile(r"/auth/login/"))
    expect(page.get_by_role("button", name="Sign in", exact=True)).to_be_visible()
    screenshot(page, "signed-out")

    # -- the member signs in --------------------------------------------------------------------
    sign_in(page, "bob", MEMBER_PASSWORD)
    expect(page.get_by_text("view:environment · Production")).to_be_visible()
    expect(nav_link(page, "Users")).to_have_count(0)
    screenshot(page, "member-overview")

    nav_link(page, "Environments").click()
    environments = page.get_by_role("table", name="Environments of Acme")
    rows = environments.get_by_role("row")
    expect(rows).to_have_count(2)  # header + Production
    expect(rows.nth(1)).to_contain_text("Production")
    expect(environments).not_to_contain_text("Sandbox")
    expect(page.get_by_role("button", name="Create environment")).to_have_count(0)
    expect(page.get_by_label("Environment name")).to_have_count(0)
    screenshot(page, "member-environments")

    response = page.goto("/access-management/users/")
    assert response is not None
    assert response.status == 403
    expect(page.get_by_role("heading", name="You do not have access to this page")).to_be_visible()
    screenshot(page, "member-users-forbidden")


def test_signup_creates_an_organization_and_signs_in(page, screenshot):
    page.goto("/auth/signup/")
    page.get_by_label("Organization name").fill("Initech")
    page.get_by_label("Username").fill("peter")
    page.get_by_label("Email").fill("peter@initech.example")
    page.get_by_label("First name").fill("Peter")
    page.get_by_label("Last name").fill("Gibbons")
    page.get_by_label("Password", exact=True).fill(ADMIN_PASSWORD)
    page.get_by_label("Password (again)").fill(ADMIN_PASSWORD)
    screenshot(page, "signup")
    page.get_by_role("button", name="Create organization").click()
    page.wait_for_url(re.compile(r"/$"))
    from playwright.sync_api import expect

    expect(page.get_by_role("heading", name="Welcome, Peter")).to_be_visible()
    expect(page.get_by_text("Organization Administrator").first).to_be_visible()
    screenshot(page, "signup-overview")
    assert User.objects.get(username="peter").organization.name == "Initech"
