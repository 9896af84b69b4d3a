"""The Authorized apps portal page (SPEC §8): org admins only; settings (with confirmation
before switching apps off), allowlist approve / re-approve / remove with the scope diff, and
revoke for the whole org (with confirmation)."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from accounts.access import Access
from connected_apps import controls
from connected_apps.models import AllowlistEntry, Authorization
from connected_apps.services import connected_app_set_scopes
from oauth.services import authorization_grant
from tests.oauth.helpers import mint_access_token
from tests.oauth.tokenkit import bearer_profile

pytestmark = pytest.mark.django_db

PAGE = reverse("connected_apps:authorized_apps")


@pytest.fixture
def foreign_app(make_app, other_admin):
    return make_app(actor=other_admin, client_name="Third Party", audience="everyone").app


@pytest.fixture
def browser(admin):
    client = Client()
    client.force_login(admin)
    return client


def test_only_org_admins_see_the_page_and_its_nav_entry(browser, member):
    response = browser.get(PAGE)
    assert response.status_code == 200
    assert b"Authorized apps" in response.content
    assert f'href="{PAGE}"'.encode() in browser.get(reverse("connected_apps:my_apps")).content
    client = Client()
    client.force_login(member)
    assert client.get(PAGE).status_code == 403
    assert f'href="{PAGE}"'.encode() not in client.get(reverse("connected_apps:my_apps")).content


def test_switching_off_asks_first(browser, org):
    url = reverse("connected_apps:authorized_settings")
    response = browser.post(url, {"allowlist_enabled": "on"})
    assert response.status_code == 200
    assert b"Disable connected apps" in response.content
    assert controls.org_settings_get(org=org).enabled
    response = browser.post(url, {"allowlist_enabled": "on", "confirm": "yes"})
    assert response.status_code == 302
    settings = controls.org_settings_get(org=org)
    assert (settings.enabled, settings.allowlist_enabled) == (False, True)
    browser.post(url, {"enabled": "on"})
    settings = controls.org_settings_get(org=org)
    assert (settings.enabled, settings.allowlist_enabled) == (True, False)


def test_allowlist_diff_reapprove_and_remove(browser, org, foreign_app, other_admin):
    response = browser.post(
        reverse("connected_apps:allowlist_approve"), {"client_id": foreign_app.client_id}
    )
    assert response.status_code == 302
    connected_app_set_scopes(
        access=Access(user=other_admin), app=foreign_app, scopes=["profile", "read:users"]
    )
    page = browser.get(PAGE).content.decode()
    assert "Third Party" in page
    assert "added, not approved" in page and "read:users" in page
    assert "scope-removed" in page and "Re-approve" in page

    browser.post(reverse("connected_apps:allowlist_approve"), {"client_id": foreign_app.client_id})
    assert AllowlistEntry.objects.get(organization=org).approved_scopes == ["profile", "read:users"]
    assert "Re-approve" not in browser.get(PAGE).content.decode()

    response = browser.post(
        reverse("connected_apps:allowlist_remove", args=[foreign_app.client_id])
    )
    assert response.status_code == 302
    assert not AllowlistEntry.objects.filter(organization=org).exists()


def test_revoke_for_the_whole_org_after_confirmation(browser, org, member, foreign_app):
    authorization_grant(user=member, app=foreign_app, scopes=["profile"])
    raw = mint_access_token(user=member, app=foreign_app, scope="profile")
    page = browser.get(PAGE).content.decode()
    assert "Third Party" in page and "Revoke for the whole org" in page
    url = reverse("connected_apps:authorized_revoke", args=[foreign_app.client_id])
    confirm = browser.get(url)
    assert confirm.status_code == 200
    assert b"1 user of" in confirm.content and b"loses the access" in confirm.content
    assert bearer_profile(raw).status_code == 200
    assert browser.post(url, {"confirm": "yes"}).status_code == 302
    assert bearer_profile(raw).status_code == 401
    assert not Authorization.objects.filter(user=member, revoked_at__isnull=True).exists()
    assert browser.get(url).status_code == 404


def test_the_remove_confirmation_says_what_removing_does_with_the_allowlist_on_and_off(
    browser, admin, org, foreign_app
):
    controls.allowlist_approve(access=Access(user=admin), org=org, client_id=foreign_app.client_id)
    url = reverse("connected_apps:allowlist_remove", args=[foreign_app.client_id])
    off = browser.get(url).content.decode()
    assert "is off, so removing" in off and "can no longer act for any user" not in off

    controls.org_settings_update(access=Access(user=admin), org=org, allowlist_enabled=True)
    on = browser.get(url).content.decode()
    assert "is on:" in on and "can no longer act for any user" in on
