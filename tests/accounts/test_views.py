"""Portal pages: rendering, permission checks, tenant isolation and the forms' effects."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from django.test import Client
from django.urls import reverse

from accounts.catalog import Permission, Role
from accounts.models import (
    Environment,
    IdentityProvider,
    Organization,
    PermissionGrant,
    RoleGrant,
    User,
)
from accounts.portal_forms import ROLE_REMOVAL_NOT_CONFIRMED
from accounts.services import BUSINESS_GROUP_NAME_TAKEN, USERNAME_TAKEN
from tests.factories import (
    DEFAULT_PASSWORD,
    AdminRoleFactory,
    EnvironmentFactory,
    IdentityProviderFactory,
    OrganizationFactory,
    PermissionGrantFactory,
    UserFactory,
)


@pytest.fixture
def web(db):
    """`web(user)`: a Django test client with `user` signed in (None: anonymous)."""

    def make(user: User | None = None) -> Client:
        client = Client()
        if user is not None:
            client.force_login(user)
        return client

    return make


@pytest.fixture
def business_group(org):
    return OrganizationFactory(name="Retail", parent=org)


@pytest.fixture
def production(org):
    return EnvironmentFactory(organization=org, name="Production", type="production")


@pytest.fixture
def sandbox(org):
    return EnvironmentFactory(organization=org, name="Sandbox", type="sandbox")


def grant(user: User, org: Organization, permission: Permission, environment=None):
    return PermissionGrantFactory(
        user=user, organization=org, permission=permission.value, environment=environment
    )


def org_pages(org: Organization, user: User) -> dict[str, str]:
    """Every GET page about `org` (and a member `user` of it)."""
    return {
        "detail": reverse("portal:organization_detail", args=[org.id]),
        "environments": reverse("portal:environment_list", args=[org.id]),
        "users": reverse("portal:user_list", args=[org.id]),
        "permissions": reverse("portal:user_permissions", args=[org.id, user.id]),
    }


def org_posts(org: Organization, user: User) -> dict[str, tuple[str, dict]]:
    """Every form of the pages about `org`, with valid data."""
    return {
        "rename": (reverse("portal:organization_rename", args=[org.id]), {"name": "Renamed"}),
        "business_group": (
            reverse("portal:business_group_create", args=[org.id]),
            {"name": "New BG"},
        ),
        "identity_provider": (
            reverse("portal:identity_provider_create", args=[org.id]),
            {"name": "Okta"},
        ),
        "environment": (
            reverse("portal:environment_list", args=[org.id]),
            {"name": "QA", "type": "sandbox"},
        ),
        "member": (
            reverse("portal:user_list", args=[org.id]),
            {
                "username": "intruder",
                "email": "intruder@example.com",
                "password": DEFAULT_PASSWORD,
            },
        ),
        "permissions": (
            reverse("portal:user_permissions", args=[org.id, user.id]),
            {"permissions": ["read:users"]},
        ),
    }


# ---------------------------------------------------------------------------------------------
# Authentication pages
# ---------------------------------------------------------------------------------------------
def test_pages_require_sign_in(web, org, admin):
    client = web()
    for url in [reverse("portal:home"), *org_pages(org, admin).values()]:
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("account_login"))


def test_login_page_has_accessible_fields_and_sign_in_button(web):
    response = web().get(reverse("account_login"))
    html = response.content.decode()
    assert response.status_code == 200
    assert '<label for="id_login">Username</label>' in html
    assert '<label for="id_password">Password</label>' in html
    assert '<button type="submit" class="button button-primary button-block">Sign in</button>' in (
        html
    )


def test_login_page_lets_the_browser_send_no_password(web):
    """A work email alone is home-realm discovery (SPEC §11): the browser must not refuse to
    submit the form for the empty password (the form still requires one to sign in with)."""
    html = web().get(reverse("account_login")).content.decode()
    password = re.search(r'<input[^>]*id="id_password"[^>]*>', html)
    assert password is not None
    assert 'type="password"' in password.group()
    assert 'autocomplete="current-password"' in password.group()
    assert "required" not in password.group()
    login = re.search(r'<input[^>]*id="id_login"[^>]*>', html)
    assert login is not None and "required" in login.group()


def test_login_with_password_lands_on_overview(web, org, admin):
    client = web()
    response = client.post(
        reverse("account_login"), {"login": admin.username, "password": DEFAULT_PASSWORD}
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("portal:home")
    assert "Acme" in client.get(reverse("portal:home")).content.decode()


def test_signup_creates_root_org_with_its_admin(web, db):
    page = web().get(reverse("account_signup"))
    for field in ["organization_name", "username", "email", "first_name", "last_name"]:
        assert f'name="{field}"' in page.content.decode()

    client = web()
    response = client.post(
        reverse("account_signup"),
        {
            "organization_name": "Initech",
            "username": "peter",
            "email": "peter@initech.example",
            "first_name": "Peter",
            "last_name": "Gibbons",
            "password1": DEFAULT_PASSWORD,
            "password2": DEFAULT_PASSWORD,
        },
    )
    assert response.status_code == 302
    org = Organization.objects.get(name="Initech")
    assert org.is_root
    user = User.objects.get(username="peter")
    assert user.organization == org
    assert user.first_name == "Peter"
    assert RoleGrant.objects.filter(
        user=user, organization=org, role=Role.ORGANIZATION_ADMINISTRATOR
    ).exists()
    assert "Initech" in client.get(reverse("portal:home")).content.decode()


def test_signup_with_taken_organization_name_creates_nothing(web, org):
    response = web().post(
        reverse("account_signup"),
        {
            "organization_name": "acme",
            "username": "newcomer",
            "email": "newcomer@example.com",
            "password1": DEFAULT_PASSWORD,
            "password2": DEFAULT_PASSWORD,
        },
    )
    assert response.status_code == 200
    assert "An organization with this name already exists." in response.content.decode()
    assert not User.objects.filter(username="newcomer").exists()


def test_logout_page_asks_for_confirmation_and_signs_out_on_post(web, admin):
    client = web(admin)
    page = client.get(reverse("account_logout"))
    assert page.status_code == 200
    assert "Are you sure you want to sign out" in page.content.decode()
    assert 'name="csrfmiddlewaretoken"' in page.content.decode()
    client.post(reverse("account_logout"))
    assert client.get(reverse("portal:home")).status_code == 302


# ---------------------------------------------------------------------------------------------
# Pages render for an admin
# ---------------------------------------------------------------------------------------------
def test_every_page_renders_for_an_admin(web, org, admin, member, business_group, production):
    client = web(admin)
    urls = [
        reverse("portal:home"),
        reverse("portal:organization_tree"),
        reverse("portal:users"),
        reverse("portal:user_detail", args=[member.id]),
        *org_pages(org, member).values(),
        *org_pages(business_group, member).values(),
    ]
    for url in urls:
        response = client.get(url)
        assert response.status_code == 200, url
        html = response.content.decode()
        assert 'action="/auth/logout/"' in html  # the Sign out button posts to allauth
        assert admin.username in html


def test_base_layout_shows_the_navigation_the_admin_can_use(web, org, admin, production):
    html = web(admin).get(reverse("portal:home")).content.decode()
    assert 'aria-label="Access Management"' in html
    assert reverse("portal:organization_tree") in html
    assert reverse("portal:environment_list", args=[org.id]) in html
    assert reverse("portal:users") in html
    assert "/static/css/portal.css" in html


def test_environments_index_redirects_to_the_root_org(web, org, admin):
    response = web(admin).get(reverse("portal:environments"))
    assert response.status_code == 302
    assert response["Location"] == reverse("portal:environment_list", args=[org.id])


def test_organization_tree_lists_business_groups_with_links(web, org, admin, business_group):
    nested = OrganizationFactory(name="Retail EU", parent=business_group)
    html = web(admin).get(reverse("portal:organization_tree")).content.decode()
    for node in (org, business_group, nested):
        assert reverse("portal:organization_detail", args=[node.id]) in html
    assert html.index("Retail EU") > html.index("Retail")
    assert "--depth: 2" in html


def test_organization_detail_shows_forms_and_children(web, org, admin, business_group):
    IdentityProviderFactory(organization=org, name="Corporate SSO")
    html = web(admin).get(reverse("portal:organization_detail", args=[org.id])).content.decode()
    assert "Retail" in html
    assert "Corporate SSO" in html
    assert reverse("portal:organization_rename", args=[org.id]) in html
    assert reverse("portal:business_group_create", args=[org.id]) in html
    assert reverse("portal:identity_provider_create", args=[org.id]) in html
    assert html.count('name="csrfmiddlewaretoken"') >= 4  # sign out + three forms
    ids = re.findall(r' id="([^"]+)"', html)
    assert len(ids) == len(set(ids))  # three name fields, each with its own label target


# ---------------------------------------------------------------------------------------------
# A member without permissions
# ---------------------------------------------------------------------------------------------
def test_member_without_permissions_gets_403_on_permission_pages(web, org, admin, member):
    client = web(member)
    home = client.get(reverse("portal:home"))  # nothing to manage: their home is My apps
    assert home.status_code == 302 and home["Location"] == reverse("connected_apps:my_apps")
    assert client.get(home["Location"]).status_code == 200
    assert client.get(reverse("portal:organization_tree")).status_code == 200
    for name, url in org_pages(org, admin).items():
        response = client.get(url)
        assert response.status_code == 403, name
        assert "You do not have access to this page" in response.content.decode()
    assert client.get(reverse("portal:users")).status_code == 403
    assert client.get(reverse("portal:environments")).status_code == 403


def test_member_without_permissions_cannot_post_any_form(web, org, admin, member):
    client = web(member)
    for name, (url, data) in org_posts(org, admin).items():
        assert client.post(url, data).status_code == 403, name
        assert client.post(url, {}).status_code == 403, f"{name} (invalid form)"
    assert Organization.objects.count() == 1
    assert not Environment.objects.exists()
    assert not User.objects.filter(username="intruder").exists()
    assert not IdentityProvider.objects.exists()
    assert not PermissionGrant.objects.exists()
    assert Organization.objects.get(id=org.id).name == "Acme"


def test_member_navigation_hides_what_they_cannot_use(web, org, member):
    html = web(member).get(reverse("connected_apps:my_apps")).content.decode()
    assert reverse("portal:organization_tree") in html
    assert reverse("portal:users") not in html
    assert reverse("portal:environment_list", args=[org.id]) not in html
    tree = web(member).get(reverse("portal:organization_tree")).content.decode()
    assert "You do not hold a role or permission in any business group of Acme" in tree


def test_reader_sees_pages_but_not_the_forms(web, org, admin, member, production):
    grant(member, org, Permission.READ_ORGANIZATION)
    grant(member, org, Permission.VIEW_ENVIRONMENT)
    grant(member, org, Permission.READ_USERS)
    client = web(member)

    detail = client.get(reverse("portal:organization_detail", args=[org.id]))
    assert detail.status_code == 200
    html = detail.content.decode()
    assert reverse("portal:organization_rename", args=[org.id]) not in html
    assert reverse("portal:business_group_create", args=[org.id]) not in html
    assert reverse("portal:identity_provider_create", args=[org.id]) not in html

    environments = client.get(reverse("portal:environment_list", args=[org.id]))
    assert "Production" in environments.content.decode()
    assert 'class="tabs"' in environments.content.decode()
    assert "Create environment" not in environments.content.decode()

    users = client.get(reverse("portal:user_list", args=[org.id]))
    assert admin.username in users.content.decode()
    assert "Add member" not in users.content.decode()

    permissions = client.get(reverse("portal:user_permissions", args=[org.id, admin.id]))
    assert permissions.status_code == 200
    assert "Save permissions" not in permissions.content.decode()
    assert 'name="is_admin"' not in permissions.content.decode()


def test_member_sees_only_the_environments_granted_one_by_one(
    web, org, member, production, sandbox
):
    grant(member, org, Permission.VIEW_ENVIRONMENT, environment=production)
    client = web(member)
    html = client.get(reverse("portal:environment_list", args=[org.id])).content.decode()
    assert "Production" in html
    assert "Sandbox" not in html
    assert "Create environment" not in html
    assert 'class="tabs"' not in html  # one page of the org only: no tab row
    overview = client.get(reverse("portal:home")).content.decode()
    assert "view:environment · Production" in overview


# ---------------------------------------------------------------------------------------------
# Tenant isolation: another org's admin sees nothing of org
# ---------------------------------------------------------------------------------------------
def test_other_tenant_admin_gets_404_on_every_page(
    web, org, admin, member, other_admin, business_group, production
):
    client = web(other_admin)
    pages = {
        **org_pages(org, member),
        **{f"bg-{k}": v for k, v in org_pages(business_group, member).items()},
    }
    for name, url in pages.items():
        assert client.get(url).status_code == 404, name
    # Their own org's pages do not reveal org's members either.
    own_member_page = reverse(
        "portal:user_permissions", args=[other_admin.organization_id, admin.id]
    )
    assert client.get(own_member_page).status_code == 404
    assert client.get(reverse("portal:user_detail", args=[admin.id])).status_code == 404


def test_other_tenant_admin_gets_404_on_every_form(web, org, admin, other_admin):
    client = web(other_admin)
    for name, (url, data) in org_posts(org, admin).items():
        assert client.post(url, data).status_code == 404, name
    assert Organization.objects.filter(parent=org).count() == 0
    assert Organization.objects.get(id=org.id).name == "Acme"
    assert not Environment.objects.exists()
    assert not User.objects.filter(username="intruder").exists()
    assert not PermissionGrant.objects.exists()


def test_other_tenant_does_not_leak_into_lists(web, org, admin, other_admin):
    html = web(admin).get(reverse("portal:users")).content.decode()
    assert admin.username in html
    assert other_admin.username not in html
    tree = web(admin).get(reverse("portal:organization_tree")).content.decode()
    assert "Globex" not in tree


def test_unknown_org_id_is_404(web, admin):
    url = reverse("portal:organization_detail", args=["00000000-0000-0000-0000-000000000000"])
    assert web(admin).get(url).status_code == 404
    assert web(admin).get("/access-management/organizations/not-a-uuid/").status_code == 404


# ---------------------------------------------------------------------------------------------
# Forms
# ---------------------------------------------------------------------------------------------
def test_admin_renames_the_organization(web, org, admin):
    url = reverse("portal:organization_rename", args=[org.id])
    response = web(admin).post(url, {"name": "Acme Corp"}, follow=True)
    org.refresh_from_db()
    assert org.name == "Acme Corp"
    assert "Renamed to Acme Corp." in response.content.decode()


def test_admin_creates_a_business_group(web, org, admin):
    url = reverse("portal:business_group_create", args=[org.id])
    response = web(admin).post(url, {"name": "Retail"})
    group = Organization.objects.get(parent=org, name="Retail")
    assert group.root_id == org.id
    assert response.status_code == 302
    assert response["Location"] == reverse("portal:organization_detail", args=[org.id])


def test_duplicate_business_group_shows_the_error(web, org, admin, business_group):
    url = reverse("portal:business_group_create", args=[org.id])
    response = web(admin).post(url, {"name": "retail"})
    assert response.status_code == 200
    assert BUSINESS_GROUP_NAME_TAKEN in response.content.decode()
    assert Organization.objects.filter(parent=org).count() == 1


def test_manager_of_business_groups_creates_one_without_being_admin(web, org, member):
    grant(member, org, Permission.MANAGE_BUSINESS_GROUPS)
    client = web(member)
    page = client.get(reverse("portal:organization_detail", args=[org.id])).content.decode()
    assert reverse("portal:business_group_create", args=[org.id]) in page
    assert reverse("portal:organization_rename", args=[org.id]) not in page
    client.post(reverse("portal:business_group_create", args=[org.id]), {"name": "Labs"})
    assert Organization.objects.filter(parent=org, name="Labs").exists()


def test_admin_registers_an_identity_provider(web, org, admin):
    url = reverse("portal:identity_provider_create", args=[org.id])
    response = web(admin).post(url, {"name": "Okta"}, follow=True)
    provider = IdentityProvider.objects.get(organization=org, name="Okta")
    assert str(provider.id) in response.content.decode()


def test_admin_creates_an_environment_in_a_business_group(web, org, admin, business_group):
    url = reverse("portal:environment_list", args=[business_group.id])
    response = web(admin).post(url, {"name": "Production", "type": "production"}, follow=True)
    environment = Environment.objects.get(organization=business_group)
    assert (environment.name, environment.type) == ("Production", "production")
    html = response.content.decode()
    assert "Environment Production created." in html
    assert "badge-production" in html


def test_environment_form_rejects_an_unknown_type(web, org, admin):
    url = reverse("portal:environment_list", args=[org.id])
    response = web(admin).post(url, {"name": "QA", "type": "staging"})
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert not Environment.objects.exists()


def test_environment_page_has_an_empty_state(web, org, admin):
    html = web(admin).get(reverse("portal:environment_list", args=[org.id])).content.decode()
    assert "No environments yet." in html
    assert "Create environment" in html


def test_admin_adds_a_member(web, org, admin):
    response = web(admin).post(
        reverse("portal:users"),
        {
            "username": "grace",
            "email": "grace@example.com",
            "first_name": "Grace",
            "last_name": "Hopper",
            "password": DEFAULT_PASSWORD,
        },
    )
    grace = User.objects.get(username="grace")
    assert grace.organization == org
    assert grace.check_password(DEFAULT_PASSWORD)
    assert grace.get_full_name() == "Grace Hopper"
    assert response["Location"] == reverse("portal:user_permissions", args=[org.id, grace.id])


def test_member_added_from_a_business_group_joins_the_root_org(web, org, admin, business_group):
    web(admin).post(
        reverse("portal:user_list", args=[business_group.id]),
        {"username": "bg-member", "email": "bg@example.com", "password": DEFAULT_PASSWORD},
    )
    assert User.objects.get(username="bg-member").organization == org


def test_duplicate_username_shows_an_error_and_creates_nothing(web, org, admin, other_admin):
    before = User.objects.count()
    response = web(admin).post(
        reverse("portal:users"),
        {
            "username": other_admin.username.upper(),
            "email": "someone@example.com",
            "password": DEFAULT_PASSWORD,
        },
    )
    assert response.status_code == 200
    assert USERNAME_TAKEN in response.content.decode()
    assert User.objects.count() == before


def test_weak_password_shows_the_validator_message(web, org, admin):
    response = web(admin).post(
        reverse("portal:users"),
        {"username": "weak", "email": "weak@example.com", "password": "123"},
    )
    assert "This password is too short" in response.content.decode()
    assert not User.objects.filter(username="weak").exists()


def test_add_member_waits_behind_a_button_and_opens_on_errors(web, org, admin):
    """The members table keeps the page's width: the form is in a closed <details> whose
    summary looks like a button, opened again when the form comes back with errors."""
    client = web(admin)
    html = client.get(reverse("portal:users")).content.decode()
    assert '<details class="add-member">' in html
    assert '<summary class="button button-primary">Add member</summary>' in html
    assert "grid-main-side" not in html
    assert f'<td data-label="Email" class="user-email">{admin.email}</td>' in html
    refused = client.post(
        reverse("portal:users"), {"username": "weak", "email": "weak@example.com", "password": "1"}
    )
    assert '<details class="add-member" open>' in refused.content.decode()


def test_users_page_searches_and_paginates(web, org, admin):
    UserFactory.create_batch(30, organization=org)
    UserFactory(organization=org, username="zelda", email="zelda@hyrule.example")
    client = web(admin)

    first = client.get(reverse("portal:users"))
    assert len(first.context["users"]) == 25
    assert first.context["page_obj"].paginator.count == 32
    second = client.get(reverse("portal:users"), {"page": 2})
    assert len(second.context["users"]) == 7
    assert "Page 2 of 2" in second.content.decode()

    found = client.get(reverse("portal:users"), {"q": "hyrule"})
    assert [u.username for u in found.context["users"]] == ["zelda"]
    nothing = client.get(reverse("portal:users"), {"q": "nobody-here"})
    assert "No user matches" in nothing.content.decode()


def test_permissions_page_groups_the_catalog_by_area(web, org, admin, member, production):
    html = web(admin).get(reverse("portal:user_detail", args=[member.id])).content.decode()
    for area in ("Organization", "Environments", "Users", "Audit", "Connected apps"):
        assert f"<legend>{area}</legend>" in html
    for permission in Permission:
        assert f'value="{permission.value}"' in html
    assert (
        f'<input type="checkbox" name="environments" value="{production.id}" '
        'id="id_environments_0"><label for="id_environments_0">Production</label>'
    ) in html
    assert "<select" not in html  # a checkbox per environment, no Ctrl-click multi-select
    assert 'name="is_admin"' in html  # the viewer is an org admin


def test_user_page_shows_status_last_sign_in_and_a_link_cancel(web, org, admin, member):
    client = web(admin)
    url = reverse("portal:user_permissions", args=[org.id, member.id])
    html = client.get(url).content.decode()
    assert '<span class="badge badge-enabled">Enabled</span>' in html
    assert "Last sign-in never" in html
    assert (
        f'<a class="button button-link" href="{reverse("portal:user_list", args=[org.id])}">'
        "Cancel</a>"
    ) in html
    member.last_login = datetime(2026, 3, 4, 5, 6, tzinfo=UTC)
    member.is_active = False
    member.save(update_fields=["last_login", "is_active"])  # test set-up, not a workflow
    html = client.get(url).content.decode()
    assert '<span class="badge badge-disabled">Disabled</span>' in html
    assert '<time datetime="2026-03-04T05:06:00+00:00">4 Mar 2026 05:06 UTC</time>' in html


def test_admin_grants_view_environment_on_one_environment(web, org, admin, member, production):
    url = reverse("portal:user_permissions", args=[org.id, member.id])
    response = web(admin).post(
        url,
        {"permissions": ["view:environment", "read:users"], "environments": [str(production.id)]},
        follow=True,
    )
    grants = set(
        PermissionGrant.objects.filter(user=member, organization=org).values_list(
            "permission", "environment_id"
        )
    )
    assert grants == {("view:environment", production.id), ("read:users", None)}
    assert "Permissions of acme-member in Acme saved." in response.content.decode()
    assert not RoleGrant.objects.filter(user=member).exists()


def test_admin_sets_permissions_in_a_business_group(web, org, admin, member, business_group):
    url = reverse("portal:user_permissions", args=[business_group.id, member.id])
    web(admin).post(url, {"permissions": ["read:organization"]})
    assert PermissionGrant.objects.get(user=member).organization == business_group
    html = web(admin).get(url).content.decode()
    assert f'href="{url}" aria-current="page"' in html  # the org switcher marks the BG


def test_admin_makes_a_member_organization_administrator(web, org, admin, member):
    url = reverse("portal:user_permissions", args=[org.id, member.id])
    web(admin).post(url, {"is_admin": "on"})
    assert RoleGrant.objects.filter(
        user=member, organization=org, role=Role.ORGANIZATION_ADMINISTRATOR
    ).exists()


def test_removing_the_admin_role_needs_a_confirmation(web, org, admin, member):
    AdminRoleFactory(user=member, organization=org)
    url = reverse("portal:user_permissions", args=[org.id, member.id])
    client = web(admin)

    unconfirmed = client.post(url, {"permissions": []})
    assert unconfirmed.status_code == 200
    assert ROLE_REMOVAL_NOT_CONFIRMED in unconfirmed.content.decode()
    assert 'name="confirm_role_removal"' in unconfirmed.content.decode()
    assert RoleGrant.objects.filter(user=member, organization=org).exists()

    client.post(url, {"permissions": [], "confirm_role_removal": "on"})
    assert not RoleGrant.objects.filter(user=member, organization=org).exists()


def test_last_administrator_cannot_drop_their_role(web, org, admin):
    url = reverse("portal:user_permissions", args=[org.id, admin.id])
    response = web(admin).post(url, {"confirm_role_removal": "on"})
    assert response.status_code == 200
    assert "at least one Organization Administrator" in response.content.decode()
    assert RoleGrant.objects.filter(user=admin, organization=org).exists()


def test_user_manager_without_admin_role_sees_no_role_checkbox(web, org, admin, member):
    grant(member, org, Permission.MANAGE_USERS)
    other = UserFactory(organization=org, username="colleague")
    client = web(member)
    url = reverse("portal:user_permissions", args=[org.id, other.id])
    html = client.get(url).content.decode()
    assert 'name="is_admin"' not in html
    assert "Save permissions" in html
    # A role smuggled into the POST is ignored: only org admins change roles.
    client.post(url, {"permissions": ["read:users"], "is_admin": "on"})
    assert not RoleGrant.objects.filter(user=other).exists()
    assert PermissionGrant.objects.filter(user=other, permission="read:users").exists()


def test_user_manager_cannot_grant_what_they_do_not_hold(web, org, member):
    grant(member, org, Permission.MANAGE_USERS)
    other = UserFactory(organization=org, username="colleague")
    url = reverse("portal:user_permissions", args=[org.id, other.id])
    response = web(member).post(url, {"permissions": ["edit:organization"]})
    assert response.status_code == 403
    assert not PermissionGrant.objects.filter(user=other).exists()


def test_environment_from_another_org_cannot_be_granted(web, org, admin, member, business_group):
    foreign = EnvironmentFactory(organization=business_group, name="BG prod")
    url = reverse("portal:user_permissions", args=[org.id, member.id])
    response = web(admin).post(
        url, {"permissions": ["view:environment"], "environments": [str(foreign.id)]}
    )
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert not PermissionGrant.objects.filter(user=member).exists()


def test_forms_are_protected_against_csrf(org, admin):
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin)
    page = client.get(reverse("portal:environment_list", args=[org.id])).content.decode()
    assert page.count('name="csrfmiddlewaretoken"') == 2  # sign out + create environment
    response = client.post(
        reverse("portal:environment_list", args=[org.id]), {"name": "QA", "type": "sandbox"}
    )
    assert response.status_code == 403
    assert not Environment.objects.exists()
