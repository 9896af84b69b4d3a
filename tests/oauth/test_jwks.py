"""The JSON Web Key Set (SPEC §4, RFC 7517): RS256 signing keys with their kids."""

from __future__ import annotations

import jwt
import pytest
from django.test import Client

from oauth.keys import active_signing_key
from oauth.models import SigningKey
from tests.oauth.code_flow import JWKS_URL

pytestmark = pytest.mark.django_db


def test_the_jwks_publishes_the_active_key_with_kid_alg_and_use():
    response = Client().get(JWKS_URL)
    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == "*"
    assert "max-age=" in response["Cache-Control"]
    keys = response.json()["keys"]
    assert len(keys) == 1
    key = keys[0]
    assert key["kid"] == active_signing_key().kid
    assert key["alg"] == "RS256"
    assert key["use"] == "sig"
    assert key["kty"] == "RSA"
    assert set(key) == {"kid", "alg", "use", "kty", "n", "e"}  # public half only
    assert jwt.PyJWK(key).key.key_size == 2048


def test_the_first_request_creates_one_key_and_later_ones_reuse_it():
    client = Client()
    first = client.get(JWKS_URL).json()["keys"]
    second = client.get(JWKS_URL).json()["keys"]
    assert first == second
    assert SigningKey.objects.count() == 1


def test_the_private_key_is_stored_encrypted():
    active_signing_key()
    row = SigningKey.objects.get()
    stored = bytes(row.private_key_encrypted)
    assert b"PRIVATE KEY" not in stored
    assert b"BEGIN" not in stored
    assert "d" not in row.public_jwk  # the private exponent is never published
