"""Email domains an SSO provider routes (home-realm discovery, SPEC §11), proved by DNS.

Anyone administering an org may type any domain; it routes people on Doorman's sign-in page
only once the domain's owner proved it, as Okta, Entra ID and Auth0 ask: a TXT record
`_doorman-challenge.<domain>` holding `doorman-verification=<the provider's token>`. A
domain proved by one provider cannot be proved by another (nor routed by it), so no tenant
can send another's people to its identity provider, or squat their domain.

The provider's `config` keeps `domain_token` (random, public: it is published in DNS) and
`verified_domains`. DNS is asked through dnspython, with a 3-second budget;
DOORMAN_DNS_NAMESERVERS (`host[:port]`, comma-separated) names the resolvers to ask instead
of the system's (a private DNS, or the tests' own server).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction

from accounts.access import Access
from accounts.models import IdentityProvider
from audit.models import AuditAction
from audit.services import RequestMeta, audit_record

RECORD_PREFIX = "_doorman-challenge"
VALUE_PREFIX = "doorman-verification="
DNS_TIMEOUT = 3.0
VERIFY_NEEDS_ROOT_ADMIN = (
    "Only an Organization Administrator of the root organization can verify its domains."
)
NOT_SSO = "Only an OpenID Connect or SAML provider routes email domains."


def new_domain_token() -> str:
    return secrets.token_urlsafe(24)


def domain_token(provider: IdentityProvider) -> str:
    return str(provider.config.get("domain_token") or "")


def verified_domains(provider: IdentityProvider) -> list[str]:
    """The provider's domains that were proved (and are still configured)."""
    proved = provider.config.get("verified_domains") or []
    return [domain for domain in provider.domains if domain in proved]


def record_name(domain: str) -> str:
    return f"{RECORD_PREFIX}.{domain}"


def record_value(provider: IdentityProvider) -> str:
    return f"{VALUE_PREFIX}{domain_token(provider)}"


def domain_state_kept(old: IdentityProvider | None, config: dict, domains: list[str]) -> dict:
    """`config` (new settings) with the provider's token and the proofs of the domains it
    still routes carried over (a new provider gets a new token)."""
    token = domain_token(old) if old is not None else ""
    proved = old.config.get("verified_domains") or [] if old is not None else []
    return {
        **config,
        "domain_token": token or new_domain_token(),
        "verified_domains": [domain for domain in domains if domain in proved],
    }


class DnsUnavailable(Exception):
    """No resolver answered in time."""


def _resolver():
    import dns.resolver

    servers = [s.strip() for s in settings.DOORMAN_DNS_NAMESERVERS.split(",") if s.strip()]
    resolver = dns.resolver.Resolver(configure=not servers)
    if servers:
        resolver.nameservers = [s.rsplit(":", 1)[0] if ":" in s else s for s in servers]
        ports = {s.rsplit(":", 1)[1] for s in servers if ":" in s}
        if ports:
            resolver.port = int(ports.pop())
    resolver.lifetime = DNS_TIMEOUT
    resolver.timeout = DNS_TIMEOUT
    return resolver


def txt_values(name: str) -> list[str]:
    """The TXT strings at `name` ([] when there are none); DnsUnavailable on a timeout or a
    failing resolver."""
    import dns.exception
    import dns.resolver

    try:
        answer = _resolver().resolve(name, "TXT", search=False)
    except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
        return []
    except (dns.exception.Timeout, dns.resolver.NoNameservers) as exc:
        raise DnsUnavailable(str(exc)) from exc
    except dns.exception.DNSException as exc:
        raise DnsUnavailable(type(exc).__name__) from exc
    return [b"".join(record.strings).decode("utf-8", "replace") for record in answer]


@dataclass(frozen=True)
class DomainCheck:
    domain: str
    verified: bool
    detail: str


def domains_verify(
    *, access: Access, provider: IdentityProvider, meta: RequestMeta | None = None
) -> list[DomainCheck]:
    """Look for each configured domain's TXT record; record the ones proved (audited). A
    domain another provider proved first stays unproved here."""
    org = provider.organization
    if not access.holds_everything_in(org.root_organization):
        raise PermissionDenied(VERIFY_NEEDS_ROOT_ADMIN)
    if not provider.is_sso:
        raise ValidationError({"domains": NOT_SSO})
    wanted = record_value(provider)
    checks: list[DomainCheck] = []
    found: list[str] = []
    for domain in provider.domains:
        try:
            values = txt_values(record_name(domain))
        except DnsUnavailable:
            checks.append(DomainCheck(domain, False, "DNS did not answer; try again shortly."))
            continue
        if wanted in values:
            found.append(domain)
        else:
            checks.append(
                DomainCheck(domain, False, f"No TXT record {wanted!r} at {record_name(domain)}.")
            )
    with transaction.atomic():
        locked = IdentityProvider.objects.select_for_update().get(id=provider.id)
        proved = list(locked.config.get("verified_domains") or [])
        claimed_elsewhere = proved_elsewhere(locked.id)
        newly: list[str] = []
        for domain in found:
            if domain in claimed_elsewhere:
                checks.append(DomainCheck(domain, False, "Another provider proved it first."))
            elif domain in proved:
                checks.append(DomainCheck(domain, True, "Verified."))
            else:
                proved.append(domain)
                newly.append(domain)
                checks.append(DomainCheck(domain, True, "Verified now."))
        if newly:
            locked.config = {**locked.config, "verified_domains": proved}
            locked.save(update_fields=["config", "updated_at"])
            audit_record(
                action=AuditAction.IDENTITY_PROVIDER_CHANGED,
                organization=org,
                **access.audit_actor,
                target=locked,
                details={"domains_verified": newly},
                meta=meta,
            )
    provider.config = locked.config
    order = {domain: i for i, domain in enumerate(provider.domains)}
    return sorted(checks, key=lambda check: order.get(check.domain, 0))


def proved_elsewhere(provider_id: object) -> set[str]:
    """The domains providers other than `provider_id` (None: any) proved."""
    others = IdentityProvider.objects.exclude(id=provider_id).exclude(domains=[])
    return {domain for other in others for domain in verified_domains(other)}


def domain_rows(provider: IdentityProvider) -> list[dict]:
    """Each configured domain with the TXT record that proves it and whether it is proved
    (what the API and the provider's page show)."""
    proved = verified_domains(provider)
    return [
        {"domain": d, "record_name": record_name(d), "verified": d in proved}
        for d in provider.domains
    ]


def provider_routing(domain: str) -> IdentityProvider | None:
    """The provider that proved `domain` (home-realm discovery), if any."""
    candidates = IdentityProvider.objects.select_related("organization").exclude(domains=[])
    for provider in candidates:
        if provider.is_sso and domain in verified_domains(provider):
            return provider
    return None
