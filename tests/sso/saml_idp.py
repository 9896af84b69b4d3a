"""A real SAML 2.0 identity provider for tests: pysaml2's `saml2.server.Server` behind a small
WSGI app on 127.0.0.1, in a background thread.

    idp = SamlIdp()                       # or the `saml_idp` fixture (tests/sso/conftest.py)
    idp.add_user("ada", "pw", {"email": "ada@example.com", "givenName": "Ada", "sn": "Lovelace",
                               "uid": "ada", "groups": ["staff", "admins"]})
    idp.add_sp("http://sp.test/metadata/", "http://sp.test/acs/")   # or idp.add_sp_metadata(xml)
    app.settings = {"idp": idp.allauth_idp_settings(), ...}          # allauth's SAML SocialApp

The browser side is what a person sees: an AuthnRequest to `sso_redirect_url` (HTTP-Redirect) or
`sso_post_url` (HTTP-POST) gets a login form (labels "Username", "Password", buttons "Sign in"
and "Cancel"); the right password gets a page whose form posts SAMLResponse (and RelayState,
echoed as it came) to the SP's AssertionConsumerService and submits itself by script. The ACS
URL is the one in the AuthnRequest if the SP's metadata lists it (SAML 2.0 profiles §4.1.4.1),
else the SP's first HTTP-POST ACS; an SP not registered, or an ACS URL it did not register, gets
a 400 page and no assertion. "Cancel" posts a Responder/AuthnFailed status instead.

Assertions and responses are both signed (RSA-SHA256, SHA-256 digests) with a self-signed key
made at start; `sign_assertion`/`sign_response` turn either off for tests of an SP that must
refuse. Attributes go out with NameFormat uri under the names in `ATTRIBUTE_NAMES` (the OIDs
allauth's SAML provider maps by default where it has one); a name not in it goes out as given.
The NameID is a pairwise persistent identifier (`persistent_id`) unless the SP's NameIDPolicy
asks for another format this IdP knows (`NAMEID_FORMATS`) or `name_id_format` is changed.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import html
import secrets
import shutil
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from socketserver import ThreadingMixIn
from typing import Any
from urllib.parse import parse_qs
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server
from xml.sax.saxutils import quoteattr

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT, samlp
from saml2.attribute_converter import AttributeConverter
from saml2.config import IdPConfig
from saml2.md import entity_descriptor_from_string
from saml2.metadata import entity_descriptor
from saml2.saml import (
    AUTHN_PASSWORD_PROTECTED,
    NAME_FORMAT_URI,
    NAMEID_FORMAT_EMAILADDRESS,
    NAMEID_FORMAT_PERSISTENT,
    NAMEID_FORMAT_TRANSIENT,
    NAMEID_FORMAT_UNSPECIFIED,
    NameID,
)
from saml2.server import Server
from saml2.xmldsig import DIGEST_SHA256, SIG_RSA_SHA256

# Local attribute name -> the SAML attribute Name it is released under (NameFormat uri).
ATTRIBUTE_NAMES = {
    "email": "urn:oid:0.9.2342.19200300.100.1.3",  # mail
    "givenName": "urn:oid:2.5.4.42",
    "sn": "urn:oid:2.5.4.4",
    "uid": "urn:oid:0.9.2342.19200300.100.1.1",
    "displayName": "urn:oid:2.16.840.1.113730.3.1.241",
    "groups": "urn:oid:1.3.6.1.4.1.5923.1.5.1.1",  # isMemberOf
    "subject-id": "urn:oasis:names:tc:SAML:attribute:subject-id",
}

# An allauth SocialApp "attribute_mapping" for the names above (allauth's default mapping has
# email, first_name and last_name under the same OIDs, and no uid: it falls back to the NameID).
ALLAUTH_ATTRIBUTE_MAPPING = {
    "uid": ATTRIBUTE_NAMES["uid"],
    "email": ATTRIBUTE_NAMES["email"],
    "first_name": ATTRIBUTE_NAMES["givenName"],
    "last_name": ATTRIBUTE_NAMES["sn"],
}

# The short names `name_id_format` takes, and the formats an SP's NameIDPolicy may ask for.
NAMEID_FORMATS = {
    "persistent": NAMEID_FORMAT_PERSISTENT,
    "unspecified": NAMEID_FORMAT_UNSPECIFIED,
    "emailAddress": NAMEID_FORMAT_EMAILADDRESS,
    "transient": NAMEID_FORMAT_TRANSIENT,
}

# SAML 2.0 core §3.2.2.2 second-level status codes this IdP answers with.
STATUS_AUTHN_FAILED = samlp.STATUS_AUTHN_FAILED
STATUS_INVALID_NAMEID_POLICY = samlp.STATUS_INVALID_NAMEID_POLICY

WRONG_PASSWORD = "Wrong username or password."
# An assertion's NotOnOrAfter (Conditions and SubjectConfirmationData) is this far ahead.
ASSERTION_MINUTES = 5


def xmlsec1_path() -> str | None:
    """pysaml2 signs with Debian's xmlsec1 program; None when it is not installed."""
    return shutil.which("xmlsec1")


