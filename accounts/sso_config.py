"""An org's single sign-on settings (SPEC §11): what an administrator may configure for an
OpenID Connect or SAML identity provider, checked and normalised, and the URLs Doorman
fetches from them.

OpenID Connect (`config`): `issuer` (the issuer or its discovery URL), `client_id`,
`scopes`, `claim_mapping` (user field -> claim); the client secret is sealed apart.
SAML 2.0 (`config`): the IdP's `entity_id`, `sso_url` and signing `x509cert`, read from the
metadata XML an administrator pastes or the `metadata_url` Doorman fetches (kept, so a
sign-in never waits on the IdP's metadata), and `attribute_mapping` (user field ->
attribute; the NameID is the subject unless `uid` is mapped).

Every URL Doorman fetches is the administrator's choice, so it must not reach into the
network Doorman runs in (SSRF): https only, and no loopback, private, link-local or reserved
address, unless DOORMAN_SSO_ALLOW_PRIVATE_NETWORKS (development and tests) allows them.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError

USER_FIELDS = ("username", "email", "first_name", "last_name")
DEFAULT_OIDC_SCOPES = ["openid", "email", "profile"]
DEFAULT_CLAIM_MAPPING = {
    "username": "preferred_username",
    "email": "email",
    "first_name": "given_name",
    "last_name": "family_name",
}
DEFAULT_ATTRIBUTE_MAPPING = {
    "username": "uid",
    "email": "email",
    "first_name": "givenName",
    "last_name": "sn",
}
METADATA_TIMEOUT = 5  # seconds, for the IdP metadata and discovery documents we fetch

URL_REQUIRED = "Required: an https URL."
URL_INVALID = "Must be an https URL."
URL_PRIVATE = "Must not point into a private, loopback or link-local network."
URL_UNRESOLVABLE = "Its host name cannot be resolved."
CLIENT_ID_REQUIRED = "Required: the client ID the identity provider gave Doorman."
CLIENT_SECRET_REQUIRED = "Required: the client secret the identity provider gave Doorman."  # noqa: S105
SCOPES_INVALID = "A list of scope names, including openid."
MAPPING_INVALID = "An object mapping username, email, first_name, last_name to claim names."
ATTRIBUTE_MAPPING_INVALID = (
    "An object mapping username, email, first_name, last_name (and uid, the attribute naming "
    "the user instead of the NameID) to attribute names."
)
METADATA_REQUIRED = "Give the IdP's metadata XML or its metadata URL."
METADATA_INVALID = "This is not SAML IdP metadata with a sign-in URL and a signing certificate."
METADATA_UNREACHABLE = "The metadata URL could not be fetched: {reason}"
DOMAINS_INVALID = "A list of email domains, such as example.com."
_DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
_TOKEN = re.compile(r"^[\x21-\x7e]{1,200}$")


def _private_networks_allowed() -> bool:
    return bool(getattr(settings, "DOORMAN_SSO_ALLOW_PRIVATE_NETWORKS", False))


# IPv6 prefixes whose addresses carry an IPv4 address that a translator or relay delivers
# to (NAT64 RFC 6052 / RFC 8215, 6to4 RFC 3056, IPv4-compatible and -mapped): the IPv4 one
# must be public too (Python 3.11 calls 64:ff9b::a9fe:a9fe "global").
_IPV4_IN_IPV6 = (
    ipaddress.ip_network("64:ff9b::/96"),
    ipaddress.ip_network("64:ff9b:1::/48"),
    ipaddress.ip_network("::/96"),
    ipaddress.ip_network("::ffff:0:0/96"),
)


def _address_is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%")[0])
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = ip.sixtofour or (ip.teredo[1] if ip.teredo else None)
        if embedded is None and any(ip in net for net in _IPV4_IN_IPV6):
            embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if embedded is not None and not _address_is_public(str(embedded)):
            return False
    return ip.is_global and not ip.is_multicast


def outbound_url_errors(url: str) -> str | None:
    """Why Doorman must not fetch `url` (None: it may). Resolves the host: every address it
    has must be public (unless private networks are allowed)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return URL_INVALID
    allow_private = _private_networks_allowed()
    schemes = ("https", "http") if allow_private else ("https",)
    if parts.scheme not in schemes or not parts.hostname or parts.username or parts.password:
        return URL_INVALID
    if allow_private:
        return None
    try:
        _checked_addresses(parts.hostname, parts.port or 443)
    except OSError as exc:
        return URL_PRIVATE if str(exc) == URL_PRIVATE else URL_UNRESOLVABLE
    except UnicodeError:
        return URL_UNRESOLVABLE
    return None


