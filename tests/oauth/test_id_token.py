"""ID tokens (SPEC §3, §5; OIDC Core §2, §3.1.3.6): issued only with `openid`, by every grant
that acts for a user (code, refresh, password, jwt-bearer), RS256 with the active key's kid,
`sub` the user's UUID, `aud` the client_id, the code flow's nonce echoed, and as long-lived as
the access token. Verified the way a relying party would: PyJWT against the published JWKS."""

from __future__ import annotations

import base64
import hashlib

import jwt
import pytest
from django.conf import settings
from django.test import Client

from oauth.keys import active_signing_key
from oauth.models import AccessToken
from tests.factories import DEFAULT_PASSWORD, IdentityProviderFactory
from tests.oauth.code_flow import JWKS_URL, USERINFO_URL, tokens_for
from tests.oauth.tokenkit import (
    JWT_BEARER,
    assertion_claims,
    basic,
    isolated_throttle,  # noqa: F401 (autouse fixture)
    post_form,
    public_pem,
    rsa_key,
    sign,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def signed_in(member):
    client = Client()
    client.force_login(member)
    return client


def verify_id_token(id_token: str, client_id: str) -> dict:
    """What a relying party does: the key named by `kid` in the JWKS, RS256 only."""
    header = jwt.get_unverified_header(id_token)
    jwks = jwt.PyJWKSet.from_dict(Client().get(JWKS_URL).json())
    key = next(k for k in jwks.keys if k.key_id == header["kid"])
    return jwt.decode(
        id_token,
        key.key,
        algorithms=["RS256"],
        audience=client_id,
        issuer=settings.DOORMAN_ISSUER,
        options={"require": ["exp", "iat", "iss", "aud", "sub"]},
    )


def test_the_id_token_verifies_against_the_jwks_and_names_the_user(signed_in, member, code_app):
    tokens = tokens_for(signed_in, code_app, scope="openid profile", nonce="n-0S6_WzA2Mj")
    claims = verify_id_token(tokens["id_token"], code_app.app.client_id)
    assert claims["sub"] == str(member.id)
    assert claims["aud"] == code_app.app.client_id
    assert claims["iss"] == settings.DOORMAN_ISSUER
    assert claims["nonce"] == "n-0S6_WzA2Mj"
    assert claims["username"] == claims["preferred_username"] == member.username
    assert claims["org_id"] == str(member.organization_id)
    assert claims["name"] == "Ada Lovelace"
    assert claims["given_name"] == "Ada"
    assert claims["family_name"] == "Lovelace"
    assert "email" not in claims  # not requested


def test_the_header_names_the_active_key(signed_in, code_app):
    tokens = tokens_for(signed_in, code_app)
    header = jwt.get_unverified_header(tokens["id_token"])
    assert header["alg"] == "RS256"
    assert header["kid"] == active_signing_key().kid


def test_the_id_token_lives_as_long_as_the_access_token(signed_in, code_app):
    tokens = tokens_for(signed_in, code_app)
    claims = verify_id_token(tokens["id_token"], code_app.app.client_id)
    lifetime = settings.DOORMAN_ACCESS_TOKEN_LIFETIME
    assert tokens["expires_in"] == lifetime
    assert claims["exp"] - claims["iat"] in (lifetime, lifetime + 1)


def test_at_hash_binds_the_id_token_to_the_access_token(signed_in, code_app):
    tokens = tokens_for(signed_in, code_app)
    claims = verify_id_token(tokens["id_token"], code_app.app.client_id)
    digest = hashlib.sha256(tokens["access_token"].encode()).digest()
    expected = base64.urlsafe_b64encode(digest[:16]).rstrip(b"=").decode()
    assert claims["at_hash"] == expected


def test_email_only_with_the_email_scope(signed_in, member, code_app):
    tokens = tokens_for(signed_in, code_app, scope="openid email")
    claims = verify_id_token(tokens["id_token"], code_app.app.client_id)
    assert claims["email"] == member.email
    assert "name" not in claims  # no profile scope
    assert claims["username"] == member.username


def test_no_nonce_claim_without_a_nonce(signed_in, code_app):
    tokens = tokens_for(signed_in, code_app)
    assert "nonce" not in verify_id_token(tokens["id_token"], code_app.app.client_id)


def test_no_id_token_without_openid(signed_in, code_app):
    tokens = tokens_for(signed_in, code_app, scope="profile")
    assert tokens["access_token"]
    assert "id_token" not in tokens


def test_another_audience_does_not_verify(signed_in, code_app):
    tokens = tokens_for(signed_in, code_app)
    with pytest.raises(jwt.InvalidAudienceError):
        verify_id_token(tokens["id_token"], "someone-else")


def test_an_id_token_is_never_accepted_as_an_access_token(signed_in, code_app):
    id_token = tokens_for(signed_in, code_app)["id_token"]
    headers = {"HTTP_AUTHORIZATION": f"Bearer {id_token}"}
    assert Client().get(USERINFO_URL, **headers).status_code == 401
    assert Client().get("/accounts/api/profile", **headers).status_code == 401


# -- grants without /authorize (SPEC §5: every grant that acts for a user) ------------------------
@pytest.fixture
def password_app(make_app):
    return make_app(
        client_name="Password App",
        grant_types=["password", "refresh_token"],
        redirect_uris=[],
        scopes=["openid", "profile", "email"],
    )


@pytest.fixture(scope="module")
def assertion_key():
    return rsa_key()


@pytest.fixture
def jwt_app(make_app, assertion_key):
    return make_app(
        client_name="Federation",
        grant_types=[JWT_BEARER],
        redirect_uris=[],
        public_keys=[public_pem(assertion_key)],
        scopes=["openid", "profile", "email"],
    )


def password_tokens(app, user, scope: str, **auth) -> dict:
    data = {"grant_type": "password", "username": user.username, "password": DEFAULT_PASSWORD}
    data["scope"] = scope
    if not auth:
        data.update(client_id=app.app.client_id, client_secret=app.client_secret)
    response = post_form(data, **auth)
    assert response.status_code == 200, response.content
    return response.json()


def jwt_bearer_tokens(app, key, org, scope: str, **extra) -> dict:
    idp = IdentityProviderFactory(organization=org)
    sub = f"v2|{idp.id}|katherine|Katherine|Johnson|kj@acme.test|"
    assertion = sign(assertion_claims(app.app.client_id, sub), key)
    response = post_form({"grant_type": JWT_BEARER, "assertion": assertion, "scope": scope})
    assert response.status_code == 200, response.content
    return response.json()


def test_the_password_grant_returns_an_id_token_with_openid(password_app, member):
    tokens = password_tokens(password_app, member, "openid profile email")
    claims = verify_id_token(tokens["id_token"], password_app.app.client_id)
    assert claims["sub"] == str(member.id)
    assert claims["username"] == member.username
    assert claims["email"] == member.email
    assert claims["given_name"] == "Ada"
    assert "nonce" not in claims
    digest = hashlib.sha256(tokens["access_token"].encode()).digest()
    assert claims["at_hash"] == base64.urlsafe_b64encode(digest[:16]).rstrip(b"=").decode()


def test_a_password_grant_id_token_names_the_client_however_it_authenticated(password_app, member):
    auth = basic(password_app.app.client_id, password_app.client_secret)
    tokens = password_tokens(password_app, member, "openid", HTTP_AUTHORIZATION=auth)
    claims = verify_id_token(tokens["id_token"], password_app.app.client_id)
    assert claims["aud"] == password_app.app.client_id
    assert "email" not in claims and "name" not in claims  # only openid


def test_a_nonce_parameter_is_not_echoed_by_the_password_grant(password_app, member):
    tokens = password_tokens(password_app, member, "openid")
    assert "nonce" not in verify_id_token(tokens["id_token"], password_app.app.client_id)
    data = {
        "grant_type": "password",
        "username": member.username,
        "password": DEFAULT_PASSWORD,
        "scope": "openid",
        "nonce": "chosen-by-the-client",
        "client_id": password_app.app.client_id,
        "client_secret": password_app.client_secret,
    }
    claims = verify_id_token(post_form(data).json()["id_token"], password_app.app.client_id)
    assert "nonce" not in claims


def test_no_id_token_from_the_password_grant_without_openid(password_app, member):
    tokens = password_tokens(password_app, member, "profile email")
    assert tokens["access_token"]
    assert "id_token" not in tokens


def test_the_refresh_of_a_password_grant_returns_an_id_token(password_app, member):
    tokens = password_tokens(password_app, member, "openid profile")
    refreshed = post_form(
        {
            "grant_type": "refresh_token",
            "refresh_token": tokens["refresh_token"],
            "client_id": password_app.app.client_id,
            "client_secret": password_app.client_secret,
        }
    ).json()
    claims = verify_id_token(refreshed["id_token"], password_app.app.client_id)
    assert claims["sub"] == str(member.id)


def test_the_jwt_bearer_grant_returns_an_id_token_with_openid(jwt_app, assertion_key, org):
    tokens = jwt_bearer_tokens(jwt_app, assertion_key, org, "openid email")
    claims = verify_id_token(tokens["id_token"], jwt_app.app.client_id)
    user = AccessToken.objects.get().user
    assert claims["sub"] == str(user.id)
    assert claims["username"] == "katherine"
    assert claims["email"] == "kj@acme.test"
    assert claims["aud"] == jwt_app.app.client_id  # the assertion named it; no client_id sent
    assert "nonce" not in claims


def test_no_id_token_from_the_jwt_bearer_grant_without_openid(jwt_app, assertion_key, org):
    tokens = jwt_bearer_tokens(jwt_app, assertion_key, org, "profile email")
    assert tokens["access_token"]
    assert "id_token" not in tokens
