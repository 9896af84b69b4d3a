"""The account page (issue 15, SPEC §8, §11): the signed-in user's profile, roles, second
factors, sessions and apps on one page, each linked to the page that manages it; the names
edited through `user_profile_update`."""

from __future__ import annotations

import re

import pytest
from django.conf import settings
from django.test import Client

from accounts.catalog import Permission
from accounts.models import User
from accounts.services import NAME_INVALID
from audit.models import AuditAction, AuditEvent
from tests.accounts.test_mfa import fresh_code, signed_in, totp_enrolled
from tests.factories import OrganizationFactory, PermissionGrantFactory, UserFactory
from tests.oauth.tokenkit import isolated_throttle  # noqa: F401 (autouse fixture)

pytestmark = pytest.mark.django_db

PAGE = "/account/"
PROFILE = "/account/profile"


def session_of(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def neighbour(org):
    """Another member of the same org, with names, email and grants of their own."""
    user = UserFactory(
        organization=org,
        username="acme-neighbour",
        email="neighbour@acme.example",
        first_name="Grace",
        last_name="Hopper",
    )
    PermissionGrantFactory(user=user, permission=Permission.MANAGE_USERS)
    return user


# -- who may see it -------------------------------------------------------------------------------
def test_an_anonymous_visitor_is_sent_to_sign_in(member):
    response = Client().get(PAGE)
    assert response.status_code == 302
    assert response["Location"] == "/auth/login/?next=/account/"
    posted = Client().post(PROFILE, {"first_name": "Mallory", "last_name": "X"})
    assert posted.status_code == 302
    assert posted["Location"].startswith("/auth/login/")
    member.refresh_from_db()
    assert member.first_name == "Ada"


def test_the_page_is_never_cached(member):
    response = session_of(member).get(PAGE)
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]


# -- what it shows --------------------------------------------------------------------------------
def test_the_page_shows_the_users_own_data_and_no_one_elses(
    member, neighbour, other_admin, org, make_app
):
    from oauth.services import authorization_grant

    business_group = OrganizationFactory(parent=org, name="Retail")
    PermissionGrantFactory(
        user=member, organization=business_group, permission=Permission.VIEW_ENVIRONMENT
    )
    mine = make_app(client_name="Expense Tracker").app
    theirs = make_app(client_name="Neighbour Notes").app
    authorization_grant(user=member, app=mine, scopes=["openid", "profile"])
    authorization_grant(user=neighbour, app=theirs, scopes=["openid"])
    session_of(neighbour)  # the neighbour is signed in too, elsewhere
    session_of(other_admin)

    response = session_of(member).get(PAGE)

    assert response.status_code == 200
    html = response.content.decode()
    assert "Ada Lovelace" in html
    assert member.username in html and member.email in html
    assert "Acme" in html
    # Their own grants, in their own tree
    memberships = response.context["memberships"]
    assert [(m.org.name, m.permissions) for m in memberships] == [
        ("Retail", [Permission.VIEW_ENVIRONMENT.value])
    ]
    assert Permission.MANAGE_USERS.value not in html  # the neighbour's grant
    # Their own sessions and apps
    assert len(response.context["sessions"]) == 1
    assert "signed in on <strong>1 browser</strong>" in html
    assert "Expense Tracker" in html and "Neighbour Notes" not in html
    # Nobody else's profile
    for other in (neighbour, other_admin):
        assert other.username not in html
        assert other.email not in html
    assert "Grace" not in html and "Globex" not in html
    # The form holds the user's own names
    form = response.context["profile_form"]
    assert form.initial == {"first_name": "Ada", "last_name": "Lovelace"}


def test_helpful_empty_states(member):
    html = session_of(member).get(PAGE).content.decode()
    assert "You hold no role or permission yet." in html
    assert "No app uses your account." in html
    assert "No second factor yet." in html


def test_an_administrator_sees_their_role(admin):
    response = session_of(admin).get(PAGE)
    [membership] = response.context["memberships"]
    assert membership.roles == ["Organization Administrator"]
    assert b"Organization Administrator" in response.content


def test_an_account_without_a_password_is_offered_no_password_change(member):
    member.set_unusable_password()
    member.save(update_fields=["password"])
    html = session_of(member).get(PAGE).content.decode()
    assert "/auth/password/change/" not in html
    assert "None: you sign in through" in html


