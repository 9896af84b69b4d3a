"""Revocation bites everywhere at once (SPEC §10; issue 12 item 5).

The attacker holds a stolen token pair; the victim (or the app, or an admin) revokes one of
them. Every access and refresh token of that family, of every grant, must stop working on the
next request, in introspection and on every worker — including a worker that had already
resolved the access token and remembers it (each test calls the API first, so this process's
memory of the token is warm when the revocation lands).
"""

from __future__ import annotations

import pytest
from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.requests_client import AssertionSession, OAuth2Session
from joserfc.jwk import RSAKey

from tests.factories import DEFAULT_PASSWORD, IdentityProviderFactory
from tests.oauth.tokenkit import JWT_BEARER, private_pem, public_pem, rsa_key

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def password_app(make_app):
    return make_app(
        client_name="Password App",
        grant_types=["password", "refresh_token"],
        redirect_uris=[],
        scopes=["openid", "profile", "view:environment"],
    )


@pytest.fixture
def web(http):
    """The requests session the checks (API calls, introspection, revocation) go through."""
    return http()


@pytest.fixture
def kept():
    """Authlib sessions to close after the test (a kept-alive connection would hold its
    live-server thread and that thread's database connection)."""
    sessions = []
    yield sessions.append
    for session in sessions:
        session.close()


@pytest.fixture(scope="module")
def key():
    return rsa_key()


@pytest.fixture
def jwt_app(make_app, key):
    return make_app(
        client_name="Federation",
        grant_types=[JWT_BEARER],
        redirect_uris=[],
        public_keys=[public_pem(key)],
        scopes=["openid", "profile", "email"],
    )


def password_session(kept, urls, app, user) -> tuple[OAuth2Session, dict]:
    session = OAuth2Session(app.app.client_id, app.client_secret, scope="profile")
    kept(session)
    token = session.fetch_token(urls["token"], username=user.username, password=DEFAULT_PASSWORD)
    return session, token


def client_post(web, url: str, app, **data):
    """A request authenticated as `app` (client_secret_post), as its backend would send it."""
    body = {"client_id": app.app.client_id, "client_secret": app.client_secret, **data}
    return web.post(url, data=body, timeout=10)


def profile_status(web, urls, access_token: str):
    return web.get(urls["profile"], headers={"Authorization": f"Bearer {access_token}"}, timeout=10)


def active(web, urls, app, token: str) -> bool:
    response = client_post(web, urls["introspect"], app, token=token)
    assert response.status_code == 200, response.text
    return response.json()["active"]


def warm(web, urls, app, access_token: str) -> None:
    """Use the token like the attacker does: this worker now remembers it."""
    assert profile_status(web, urls, access_token).status_code == 200
    assert profile_status(web, urls, access_token).status_code == 200
    assert active(web, urls, app, access_token) is True


def assert_dead(web, urls, app, access_token: str) -> None:
    response = profile_status(web, urls, access_token)
    assert response.status_code == 401, response.text
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]
    assert active(web, urls, app, access_token) is False


def refresh_refused(web, urls, app, refresh_token: str) -> bool:
    response = client_post(
        web, urls["token"], app, grant_type="refresh_token", refresh_token=refresh_token
    )
    return response.status_code == 400 and response.json()["error"] == "invalid_grant"


# -- password grant -------------------------------------------------------------------------------
def test_revoking_a_password_grant_refresh_token_kills_its_first_access_token(
    web, kept, urls, password_app, member
):
    _session, token = password_session(kept, urls, password_app, member)
    warm(web, urls, password_app, token["access_token"])

    revoked = client_post(
        web,
        urls["revoke"],
        password_app,
        token=token["refresh_token"],
        token_type_hint="refresh_token",
    )
    assert revoked.status_code == 200

    assert_dead(web, urls, password_app, token["access_token"])
    assert refresh_refused(web, urls, password_app, token["refresh_token"])


def test_revoking_a_password_grant_access_token_kills_its_refresh_token(
    web, kept, urls, password_app, member
):
    _session, token = password_session(kept, urls, password_app, member)
    warm(web, urls, password_app, token["access_token"])
    assert active(web, urls, password_app, token["refresh_token"]) is True

    revoked = client_post(web, urls["revoke"], password_app, token=token["access_token"])
    assert revoked.status_code == 200

    assert_dead(web, urls, password_app, token["access_token"])
    assert active(web, urls, password_app, token["refresh_token"]) is False
    assert refresh_refused(web, urls, password_app, token["refresh_token"])


def test_revoking_the_newest_access_token_kills_the_whole_rotated_family(
    web, kept, urls, password_app, member
):
    session, first = password_session(kept, urls, password_app, member)
    second = session.refresh_token(urls["token"])
    third = session.refresh_token(urls["token"])
    warm(web, urls, password_app, third["access_token"])

    revoked = client_post(web, urls["revoke"], password_app, token=third["access_token"])
    assert revoked.status_code == 200

    assert_dead(web, urls, password_app, third["access_token"])
    for older in (first, second, third):
        assert active(web, urls, password_app, older["refresh_token"]) is False
        assert refresh_refused(web, urls, password_app, older["refresh_token"])
    with pytest.raises(OAuthError):
        session.refresh_token(urls["token"])


def test_a_replayed_refresh_token_kills_the_family_a_worker_remembers(
    web, kept, urls, password_app, member
):
    session, first = password_session(kept, urls, password_app, member)
    second = session.refresh_token(urls["token"])
    warm(web, urls, password_app, second["access_token"])

    # The attacker replays the refresh token they stole before the victim rotated it.
    assert refresh_refused(web, urls, password_app, first["refresh_token"])

    assert_dead(web, urls, password_app, second["access_token"])
    assert refresh_refused(web, urls, password_app, second["refresh_token"])


def test_revoking_one_sign_in_leaves_another_alone(web, kept, urls, password_app, member):
    _s1, stolen = password_session(kept, urls, password_app, member)
    _s2, other = password_session(kept, urls, password_app, member)
    warm(web, urls, password_app, other["access_token"])

    client_post(web, urls["revoke"], password_app, token=stolen["refresh_token"])

    assert_dead(web, urls, password_app, stolen["access_token"])
    assert profile_status(web, urls, other["access_token"]).status_code == 200
    assert active(web, urls, password_app, other["refresh_token"]) is True


# -- jwt-bearer ------------------------------------------------------------------------------------
def test_revoking_a_jwt_bearer_access_token_is_seen_by_a_worker_that_remembers_it(
    web, kept, urls, jwt_app, key, org
):
    idp = IdentityProviderFactory(organization=org)
    session = AssertionSession(
        token_endpoint=urls["token"],
        issuer=jwt_app.app.client_id,
        subject=f"v2|{idp.id}|federated.user|Fed|User|fed@acme.test|staff",
        audience=urls["token"],
        scope="openid profile",
        key=RSAKey.import_key(private_pem(key)),
        header={"alg": "RS256"},
        expires_in=300,
    )
    kept(session)
    token = session.refresh_token()  # Authlib: "refresh" = sign a new assertion
    assert "refresh_token" not in token
    warm(web, urls, jwt_app, token["access_token"])

    revoked = client_post(web, urls["revoke"], jwt_app, token=token["access_token"])
    assert revoked.status_code == 200

    assert_dead(web, urls, jwt_app, token["access_token"])
