"""Red-team review of 94378fb (remembered consent: `consent_facts` + `code_issue`, the app from
this worker's memo), b628ec6 (the signed-in user read with the session row:
`SessionUserMiddleware`) and d131cb2 (introspection's one `GenerationRead`).

Every attack goes over HTTP (Django's test client, or the production WSGI application for
introspection) against a worker whose memos are warm, and changes what the memo remembers
behind its back (a queryset `.update()`, no service, no signal), as an administrator in psql
or a concurrent request would.
"""

from __future__ import annotations

import json
import threading
from datetime import timedelta
from urllib.parse import urlencode, urlsplit

import pytest
from asgiref.sync import async_to_sync
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.db import connections
from django.test import Client, RequestFactory
from django.utils import timezone

from accounts.access import Access
from accounts.models import PortalSession, User
from accounts.sessions import SessionStore, SessionUserMiddleware, session_key_digest
from connected_apps import controls
from connected_apps.models import (
    AllowlistEntry,
    AppScope,
    Authorization,
    ConnectedApp,
    OrgAppSettings,
)
from oauth import principal_cache
from oauth.models import Grant
from oauth.services import authorization_grant
from tests.factories import DEFAULT_PASSWORD
from tests.oauth.code_flow import (
    AUTHORIZE_URL,
    REDIRECT_URI,
    authorize_query,
    consent_form,
    pkce_pair,
    redeem_code,
    redirect_params,
)
from tests.oauth.tokenkit import (
    INTROSPECT_URL,
    PROFILE_URL,
    basic,
    isolated_throttle,  # noqa: F401 (autouse fixture)
    post_form,
    sha256,
)
from tests.wsgi_kit import call

pytestmark = pytest.mark.django_db(transaction=True)

CONSENTED = ["openid", "profile", "email"]
FOREIGN_SCOPES = ["openid", "profile", "email", "offline_access", "view:environment"]
SIGN_IN_PATH = "/auth/login/"
LOGOUT_PATH = "/auth/logout/"
CHANGE_PATH = "/auth/password/change/"
NEW_PASSWORD = "a-fresh-Passphrase-for-2025"


# -- fixtures and helpers ------------------------------------------------------------------------
@pytest.fixture
def browser(member) -> Client:
    client = Client()
    client.force_login(member)
    return client


@pytest.fixture
def consented(member, code_app):
    """`member` remembers consent to `code_app` for CONSENTED."""
    return authorization_grant(user=member, app=code_app.app, scopes=CONSENTED)


@pytest.fixture
def foreign_app(make_app, other_admin):
    """A third-party app: owned by another tenant, open to everyone."""
    return make_app(
        actor=other_admin,
        client_name="Third Party",
        audience="everyone",
        grant_types=["authorization_code", "refresh_token"],
        scopes=FOREIGN_SCOPES,
    )


def authorize(client: Client, app, **overrides):
    verifier, challenge = pkce_pair()
    response = client.get(AUTHORIZE_URL, authorize_query(app, challenge=challenge, **overrides))
    response.verifier = verifier
    response.challenge = challenge
    return response


def warm_code(client: Client, app, **overrides) -> dict:
    """An authorization with remembered consent: a code at once, and this worker now
    remembers the app (oauth.engine.clients' memo)."""
    response = authorize(client, app, **overrides)
    params = redirect_params(response)
    assert "code" in params, params
    assert principal_cache.app_facts.recent(app.client_id) is not None
    return params


def assert_no_code(response, error: str | None = None) -> None:
    """No code anywhere: not in a redirect, not stored beyond what was there before."""
    if response.status_code == 302:
        params = redirect_params(response)
        assert "code" not in params, params
        if error is not None:
            assert params.get("error") == error, params
    elif error is not None:
        assert response.status_code == 400 or error == "screen", response.status_code


def codes() -> int:
    return Grant.objects.count()


# == 1. A stale memo at /authorize ===============================================================
def test_warm_memo_then_app_disabled_by_update_yields_no_code(browser, code_app, consented):
    warm_code(browser, code_app.app)
    before = codes()
    ConnectedApp.objects.filter(pk=code_app.app.pk).update(enabled=False)
    response = authorize(browser, code_app.app)
    assert_no_code(response, "access_denied")
    assert codes() == before


