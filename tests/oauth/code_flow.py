"""Helpers for tests of the browser side of the authorization server: PKCE pairs, the
authorization request, the consent form, and redeeming a code at the token endpoint."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from urllib.parse import parse_qs, urlencode, urlsplit

AUTHORIZE_URL = "/accounts/api/v2/oauth2/authorize"
TOKEN_URL = "/accounts/api/v2/oauth2/token"
USERINFO_URL = "/accounts/api/v2/oauth2/userinfo"
JWKS_URL = "/accounts/api/v2/oauth2/jwks"
REDIRECT_URI = "https://client.example/callback"
# What the consent form posts: DOT's AllowForm fields, exactly.
CONSENT_FIELDS = (
    "redirect_uri",
    "scope",
    "nonce",
    "client_id",
    "state",
    "response_type",
    "code_challenge",
    "code_challenge_method",
    "claims",
)


def pkce_pair() -> tuple[str, str]:
    """RFC 7636: (code_verifier, S256 code_challenge)."""
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def authorize_query(app, *, challenge: str, **overrides) -> dict[str, str]:
    params = {
        "response_type": "code",
        "client_id": app.client_id,
        "redirect_uri": REDIRECT_URI,
        "scope": "openid profile",
        "state": "state-123",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    params.update(overrides)
    return {k: v for k, v in params.items() if v is not None}


def authorize_url(app, *, challenge: str, **overrides) -> str:
    return f"{AUTHORIZE_URL}?{urlencode(authorize_query(app, challenge=challenge, **overrides))}"


def consent_form(response) -> dict[str, str]:
    """The hidden fields of the rendered consent form, as a browser would post them."""
    form = response.context["form"]
    return {name: form[name].value() or "" for name in CONSENT_FIELDS}


def redirect_params(response) -> dict[str, str]:
    """Query parameters of a redirect back to the client (one value each)."""
    assert response.status_code == 302, response.status_code
    location = response["Location"]
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def obtain_code(client, app, *, challenge: str, **overrides) -> dict[str, str]:
    """Open the authorization URL signed in, click Allow when the screen shows; the
    redirect's parameters (`code`, `state`, `iss`)."""
    response = client.get(authorize_url(app, challenge=challenge, **overrides))
    if response.status_code == 200:
        response = client.post(
            authorize_url(app, challenge=challenge, **overrides),
            {**consent_form(response), "allow": "true"},
        )
    return redirect_params(response)


def redeem_code(client, app_with_secret, code: str, verifier: str, **extra):
    """RFC 6749 §4.1.3: a plain form POST, client_secret_post."""
    data = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT_URI,
        "code_verifier": verifier,
        "client_id": app_with_secret.app.client_id,
        "client_secret": app_with_secret.client_secret,
        **extra,
    }
    return client.post(TOKEN_URL, data)


def tokens_for(client, app_with_secret, **overrides) -> dict:
    """A full code flow for the signed-in `client`: the token endpoint's JSON."""
    verifier, challenge = pkce_pair()
    params = obtain_code(client, app_with_secret.app, challenge=challenge, **overrides)
    response = redeem_code(client, app_with_secret, params["code"], verifier)
    assert response.status_code == 200, response.content
    return response.json()


def unverified_claims(jwt_text: str) -> dict:
    """A JWT's claims, its signature not checked (tests/oauth/test_id_token.py checks those)."""
    payload = jwt_text.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
