"""No audit event ever holds a secret, a token, a code, a verifier or a password (SPEC §7):
a full set of flows runs, then every AuditEvent row is scanned for the raw values."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from accounts.access import Access
from audit.models import AuditEvent
from connected_apps.services import connected_app_rotate_secret
from tests.factories import DEFAULT_PASSWORD
from tests.oauth.code_flow import obtain_code, pkce_pair, redeem_code
from tests.oauth.tokenkit import REVOKE_URL, TOKEN_URL, isolated_throttle  # noqa: F401

pytestmark = pytest.mark.django_db


def _row_text(event: AuditEvent) -> str:
    return " ".join(
        [
            json.dumps(event.details, default=str),
            event.actor_name,
            event.target_type,
            event.target_id,
            event.user_agent,
            event.action,
        ]
    )


def test_no_audit_row_holds_a_raw_credential(make_app, admin, member):
    password_app = make_app(
        grant_types=["authorization_code", "refresh_token", "password"],
        scopes=["openid", "profile", "offline_access"],
    )
    secrets_seen = [password_app.client_secret, DEFAULT_PASSWORD]

    # Authorization code + PKCE.
    browser = Client()
    browser.force_login(member)
    verifier, challenge = pkce_pair()
    code = obtain_code(
        browser, password_app.app, challenge=challenge, scope="openid profile offline_access"
    )["code"]
    tokens = redeem_code(Client(), password_app, code, verifier).json()
    secrets_seen += [code, verifier, tokens["access_token"], tokens["refresh_token"]]
    secrets_seen += [tokens["id_token"]] if "id_token" in tokens else []

    # Refresh, then revoke.
    client_auth = {
        "client_id": password_app.app.client_id,
        "client_secret": password_app.client_secret,
    }
    refreshed = (
        Client()
        .post(
            TOKEN_URL,
            {
                "grant_type": "refresh_token",
                "refresh_token": tokens["refresh_token"],
                **client_auth,
            },
        )
        .json()
    )
    secrets_seen += [refreshed["access_token"], refreshed["refresh_token"]]
    Client().post(REVOKE_URL, {"token": refreshed["refresh_token"], **client_auth})

    # Replaying the code is refused, its family revoked (and audited).
    redeem_code(Client(), password_app, code, verifier)

    # Password grant: a good one, a wrong password, a wrong client secret.
    granted = Client().post(
        TOKEN_URL,
        {"grant_type": "password", "username": member.username, "password": DEFAULT_PASSWORD,
         **client_auth},
    ).json()  # fmt: skip
    secrets_seen.append(granted["access_token"])
    Client().post(
        TOKEN_URL,
        {"grant_type": "password", "username": member.username, "password": "Wrong-Guess-42!",
         **client_auth},
    )  # fmt: skip
    secrets_seen.append("Wrong-Guess-42!")
    Client().post(
        TOKEN_URL,
        {"grant_type": "password", "username": member.username, "password": DEFAULT_PASSWORD,
         "client_id": password_app.app.client_id, "client_secret": "not-the-secret-xyz-123"},
    )  # fmt: skip
    secrets_seen.append("not-the-secret-xyz-123")

    # The secret rotated.
    rotated = connected_app_rotate_secret(access=Access(user=admin), app=password_app.app)
    secrets_seen.append(rotated.client_secret)

    events = list(AuditEvent.objects.all())
    actions = {e.action for e in events}
    assert {"token.issued", "token.refreshed", "token.revoked", "token.refused"} <= actions
    assert "app.secret_rotated" in actions
    for event in events:
        text = _row_text(event)
        for value in secrets_seen:
            assert value and value not in text, (event.action, event.details)