# -- second factors -------------------------------------------------------------------------------
def test_the_factor_summary_follows_a_totp_set_up(member):
    before = signed_in(member).get(PAGE)
    assert before.status_code == 200
    factors = before.context["factors"]
    assert not factors.totp and not factors.enrolled
    assert factors.recovery_codes_left is None
    assert b"Set up authenticator app" in before.content

    browser, totp = totp_enrolled(member)  # POST /auth/2fa/totp/activate/ with a pyotp code
    # This session signed in with the password alone: the factor first (SPEC §11), then back.
    step = browser.get(PAGE)
    assert step["Location"] == "/auth/2fa/reauthenticate/?next=%2Faccount%2F"
    back = browser.post(step["Location"], {"code": fresh_code(totp, totp.now())})
    assert back.status_code == 302 and back["Location"] == PAGE

    after = browser.get(PAGE)
    assert after.status_code == 200
    factors = after.context["factors"]
    assert factors.totp and factors.enrolled
    assert factors.security_keys == 0 and factors.passkeys == 0
    assert factors.recovery_codes_left == 10  # allauth made them with the first factor
    html = after.content.decode()
    assert "Remove authenticator app" in html and "Set up authenticator app" not in html
    assert "10 unused codes left." in html
    assert "No second factor yet." not in html


def test_security_keys_and_passkeys_are_counted_apart(member):
    from allauth.mfa.models import Authenticator

    from accounts.selectors import account_factors

    def webauthn(name: str, *, resident: bool) -> None:
        credential = {"clientExtensionResults": {"credProps": {"rk": resident}}}
        Authenticator.objects.create(
            user=member,
            type=Authenticator.Type.WEBAUTHN,
            data={"name": name, "credential": credential},
        )

    webauthn("YubiKey", resident=False)
    webauthn("Laptop", resident=True)
    webauthn("Phone", resident=True)
    other = UserFactory()
    Authenticator.objects.create(user=other, type=Authenticator.Type.TOTP, data={"secret": "-"})

    factors = account_factors(user=member)
    assert (factors.totp, factors.security_keys, factors.passkeys) == (False, 1, 2)
    assert factors.enrolled


# -- the profile form -----------------------------------------------------------------------------
def test_the_profile_form_changes_only_the_users_own_names(member, neighbour):
    before = User.objects.get(pk=member.pk)
    response = session_of(member).post(
        PROFILE,
        {
            "first_name": "  Augusta ",
            "last_name": "King",
            # Fields the form does not have are ignored, whoever they name.
            "username": "root",
            "email": "mallory@evil.example",
            "id": str(neighbour.pk),
            "organization": str(OrganizationFactory().pk),
        },
    )
    assert response.status_code == 302
    assert response["Location"] == PAGE
    member.refresh_from_db()
    assert (member.first_name, member.last_name) == ("Augusta", "King")
    assert member.username == before.username and member.email == before.email
    assert member.organization_id == before.organization_id
    assert member.password == before.password
    neighbour.refresh_from_db()
    assert (neighbour.first_name, neighbour.last_name) == ("Grace", "Hopper")

    event = AuditEvent.objects.get(action=AuditAction.USER_PROFILE_CHANGED)
    assert event.actor_user_id == member.pk and event.target_id == str(member.pk)
    assert event.organization_id == member.organization_id
    assert event.details == {
        "before": {"first_name": "Ada", "last_name": "Lovelace"},
        "after": {"first_name": "Augusta", "last_name": "King"},
    }


def test_the_saved_names_show_on_the_page(member):
    browser = session_of(member)
    page = browser.post(PROFILE, {"first_name": "Augusta", "last_name": "King"}, follow=True)
    assert page.status_code == 200
    html = page.content.decode()
    assert "Your name is saved." in html
    assert "<h1>Augusta King</h1>" in html


@pytest.mark.parametrize(
    ("first_name", "message"),
    [("A" * 151, "at most 150 characters"), ("Ada\x07", NAME_INVALID)],
)
def test_bad_input_is_a_400_form_that_keeps_what_was_typed(member, first_name, message):
    browser = session_of(member)
    response = browser.post(PROFILE, {"first_name": first_name, "last_name": "Byron-King"})
    assert response.status_code == 400
    form = response.context["profile_form"]
    assert message in form.errors["first_name"][0]
    html = response.content.decode()
    assert 'value="Byron-King"' in html  # the other field, as typed
    assert "field-invalid" in html
    member.refresh_from_db()
    assert (member.first_name, member.last_name) == ("Ada", "Lovelace")
    assert not AuditEvent.objects.filter(action=AuditAction.USER_PROFILE_CHANGED).exists()
    # The rest of the page is all there.
    assert response.context["factors"] is not None and "sessions" in response.context


