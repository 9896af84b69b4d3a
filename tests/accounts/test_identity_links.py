"""Linking members to identity providers (SPEC §5): only linked users can be named by the
provider's jwt-bearer assertions, and only an Organization Administrator links or unlinks."""

from __future__ import annotations

import pytest

from accounts.models import FederatedIdentity
from audit.models import AuditAction, AuditEvent
from tests.factories import IdentityProviderFactory, PermissionGrantFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def idp(org):
    return IdentityProviderFactory(organization=org, name="Corporate SSO")


def links_url(org, idp, user=None) -> str:
    url = f"/accounts/api/organizations/{org.id}/identityProviders/{idp.id}/users"
    return f"{url}/{user.id}" if user is not None else url


def test_an_administrator_links_lists_and_unlinks_a_member(client_for, admin, member, org, idp):
    api = client_for(admin)
    created = api.post(links_url(org, idp), {"user_id": str(member.id)}, format="json")
    assert created.status_code == 201, created.content
    assert created.json()["username"] == member.username
    assert created.json()["subject"] == member.username
    listed = api.get(links_url(org, idp)).json()
    assert listed["total"] == 1
    assert listed["data"][0]["user_id"] == str(member.id)
    again = api.post(links_url(org, idp), {"user_id": str(member.id)}, format="json")
    assert again.status_code == 201  # idempotent
    assert FederatedIdentity.objects.filter(user=member).count() == 1
    assert api.delete(links_url(org, idp, member)).status_code == 204
    assert not FederatedIdentity.objects.exists()
    actions = list(
        AuditEvent.objects.filter(action__startswith="identity_provider.user").values_list(
            "action", flat=True
        )
    )
    assert sorted(actions) == sorted(
        [AuditAction.IDENTITY_LINKED, AuditAction.IDENTITY_LINKED, AuditAction.IDENTITY_UNLINKED]
    )


def test_a_member_with_edit_organization_cannot_link(client_for, member, org, idp):
    PermissionGrantFactory(user=member, organization=org, permission="edit:organization")
    PermissionGrantFactory(user=member, organization=org, permission="manage:users")
    target = UserFactory(organization=org, username="victim")
    response = client_for(member).post(
        links_url(org, idp), {"user_id": str(target.id)}, format="json"
    )
    assert response.status_code == 403
    assert not FederatedIdentity.objects.exists()


def test_another_tenant_sees_nothing(client_for, other_admin, member, org, idp):
    response = client_for(other_admin).post(
        links_url(org, idp), {"user_id": str(member.id)}, format="json"
    )
    assert response.status_code == 404
    assert client_for(other_admin).get(links_url(org, idp)).status_code == 404


def test_unknown_user_or_provider_is_404(client_for, admin, org, idp, other_admin):
    api = client_for(admin)
    assert (
        api.post(links_url(org, idp), {"user_id": str(other_admin.id)}, format="json").status_code
        == 404
    )
    assert api.post(links_url(org, idp), {"user_id": "nope"}, format="json").status_code == 404
    bad = f"/accounts/api/organizations/{org.id}/identityProviders/not-a-uuid/users"
    assert api.get(bad).status_code == 404
    assert api.post(links_url(org, idp), {}, format="json").status_code == 400


# -- the portal page ----------------------------------------------------------------------------
def portal(user):
    from django.test import Client

    client = Client()
    client.force_login(user)
    return client


def page_url(org, idp) -> str:
    from django.urls import reverse

    return reverse("portal:identity_provider_detail", args=[org.id, idp.id])


def test_the_portal_links_and_unlinks_with_a_confirmation(admin, member, org, idp):
    from django.urls import reverse

    client = portal(admin)
    html = client.get(page_url(org, idp)).content.decode()
    assert "Nobody yet" in html
    linked = client.post(page_url(org, idp), {"username": member.username.upper()})
    assert linked.status_code == 302
    assert FederatedIdentity.objects.filter(provider=idp, user=member).exists()
    html = client.get(page_url(org, idp)).content.decode()
    assert member.username in html
    unlink = reverse("portal:identity_link_delete", args=[org.id, idp.id, member.id])
    confirm = client.get(unlink)
    assert confirm.status_code == 200
    assert f"Unlink {member.username} from {idp.name}?" in confirm.content.decode()
    assert FederatedIdentity.objects.exists()  # a GET changes nothing
    assert client.post(unlink).status_code == 302
    assert not FederatedIdentity.objects.exists()


def test_the_portal_refuses_an_unknown_username(admin, org, idp, other_admin):
    response = portal(admin).post(page_url(org, idp), {"username": other_admin.username})
    assert response.status_code == 400
    assert "No member of this organization has that username." in response.content.decode()
    assert not FederatedIdentity.objects.exists()


def test_the_portal_shows_no_link_form_to_a_non_admin(member, org, idp):
    from django.urls import reverse

    PermissionGrantFactory(user=member, organization=org, permission="read:organization")
    client = portal(member)
    html = client.get(page_url(org, idp)).content.decode()
    assert 'aria-label="Link a member"' not in html
    assert client.post(page_url(org, idp), {"username": member.username}).status_code == 403
    unlink = reverse("portal:identity_link_delete", args=[org.id, idp.id, member.id])
    assert client.get(unlink).status_code == 403
    assert not FederatedIdentity.objects.exists()


def test_a_bg_administrator_cannot_link_even_to_their_own_bgs_provider(member, org):
    """A link hands over the member's whole account, whatever it holds above the BG."""
    from tests.factories import AdminRoleFactory, OrganizationFactory

    team = OrganizationFactory(name="Team", parent=org)
    AdminRoleFactory(user=member, organization=team)
    bg_idp = IdentityProviderFactory(organization=team, name="Team SSO")
    client = portal(member)
    html = client.get(page_url(team, bg_idp)).content.decode()
    assert 'aria-label="Link a member"' not in html
    assert client.post(page_url(team, bg_idp), {"username": member.username}).status_code == 403
    api = client_for_user(member).post(
        links_url(team, bg_idp), {"user_id": str(member.id)}, format="json"
    )
    assert api.status_code == 403
    assert not FederatedIdentity.objects.exists()


def client_for_user(user):
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_authenticate(user=user)
    return client
