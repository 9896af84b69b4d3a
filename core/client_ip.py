"""The client's IP address: the one place rate limits, lockouts and the audit trail read it
(SPEC §10).

With DOORMAN_TRUSTED_PROXY_COUNT = 0 it is REMOTE_ADDR (the peer, or what a trusted reverse
proxy set it to). With N > 0, N reverse proxies are trusted, each appending the address it
saw to X-Forwarded-For, so the Nth entry from the right is the client as the outermost
trusted proxy saw it; entries left of it are the client's own word and are never read.

Whatever is returned is a valid IP address in canonical form (it lands in a
GenericIPAddressField and in cache keys): an entry that is not one (a forged or mangled
header) falls back to REMOTE_ADDR, as does a header with fewer entries than trusted proxies.
A port (`203.0.113.5:443`, `[2001:db8::1]:443`) and an IPv6 zone index are dropped; an
IPv4-mapped IPv6 address is its IPv4 address.

Works on a Django request, a WSGI environ and oauthlib's copy of the environ
(`request.headers` of an oauthlib request, which django-oauth-toolkit builds from META).
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from django.conf import settings

log = logging.getLogger(__name__)

MAX_ADDRESS_LENGTH = 64  # longer than any IPv6 address with a port: not one
# An IPv6 client usually holds a whole /64: limits count it as one address.
IPV6_LIMIT_PREFIX = 64


def client_ip(source: Any) -> str | None:
    """The client's IP address for `source` (a request, or a META-like mapping), or None
    when even REMOTE_ADDR is not an IP address (e.g. a server on a Unix socket)."""
    meta: Mapping = getattr(source, "META", source) or {}
    proxies = settings.DOORMAN_TRUSTED_PROXY_COUNT
    if proxies:
        forwarded = [hop.strip() for hop in str(meta.get("HTTP_X_FORWARDED_FOR") or "").split(",")]
        forwarded = [hop for hop in forwarded if hop]
        if len(forwarded) >= proxies:
            address = ip_normalize(forwarded[-proxies])
            if address is not None:
                return address
    peer = ip_normalize(str(meta.get("REMOTE_ADDR") or ""))
    if not proxies and "HTTP_X_FORWARDED_FOR" in meta:
        _warn_if_behind_an_untrusted_proxy(peer)
    return peer


_proxy_warning_given = False


def _warn_if_behind_an_untrusted_proxy(peer: str | None) -> None:
    """Once per process: a forwarded request from a private or loopback peer while no proxy
    is trusted means every client shares the proxy's address, so one guesser's failures lock
    everyone out and per-address limits are global (a deployment mistake, not an attack)."""
    global _proxy_warning_given
    if _proxy_warning_given or peer is None:
        return
    address = ipaddress.ip_address(peer)
    if address.is_private or address.is_loopback:
        _proxy_warning_given = True
        log.warning(
            "Requests arrive through a proxy (%s sends X-Forwarded-For) but "
            "DOORMAN_TRUSTED_PROXY_COUNT is 0: every client counts as that proxy's address for "
            "rate limits, lockouts and the audit trail. Set it to the number of proxies.",
            peer,
        )


def ip_normalize(value: str) -> str | None:
    """`value` as a canonical IP address, or None when it is not one."""
    if not value or len(value) > MAX_ADDRESS_LENGTH:
        return None  # before the cache: a sender's long header values must not fill it
    return _ip_normalize(value)


@lru_cache(maxsize=4096)  # on every token request; a busy server sees the same clients
def _ip_normalize(value: str) -> str | None:
    if value.startswith("["):  # [IPv6] or [IPv6]:port
        value = value[1:].partition("]")[0]
    elif value.count(":") == 1:  # IPv4:port
        value = value.partition(":")[0]
    value = value.partition("%")[0]  # a zone index names an interface of the sender's host
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return str(address)


@lru_cache(maxsize=4096)
def client_ip_bucket(address: str | None) -> str:
    """What limits count `address` under: an IPv4 address itself, an IPv6 address's /64
    (rotating through one's own /64 must not buy fresh budgets); "" when unknown."""
    if not address:
        return ""
    if ":" not in address:
        return address
    network = ipaddress.ip_network(f"{address}/{IPV6_LIMIT_PREFIX}", strict=False)
    return str(network)
