"""Approving an app for the allowlist by picking it from the apps the org's users authorized,
with confirmation pages for approve, re-approve and remove (issue 16, SPEC §6, §8)."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from django.test import Client
from django.urls import reverse
from django.utils.html import escape

from accounts.access import Access
from connected_apps import controls, selectors
from connected_apps.models import AllowlistEntry
from connected_apps.services import connected_app_set_scopes
from connected_apps.views.authorized import CLIENT_ID_UNKNOWN
from oauth.services import authorization_grant
from tests.factories import UserFactory

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


@pytest.fixture
def allowlist_on(admin, org):
    controls.org_settings_update(access=Access(user=admin), org=org, allowlist_enabled=True)


def approve_url(app):
    return reverse("connected_apps:allowlist_approve_confirm", args=[app.client_id])


def remove_url(app):
    return reverse("connected_apps:allowlist_remove", args=[app.client_id])


def test_the_page_lists_apps_users_authorized_that_are_not_allowlisted(
    browser, org, admin, member, make_app, other_admin, foreign_app, allowlist_on
):
    listed = make_app(actor=other_admin, client_name="Listed Already", audience="everyone").app
    own = make_app(client_name="Our Own App").app
    internal = make_app(actor=other_admin, client_name="Their Internal App").app
    for app in (foreign_app, listed, own, internal):
        authorization_grant(user=member, app=app, scopes=["profile"])
    authorization_grant(user=admin, app=foreign_app, scopes=["openid"])
    controls.allowlist_approve(access=Access(user=admin), org=org, client_id=listed.client_id)

    candidates = selectors.allowlist_candidate_list(org=org)
    assert [(c.app.name, c.users) for c in candidates] == [("Third Party", 2)]
    assert candidates[0].scopes == [
        "openid",
        "profile",
        "email",
        "offline_access",
        "view:environment",
    ]

    page = browser.get(PAGE).content.decode()
    section = page[page.index('id="candidates-heading"') : page.index("Advanced:")]
    assert "Third Party" in section and "Globex" in section and "2 users" in section
    assert "Read your profile" in section and "Keep access while you are not signed in" in section
    assert "View environments" in section
    assert f'href="{approve_url(foreign_app)}"' in section
    for name in ("Listed Already", "Our Own App", "Their Internal App"):
        assert name not in section


def test_the_candidates_cost_two_queries(org, make_app, other_admin, django_assert_max_num_queries):
    for n in range(4):
        app = make_app(actor=other_admin, client_name=f"App {n}", audience="everyone").app
        for _ in range(2):
            authorization_grant(user=UserFactory(organization=org), app=app, scopes=["profile"])
    with django_assert_max_num_queries(2):
        candidates = selectors.allowlist_candidate_list(org=org)
    assert [c.users for c in candidates] == [2, 2, 2, 2]


def test_approve_asks_first_showing_exactly_the_scopes(browser, org, member, foreign_app):
    authorization_grant(user=member, app=foreign_app, scopes=["profile"])
    page = browser.get(approve_url(foreign_app))
    assert page.status_code == 200
    html = page.content.decode()
    assert "Approve Third Party for Acme?" in html
    for words in ("Know your username and unique id", "Read your profile", "View environments"):
        assert words in html
    assert set(re.findall(r'name="scopes" value="([^"]+)"', html)) == {
        "openid",
        "profile",
        "email",
        "offline_access",
        "view:environment",
    }
    assert not AllowlistEntry.objects.exists()

    scopes = re.findall(r'name="scopes" value="([^"]+)"', html)
    response = browser.post(approve_url(foreign_app), {"scopes": scopes})
    assert response.status_code == 302 and response["Location"] == PAGE
    entry = AllowlistEntry.objects.get(organization=org, app=foreign_app)
    assert sorted(entry.approved_scopes) == sorted(scopes)


def test_approve_refuses_scopes_that_changed_since_the_page(browser, org, foreign_app, other_admin):
    shown = re.findall(
        r'name="scopes" value="([^"]+)"', browser.get(approve_url(foreign_app)).content.decode()
    )
    connected_app_set_scopes(
        access=Access(user=other_admin), app=foreign_app, scopes=["profile", "read:users"]
    )
    response = browser.post(approve_url(foreign_app), {"scopes": shown})
    assert response.status_code == 400
    assert escape(controls.APPROVAL_SCOPES_CHANGED) in response.content.decode()
    assert "View users and their permissions" in response.content.decode()
    assert not AllowlistEntry.objects.exists()


def test_advanced_client_id_wrong_is_a_field_error_not_a_404(
    browser, foreign_app, make_app, other_admin
):
    internal = make_app(actor=other_admin, client_name="Their Internal App").app
    url = reverse("connected_apps:allowlist_approve")
    for bad in ("no-such-client", internal.client_id, ""):
        response = browser.post(url, {"client_id": bad, "review": "1"})
        assert response.status_code == 400
        html = response.content.decode()
        assert "<h1>Authorized apps</h1>" in html and 'class="field-error"' in html
        assert '<details class="editor" open>' in html
        if bad:
            assert escape(CLIENT_ID_UNKNOWN) in html
    response = browser.post(url, {"client_id": f" {foreign_app.client_id} ", "review": "1"})
    assert response.status_code == 302 and response["Location"] == approve_url(foreign_app)
    assert not AllowlistEntry.objects.exists()
    # Without `review`, the endpoint approves at once, as it always did.
    assert browser.post(url, {"client_id": foreign_app.client_id}).status_code == 302
    assert AllowlistEntry.objects.filter(app=foreign_app).exists()


def test_reapprove_and_remove_are_links_to_confirmation_pages(
    browser, org, admin, foreign_app, other_admin
):
    controls.allowlist_approve(access=Access(user=admin), org=org, client_id=foreign_app.client_id)
    connected_app_set_scopes(
        access=Access(user=other_admin), app=foreign_app, scopes=["profile", "read:users"]
    )
    page = browser.get(PAGE).content.decode()
    allowlist = page[page.index('id="allowlist-heading"') : page.index('id="candidates-heading"')]
    assert "<form" not in allowlist
    assert f'href="{approve_url(foreign_app)}" aria-label="Re-approve Third Party"' in allowlist
    assert f'href="{remove_url(foreign_app)}" aria-label="Remove Third Party"' in allowlist

    confirm = browser.get(approve_url(foreign_app)).content.decode()
    assert "Re-approve Third Party for Acme?" in confirm
    assert "new since the last approval" in confirm  # read:users
    assert "No longer approved" in confirm and "Read your email address" in confirm
    assert AllowlistEntry.objects.get(app=foreign_app).approved_scopes != ["profile", "read:users"]
    browser.post(approve_url(foreign_app), {"scopes": ["profile", "read:users"]})
    assert AllowlistEntry.objects.get(app=foreign_app).approved_scopes == ["profile", "read:users"]

    confirm = browser.get(remove_url(foreign_app))
    assert confirm.status_code == 200
    assert "Remove Third Party from the allowlist?" in confirm.content.decode()
    assert AllowlistEntry.objects.filter(app=foreign_app).exists()
    assert browser.post(remove_url(foreign_app)).status_code == 302
    assert not AllowlistEntry.objects.filter(app=foreign_app).exists()
    assert browser.get(remove_url(foreign_app)).status_code == 404


def test_the_post_endpoints_refuse_others_and_need_csrf(org, admin, member, foreign_app):
    controls.allowlist_approve(access=Access(user=admin), org=org, client_id=foreign_app.client_id)
    outsider = Client()
    outsider.force_login(member)
    for url in (approve_url(foreign_app), remove_url(foreign_app)):
        assert outsider.get(url).status_code == 403
        assert outsider.post(url, {"scopes": ["profile"]}).status_code == 403
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(admin)
    assert strict.get(remove_url(foreign_app)).status_code == 200
    assert strict.post(remove_url(foreign_app)).status_code == 403
    assert strict.post(approve_url(foreign_app), {"scopes": ["profile"]}).status_code == 403
    assert AllowlistEntry.objects.filter(app=foreign_app).exists()
    assert Client().get(remove_url(foreign_app)).status_code == 302  # to sign in


class _Named(HTMLParser):
    """Links and buttons: (aria-label or None, visible text)."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str | None, str]] = []
        self._open: list[list] = []

    def handle_starttag(self, tag, attrs):
        if tag in ("a", "button"):
            self._open.append([dict(attrs).get("aria-label"), ""])

    def handle_data(self, data):
        for item in self._open:
            item[1] += data

    def handle_endtag(self, tag):
        if tag in ("a", "button") and self._open:
            label, text = self._open.pop()
            self.found.append((label, " ".join(text.split())))


def test_accessible_names_contain_the_visible_text(browser, org, admin, member, foreign_app):
    """WCAG 2.5.3 Label in Name, on every link and button of the page."""
    authorization_grant(user=member, app=foreign_app, scopes=["profile"])
    controls.allowlist_approve(access=Access(user=admin), org=org, client_id=foreign_app.client_id)
    parser = _Named()
    parser.feed(browser.get(PAGE).content.decode())
    revoke = [(label, text) for label, text in parser.found if "Revoke" in text]
    assert revoke == [(None, "Revoke for the whole org: Third Party")]
    for label, text in parser.found:
        if label is not None:
            visible = text.split(":")[0]
            assert visible.lower() in label.lower(), (label, text)
