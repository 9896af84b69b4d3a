"""private_key_jwt client authentication (RFC 7523 §2.2, §3; OIDC Core §9) at the token,
revocation and introspection endpoints: iss = sub = client_id, signed by a registered key,
aud = this server, exp near, jti once."""

from __future__ import annotations

import time

import pytest

from oauth.models import UsedAssertion
from tests.oauth.tokenkit import (
    CLIENT_ASSERTION_TYPE,
    INTROSPECT_URL,
    REVOKE_URL,
    TEST_ISSUER,
    assert_oauth_error,
    assertion_claims,
    isolated_throttle,  # noqa: F401 (autouse fixture)
    post_form,
    post_json,
    public_pem,
    rsa_key,
    sign,
    unsigned_jwt,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def key():
    return rsa_key()


@pytest.fixture
def keyed_app(make_app, org, key):
    """An own-behalf app that authenticates with its key (no secret needed)."""
    return make_app(
        client_name="Keyed robot",
        grant_types=["client_credentials"],
        redirect_uris=[],
        public_keys=[public_pem(key)],
        scopes=[{"scope": "read:organization", "context_params": {"org": str(org.id)}}],
    )


def client_assertion(app_with_secret, key, algorithm="RS256", **overrides) -> str:
    client_id = app_with_secret.app.client_id
    claims = {**assertion_claims(client_id, client_id), **overrides}
    return sign({k: v for k, v in claims.items() if v is not None}, key, algorithm)


def cc_with_assertion(assertion: str, **extra) -> dict:
    return {
        "grant_type": "client_credentials",
        "client_assertion_type": CLIENT_ASSERTION_TYPE,
        "client_assertion": assertion,
        **extra,
    }


def test_private_key_jwt_authenticates_the_client(keyed_app, key):
    response = post_form(cc_with_assertion(client_assertion(keyed_app, key)))
    assert response.status_code == 200, response.content
    assert response.json()["scope"] == "profile read:organization"


def test_private_key_jwt_with_client_id_and_json(keyed_app, key):
    data = cc_with_assertion(client_assertion(keyed_app, key), client_id=keyed_app.app.client_id)
    assert post_json(data).status_code == 200


def test_client_assertions_may_live_an_hour(keyed_app, key):
    # Authlib's PrivateKeyJWT signs exp = iat + 3600.
    assertion = client_assertion(keyed_app, key, exp=int(time.time()) + 3600)
    assert post_form(cc_with_assertion(assertion)).status_code == 200


def test_issuer_as_audience(keyed_app, key):
    response = post_form(cc_with_assertion(client_assertion(keyed_app, key, aud=TEST_ISSUER)))
    assert response.status_code == 200, response.content


@pytest.mark.parametrize(
    "claims",
    [
        {"aud": "https://elsewhere.example/token"},
        {"exp": int(time.time()) - 120},
        {"exp": int(time.time()) + 7200},
        {"sub": "someone-else"},
        {"jti": None},
        {"exp": None},
    ],
    ids=["wrong-aud", "expired", "exp-too-far", "sub-not-client", "no-jti", "no-exp"],
)
def test_bad_client_assertion_is_invalid_client(keyed_app, key, claims):
    response = post_form(cc_with_assertion(client_assertion(keyed_app, key, **claims)))
    assert_oauth_error(response, "invalid_client", 401)
    assert response["WWW-Authenticate"] == 'Basic realm="doorman"'


def test_replayed_client_assertion_is_invalid_client(keyed_app, key):
    assertion = client_assertion(keyed_app, key)
    assert post_form(cc_with_assertion(assertion)).status_code == 200
    assert_oauth_error(post_form(cc_with_assertion(assertion)), "invalid_client", 401)
    assert UsedAssertion.objects.count() == 1


def test_unregistered_key_is_invalid_client(keyed_app):
    response = post_form(cc_with_assertion(client_assertion(keyed_app, rsa_key())))
    assert_oauth_error(response, "invalid_client", 401)


def test_alg_none_and_hmac_are_invalid_client(keyed_app):
    client_id = keyed_app.app.client_id
    claims = assertion_claims(client_id, client_id)
    for assertion in (unsigned_jwt(claims), sign(claims, keyed_app.client_secret, "HS256")):
        assert_oauth_error(post_form(cc_with_assertion(assertion)), "invalid_client", 401)


def test_client_id_naming_another_app_is_invalid_client(keyed_app, key, cc_app):
    data = cc_with_assertion(client_assertion(keyed_app, key), client_id=cc_app.app.client_id)
    assert_oauth_error(post_form(data), "invalid_client", 401)


def test_other_assertion_types_are_invalid_client(keyed_app, key):
    data = cc_with_assertion(
        client_assertion(keyed_app, key),
        client_assertion_type="urn:ietf:params:oauth:client-assertion-type:saml2-bearer",
    )
    assert_oauth_error(post_form(data), "invalid_client", 401)


def test_missing_client_assertion_is_invalid_client(keyed_app):
    data = {"grant_type": "client_credentials", "client_assertion_type": CLIENT_ASSERTION_TYPE}
    assert_oauth_error(post_form(data), "invalid_client", 401)


def test_introspection_and_revocation_accept_private_key_jwt(keyed_app, key):
    token = post_form(cc_with_assertion(client_assertion(keyed_app, key))).json()["access_token"]
    auth = {
        "client_assertion_type": CLIENT_ASSERTION_TYPE,
        "client_assertion": client_assertion(
            keyed_app, key, aud=f"http://testserver{INTROSPECT_URL}"
        ),
    }
    response = post_form({"token": token, **auth}, url=INTROSPECT_URL)
    assert response.status_code == 200, response.content
    assert response.json()["active"] is True

    auth["client_assertion"] = client_assertion(keyed_app, key)  # aud = the token endpoint
    assert post_form({"token": token, **auth}, url=REVOKE_URL).status_code == 200
    auth["client_assertion"] = client_assertion(keyed_app, key)
    response = post_form({"token": token, **auth}, url=INTROSPECT_URL)
    assert response.json() == {"active": False}