def test_warm_memo_then_redirect_uri_replaced_by_update_yields_no_code(
    browser, code_app, consented
):
    warm_code(browser, code_app.app)
    before = codes()
    ConnectedApp.objects.filter(pk=code_app.app.pk).update(
        redirect_uris="https://elsewhere.example/cb"
    )
    response = authorize(browser, code_app.app)
    assert response.status_code == 400  # an untrusted redirect URI: never redirected to
    assert "Location" not in response
    assert codes() == before


def test_warm_memo_then_app_deleted_yields_no_code(browser, code_app, consented):
    warm_code(browser, code_app.app)
    Authorization.objects.all().delete()
    ConnectedApp.objects.filter(pk=code_app.app.pk).delete()
    response = authorize(browser, code_app.app)
    assert response.status_code == 400
    assert not Grant.objects.exists()


def test_warm_memo_then_audience_made_internal_yields_no_code(
    make_app, other_admin, member, foreign_app
):
    """A foreign `everyone` app made `internal` (its owner's members only) by an update."""
    authorization_grant(user=member, app=foreign_app.app, scopes=CONSENTED)
    client = Client()
    client.force_login(member)
    warm_code(client, foreign_app.app)
    before = codes()
    ConnectedApp.objects.filter(pk=foreign_app.app.pk).update(audience="internal")
    assert_no_code(authorize(client, foreign_app.app), "access_denied")
    assert codes() == before


def test_warm_memo_then_scope_removed_from_app_yields_no_code_for_it(browser, code_app, consented):
    warm_code(browser, code_app.app)
    before = codes()
    AppScope.objects.filter(app=code_app.app, scope="email").delete()
    assert_no_code(authorize(browser, code_app.app, scope="openid email"), "invalid_scope")
    assert codes() == before


def test_warm_memo_then_consent_revoked_by_update_shows_the_screen(browser, code_app, consented):
    warm_code(browser, code_app.app)
    before = codes()
    Authorization.objects.filter(pk=consented.pk).update(revoked_at=timezone.now())
    response = authorize(browser, code_app.app)
    assert response.status_code == 200 and response.context["form"] is not None
    assert codes() == before
    none = authorize(browser, code_app.app, prompt="none")
    assert_no_code(none, "consent_required")
    assert codes() == before


def test_warm_memo_then_consent_reset_by_update_shows_the_screen(browser, code_app, consented):
    """A redirect URI or grant type added (consent_reset_at) after the consent was given."""
    warm_code(browser, code_app.app)
    before = codes()
    ConnectedApp.objects.filter(pk=code_app.app.pk).update(
        consent_reset_at=timezone.now() + timedelta(seconds=1)
    )
    response = authorize(browser, code_app.app)
    assert response.status_code == 200
    assert_no_code(authorize(browser, code_app.app, prompt="none"), "consent_required")
    assert codes() == before


def test_warm_memo_then_org_switches_connected_apps_off_yields_no_code(
    browser, code_app, consented, org
):
    warm_code(browser, code_app.app)
    before = codes()
    OrgAppSettings.objects.create(organization=org, enabled=False)
    assert_no_code(authorize(browser, code_app.app), "access_denied")
    assert_no_code(authorize(browser, code_app.app, prompt="none"), "access_denied")
    assert codes() == before


def test_warm_memo_then_allowlist_narrowed_or_emptied_yields_no_code(
    admin, org, member, foreign_app
):
    authorization_grant(user=member, app=foreign_app.app, scopes=CONSENTED)
    controls.org_settings_update(access=Access(user=admin), org=org, allowlist_enabled=True)
    controls.allowlist_approve(
        access=Access(user=admin), org=org, client_id=foreign_app.app.client_id
    )
    client = Client()
    client.force_login(member)
    warm_code(client, foreign_app.app)
    before = codes()
    AllowlistEntry.objects.filter(organization=org).update(approved_scopes=["openid"])
    assert_no_code(authorize(client, foreign_app.app), "access_denied")
    AllowlistEntry.objects.filter(organization=org).delete()
    assert_no_code(authorize(client, foreign_app.app, scope="openid"), "access_denied")
    assert codes() == before


def test_warm_memo_then_user_moved_to_another_org_is_refused_an_internal_app(
    browser, code_app, consented, member, other_org
):
    warm_code(browser, code_app.app)
    before = codes()
    User.objects.filter(pk=member.pk).update(organization=other_org)
    assert_no_code(authorize(browser, code_app.app), "access_denied")
    assert codes() == before


