"""Attack surface: an administrator strips a member's rights with PUT …/permissions and the
member stays Organization Administrator (issue 12 item 4, SPEC §4: PUT replaces what the user
holds; a body without `role` removes the role)."""

from __future__ import annotations

import pytest

from accounts.models import RoleGrant
from tests.factories import AdminRoleFactory, OrganizationFactory, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)


def test_put_without_role_takes_the_role_away(http, urls, signed_in):
    org = OrganizationFactory(name="Acme")
    admin = UserFactory(organization=org, username="root-admin")
    AdminRoleFactory(user=admin, organization=org)
    departing = UserFactory(organization=org, username="departing")
    AdminRoleFactory(user=departing, organization=org)
    target = f"{urls['api']}/organizations/{org.id}/users/{departing.id}/permissions"

    stripped = http().put(
        target, json={"permissions": ["read:users"]}, headers=signed_in("root-admin")
    )
    assert stripped.status_code == 200, stripped.text
    assert stripped.json()["role"] is None
    assert stripped.json()["permissions"] == ["read:users"]
    assert not RoleGrant.objects.filter(user=departing).exists()
    # The former administrator can no longer act as one.
    denied = http().get(
        f"{urls['api']}/organizations/{org.id}/connectedApplicationsSettings",
        headers=signed_in("departing"),
    )
    assert denied.status_code == 403, denied.text


def test_a_manager_cannot_strip_an_administrator(http, urls, signed_in):
    from tests.factories import PermissionGrantFactory

    org = OrganizationFactory(name="Acme")
    admin = UserFactory(organization=org, username="root-admin")
    AdminRoleFactory(user=admin, organization=org)
    manager = UserFactory(organization=org, username="manager")
    PermissionGrantFactory(user=manager, organization=org, permission="manage:users")
    target = f"{urls['api']}/organizations/{org.id}/users/{admin.id}/permissions"
    response = http().put(target, json={"permissions": []}, headers=signed_in("manager"))
    assert response.status_code == 403, response.text
    assert RoleGrant.objects.filter(user=admin).exists()
    # ...while replacing a plain member's grants needs no role change, and works.
    member = UserFactory(organization=org, username="plain")
    ok = http().put(
        f"{urls['api']}/organizations/{org.id}/users/{member.id}/permissions",
        json={"permissions": ["read:users"]},
        headers=signed_in("manager"),
    )
    assert ok.status_code == 200, ok.text
