"""The Authorize App consent screen (SPEC §8): what it shows, Allow, Deny, remembered consent,
and the hidden form fields a user could tamper with."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse

from accounts.access import Access
from audit.models import AuditAction, AuditEvent
from connected_apps.models import Authorization
from connected_apps.services import connected_app_update
from oauth.models import Grant
from oauth.services import authorization_grant, authorization_revoke
from oauth.views import authorize as authorize_view
from tests.factories import OrganizationFactory
from tests.oauth.code_flow import (
    REDIRECT_URI,
    authorize_url,
    consent_form,
    pkce_pair,
    redirect_params,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def challenge():
    return pkce_pair()[1]


@pytest.fixture
def signed_in(member):
    client = Client()
    client.force_login(member)
    return client


@pytest.fixture
def website_app(make_app, org):
    retail = OrganizationFactory(name="Retail", parent=org)
    return make_app(
        client_name="Expense Tracker",
        owner=retail,
        website_url="https://tracker.example/about",
        scopes=["openid", "profile", "email", "offline_access", "view:environment"],
    )


def open_screen(client, app, challenge, **overrides):
    response = client.get(authorize_url(app, challenge=challenge, **overrides))
    assert response.status_code == 200, response.get("Location")
    return response


def post_consent(client, app, challenge, screen, *, allow: bool, **changes):
    data = {**consent_form(screen), **changes}
    if allow:
        data["allow"] = "true"
    return client.post(authorize_url(app, challenge=challenge), data)


# -- what the screen shows -------------------------------------------------------------------
def test_the_screen_names_the_app_its_website_its_owner_and_every_scope(
    signed_in, website_app, challenge
):
    response = open_screen(
        signed_in,
        website_app.app,
        challenge,
        scope="openid email view:environment offline_access",
    )
    html = response.content.decode()
    assert "<h1" in html and "Authorize App</h1>" in html
    assert "Expense Tracker" in html
    assert 'href="https://tracker.example/about"' in html
    assert 'rel="noopener noreferrer"' in html
    assert "Retail" in html and "(Acme)" in html  # owner BG and its root org
    for text in (
        "Know your username and unique id",
        "Read your email address",
        "View environments",
        "Keep access while you are not signed in",
    ):
        assert text in html
    assert "Read your profile" not in html  # not requested
    assert [item["name"] for item in response.context["scope_items"]] == [
        "openid",
        "email",
        "offline_access",
        "view:environment",
    ]
    assert "client.example" in html  # where the user will be sent


def test_the_buttons_are_exactly_allow_and_deny(signed_in, code_app, challenge):
    html = open_screen(signed_in, code_app.app, challenge).content.decode()
    allow = '<button type="submit" name="allow" value="true" class="button button-primary">Allow'
    assert allow in html
    assert '<button type="submit" class="button">Deny</button>' in html
    # Allow, Deny, "Not …? Sign in as someone else" and the top bar's Sign out
    assert html.count("<button") == 4


def test_the_form_carries_dot_allow_form_fields_and_a_csrf_token(signed_in, code_app, challenge):
    response = open_screen(signed_in, code_app.app, challenge, nonce="n-0S6_WzA2Mj")
    form = consent_form(response)
    assert form["client_id"] == code_app.app.client_id
    assert form["redirect_uri"] == REDIRECT_URI
    assert form["scope"] == "openid profile"
    assert form["state"] == "state-123"
    assert form["nonce"] == "n-0S6_WzA2Mj"
    assert form["code_challenge"] == challenge
    assert form["code_challenge_method"] == "S256"
    assert form["response_type"] == "code"
    assert 'name="csrfmiddlewaretoken"' in response.content.decode()


def test_the_screen_cannot_be_framed_or_cached(signed_in, code_app, challenge):
    response = open_screen(signed_in, code_app.app, challenge)
    assert response["X-Frame-Options"] == "DENY"
    assert response["Content-Security-Policy"] == "frame-ancestors 'none'"
    assert "no-store" in response["Cache-Control"]


def test_posting_the_form_without_a_csrf_token_is_refused(member, code_app, challenge):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(member)
    screen = open_screen(browser, code_app.app, challenge)
    response = post_consent(browser, code_app.app, challenge, screen, allow=True)
    assert response.status_code == 403
    assert not Grant.objects.exists()
    assert not Authorization.objects.exists()


def test_posting_the_form_with_the_csrf_token_works(member, code_app, challenge):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(member)
    screen = open_screen(browser, code_app.app, challenge)
    token = browser.cookies[settings.CSRF_COOKIE_NAME].value
    response = post_consent(
        browser, code_app.app, challenge, screen, allow=True, csrfmiddlewaretoken=token
    )
    assert redirect_params(response)["code"]


# -- Allow --------------------------------------------------------------------------------------
def test_allow_redirects_with_a_code_the_state_and_the_issuer(
    signed_in, member, code_app, challenge
):
    screen = open_screen(signed_in, code_app.app, challenge)
    response = post_consent(signed_in, code_app.app, challenge, screen, allow=True)
    assert response["Location"].startswith(REDIRECT_URI + "?")
    params = redirect_params(response)
    assert params["code"]
    assert params["state"] == "state-123"
    assert params["iss"] == settings.DOORMAN_ISSUER
    assert set(params) == {"code", "state", "iss"}
    assert Grant.objects.filter(user=member, application=code_app.app).count() == 1


def test_allow_records_the_consent_and_an_audit_event(signed_in, member, code_app, challenge):
    screen = open_screen(signed_in, code_app.app, challenge)
    post_consent(signed_in, code_app.app, challenge, screen, allow=True)
    authorization = Authorization.objects.get(user=member, app=code_app.app)
    assert authorization.scopes == ["openid", "profile"]
    assert authorization.revoked_at is None
    event = AuditEvent.objects.get(action=AuditAction.AUTHORIZATION_GRANTED)
    assert event.actor_user == member
    assert event.organization == member.organization
    assert event.target_id == str(authorization.pk)
    assert event.details["client_id"] == code_app.app.client_id
    assert event.details["scopes"] == ["openid", "profile"]
    assert event.user_agent == "" and event.client_ip == "127.0.0.1"


def test_the_consent_is_not_recorded_when_no_code_is_issued(signed_in, code_app, challenge):
    screen = open_screen(signed_in, code_app.app, challenge)
    response = post_consent(
        signed_in, code_app.app, challenge, screen, allow=True, scope="openid manage:users"
    )
    assert redirect_params(response)["error"] == "invalid_scope"
    assert not Authorization.objects.exists()
    assert not Grant.objects.exists()


# -- Deny ---------------------------------------------------------------------------------------
def test_deny_redirects_with_access_denied_and_the_state(signed_in, code_app, challenge):
    screen = open_screen(signed_in, code_app.app, challenge)
    response = post_consent(signed_in, code_app.app, challenge, screen, allow=False)
    assert response["Location"].startswith(REDIRECT_URI + "?")
    params = redirect_params(response)
    assert params["error"] == "access_denied"
    assert params["state"] == "state-123"
    assert params["iss"] == settings.DOORMAN_ISSUER
    assert "code" not in params
    assert not Authorization.objects.exists()
    assert not Grant.objects.exists()
    assert not AuditEvent.objects.filter(action=AuditAction.AUTHORIZATION_GRANTED).exists()


def test_deny_never_redirects_to_a_tampered_redirect_uri(signed_in, code_app, challenge):
    screen = open_screen(signed_in, code_app.app, challenge)
    response = post_consent(
        signed_in,
        code_app.app,
        challenge,
        screen,
        allow=False,
        redirect_uri="https://evil.example/",
    )
    assert response.status_code == 400
    assert "Location" not in response


# -- tampered hidden fields --------------------------------------------------------------------
def test_a_tampered_unknown_client_id_is_a_400_page(signed_in, code_app, challenge):
    screen = open_screen(signed_in, code_app.app, challenge)
    response = post_consent(
        signed_in, code_app.app, challenge, screen, allow=True, client_id="f" * 32
    )
    assert response.status_code == 400
    assert response.context["error_code"] == "invalid_client"
    assert "Location" not in response


def test_another_apps_client_id_with_this_redirect_uri_is_a_400_page(
    signed_in, code_app, make_app, challenge
):
    other = make_app(client_name="Other", redirect_uris=["https://other.example/cb"]).app
    screen = open_screen(signed_in, code_app.app, challenge)
    response = post_consent(
        signed_in, code_app.app, challenge, screen, allow=True, client_id=other.client_id
    )
    assert response.status_code == 400
    assert "Location" not in response
    assert not Authorization.objects.exists()


def test_a_tampered_redirect_uri_is_a_400_page(signed_in, code_app, challenge):
    screen = open_screen(signed_in, code_app.app, challenge)
    response = post_consent(
        signed_in,
        code_app.app,
        challenge,
        screen,
        allow=True,
        redirect_uri=REDIRECT_URI + "/",
    )
    assert response.status_code == 400
    assert response.context["error_code"] == "invalid_redirect_uri"


@pytest.mark.parametrize(
    "changes",
    [
        {"code_challenge_method": "plain"},
        {"code_challenge_method": ""},
        {"code_challenge": ""},
        {"code_challenge": "too-short"},
    ],
)
def test_a_tampered_pkce_challenge_is_invalid_request(signed_in, code_app, challenge, changes):
    screen = open_screen(signed_in, code_app.app, challenge)
    response = post_consent(signed_in, code_app.app, challenge, screen, allow=True, **changes)
    assert redirect_params(response)["error"] == "invalid_request"
    assert not Grant.objects.exists()


@pytest.mark.parametrize(
    "changes", [{"nonce": "n" * 300}, {"state": "s" * 2000}, {"code_challenge": "c" * 200}]
)
def test_over_long_form_fields_are_a_400_page(signed_in, code_app, challenge, changes):
    screen = open_screen(signed_in, code_app.app, challenge)
    response = post_consent(signed_in, code_app.app, challenge, screen, allow=True, **changes)
    assert response.status_code == 400
    assert not Grant.objects.exists()


def test_an_incomplete_form_is_a_400_page(signed_in, code_app, challenge):
    response = signed_in.post(authorize_url(code_app.app, challenge=challenge), {"allow": "true"})
    assert response.status_code == 400
    assert response.context["error_code"] == "invalid_request"


def test_the_app_disabled_while_the_screen_was_open_is_access_denied(
    signed_in, admin, code_app, challenge
):
    screen = open_screen(signed_in, code_app.app, challenge)
    connected_app_update(access=Access(user=admin), app=code_app.app, changes={"enabled": False})
    response = post_consent(signed_in, code_app.app, challenge, screen, allow=True)
    params = redirect_params(response)
    assert params["error"] == "access_denied"
    assert params["error_description"] == authorize_view.APP_DISABLED
    assert not Authorization.objects.exists()


def test_an_internal_app_refuses_an_outsider_at_post_time_too(
    other_admin, code_app, make_app, challenge
):
    client = Client()
    client.force_login(other_admin)
    everyone = make_app(client_name="Open", audience="everyone").app
    screen = open_screen(client, everyone, challenge)
    # Post the form of the open app with the internal app's client_id.
    response = post_consent(
        client, everyone, challenge, screen, allow=True, client_id=code_app.app.client_id
    )
    assert redirect_params(response)["error"] == "access_denied"


# -- remembered consent ------------------------------------------------------------------------
def test_remembered_consent_skips_the_screen(signed_in, member, code_app, challenge):
    screen = open_screen(signed_in, code_app.app, challenge)
    post_consent(signed_in, code_app.app, challenge, screen, allow=True)
    response = signed_in.get(authorize_url(code_app.app, challenge=pkce_pair()[1], state="again"))
    params = redirect_params(response)
    assert params["code"]
    assert params["state"] == "again"
    assert params["iss"] == settings.DOORMAN_ISSUER
    assert Grant.objects.filter(user=member).count() == 2
    # Only an explicit Allow is an audited grant.
    assert AuditEvent.objects.filter(action=AuditAction.AUTHORIZATION_GRANTED).count() == 1


def test_a_subset_of_the_remembered_scopes_skips_the_screen(signed_in, member, code_app, challenge):
    authorization_grant(user=member, app=code_app.app, scopes=["openid", "profile", "email"])
    response = signed_in.get(authorize_url(code_app.app, challenge=challenge, scope="email"))
    assert redirect_params(response)["code"]


def test_a_new_scope_shows_the_screen_again_and_extends_the_consent(
    signed_in, member, code_app, challenge
):
    authorization_grant(user=member, app=code_app.app, scopes=["openid", "profile"])
    screen = open_screen(signed_in, code_app.app, challenge, scope="openid email")
    items = {item["name"]: item["already_allowed"] for item in screen.context["scope_items"]}
    assert items == {"openid": True, "email": False}
    assert "already allowed" in screen.content.decode()
    post_consent(signed_in, code_app.app, challenge, screen, allow=True)
    authorization = Authorization.objects.get(user=member, app=code_app.app, revoked_at=None)
    assert authorization.scopes == ["email", "openid", "profile"]
    event = AuditEvent.objects.filter(action=AuditAction.AUTHORIZATION_GRANTED).latest("created_at")
    assert event.details["added_scopes"] == ["email"]


def test_prompt_consent_shows_the_screen_despite_consent(signed_in, member, code_app, challenge):
    authorization_grant(user=member, app=code_app.app, scopes=["openid", "profile"])
    open_screen(signed_in, code_app.app, challenge, prompt="consent")


def test_dot_approval_prompt_auto_does_not_skip_the_screen(signed_in, member, code_app, challenge):
    from tests.oauth.helpers import mint_access_token

    mint_access_token(user=member, app=code_app.app, scope="openid profile")
    open_screen(signed_in, code_app.app, challenge, approval_prompt="auto")


def test_a_revoked_consent_shows_the_screen_again(signed_in, member, code_app, challenge):
    authorization = authorization_grant(user=member, app=code_app.app, scopes=["openid", "profile"])
    authorization_revoke(actor=member, authorization=authorization)
    open_screen(signed_in, code_app.app, challenge)


def test_another_users_consent_does_not_count(signed_in, admin, code_app, challenge):
    authorization_grant(user=admin, app=code_app.app, scopes=["openid", "profile"])
    open_screen(signed_in, code_app.app, challenge)


def test_remembered_consent_does_not_survive_the_app_being_disabled(
    signed_in, member, admin, code_app, challenge
):
    authorization_grant(user=member, app=code_app.app, scopes=["openid", "profile"])
    connected_app_update(access=Access(user=admin), app=code_app.app, changes={"enabled": False})
    response = signed_in.get(authorize_url(code_app.app, challenge=challenge))
    assert redirect_params(response)["error"] == "access_denied"


def test_not_you_signs_out_and_comes_back_to_the_request_asking_who_signs_in(
    signed_in, member, code_app, challenge
):
    url = authorize_url(code_app.app, challenge=challenge)
    screen = open_screen(signed_in, code_app.app, challenge).content.decode()
    assert f"Not {member.username}? Sign in as someone else" in screen
    signed_out = signed_in.post(reverse("account_logout"), {"next": url})
    assert signed_out.status_code == 302 and signed_out["Location"] == url
    again = signed_in.get(url)
    assert again.status_code == 302 and again["Location"].startswith(reverse("account_login"))