# == 2. What a remembered-consent code carries ====================================================
def test_the_remembered_code_carries_exactly_the_request(browser, code_app, consented, member):
    claims = {"userinfo": {"email": {"essential": True}}}
    response = authorize(
        browser,
        code_app.app,
        scope="openid email",
        nonce="n-0S6_WzA2Mj",
        claims=json.dumps(claims),
        resource="https://api.example/orders",
    )
    params = redirect_params(response)
    assert set(params) == {"code", "state", "iss"}
    assert params["state"] == "state-123"
    assert params["iss"] == settings.DOORMAN_ISSUER
    assert response["Location"].startswith(REDIRECT_URI + "?")
    grant = Grant.objects.get()
    assert grant.user_id == member.pk
    assert grant.application_id == code_app.app.pk
    assert grant.code == sha256(params["code"])  # its digest, never the code
    assert grant.scope.split() == ["openid", "email"]
    assert grant.redirect_uri == REDIRECT_URI
    assert grant.nonce == "n-0S6_WzA2Mj"
    assert grant.code_challenge == response.challenge
    assert grant.code_challenge_method == "S256"
    assert json.loads(grant.claims) == claims
    assert grant.resource == ["https://api.example/orders"]
    assert grant.used_at is None and grant.token_family is None
    lifetime = grant.expires - timezone.now()
    assert (
        timedelta(0)
        < lifetime
        <= timedelta(seconds=settings.OAUTH2_PROVIDER.get("AUTHORIZATION_CODE_EXPIRE_SECONDS", 60))
    )


def test_the_remembered_code_redeems_with_its_verifier_only_once(
    browser, code_app, consented, member
):
    response = authorize(browser, code_app.app, scope="openid profile", nonce="abc")
    code = redirect_params(response)["code"]
    wrong = redeem_code(Client(), code_app, code, pkce_pair()[0])
    assert wrong.status_code == 400
    good = redeem_code(Client(), code_app, code, response.verifier)
    # A failed PKCE check does not burn the code (as DOT), but the first success does.
    assert good.status_code == 200, good.content
    assert sorted(good.json()["scope"].split()) == ["openid", "profile"]
    assert redeem_code(Client(), code_app, code, response.verifier).status_code == 400


def test_scopes_beyond_the_consent_show_the_screen_and_issue_nothing(browser, code_app, consented):
    response = authorize(browser, code_app.app, scope="openid profile view:environment")
    assert response.status_code == 200
    assert not Grant.objects.exists()
    none = authorize(browser, code_app.app, scope="openid offline_access", prompt="none")
    assert_no_code(none, "consent_required")
    assert not Grant.objects.exists()


def test_scopes_the_app_does_not_hold_are_refused_even_when_consented(browser, code_app, member):
    """A consent row that names more than the app holds (the app lost a scope since, or the
    row was written by hand) never widens a code beyond the app's current scopes."""
    Authorization.objects.create(
        user=member, app=code_app.app, scopes=[*CONSENTED, "read:organization", "full"]
    )
    for scope in ("openid read:organization", "full"):
        assert_no_code(authorize(browser, code_app.app, scope=scope), "invalid_scope")
    assert not Grant.objects.exists()


def test_no_scope_parameter_gets_the_apps_defaults_only_when_all_consented(
    browser, code_app, member
):
    Authorization.objects.create(user=member, app=code_app.app, scopes=CONSENTED)
    # Defaults are the app's scopes but openid/offline_access: profile, email, view:environment.
    response = authorize(browser, code_app.app, scope=None)
    assert response.status_code == 200  # view:environment was never consented
    assert not Grant.objects.exists()
    Authorization.objects.update(scopes=[*CONSENTED, "view:environment"])
    params = redirect_params(authorize(browser, code_app.app, scope=None))
    assert "code" in params
    assert sorted(Grant.objects.get().scope.split()) == ["email", "profile", "view:environment"]


@pytest.mark.parametrize("prompt", ["consent", "login", "consent none", "create login"])
def test_prompts_that_ask_for_ui_never_skip_it(browser, code_app, consented, prompt):
    response = authorize(browser, code_app.app, prompt=prompt)
    if "none" in prompt.split():
        assert_no_code(response, "invalid_request")
    elif prompt == "login":
        assert response.status_code == 302
        assert urlsplit(response["Location"]).path != urlsplit(REDIRECT_URI).path
        assert "code=" not in response["Location"]
    elif prompt == "consent":
        assert response.status_code == 200
    else:  # prompt=create: DOT's handling (no registration page here), never a code
        assert "code=" not in response.get("Location", "")
    assert not Grant.objects.exists()


