"""Nothing in the database works as a credential (SPEC §2, §7): access and refresh tokens are
stored only as SHA-256 checksums, authorization codes only as SHA-256 digests, client
secrets only as keyed digests, assertions only as jti digests; audit details hold none."""

from __future__ import annotations

import pytest
from django.test import Client

from audit.models import AuditEvent
from connected_apps.models import ConnectedApp
from oauth.models import AccessToken, Grant, IDToken, RefreshToken, UsedAssertion
from tests.factories import DEFAULT_PASSWORD, IdentityProviderFactory
from tests.oauth.code_flow import obtain_code, pkce_pair, redeem_code
from tests.oauth.tokenkit import (
    JWT_BEARER,
    LOGIN_URL,
    assertion_claims,
    client_credentials,
    isolated_throttle,  # noqa: F401 (autouse fixture)
    post_form,
    post_json,
    public_pem,
    rsa_key,
    sha256,
    sign,
)

pytestmark = pytest.mark.django_db

MODELS = (AccessToken, RefreshToken, Grant, IDToken, UsedAssertion, ConnectedApp, AuditEvent)


def every_stored_value() -> str:
    return "\n".join(repr(row) for model in MODELS for row in model.objects.values())


def test_no_raw_token_code_secret_or_assertion_is_stored(make_app, code_app, cc_app, member, org):
    secrets: list[str] = [code_app.client_secret, cc_app.client_secret, DEFAULT_PASSWORD]

    # authorization_code with offline_access, then a refresh
    browser = Client()
    browser.force_login(member)
    verifier, challenge = pkce_pair()
    code = obtain_code(
        browser, code_app.app, challenge=challenge, scope="openid profile offline_access"
    )["code"]
    issued = redeem_code(Client(), code_app, code, verifier).json()
    refreshed = post_form(
        {
            "grant_type": "refresh_token",
            "refresh_token": issued["refresh_token"],
            "client_id": code_app.app.client_id,
            "client_secret": code_app.client_secret,
        }
    ).json()
    secrets += [code, verifier, issued["access_token"], issued["refresh_token"]]
    secrets += [refreshed["access_token"], refreshed["refresh_token"], issued["id_token"]]

    # client_credentials and the platform login
    secrets.append(post_form(client_credentials(cc_app)).json()["access_token"])
    login = post_json({"username": member.username, "password": DEFAULT_PASSWORD}, url=LOGIN_URL)
    secrets.append(login.json()["access_token"])

    # jwt-bearer
    key = rsa_key()
    jwt_app = make_app(grant_types=[JWT_BEARER], redirect_uris=[], public_keys=[public_pem(key)])
    idp = IdentityProviderFactory(organization=org)
    claims = assertion_claims(jwt_app.app.client_id, f"v2|{idp.id}|fed|F|L|fed@acme.test|")
    assertion = sign(claims, key)
    jwt_token = post_form({"grant_type": JWT_BEARER, "assertion": assertion}).json()
    secrets += [assertion, jwt_token["access_token"], jwt_app.client_secret, claims["jti"]]

    stored = every_stored_value()
    for secret in secrets:
        assert secret not in stored

    # The shape of what is stored instead.
    for token in (*AccessToken.objects.all(), *RefreshToken.objects.all()):
        assert token.token == ""
        assert len(token.token_checksum) == 64
    raw_tokens = [issued["access_token"], refreshed["access_token"], login.json()["access_token"]]
    for raw in raw_tokens[1:]:
        assert AccessToken.objects.filter(token_checksum=sha256(raw)).exists()
    assert RefreshToken.objects.filter(token_checksum=sha256(issued["refresh_token"])).exists()
    assert Grant.objects.get().code == sha256(code)
    for app in ConnectedApp.objects.all():
        assert app.client_secret.startswith("doorman_hmac_sha256$")
