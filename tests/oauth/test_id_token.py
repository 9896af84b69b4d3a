"""ID tokens (SPEC §3, §5; OIDC Core §2, §3.1.3.6): issued only with `openid`, RS256 with the
active key's kid, `sub` the user's UUID, `aud` the client_id, the nonce echoed, and as long-lived
as the access token. Verified the way a relying party would: PyJWT against the published JWKS."""

from __future__ import annotations

import base64
import hashlib

import jwt
import pytest
from django.conf import settings
from django.test import Client

from oauth.keys import active_signing_key
from tests.oauth.code_flow import JWKS_URL, USERINFO_URL, tokens_for

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
