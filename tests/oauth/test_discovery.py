"""OIDC discovery at both addresses (SPEC §4, OIDC Discovery §3, §4)."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.test import Client

from accounts.catalog import ALL_SCOPES

pytestmark = pytest.mark.django_db

DISCOVERY_URLS = [
    "/.well-known/openid-configuration",
    "/accounts/api/v2/oauth2/.well-known/openid-configuration",
]
FIVE_GRANTS = [
    "authorization_code",
    "refresh_token",
    "password",
    "urn:ietf:params:oauth:grant-type:jwt-bearer",
    "client_credentials",
]


@pytest.fixture(params=DISCOVERY_URLS)
def metadata(request):
    response = Client().get(request.param)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response["Access-Control-Allow-Origin"] == "*"
    return response.json()


def test_the_issuer_and_every_endpoint_are_absolute_under_the_base_url(metadata):
    base = settings.DOORMAN_BASE_URL
    issuer = f"{base}/accounts/api/v2/oauth2"
    assert issuer == settings.DOORMAN_ISSUER
    assert metadata["issuer"] == issuer
    assert metadata["authorization_endpoint"] == f"{issuer}/authorize"
    assert metadata["token_endpoint"] == f"{issuer}/token"
    assert metadata["userinfo_endpoint"] == f"{issuer}/userinfo"
    assert metadata["jwks_uri"] == f"{issuer}/jwks"
    assert metadata["revocation_endpoint"] == f"{issuer}/revoke"
    assert metadata["introspection_endpoint"] == f"{issuer}/introspect"


def test_the_protocol_choices_are_exactly_the_specs(metadata):
    assert metadata["grant_types_supported"] == FIVE_GRANTS
    assert metadata["response_types_supported"] == ["code"]
    assert metadata["response_modes_supported"] == ["query"]
    assert metadata["code_challenge_methods_supported"] == ["S256"]
    assert metadata["token_endpoint_auth_methods_supported"] == [
        "client_secret_basic",
        "client_secret_post",
        "private_key_jwt",
    ]
    assert metadata["token_endpoint_auth_signing_alg_values_supported"] == [
        "RS256",
        "PS256",
        "ES256",
    ]
    assert metadata["id_token_signing_alg_values_supported"] == ["RS256"]
    assert metadata["subject_types_supported"] == ["public"]
    assert metadata["authorization_response_iss_parameter_supported"] is True


def test_every_scope_of_the_catalog_is_listed(metadata):
    assert metadata["scopes_supported"] == list(ALL_SCOPES)
    for scope in (
        "openid",
        "profile",
        "email",
        "offline_access",
        "full",
        "read:full",
        "read:organization",
        "manage:connected_apps",
    ):
        assert scope in metadata["scopes_supported"]


def test_the_claims_doorman_issues_are_listed(metadata):
    claims = set(metadata["claims_supported"])
    assert {
        "sub",
        "username",
        "preferred_username",
        "name",
        "given_name",
        "family_name",
        "email",
        "org_id",
        "iss",
        "aud",
        "exp",
        "iat",
        "nonce",
    } <= claims


def test_both_addresses_serve_the_same_document():
    first, second = (Client().get(url).json() for url in DISCOVERY_URLS)
    assert first == second


def test_the_advertised_endpoints_exist():
    metadata = Client().get(DISCOVERY_URLS[0]).json()
    base = settings.DOORMAN_BASE_URL
    client = Client()
    assert client.get(metadata["jwks_uri"].removeprefix(base)).status_code == 200
    assert client.get(metadata["userinfo_endpoint"].removeprefix(base)).status_code == 401
    assert client.get(metadata["authorization_endpoint"].removeprefix(base)).status_code == 400