def test_prompt_none_for_an_anonymous_user_is_login_required(code_app, consented):
    response = authorize(Client(), code_app.app, prompt="none")
    assert_no_code(response, "login_required")
    assert not Grant.objects.exists()


def test_an_anonymous_user_with_remembered_consent_is_sent_to_sign_in(code_app, consented):
    response = authorize(Client(), code_app.app)
    assert response.status_code == 302
    assert (
        urlsplit(response["Location"]).path == settings.LOGIN_URL
        or "login" in (response["Location"])
    )
    assert not Grant.objects.exists()


def test_an_inactive_user_gets_no_code_from_a_remembered_consent(
    browser, code_app, consented, member
):
    warm_code(browser, code_app.app)
    before = codes()
    User.objects.filter(pk=member.pk).update(is_active=False)
    response = authorize(browser, code_app.app)
    assert response.status_code == 302
    assert "code=" not in response["Location"]
    assert codes() == before
    assert_no_code(authorize(browser, code_app.app, prompt="none"), "login_required")
    assert codes() == before


def test_a_malformed_claims_parameter_stores_nothing(browser, code_app, consented):
    response = authorize(browser, code_app.app, claims="{not json")
    assert_no_code(response)
    assert not Grant.objects.exists()


def test_the_consent_screen_allow_stores_what_was_posted_for_the_signed_in_user(
    browser, code_app, member, admin
):
    """Allow (oauthlib → save_authorization_code → code_store): the code is the signed-in
    user's, whatever the form says, and only for scopes the app holds."""
    _, challenge = pkce_pair()
    query = authorize_query(code_app.app, challenge=challenge, scope="openid profile")
    page = browser.get(AUTHORIZE_URL, query)
    assert page.status_code == 200
    form = consent_form(page)
    widened = browser.post(
        f"{AUTHORIZE_URL}?{urlencode(query)}",
        {**form, "scope": "openid profile full", "allow": "true"},
    )
    assert_no_code(widened)
    assert not Grant.objects.exists()
    allowed = browser.post(f"{AUTHORIZE_URL}?{urlencode(query)}", {**form, "allow": "true"})
    params = redirect_params(allowed)
    grant = Grant.objects.get()
    assert grant.user_id == member.pk and grant.code == sha256(params["code"])
    assert grant.scope == "openid profile"
    assert grant.code_challenge == challenge


# == 3. Sessions: who a session signs in ==========================================================
def session_client(data: dict, *, user_column=None) -> Client:
    """A browser holding the cookie of a session stored with `data` (its row's user column
    forced to `user_column` when given)."""
    store = SessionStore()
    store.update(data)
    store.save()
    if user_column is not None:
        PortalSession.objects.filter(session_key=session_key_digest(store.session_key)).update(
            user_id=user_column
        )
    client = Client()
    client.cookies[settings.SESSION_COOKIE_NAME] = store.session_key
    return client


def auth_data(user: User, *, hash_of: User | None = None, backend: str | None = None) -> dict:
    hash_user = hash_of or user
    return {
        SESSION_KEY: str(user.pk),
        BACKEND_SESSION_KEY: backend or settings.AUTHENTICATION_BACKENDS[0],
        HASH_SESSION_KEY: hash_user.get_session_auth_hash(),
    }


def signed_in_as(client: Client) -> str | None:
    response = client.get(PROFILE_URL)
    if response.status_code != 200:
        return None
    return response.json()["username"]


def test_a_well_formed_session_signs_in_its_user(member):
    assert signed_in_as(session_client(auth_data(member))) == member.username


@pytest.mark.parametrize("backend", settings.AUTHENTICATION_BACKENDS)
def test_either_configured_backend_signs_in(member, backend):
    assert signed_in_as(session_client(auth_data(member, backend=backend))) == member.username


def test_a_session_naming_an_unconfigured_backend_signs_in_nobody(member):
    data = auth_data(member, backend="django.contrib.auth.backends.AllowAllUsersModelBackend")
    assert signed_in_as(session_client(data)) is None