def test_the_profile_url_takes_only_posts(member):
    assert session_of(member).get(PROFILE).status_code == 405


def test_the_profile_post_needs_the_csrf_token(member):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(member)
    refused = browser.post(PROFILE, {"first_name": "Eve", "last_name": "X"})
    assert refused.status_code == 403
    member.refresh_from_db()
    assert member.first_name == "Ada"

    assert browser.get(PAGE).status_code == 200  # sets the CSRF cookie
    token = browser.cookies[settings.CSRF_COOKIE_NAME].value
    done = browser.post(
        PROFILE, {"first_name": "Eve", "last_name": "X", "csrfmiddlewaretoken": token}
    )
    assert done.status_code == 302
    member.refresh_from_db()
    assert member.first_name == "Eve"


# -- links ----------------------------------------------------------------------------------------
def test_the_page_links_to_every_page_that_manages_the_account(member):
    html = session_of(member).get(PAGE).content.decode()
    for href in (
        "/auth/password/change/",
        "/auth/email/",
        "/auth/2fa/",
        "/auth/2fa/totp/activate/",
        "/auth/2fa/webauthn/add/",
        "/account/sessions/",
        "/account/sessions/end-all",
        "/my-apps/",
    ):
        assert f'href="{href}"' in html, href
    assert 'action="/account/profile"' in html


def test_sign_out_everywhere_goes_to_the_confirmation(member):
    browser = session_of(member)
    confirm = browser.get("/account/sessions/end-all")
    assert confirm.status_code == 200
    assert b"Sign out everywhere?" in confirm.content
    assert browser.get(PAGE).status_code == 200  # still signed in: nothing ended on GET


def test_the_navigation_leads_to_the_page(member):
    # The playground links to no account page of its own (/ sends a member without
    # permissions to My apps, which does).
    html = session_of(member).get("/developer/playground").content.decode()
    assert html.count('href="/account/"') == 2  # the user menu and the side navigation
    current = session_of(member).get(PAGE).content.decode()
    assert 'href="/account/" aria-current="page">Account</a>' in current


def test_allauths_account_pages_link_back_to_it(member):
    browser = session_of(member)
    for url in ("/auth/password/change/", "/auth/email/", "/auth/2fa/"):
        response = browser.get(url)
        assert response.status_code == 200, url
        assert b'aria-label="Breadcrumb"' in response.content, url
        assert b'href="/account/"' in response.content, url
    sign_out = browser.get("/auth/logout/")
    assert b'aria-label="Breadcrumb"' not in sign_out.content


def test_allauths_account_pages_are_portal_pages(member):
    """Inside the portal's layout, with Account current in the side navigation (not the
    entrance card of the sign-in pages); their headings in the portal's sentence case and
    their buttons in a row, not a bulleted list."""
    browser = session_of(member)
    for url in ("/auth/password/change/", "/auth/email/", "/auth/2fa/", "/auth/reauthenticate/"):
        html = browser.get(url).content.decode()
        assert '<body class="portal">' in html, url
        assert 'id="sidenav"' in html, url
        assert 'href="/account/" aria-current="page">Account</a>' in html, url
    two_factor = browser.get("/auth/2fa/").content.decode()
    for heading in ("Two-factor authentication", "Authenticator app", "Recovery codes"):
        assert f">{heading}</h" in two_factor, heading
    main = two_factor.split('<main id="main"')[1]
    # The breadcrumb above the heading is an ordered list; the page's own content has no list.
    main = re.sub(r'<nav aria-label="Breadcrumb".*?</nav>', "", main, count=1, flags=re.S)
    assert "<li>" not in main
    assert ">Confirm access</h1>" in browser.get("/auth/reauthenticate/").content.decode()
    sign_out = browser.get("/auth/logout/").content.decode()
    assert '<body class="entrance">' in sign_out and 'class="entrance-card' in sign_out