def _checked_addresses(host: str, port: int) -> list[tuple]:
    """`host`'s addresses (getaddrinfo's sockaddrs), every one public; OSError otherwise."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    if not infos or not all(_address_is_public(info[4][0]) for info in infos):
        raise OSError(URL_PRIVATE)
    return [info[4] for info in infos]


def outbound_session():
    """A requests session whose connections go only to the addresses checked for them: each
    connection resolves its host once, checks every address (as `outbound_url_errors`) and
    connects to one of those, so a name cannot resolve to a public address for the check and
    to an internal one for the connection (DNS rebinding). TLS still verifies the host name."""
    import requests
    from requests.adapters import HTTPAdapter
    from urllib3.connection import HTTPConnection, HTTPSConnection
    from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
    from urllib3.exceptions import NewConnectionError
    from urllib3.util.connection import create_connection

    class Pinned:
        def _new_conn(self):
            if _private_networks_allowed():
                return super()._new_conn()
            try:
                addresses = _checked_addresses(self._dns_host, self.port)
            except (OSError, UnicodeError) as exc:
                raise NewConnectionError(self, f"refused to connect: {exc}") from exc
            try:
                return create_connection(
                    addresses[0][:2],
                    self.timeout,
                    source_address=self.source_address,
                    socket_options=self.socket_options,
                )
            except OSError as exc:
                raise NewConnectionError(self, f"failed to connect: {exc}") from exc

    class PinnedHTTP(Pinned, HTTPConnection):
        pass

    class PinnedHTTPS(Pinned, HTTPSConnection):
        pass

    class PinnedHTTPPool(HTTPConnectionPool):
        ConnectionCls = PinnedHTTP

    class PinnedHTTPSPool(HTTPSConnectionPool):
        ConnectionCls = PinnedHTTPS

    class PinnedAdapter(HTTPAdapter):
        def init_poolmanager(self, *args, **kwargs) -> None:
            super().init_poolmanager(*args, **kwargs)
            self.poolmanager.pool_classes_by_scheme = {
                "http": PinnedHTTPPool,
                "https": PinnedHTTPSPool,
            }

    session = requests.Session()
    session.mount("http://", PinnedAdapter())
    session.mount("https://", PinnedAdapter())
    return session


def clean_url(value: object, field: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValidationError({field: URL_REQUIRED})
    url = value.strip()
    if len(url) > 500:
        raise ValidationError({field: URL_INVALID})
    error = outbound_url_errors(url)
    if error:
        raise ValidationError({field: error})
    return url


def clean_domains(value: object) -> list[str]:
    if value in (None, ""):
        return []
    if not isinstance(value, list) or len(value) > 20:
        raise ValidationError({"domains": DOMAINS_INVALID})
    domains: list[str] = []
    for item in value:
        domain = item.strip().lower().lstrip("@") if isinstance(item, str) else ""
        if not _DOMAIN.match(domain):
            raise ValidationError({"domains": DOMAINS_INVALID})
        if domain not in domains:
            domains.append(domain)
    return domains


def _clean_mapping(
    value: object,
    default: dict[str, str],
    field: str,
    *,
    keys: tuple[str, ...] = USER_FIELDS,
    message: str = MAPPING_INVALID,
) -> dict[str, str]:
    if value in (None, ""):
        return dict(default)
    if not isinstance(value, dict) or not set(value) <= set(keys):
        raise ValidationError({field: message})
    mapping = dict(default)
    for key, claim in value.items():
        if not isinstance(claim, str) or not _TOKEN.match(claim):
            raise ValidationError({field: message})
        mapping[key] = claim
    return mapping


def clean_oidc_config(body: dict, *, secret_required: bool) -> tuple[dict, str | None]:
    """(config, client secret or None when not given) from an administrator's input."""
    issuer = clean_url(body.get("issuer"), "issuer")
    client_id = body.get("client_id")
    if not isinstance(client_id, str) or not _TOKEN.match(client_id.strip()):
        raise ValidationError({"client_id": CLIENT_ID_REQUIRED})
    secret = body.get("client_secret")
    if secret in (None, ""):
        if secret_required:
            raise ValidationError({"client_secret": CLIENT_SECRET_REQUIRED})
        secret = None
    elif not isinstance(secret, str) or len(secret) > 500:
        raise ValidationError({"client_secret": CLIENT_SECRET_REQUIRED})
    scopes = body.get("scopes") or list(DEFAULT_OIDC_SCOPES)
    if (
        not isinstance(scopes, list)
        or len(scopes) > 20
        or not all(isinstance(s, str) and _TOKEN.match(s) for s in scopes)
        or "openid" not in scopes
    ):
        raise ValidationError({"scopes": SCOPES_INVALID})
    config = {
        "issuer": issuer,
        "client_id": client_id.strip(),
        "scopes": list(dict.fromkeys(scopes)),
        "claim_mapping": _clean_mapping(
            body.get("claim_mapping"), DEFAULT_CLAIM_MAPPING, "claim_mapping"
        ),
    }
    return config, secret