def test_a_session_without_a_password_hash_signs_in_nobody_and_is_flushed(admin):
    data = auth_data(admin)
    del data[HASH_SESSION_KEY]
    client = session_client(data, user_column=admin.pk)
    assert signed_in_as(client) is None
    assert not PortalSession.objects.filter(user=admin).exists()


def test_another_users_hash_does_not_sign_in_the_named_user(member, admin):
    """Data naming the admin with the member's (valid) hash, its row naming the admin too."""
    client = session_client(auth_data(admin, hash_of=member), user_column=admin.pk)
    assert signed_in_as(client) is None
    assert not PortalSession.objects.filter(user=admin).exists()


def test_a_row_column_pointing_at_the_admin_does_not_sign_in_the_admin(member, admin):
    """The row is read with the user its column names: the data's user still decides, and
    that user's own hash is checked against that user."""
    client = session_client(auth_data(member), user_column=admin.pk)
    assert signed_in_as(client) == member.username


def test_a_row_column_naming_a_deleted_user_falls_back_to_the_data(member):
    import uuid

    client = session_client(auth_data(member), user_column=uuid.uuid4())
    assert signed_in_as(client) == member.username


def test_a_session_naming_a_user_that_does_not_exist_signs_in_nobody(member):
    import uuid

    data = auth_data(member)
    ghost = uuid.uuid4()
    data[SESSION_KEY] = str(ghost)
    assert signed_in_as(session_client(data, user_column=ghost)) is None


def test_an_expired_row_signs_in_nobody(member):
    client = session_client(auth_data(member))
    PortalSession.objects.update(expire_date=timezone.now() - timedelta(seconds=1))
    assert signed_in_as(client) is None


def test_a_flushed_session_signs_in_nobody_even_with_its_old_cookie(member):
    client = Client()
    client.force_login(member)
    old_key = client.cookies[settings.SESSION_COOKIE_NAME].value
    assert signed_in_as(client) == member.username
    assert client.post(LOGOUT_PATH).status_code in (200, 302)
    assert not PortalSession.objects.filter(session_key=session_key_digest(old_key)).exists()
    replay = Client()
    replay.cookies[settings.SESSION_COOKIE_NAME] = old_key
    assert signed_in_as(replay) is None


def test_a_deactivated_user_is_signed_out_but_the_session_is_kept(member):
    """As Django: an inactive user is anonymous; the row stays (reactivation signs back in)."""
    client = session_client(auth_data(member))
    User.objects.filter(pk=member.pk).update(is_active=False)
    assert signed_in_as(client) is None
    User.objects.filter(pk=member.pk).update(is_active=True)
    assert signed_in_as(client) == member.username


def test_a_session_signed_with_a_fallback_secret_is_kept_and_rehashed(member, settings):
    """SECRET_KEY rotated: a session hashed under the fallback key is signed in, its key
    cycled and its hash updated (Django's get_user)."""
    old_hash = member.get_session_auth_hash()
    data = auth_data(member)
    client = session_client(data)
    old_key = client.cookies[settings.SESSION_COOKIE_NAME].value
    settings.SECRET_KEY_FALLBACKS = [settings.SECRET_KEY]
    settings.SECRET_KEY = "a-new-secret-key-" + "x" * 50
    # The stored session data is signed with the old key: Django's session decoding uses
    # SECRET_KEY_FALLBACKS too.
    assert member.get_session_auth_hash() != old_hash
    assert signed_in_as(client) == member.username
    new_key = client.cookies[settings.SESSION_COOKIE_NAME].value
    assert new_key != old_key
    assert not PortalSession.objects.filter(session_key=session_key_digest(old_key)).exists()
    row = PortalSession.objects.get(session_key=session_key_digest(new_key))
    assert row.get_decoded()[HASH_SESSION_KEY] == member.get_session_auth_hash()


def test_the_async_user_follows_the_same_rules(member, admin):
    """`request.auser()` (Django's aget_user, on the store's async methods)."""

    def arequest(data, user_column=None):
        client = session_client(data, user_column=user_column)
        request = RequestFactory().get("/")
        request.session = SessionStore(client.cookies[settings.SESSION_COOKIE_NAME].value)
        SessionUserMiddleware(lambda r: None).process_request(request)
        return request

    assert awaited(arequest(auth_data(member)).auser).pk == member.pk
    forged = arequest(auth_data(admin, hash_of=member), user_column=admin.pk)
    assert not awaited(forged.auser).is_authenticated
    User.objects.filter(pk=member.pk).update(is_active=False)
    assert not awaited(arequest(auth_data(member)).auser).is_authenticated


