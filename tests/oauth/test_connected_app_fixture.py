"""The shared app fixtures produce what the SPEC promises: hashed secret, 32-hex client id."""

import re

from django.contrib.auth.hashers import check_password


def test_code_app_secret_is_hashed_with_the_keyed_hasher(code_app):
    app = code_app.app
    app.refresh_from_db()
    assert re.fullmatch(r"[0-9a-f]{32}", app.client_id)
    assert app.client_secret.startswith("doorman_hmac_sha256$")
    assert code_app.client_secret not in app.client_secret
    assert check_password(code_app.client_secret, app.client_secret)
    assert len(code_app.client_secret) >= 43  # 256 bits, URL-safe base64


def test_cc_app_holds_context_bound_scopes(cc_app, org):
    from connected_apps.selectors import app_scope_data

    scopes = app_scope_data(cc_app.app)
    assert {s["scope"] for s in scopes} == {"read:organization", "view:environment"}
    assert all(s["context_params"] == {"org": str(org.id)} for s in scopes)
