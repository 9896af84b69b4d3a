"""A software WebAuthn authenticator for tests over HTTP: it answers the options allauth's
pages hand their JavaScript with what a browser would post back (python-fido2's JSON
mapping), signing with a P-256 key it keeps. The browser tests (tests/e2e/test_passkeys.py)
use Chromium's virtual authenticator instead.

The Django test client's host is `testserver`, the RP ID allauth derives from it; the
origin a browser would report is then `https://testserver`.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field
from hashlib import sha256

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from django.test import Client
from fido2.cose import ES256
from fido2.utils import websafe_decode
from fido2.webauthn import (
    Aaguid,
    AttestationObject,
    AttestedCredentialData,
    AuthenticationResponse,
    AuthenticatorAssertionResponse,
    AuthenticatorAttestationResponse,
    AuthenticatorData,
    CollectedClientData,
    RegistrationResponse,
)

FLAG = AuthenticatorData.FLAG
ADD_KEY = "/auth/2fa/webauthn/add/"
PASSKEY_SIGN_IN = "/auth/2fa/webauthn/login/"


@dataclass
class SoftAuthenticator:
    """One credential (resident: it remembers the user handle), made by `register`."""

    verifies_user: bool = True
    key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )
    credential_id: bytes = field(default_factory=lambda: secrets.token_bytes(32))
    user_handle: bytes = b""
    counter: int = 0

    def _flags(self) -> FLAG:
        return FLAG.UP | FLAG.UV if self.verifies_user else FLAG.UP

    def _client_data(self, kind: str, options: dict) -> CollectedClientData:
        origin = f"https://{options.get('rpId') or options['rp']['id']}"
        return CollectedClientData.create(kind, options["challenge"], origin)

    def create(self, creation_options: dict) -> dict:
        """navigator.credentials.create(): the credential JSON allauth's add form posts."""
        options = creation_options["publicKey"]
        self.user_handle = websafe_decode(options["user"]["id"])
        public_key = ES256.from_cryptography_key(self.key.public_key())
        auth_data = AuthenticatorData.create(
            sha256(options["rp"]["id"].encode()).digest(),
            self._flags() | FLAG.AT,
            self.counter,
            AttestedCredentialData.create(Aaguid.NONE, self.credential_id, public_key),
        )
        response = RegistrationResponse(
            raw_id=self.credential_id,
            response=AuthenticatorAttestationResponse(
                client_data=self._client_data("webauthn.create", options),
                attestation_object=AttestationObject.create("none", auth_data, {}),
            ),
            client_extension_results={"credProps": {"rk": True}},
        )
        return json.loads(json.dumps(dict(response)))

    def get(self, request_options: dict) -> dict:
        """navigator.credentials.get(): an assertion for the options' challenge."""
        options = request_options["publicKey"]
        self.counter += 1
        auth_data = AuthenticatorData.create(
            sha256(options["rpId"].encode()).digest(), self._flags(), self.counter
        )
        client_data = self._client_data("webauthn.get", options)
        signature = self.key.sign(auth_data + client_data.hash, ec.ECDSA(hashes.SHA256()))
        response = AuthenticationResponse(
            raw_id=self.credential_id,
            response=AuthenticatorAssertionResponse(
                client_data=client_data,
                authenticator_data=auth_data,
                signature=signature,
                user_handle=self.user_handle,
            ),
        )
        return json.loads(json.dumps(dict(response)))


def passkey_added(browser: Client, authenticator: SoftAuthenticator, name: str = "Laptop"):
    """Add `authenticator` as a passkey from the add page (the session must have just
    re-authenticated, as allauth asks); the form's response."""
    page = browser.get(ADD_KEY)
    assert page.status_code == 200, page.status_code
    credential = authenticator.create(page.context["js_data"]["creation_options"])
    data = {"name": name, "passwordless": "on", "credential": json.dumps(credential)}
    return browser.post(ADD_KEY, data)


def passkey_sign_in(browser: Client, authenticator: SoftAuthenticator):
    """The sign-in page's "Sign in with a passkey": options by XHR, then the assertion
    posted (no username, no password); the response to that post."""
    options = browser.get(PASSKEY_SIGN_IN, HTTP_X_REQUESTED_WITH="XMLHttpRequest")
    assert options.status_code == 200, options.status_code
    credential = authenticator.get(options.json()["request_options"])
    return browser.post(PASSKEY_SIGN_IN, {"credential": json.dumps(credential)})


def webauthn_reauthenticated(browser: Client, authenticator: SoftAuthenticator, url: str):
    """allauth's security-key step at `url` (its `next` kept): the page's options, then the
    assertion posted back; the response to that post."""
    page = browser.get(url)
    assert page.status_code == 200, (page.status_code, page.get("Location"))
    credential = authenticator.get(page.context["js_data"]["request_options"])
    return browser.post(url, {"credential": json.dumps(credential)})