def awaited(coroutine_function):
    """`async_to_sync(coroutine_function)()` in a thread of its own: the browser tests leave
    an event loop running in the test thread (Playwright's), where async_to_sync refuses to
    run. The thread's own database connection is closed after it."""
    answer = {}

    def run() -> None:
        try:
            answer["value"] = async_to_sync(coroutine_function)()
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    return answer["value"]


def portal_login(username: str) -> Client:
    client = Client()
    page = client.get(SIGN_IN_PATH)
    assert page.status_code == 200
    response = client.post(SIGN_IN_PATH, {"login": username, "password": DEFAULT_PASSWORD})
    assert response.status_code == 302, response.status_code
    return client


def test_allauth_login_logout_and_password_change_over_http(member):
    mine = portal_login(member.username)
    other = portal_login(member.username)
    assert signed_in_as(mine) == signed_in_as(other) == member.username
    changed = mine.post(
        CHANGE_PATH,
        {"oldpassword": DEFAULT_PASSWORD, "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
    )
    assert changed.status_code == 302, changed.status_code
    assert signed_in_as(mine) == member.username  # the changing session stays signed in
    assert signed_in_as(other) is None  # every other one is out
    assert mine.post(LOGOUT_PATH).status_code == 302
    assert signed_in_as(mine) is None


def test_a_session_does_not_outlive_a_password_change_made_in_the_same_process(member):
    """Sign in, warm everything, then change the password behind the session's back (a raw
    update, no signal): the next request is anonymous and the row is gone."""
    client = portal_login(member.username)
    assert signed_in_as(client) == member.username
    user = User.objects.get(pk=member.pk)
    user.set_password(NEW_PASSWORD)
    User.objects.filter(pk=member.pk).update(password=user.password)
    assert signed_in_as(client) is None
    assert not PortalSession.objects.filter(user=member).exists()


def test_a_session_signs_in_nobody_at_authorize_after_a_password_change(
    code_app, consented, member
):
    client = portal_login(member.username)
    warm_code(client, code_app.app)
    before = codes()
    user = User.objects.get(pk=member.pk)
    user.set_password(NEW_PASSWORD)
    User.objects.filter(pk=member.pk).update(password=user.password)
    assert_no_code(authorize(client, code_app.app, prompt="none"), "login_required")
    assert codes() == before


# == 4. Introspection with warm memos ==============================================================
@pytest.fixture
def password_app(make_app):
    return make_app(
        client_name="Password App",
        grant_types=["password", "refresh_token"],
        redirect_uris=[],
        scopes=["profile", "email"],
    )


@pytest.fixture
def foreign_client(make_app, other_admin):
    """A confidential client of another tenant, allowed to introspect."""
    return make_app(
        actor=other_admin,
        client_name="Globex Robot",
        grant_types=["client_credentials"],
        redirect_uris=[],
        scopes=[],
    )


def password_token(app, user, scope="profile") -> str:
    response = post_form(
        {
            "grant_type": "password",
            "username": user.username,
            "password": DEFAULT_PASSWORD,
            "scope": scope,
        },
        HTTP_AUTHORIZATION=basic(app.app.client_id, app.client_secret),
    )
    assert response.status_code == 200, response.content
    return response.json()["access_token"]


def introspect(front: str, app, token: str, secret: str | None = None):
    auth = basic(app.app.client_id, secret or app.client_secret)
    if front == "wsgi":
        return call(urlencode({"token": token}), PATH_INFO=INTROSPECT_URL, HTTP_AUTHORIZATION=auth)
    return post_form({"token": token}, url=INTROSPECT_URL, HTTP_AUTHORIZATION=auth)


FRONTS = ["wsgi", "view"]


def warm_introspection(front, app, token):
    for _ in range(2):
        response = introspect(front, app, token)
        assert response.status_code == 200
        assert response.json()["active"] is True
    assert principal_cache.app_facts.recent(app.app.client_id) is not None
    assert principal_cache.principals.recent(sha256(token)) is not None


@pytest.mark.parametrize("front", FRONTS)
def test_a_warm_token_is_not_shown_to_another_tenants_client(
    front, password_app, foreign_client, member
):
    token = password_token(password_app, member)
    warm_introspection(front, password_app, token)
    # The other tenant's client: warm too (its own memo), then asks about our token.
    for _ in range(2):
        response = introspect(front, foreign_client, token)
        assert response.status_code == 200
        assert response.json() == {"active": False}


@pytest.mark.parametrize("front", FRONTS)
@pytest.mark.parametrize(
    "change",
    ["user deactivated", "org switched off", "app loses the token's scope", "token expired"],
)
def test_a_warm_token_goes_inactive_on_any_change_behind_its_back(
    front, change, password_app, member, org
):
    token = password_token(password_app, member)
    warm_introspection(front, password_app, token)
    if change == "user deactivated":
        User.objects.filter(pk=member.pk).update(is_active=False)
    elif change == "org switched off":
        OrgAppSettings.objects.create(organization=org, enabled=False)
    elif change == "app loses the token's scope":
        AppScope.objects.filter(app=password_app.app, scope="profile").delete()
    else:
        from oauth.models import AccessToken

        AccessToken.objects.filter(token_checksum=sha256(token)).update(
            expires=timezone.now() - timedelta(seconds=1)
        )
    response = introspect(front, password_app, token)
    assert response.status_code == 200
    assert response.json() == {"active": False}


@pytest.mark.parametrize("front", FRONTS)
def test_a_warm_client_with_a_wrong_secret_is_refused(front, password_app, member):
    token = password_token(password_app, member)
    warm_introspection(front, password_app, token)
    response = introspect(front, password_app, token, secret="not-the-secret")
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


@pytest.mark.parametrize("front", FRONTS)
def test_a_warm_internal_app_moved_to_another_tenant_stops_its_users_tokens(
    front, password_app, member, other_org
):
    """The app (internal) now belongs to another tenant, by an update: its former tenant's
    user may no longer use it, so the token is inactive even to the app itself."""
    token = password_token(password_app, member)
    warm_introspection(front, password_app, token)
    ConnectedApp.objects.filter(pk=password_app.app.pk).update(
        root_org=other_org, owner_org=other_org
    )
    response = introspect(front, password_app, token)
    assert response.status_code == 200
    assert response.json() == {"active": False}


# == 5. A consent revoked while a remembered-consent code is being issued =========================
def test_a_consent_revoked_after_the_authorize_read_leaves_no_redeemable_code(
    monkeypatch, browser, code_app, consented, member
):
    """Found by review. The remembered path reads the live consent (`consent_facts`) and
    later INSERTs the code; a revocation that commits in between (the user clicks Revoke
    while the app keeps sending them through /authorize, e.g. prompt=none) sweeps the codes
    that exist *then*, and the code inserted a moment later survived it: redemption looked
    at audience, deactivation and org controls only, so the app got fresh tokens after the
    user revoked it. Redemption now requires the live consent, covering the code's scopes.
    Simulated deterministically: the revocation runs just before the INSERT."""
    from oauth.services import authorization_revoke
    from oauth.views.authorize import view as authorize_view

    real_issue = authorize_view.code_issue

    def revoked_then_issued(**grant):
        authorization_revoke(actor=member, authorization=consented)
        return real_issue(**grant)

    authorization_grant(user=member, app=code_app.app, scopes=["offline_access"])
    monkeypatch.setattr(authorize_view, "code_issue", revoked_then_issued)
    response = authorize(browser, code_app.app, scope="openid profile offline_access")
    assert Authorization.objects.get(pk=consented.pk).revoked_at is not None
    params = redirect_params(response)
    if "code" not in params:
        return  # refused: what the fix would do
    redeemed = redeem_code(Client(), code_app, params["code"], response.verifier)
    assert redeemed.status_code == 400, redeemed.json()
    assert redeemed.json()["error"] == "invalid_grant"


def test_a_consent_revoked_after_the_code_was_issued_kills_the_code(
    browser, code_app, consented, member
):
    from oauth.services import authorization_revoke

    response = authorize(browser, code_app.app)
    code = redirect_params(response)["code"]
    authorization_revoke(actor=member, authorization=consented)
    redeemed = redeem_code(Client(), code_app, code, response.verifier)
    assert redeemed.status_code == 400
    assert redeemed.json()["error"] == "invalid_grant"
