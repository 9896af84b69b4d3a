"""Helpers for the token-side tests: posting to the endpoints, client keys, assertions.

Import the fixtures you need into the test module (`from tests.oauth.tokenkit import …`).
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
import uuid

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from django.test import Client

TOKEN_URL = "/accounts/api/v2/oauth2/token"
REVOKE_URL = "/accounts/api/v2/oauth2/revoke"
INTROSPECT_URL = "/accounts/api/v2/oauth2/introspect"
LOGIN_URL = "/accounts/login"
PROFILE_URL = "/accounts/api/profile"
# What the Django test client's requests look like from inside (http://testserver).
TEST_TOKEN_ENDPOINT = "http://testserver/accounts/api/v2/oauth2/token"
TEST_ISSUER = "http://testserver/accounts/api/v2/oauth2"
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
CLIENT_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


@pytest.fixture(autouse=True)
def isolated_throttle(monkeypatch):
    """Each test counts sign-in failures under its own cache keys."""
    from oauth import throttle

    monkeypatch.setattr(throttle, "KEY_PREFIX", f"login-throttle-{uuid.uuid4().hex}")


def basic(client_id: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


def post_form(data: dict, *, url: str = TOKEN_URL, client: Client | None = None, **meta):
    """A form POST; `meta` are WSGI environ entries (HTTP_AUTHORIZATION=…, REMOTE_ADDR=…)."""
    return (client or Client()).post(url, data, **meta)


def post_json(data, *, url: str = TOKEN_URL, client: Client | None = None, **meta):
    return (client or Client()).post(url, json.dumps(data), content_type="application/json", **meta)


def client_credentials(app_with_secret, **extra) -> dict:
    return {
        "grant_type": "client_credentials",
        "client_id": app_with_secret.app.client_id,
        "client_secret": app_with_secret.client_secret,
        **extra,
    }


def assert_oauth_error(response, error: str, status: int = 400) -> dict:
    assert response.status_code == status, (response.status_code, response.content)
    assert response["Content-Type"].startswith("application/json")
    assert response["Cache-Control"] == "no-store"
    body = response.json()
    assert body["error"] == error, body
    return body


def bearer_profile(raw_token: str):
    return Client().get(PROFILE_URL, headers={"Authorization": f"Bearer {raw_token}"})


def sha256(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


# -- keys and assertions --------------------------------------------------------------------------
def rsa_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def ec_key():
    return ec.generate_private_key(ec.SECP256R1())


def public_pem(private_key) -> str:
    return (
        private_key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def private_pem(private_key) -> str:
    return private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def public_jwk(private_key) -> dict:
    return json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(private_key.public_key()))


def sign(claims: dict, key, algorithm: str = "RS256", headers: dict | None = None) -> str:
    return jwt.encode(claims, key, algorithm=algorithm, headers=headers)


def assertion_claims(client_id: str, sub: str, **overrides) -> dict:
    now = int(time.time())
    claims = {
        "iss": client_id,
        "sub": sub,
        "aud": TEST_TOKEN_ENDPOINT,
        "iat": now,
        "exp": now + 120,
        "jti": uuid.uuid4().hex,
    }
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


def unsigned_jwt(claims: dict) -> str:
    """alg=none: header.payload. (empty signature)."""

    def b64(data: dict) -> str:
        raw = json.dumps(data, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    return f"{b64({'alg': 'none', 'typ': 'JWT'})}.{b64(claims)}."