@dataclass
class IdpUser:
    username: str
    password: str
    attributes: dict[str, list[str]]


@dataclass
class AuthnRequestSeen:
    """An AuthnRequest this IdP accepted (the SP's side is what a test asserts on)."""

    id: str | None  # None: an unsolicited response's (`SamlIdp.unsolicited_response`)
    sp_entity_id: str
    acs_url: str
    binding: str
    relay_state: str | None
    name_id_policy_format: str | None
    force_authn: bool
    xml: str


@dataclass
class ResponseIssued:
    sp_entity_id: str
    username: str | None
    acs_url: str
    relay_state: str | None
    xml: str
    saml_response: str  # what the auto-post form carries (base64)


@dataclass
class _Page:
    status: str
    body: str
    content_type: str = "text/html; charset=utf-8"
    headers: list[tuple[str, str]] = field(default_factory=list)


def _self_signed(common_name: str) -> tuple[bytes, bytes]:
    """(private key PEM, certificate PEM): RSA 2048, valid for a day around now."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    return key_pem, cert.public_bytes(serialization.Encoding.PEM)


def sp_metadata_xml(entity_id: str, acs_url: str) -> str:
    """The smallest SP metadata pysaml2 needs: an entity with one HTTP-POST ACS."""
    return (
        '<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata"'
        f" entityID={quoteattr(entity_id)}>"
        '<md:SPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">'
        f"<md:AssertionConsumerService Binding={quoteattr(BINDING_HTTP_POST)}"
        f' Location={quoteattr(acs_url)} index="0" isDefault="true"/>'
        "</md:SPSSODescriptor></md:EntityDescriptor>"
    )


def _entity_id_of(metadata_xml: str) -> str:
    descriptor = entity_descriptor_from_string(metadata_xml)
    if descriptor is None or not descriptor.entity_id:
        raise ValueError("SP metadata must be one md:EntityDescriptor with an entityID")
    return descriptor.entity_id


def _attribute_converter() -> AttributeConverter:
    converter = AttributeConverter(NAME_FORMAT_URI)
    converter.from_dict({"identifier": NAME_FORMAT_URI, "to": dict(ATTRIBUTE_NAMES)})
    return converter


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


class _ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class SamlIdp:
    """A running SAML IdP on 127.0.0.1:<free port> until `stop()`."""

    def __init__(self, *, host: str = "127.0.0.1") -> None:
        self._lock = threading.RLock()
        self._dir = tempfile.TemporaryDirectory(prefix="saml-idp-")
        self._httpd = make_server(
            host, 0, self._wsgi, server_class=_ThreadingWSGIServer, handler_class=_QuietHandler
        )
        self.port: int = self._httpd.server_port
        self.base_url = f"http://{host}:{self.port}"
        self.entity_id = f"{self.base_url}/metadata"
        self.metadata_url = self.entity_id
        self.sso_redirect_url = f"{self.base_url}/sso/redirect"
        self.sso_post_url = f"{self.base_url}/sso/post"
        self.login_url = f"{self.base_url}/sso/login"
        key_pem, cert_pem = _self_signed(f"Doorman test IdP {self.port}")
        self.cert_pem: str = cert_pem.decode()
        self._key_file = Path(self._dir.name) / "idp.key"
        self._cert_file = Path(self._dir.name) / "idp.crt"
        self._key_file.write_bytes(key_pem)
        self._cert_file.write_bytes(cert_pem)
        self.reset()
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, name=f"saml-idp-{self.port}", daemon=True
        )
        self._thread.start()

    # ---- configuration a test changes ---------------------------------------------------

    def reset(self) -> None:
        """No users, no SPs, nothing seen; both signatures on, pairwise persistent NameIDs."""
        with self._lock:
            self.users: dict[str, IdpUser] = {}
            self._sp_metadata: dict[str, str] = {}
            self._pending: dict[str, AuthnRequestSeen] = {}
            self.authn_requests: list[AuthnRequestSeen] = []
            self.responses: list[ResponseIssued] = []
            self.sign_assertion = True
            self.sign_response = True
            self.name_id_format = "persistent"
            self._server = self._build_server()

    def add_user(self, username: str, password: str, attributes: dict[str, Any]) -> IdpUser:
        """A person who can sign in; attribute values are strings or lists of strings."""
        values = {
            name: [str(v) for v in (value if isinstance(value, list | tuple) else [value])]
            for name, value in attributes.items()
        }
        user = IdpUser(username=username, password=password, attributes=values)
        with self._lock:
            self.users[username] = user
        return user

    def add_sp(self, entity_id: str, acs_url: str) -> None:
        """Trust an SP by its entity ID and HTTP-POST ACS URL (replacing one of that ID)."""
        self.add_sp_metadata(sp_metadata_xml(entity_id, acs_url))

    def add_sp_metadata(self, metadata_xml: str | bytes) -> str:
        """Trust an SP by its metadata (e.g. allauth's /auth/saml/<org>/metadata/); returns its
        entity ID. An SP of the same entity ID is replaced."""
        text = metadata_xml.decode() if isinstance(metadata_xml, bytes) else metadata_xml
        entity_id = _entity_id_of(text)
        with self._lock:
            self._sp_metadata[entity_id] = text
            self._server = self._build_server()
        return entity_id

    def remove_sp(self, entity_id: str) -> None:
        with self._lock:
            self._sp_metadata.pop(entity_id, None)
            self._server = self._build_server()

    # ---- what an SP is configured with ---------------------------------------------------

    @property
    def x509cert(self) -> str:
        """The signing certificate as SP settings want it: base64 DER, no PEM armour."""
        return "".join(line for line in self.cert_pem.splitlines() if "CERTIFICATE" not in line)

    def metadata_xml(self) -> str:
        with self._lock:
            return str(entity_descriptor(self._server.config))

    def allauth_idp_settings(self) -> dict[str, str]:
        """The "idp" part of an allauth SAML SocialApp's settings, given inline."""
        return {
            "entity_id": self.entity_id,
            "sso_url": self.sso_redirect_url,
            "x509cert": self.x509cert,
        }

    def unsolicited_response(self, username: str, sp_entity_id: str) -> ResponseIssued:
        """An IdP-initiated sign-in (SAML 2.0 profiles §4.1.5): a signed response to no
        AuthnRequest (no InResponseTo), for the SP's first HTTP-POST ACS, with an empty
        RelayState. An SP that accepts only the sign-ins it started must refuse it."""
        with self._lock:
            acs = self._server.metadata.assertion_consumer_service(sp_entity_id, BINDING_HTTP_POST)
            seen = AuthnRequestSeen(
                id=None,
                sp_entity_id=sp_entity_id,
                acs_url=acs[0]["location"],
                binding=BINDING_HTTP_POST,
                relay_state="",
                name_id_policy_format=None,
                force_authn=False,
                xml="",
            )
            self._post_back(seen, self.users[username])
            return self.responses[-1]

    def persistent_id(self, username: str, sp_entity_id: str) -> str:
        """The persistent NameID `username` has at `sp_entity_id`: opaque, stable across
        restarts, different per SP (SAML 2.0 core §8.3.7)."""
        return hashlib.sha256(f"{sp_entity_id}\0{username}".encode()).hexdigest()

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)
        self._dir.cleanup()

    def __enter__(self) -> SamlIdp:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---- pysaml2 -----------------------------------------------------------------------

    def _build_server(self) -> Server:
        config = IdPConfig()
        config.load(
            {
                "entityid": self.entity_id,
                "xmlsec_binary": xmlsec1_path(),
                "key_file": str(self._key_file),
                "cert_file": str(self._cert_file),
                "accepted_time_diff": 60,
                "metadata": {"inline": list(self._sp_metadata.values())},
                "service": {
                    "idp": {
                        "name": "Doorman test IdP",
                        "endpoints": {
                            "single_sign_on_service": [
                                (self.sso_redirect_url, BINDING_HTTP_REDIRECT),
                                (self.sso_post_url, BINDING_HTTP_POST),
                            ],
                        },
                        "name_id_format": list(NAMEID_FORMATS.values()),
                        "want_authn_requests_signed": False,
                        # Per service: pysaml2 reads these in the "idp" context only.
                        "signing_algorithm": SIG_RSA_SHA256,
                        "digest_algorithm": DIGEST_SHA256,
                        "policy": {
                            "default": {
                                "lifetime": {"minutes": ASSERTION_MINUTES},
                                "name_form": NAME_FORMAT_URI,
                            }
                        },
                    }
                },
            }
        )
        config.attribute_converters = [_attribute_converter()]
        return Server(config=config)

    # ---- HTTP --------------------------------------------------------------------------

    def _wsgi(self, environ: dict, start_response) -> list[bytes]:
        method, path = environ["REQUEST_METHOD"], environ.get("PATH_INFO", "")
        query = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
        form: dict[str, list[str]] = {}
        if method == "POST":
            length = int(environ.get("CONTENT_LENGTH") or 0)
            body = environ["wsgi.input"].read(length).decode()
            form = parse_qs(body, keep_blank_values=True)
        if path == "/metadata" and method == "GET":
            page = _Page("200 OK", self.metadata_xml(), "application/samlmetadata+xml")
        elif path == "/sso/redirect" and method == "GET":
            page = self._authn_request(query, BINDING_HTTP_REDIRECT)
        elif path == "/sso/post" and method == "POST":
            page = self._authn_request(form, BINDING_HTTP_POST)
        elif path == "/sso/login" and method == "POST":
            page = self._login(form)
        else:
            page = _Page("404 Not Found", "Not found", "text/plain; charset=utf-8")
        body_bytes = page.body.encode()
        headers = [
            ("Content-Type", page.content_type),
            ("Content-Length", str(len(body_bytes))),
            ("Cache-Control", "no-store"),
            *page.headers,
        ]
        start_response(page.status, headers)
        return [body_bytes]

    def _authn_request(self, params: dict[str, list[str]], binding: str) -> _Page:
        def one(name: str) -> str | None:
            return params[name][0] if name in params else None

        saml_request = one("SAMLRequest")
        if not saml_request:
            return _bad_request("No SAMLRequest.")
        relay_state = one("RelayState")
        with self._lock:
            server = self._server
            try:
                parsed = server.parse_authn_request(
                    saml_request,
                    binding,
                    relay_state=relay_state,
                    sigalg=one("SigAlg"),
                    signature=one("Signature"),
                )
                message = parsed.message
                # The ACS must be one the SP registered (SAML 2.0 profiles §4.1.4.1).
                answer_to = server.response_args(message, [BINDING_HTTP_POST])
            except Exception as error:  # any refusal is the 400 below
                return _bad_request(f"AuthnRequest refused: {type(error).__name__}: {error}")
            policy = message.name_id_policy
            seen = AuthnRequestSeen(
                id=message.id,
                sp_entity_id=answer_to["sp_entity_id"],
                acs_url=answer_to["destination"],
                binding=binding,
                relay_state=relay_state,
                name_id_policy_format=policy.format if policy is not None else None,
                force_authn=str(message.force_authn).lower() in ("true", "1"),
                xml=parsed.xmlstr.decode()
                if isinstance(parsed.xmlstr, bytes)
                else str(parsed.xmlstr),
            )
            self.authn_requests.append(seen)
            key = secrets.token_urlsafe(16)
            self._pending[key] = seen
        return _login_page(key, seen.sp_entity_id, error=None)

    def _login(self, form: dict[str, list[str]]) -> _Page:
        def one(name: str) -> str:
            return form.get(name, [""])[0]

        key = one("request")
        with self._lock:
            seen = self._pending.get(key)
            if seen is None:
                return _bad_request("No sign-in in progress (or it already finished).")
            if one("action") == "cancel":
                del self._pending[key]
                return self._post_back(
                    seen, None, status=(STATUS_AUTHN_FAILED, "The user cancelled the sign-in.")
                )
            user = self.users.get(one("username"))
            if user is None or not secrets.compare_digest(
                user.password.encode(), one("password").encode()
            ):
                return _login_page(key, seen.sp_entity_id, error=WRONG_PASSWORD, status="401")
            del self._pending[key]
            return self._post_back(seen, user)

    def _name_id(self, seen: AuthnRequestSeen, user: IdpUser) -> NameID | None:
        asked = seen.name_id_policy_format
        if asked in (None, NAMEID_FORMAT_UNSPECIFIED):
            fmt = NAMEID_FORMATS[self.name_id_format]
        elif asked in NAMEID_FORMATS.values():
            fmt = asked
        else:
            return None
        if fmt == NAMEID_FORMAT_PERSISTENT:
            return NameID(
                format=fmt,
                text=self.persistent_id(user.username, seen.sp_entity_id),
                name_qualifier=self.entity_id,
                sp_name_qualifier=seen.sp_entity_id,
            )
        if fmt == NAMEID_FORMAT_EMAILADDRESS:
            emails = user.attributes.get("email") or user.attributes.get("mail")
            return NameID(format=fmt, text=emails[0]) if emails else None
        if fmt == NAMEID_FORMAT_TRANSIENT:
            return NameID(format=fmt, text=secrets.token_hex(16))
        return NameID(format=fmt, text=user.username)

    def _post_back(
        self,
        seen: AuthnRequestSeen,
        user: IdpUser | None,
        *,
        status: tuple[str, str] | None = None,
    ) -> _Page:
        server = self._server
        name_id = self._name_id(seen, user) if user is not None else None
        if user is not None and name_id is None:
            status = (STATUS_INVALID_NAMEID_POLICY, "No NameID of the format asked for.")
        if status is not None:
            response = server.create_error_response(
                seen.id, seen.acs_url, status, sign=self.sign_response
            )
        else:
            response = server.create_authn_response(
                identity=dict(user.attributes),
                in_response_to=seen.id,
                destination=seen.acs_url,
                sp_entity_id=seen.sp_entity_id,
                name_id=name_id,
                authn={
                    "class_ref": AUTHN_PASSWORD_PROTECTED,
                    "authn_auth": self.entity_id,
                },
                sign_assertion=self.sign_assertion,
                sign_response=self.sign_response,
            )
        xml = str(response)
        saml_response = base64.b64encode(xml.encode()).decode()
        self.responses.append(
            ResponseIssued(
                sp_entity_id=seen.sp_entity_id,
                username=user.username if user is not None else None,
                acs_url=seen.acs_url,
                relay_state=seen.relay_state,
                xml=xml,
                saml_response=saml_response,
            )
        )
        return _auto_post_page(seen.acs_url, saml_response, seen.relay_state)