def parse_idp_metadata(xml: str, entity_id: str | None = None) -> dict[str, str]:
    """The IdP's entity id, redirect-binding sign-in URL and signing certificate from its
    metadata (python3-saml's parser, which refuses DTDs and entities)."""
    from onelogin.saml2.idp_metadata_parser import OneLogin_Saml2_IdPMetadataParser

    try:
        parsed = OneLogin_Saml2_IdPMetadataParser.parse(xml, entity_id=entity_id or None)
    except Exception as exc:  # any parse failure is the admin's input
        raise ValidationError({"metadata_xml": METADATA_INVALID}) from exc
    idp = parsed.get("idp") or {}
    sso_url = (idp.get("singleSignOnService") or {}).get("url")
    cert = idp.get("x509cert") or next(
        iter((idp.get("x509certMulti") or {}).get("signing") or []), None
    )
    if not idp.get("entityId") or not sso_url or not cert:
        raise ValidationError({"metadata_xml": METADATA_INVALID})
    return {"entity_id": idp["entityId"], "sso_url": sso_url, "x509cert": cert}


def fetch_idp_metadata(url: str) -> str:
    """The metadata document at `url` (checked for SSRF; 5 s; at most 1 MB)."""
    import requests

    error = outbound_url_errors(url)
    if error:
        raise ValidationError({"metadata_url": error})
    try:
        with (
            outbound_session() as session,
            session.get(url, timeout=METADATA_TIMEOUT, stream=True, allow_redirects=False) as r,
        ):
            r.raise_for_status()
            body = r.raw.read(1_000_001, decode_content=True)
    except requests.RequestException as exc:
        reason = type(exc).__name__
        raise ValidationError({"metadata_url": METADATA_UNREACHABLE.format(reason=reason)}) from exc
    if len(body) > 1_000_000:
        raise ValidationError({"metadata_url": METADATA_INVALID})
    return body.decode("utf-8", errors="replace")


def clean_saml_config(body: dict) -> dict:
    """The SAML config from an administrator's input: metadata XML, or a metadata URL that is
    fetched now."""
    xml = body.get("metadata_xml")
    url = body.get("metadata_url")
    entity_id = body.get("entity_id")
    if entity_id is not None and (not isinstance(entity_id, str) or len(entity_id) > 500):
        raise ValidationError({"entity_id": METADATA_INVALID})
    if isinstance(xml, str) and xml.strip():
        if len(xml) > 1_000_000:
            raise ValidationError({"metadata_xml": METADATA_INVALID})
        metadata_url = ""
    elif isinstance(url, str) and url.strip():
        metadata_url = clean_url(url, "metadata_url")
        xml = fetch_idp_metadata(metadata_url)
    else:
        raise ValidationError({"metadata_xml": METADATA_REQUIRED})
    idp = parse_idp_metadata(xml, entity_id)
    return {
        **idp,
        "metadata_url": metadata_url,
        "attribute_mapping": _clean_mapping(
            body.get("attribute_mapping"),
            DEFAULT_ATTRIBUTE_MAPPING,
            "attribute_mapping",
            keys=(*USER_FIELDS, "uid"),
            message=ATTRIBUTE_MAPPING_INVALID,
        ),
    }
