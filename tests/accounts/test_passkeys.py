"""Passkeys over HTTP (SPEC §11): the sign-in page offers them."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.oauth.tokenkit import isolated_throttle  # noqa: F401 (autouse fixture)

pytestmark = pytest.mark.django_db


def test_the_sign_in_page_offers_a_passkey(db):
    """The portal's sign-in template replaces allauth's: it must keep the passkey button and
    the form allauth's script posts the passkey with."""
    page = Client().get("/auth/login/").content.decode()
    assert 'id="passkey_login"' in page and "Sign in with a passkey" in page
    assert '<form id="mfa_login" action="/auth/2fa/webauthn/login/" method="post">' in page