def _bad_request(message: str) -> _Page:
    return _Page("400 Bad Request", message, "text/plain; charset=utf-8")


def _login_page(key: str, sp_entity_id: str, *, error: str | None, status: str = "200") -> _Page:
    alert = f'<p role="alert">{html.escape(error)}</p>' if error else ""
    body = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Test IdP: sign in</title></head>
<body><main>
<h1>Sign in to the test IdP</h1>
<p>to continue to {html.escape(sp_entity_id)}</p>
{alert}
<form method="post" action="/sso/login">
<input type="hidden" name="request" value="{html.escape(key)}">
<p><label for="username">Username</label>
<input id="username" name="username" autocomplete="username" autofocus></p>
<p><label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password"></p>
<button type="submit" name="action" value="sign-in">Sign in</button>
<button type="submit" name="action" value="cancel" formnovalidate>Cancel</button>
</form>
</main></body></html>
"""
    reason = {"200": "OK", "401": "Unauthorized"}[status]
    return _Page(f"{status} {reason}", body)


def _auto_post_page(acs_url: str, saml_response: str, relay_state: str | None) -> _Page:
    """SAML 2.0 bindings §3.5.4: an HTML form the browser posts to the ACS."""
    relay = (
        f'<input type="hidden" name="RelayState" value="{html.escape(relay_state)}">'
        if relay_state is not None
        else ""
    )
    body = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Test IdP: signing you in</title></head>
<body>
<form method="post" action="{html.escape(acs_url)}">
<input type="hidden" name="SAMLResponse" value="{saml_response}">
{relay}
<noscript><button type="submit">Continue</button></noscript>
</form>
<script>document.forms[0].submit();</script>
</body></html>
"""
    return _Page("200 OK", body)


# ---- fixtures (tests/sso/conftest.py imports them; another conftest may too) ------------------


@pytest.fixture(scope="session")
def saml_idp_server() -> Iterator[SamlIdp]:
    """One IdP for the session (a key pair and a thread); `saml_idp` resets it per test."""
    if xmlsec1_path() is None:
        pytest.skip("the SAML test IdP signs with xmlsec1, not on PATH (apt install xmlsec1)")
    idp = SamlIdp()
    yield idp
    idp.stop()


@pytest.fixture
def saml_idp(saml_idp_server: SamlIdp) -> Iterator[SamlIdp]:
    """The running test IdP with no users, no SPs and default signing (see `SamlIdp.reset`)."""
    saml_idp_server.reset()
    yield saml_idp_server
    saml_idp_server.reset()
