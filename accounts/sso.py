"""Company single sign-on (SPEC §11) through django-allauth's socialaccount: an org's
OpenID Connect and SAML identity providers, and the users they sign in.

- allauth's apps are built from IdentityProvider rows (`SocialAccountAdapter.list_apps`):
  no SocialApp table to keep in step, and the OIDC client secret is unsealed only to be used.
- Who a sign-in reaches is the same rule as jwt-bearer's (SPEC §5): only the provider's link
  (FederatedIdentity, subject = the OIDC `sub` or the SAML NameID / mapped `uid`). Without a
  link the user is created just in time in the provider's org and linked; an existing account
  is never matched by email or username (a name that is taken gets a suffix instead).
  allauth's own SocialAccount rows are not written: the link is the one identity model.
- A deactivated user, or a request to connect a provider to an account already signed in,
  is refused with a page (403) and an audit event; a completed SSO sign-in is audited.
- Every URL allauth fetches (discovery, JWKS, token, userinfo) passes the SSRF check of
  accounts.sso_config, with allauth's timeout.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from dataclasses import dataclass

from allauth.account.signals import user_logged_in
from allauth.core.exceptions import ImmediateHttpResponse
from allauth.socialaccount.adapter import DefaultSocialAccountAdapter
from allauth.socialaccount.models import SocialApp, SocialLogin
from allauth.socialaccount.providers.base import AuthProcess
from django.contrib.auth.validators import UnicodeUsernameValidator
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.shortcuts import render
from django.urls import reverse

from accounts.access import Access
from accounts.models import (
    SSO_PROVIDER_TYPES,
    FederatedIdentity,
    IdentityProvider,
    IdentityProviderType,
    User,
)
from accounts.security_policy import sso_required_for
from accounts.services.identity import SSO_NEEDS_ROOT_ADMIN
from accounts.services.users import _clean_user_fields, _email_errors
from accounts.sso_config import outbound_session, outbound_url_errors
from accounts.sso_domains import provider_routing
from audit.models import AuditAction, AuditOutcome
from audit.services import RequestMeta, audit_record
from core.sealing import SealBroken, unseal

logger = logging.getLogger(__name__)

ALLAUTH_PROVIDER = {
    IdentityProviderType.OIDC: "openid_connect",
    IdentityProviderType.SAML: "saml",
}
REFUSED_INACTIVE = "Your account is deactivated. Ask an administrator of your organization."
REFUSED_CONNECT = "Single sign-on signs people in; it cannot be added to another account."
REFUSED_UNKNOWN = "This identity provider is not set up for single sign-on."
REFUSED_NO_SUBJECT = "The identity provider did not say who signed in."
REFUSED_SUBJECT_CASE = (
    "Another person of this identity provider has this identifier in a different case: ask an "
    "administrator of your organization."
)


# -- allauth's apps, from IdentityProvider rows ------------------------------------------------
def allauth_app(provider: IdentityProvider) -> SocialApp:
    """The (unsaved) allauth app that signs people in through `provider`."""
    config = provider.config
    if provider.type == IdentityProviderType.OIDC:
        try:
            secret = unseal(provider.client_secret_sealed)
        except SealBroken:
            secret = ""  # the upstream refuses the code exchange; "test connection" says why
        return SocialApp(
            provider="openid_connect",
            provider_id=str(provider.id),
            name=provider.name,
            client_id=config.get("client_id", ""),
            secret=secret,
            settings={
                "server_url": config.get("issuer", ""),
                "scope": config.get("scopes") or ["openid"],
                "oauth_pkce_enabled": True,
                "fetch_userinfo": True,
            },
        )
    mapping = config.get("attribute_mapping") or {}
    attribute_mapping = {key: value for key, value in mapping.items() if key != "username"}
    if mapping.get("username"):
        attribute_mapping["username"] = mapping["username"]
    return SocialApp(
        provider="saml",
        provider_id=str(provider.id),
        name=provider.name,
        client_id=str(provider.id),  # the {organization_slug} of allauth's SAML URLs
        settings={
            "idp": {
                "entity_id": config.get("entity_id", ""),
                "sso_url": config.get("sso_url", ""),
                "x509cert": config.get("x509cert", ""),
            },
            "attribute_mapping": attribute_mapping,
            "advanced": {
                "strict": True,
                "want_assertion_signed": True,
                "reject_idp_initiated_sso": True,
                "allow_single_label_domains": True,  # loopback and intranet IdPs
            },
        },
    )


def _as_uuid(value: object) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except (TypeError, ValueError):
        return None


def sso_providers(*, provider: str | None = None, client_id: str | None = None):
    """The SSO IdentityProviders matching allauth's lookup (`provider` is allauth's provider
    type or one of ours' id; `client_id` the OIDC client id or, for SAML, our id)."""
    rows = IdentityProvider.objects.filter(type__in=SSO_PROVIDER_TYPES)
    if provider in ALLAUTH_PROVIDER.values():
        rows = rows.filter(
            type=next(kind for kind, name in ALLAUTH_PROVIDER.items() if name == provider)
        )
    elif provider:
        provider_uuid = _as_uuid(provider)
        if provider_uuid is None:
            return []
        rows = rows.filter(id=provider_uuid)
    providers = list(rows)
    if client_id:
        providers = [
            p
            for p in providers
            if (str(p.id) if p.type == IdentityProviderType.SAML else p.config.get("client_id"))
            == client_id
        ]
    return providers


def callback_urls(request: HttpRequest | None, provider: IdentityProvider) -> dict[str, str]:
    """What the upstream provider must be told: the OIDC redirect URI, or the SAML ACS URL,
    SP entity id and metadata URL."""
    from django.conf import settings

    def absolute(path: str) -> str:
        if request is not None:
            return request.build_absolute_uri(path)
        return settings.DOORMAN_BASE_URL + path

    if provider.type == IdentityProviderType.OIDC:
        return {
            "redirect_uri": absolute(
                reverse("openid_connect_callback", kwargs={"provider_id": str(provider.id)})
            ),
            "sign_in_url": absolute(sso_sign_in_path(provider)),
        }
    metadata = absolute(reverse("saml_metadata", args=[str(provider.id)]))
    return {
        "acs_url": absolute(reverse("saml_acs", args=[str(provider.id)])),
        "sp_entity_id": metadata,
        "metadata_url": metadata,
        "sign_in_url": absolute(sso_sign_in_path(provider)),
    }


def sso_sign_in_path(provider: IdentityProvider) -> str:
    if provider.type == IdentityProviderType.OIDC:
        return reverse("openid_connect_login", kwargs={"provider_id": str(provider.id)})
    return reverse("saml_login", kwargs={"organization_slug": str(provider.id)})


def checked_session():
    """A requests session whose every URL passes the SSRF check first, with allauth's
    timeout, and which follows no redirect (a redirect could lead anywhere)."""
    import requests
    from allauth.socialaccount import app_settings

    class CheckedSession(requests.Session):
        def __init__(self) -> None:
            super().__init__()
            # Connections go only to the addresses checked for them (DNS rebinding).
            self.adapters = outbound_session().adapters

        def request(self, method, url, *args, **kwargs):
            error = outbound_url_errors(url)
            if error:
                raise requests.ConnectionError(f"refused to fetch {url}: {error}")
            kwargs.setdefault("timeout", app_settings.REQUESTS_TIMEOUT)
            kwargs["allow_redirects"] = False
            return super().request(method, url, *args, **kwargs)

    return CheckedSession()


# -- who signed in -----------------------------------------------------------------------------
def _claims(provider: IdentityProvider, sociallogin: SocialLogin) -> dict[str, str]:
    """The user fields the provider asserted, through the org's mapping."""
    data = sociallogin.account.extra_data or {}
    if provider.type == IdentityProviderType.OIDC:
        source = {**(data.get("id_token") or {}), **(data.get("userinfo") or {})} or data
        mapping = provider.config.get("claim_mapping") or {}
    else:
        source = {key: values[0] for key, values in data.items() if values} if data else {}
        mapping = provider.config.get("attribute_mapping") or {}
    fields = {}
    for field in ("username", "email", "first_name", "last_name"):
        names = [mapping.get(field, "")]
        if provider.type == IdentityProviderType.SAML:
            # The usual short name also stands for its standard long forms (LDAP OIDs, the
            # Microsoft claim URIs) that Shibboleth, ADFS and Entra send instead.
            names += SAML_ATTRIBUTE_SYNONYMS.get(names[0], [])
        value = next((source[name] for name in names if source.get(name)), "")
        fields[field] = value if isinstance(value, str) else ""
    return fields


SAML_ATTRIBUTE_SYNONYMS = {
    "uid": ["urn:oid:0.9.2342.19200300.100.1.1"],
    "email": [
        "mail",
        "urn:oid:0.9.2342.19200300.100.1.3",
        "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress",
    ],
    "givenName": [
        "urn:oid:2.5.4.42",
        "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/givenname",
    ],
    "sn": ["urn:oid:2.5.4.4", "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/surname"],
}


def _subject(provider: IdentityProvider, sociallogin: SocialLogin) -> str:
    """Who the provider says signed in: the OIDC `sub`, the SAML NameID, or the SAML `uid`
    attribute when the org maps one (never the NameID in its absence: a person would get a
    second account, or a new one at every sign-in with transient NameIDs)."""
    uid_attribute = (provider.config.get("attribute_mapping") or {}).get("uid")
    if provider.type == IdentityProviderType.SAML and uid_attribute:
        values = (sociallogin.account.extra_data or {}).get(uid_attribute) or [""]
        return str(values[0]).strip()
    return str(sociallogin.account.uid or "").strip()


def _free_username(wanted: str, provider: IdentityProvider, subject: str) -> str:
    """`wanted` if it is a valid username nobody holds; else one with a suffix made from the
    provider and subject (never another account's name: SSO never merges)."""
    digest = hashlib.sha256(f"{provider.id}|{subject}".encode()).hexdigest()
    base = wanted.strip()
    try:
        UnicodeUsernameValidator()(base)
    except ValidationError:
        base = ""
    base = base[:120] or "sso"
    for candidate in (base, f"{base}-{digest[:6]}", f"{base}-{digest[:12]}"):
        if not User.objects.filter(username__iexact=candidate).exists():
            return candidate
    return f"sso-{digest[:24]}"


def _refuse(request: HttpRequest, provider: IdentityProvider | None, message: str, **details):
    audit_record(
        action=AuditAction.SSO_SIGN_IN_REFUSED,
        organization=provider.organization if provider is not None else None,
        actor=None,
        outcome=AuditOutcome.FAILURE,
        target=provider,
        details={"reason": message, **details},
        meta=RequestMeta.from_request(request),
    )
    response = render(request, "account/sso_refused.html", {"message": message}, status=403)
    raise ImmediateHttpResponse(response)


def sso_user_for(request: HttpRequest, provider: IdentityProvider, sociallogin: SocialLogin):
    """The user this sign-in reaches: the provider's link, or a new user created in the
    provider's org and linked. Updates the linked user's names (and email, for accounts
    without a password) from the assertion."""
    subject = _subject(provider, sociallogin)
    if not subject or len(subject) > 150:
        _refuse(request, provider, REFUSED_NO_SUBJECT)
    fields = _clean_user_fields(**_claims(provider, sociallogin))
    if fields["email"] and _email_errors(fields["email"]):
        fields["email"] = ""
    for name in ("first_name", "last_name"):
        fields[name] = fields[name][:150]
    link = (
        FederatedIdentity.objects.select_related("user")
        .filter(provider=provider, subject__iexact=subject)
        .first()
    )
    _same_subject_or_refuse(request, provider, link, subject)
    if link is not None:
        user = link.user
        if not user.is_active:
            _refuse(request, provider, REFUSED_INACTIVE, user=str(user.id))
        updatable = ["first_name", "last_name"]
        if not user.has_usable_password():
            updatable.append("email")
        changed = [f for f in updatable if fields[f] and getattr(user, f) != fields[f]]
        for name in changed:
            setattr(user, name, fields[name])
        if changed:
            user.save(update_fields=changed)
        return user
    wanted = fields["username"] or fields["email"].partition("@")[0] or subject
    try:
        with transaction.atomic():
            user = User(
                organization_id=provider.organization.root_id_or_self,
                username=_free_username(wanted, provider, subject),
                email=fields["email"],
                first_name=fields["first_name"],
                last_name=fields["last_name"],
            )
            user.set_unusable_password()
            user.save(force_insert=True)
            FederatedIdentity.objects.create(provider=provider, user=user, subject=subject)
            audit_record(
                action=AuditAction.USER_CREATED,
                organization_id=user.organization_id,
                organization=None,
                actor=None,
                target=user,
                details={
                    "username": user.username,
                    "identity_provider": str(provider.id),
                    "just_in_time": True,
                },
                meta=RequestMeta.from_request(request),
            )
    except IntegrityError:
        # A concurrent first sign-in of the same subject created it: use theirs.
        link = FederatedIdentity.objects.select_related("user").get(
            provider=provider, subject__iexact=subject
        )
        _same_subject_or_refuse(request, provider, link, subject)
        return link.user
    return user


def _same_subject_or_refuse(request, provider, link, subject: str) -> None:
    """An OpenID Connect `sub` is case-sensitive (OIDC Core §2): a link found for it in
    another case (the links are unique case-insensitively) is another person's."""
    if link is not None and provider.type == IdentityProviderType.OIDC and link.subject != subject:
        _refuse(request, provider, REFUSED_SUBJECT_CASE)


class SocialAccountAdapter(DefaultSocialAccountAdapter):
    """allauth's seams for company SSO (settings.SOCIALACCOUNT_ADAPTER)."""

    def list_apps(self, request, provider=None, client_id=None) -> list[SocialApp]:
        return [allauth_app(p) for p in sso_providers(provider=provider, client_id=client_id)]

    def get_requests_session(self):
        return checked_session()

    def is_open_for_signup(self, request, sociallogin) -> bool:
        # Users are created by pre_social_login (just in time, linked), never by allauth's
        # signup, which would match or collide on email.
        return False

    def pre_social_login(self, request: HttpRequest, sociallogin: SocialLogin) -> None:
        provider_uuid = _as_uuid(sociallogin.account.provider)
        provider = (
            IdentityProvider.objects.select_related("organization").filter(id=provider_uuid).first()
            if provider_uuid
            else None
        )
        if provider is None or not provider.is_sso:
            _refuse(request, provider, REFUSED_UNKNOWN)
        if sociallogin.state.get("process") == AuthProcess.CONNECT:
            _refuse(request, provider, REFUSED_CONNECT)
        user = sso_user_for(request, provider, sociallogin)
        sociallogin.user = user
        sociallogin.account.user = user
        sociallogin.identity_provider = provider


def sso_sign_in_recorded(sender, request: HttpRequest, user, **kwargs) -> None:
    """Audit a completed SSO sign-in (allauth's user_logged_in, with the social login)."""
    sociallogin = kwargs.get("sociallogin")
    provider = getattr(sociallogin, "identity_provider", None)
    if provider is None:
        return
    audit_record(
        action=AuditAction.SSO_SIGNED_IN,
        organization_id=user.organization_id,
        organization=None,
        actor=user,
        target=user,
        details={"identity_provider": str(provider.id), "type": provider.type},
        meta=RequestMeta.from_request(request),
    )


def sso_sign_ins_audited() -> None:
    """Connect the audit of SSO sign-ins (accounts.apps.AccountsConfig.ready)."""
    user_logged_in.connect(sso_sign_in_recorded, weak=False, dispatch_uid="doorman-sso-audit")


# -- home-realm discovery ----------------------------------------------------------------------
def home_realm(login: str) -> IdentityProvider | None:
    """The SSO provider that signs `login` in: the one that proved the email's domain
    (accounts.sso_domains), or the provider the user of that username is linked to (a local
    account with a password, or a jwt-only link, has none)."""
    login = login.strip()
    if "@" in login:
        domain = login.rpartition("@")[2].lower()
        provider = provider_routing(domain) if domain else None
        if provider is not None:
            return provider
    link = (
        FederatedIdentity.objects.select_related("provider__organization", "user")
        .filter(user__username__iexact=login, provider__type__in=SSO_PROVIDER_TYPES)
        .order_by("created_at")
        .first()
    )
    if link is None:
        return None
    if link.user.has_usable_password() and not sso_required_for(link.user):
        return None  # a local account, which signs in with its password
    return link.provider


SSO_UNREACHABLE = (
    "Your organization's identity provider cannot be reached right now. Try again shortly."
)


def sso_sign_in_redirect(request: HttpRequest, provider: IdentityProvider, next_url: str | None):
    """Start the sign-in at `provider` (what its sign-in button does), coming back to
    `next_url`. The upstream's discovery document may be fetched: a failure is a page that
    says so (503), never an error 500."""
    import requests
    from allauth.socialaccount.providers.oauth2.client import OAuth2Error

    app = allauth_app(provider)
    try:
        return app.get_provider(request).redirect(request, AuthProcess.LOGIN, next_url=next_url)
    except (requests.RequestException, OAuth2Error, ValueError, KeyError, TypeError):
        logger.warning("SSO provider %s unreachable", provider.id, exc_info=True)
        response = render(
            request, "account/sso_refused.html", {"message": SSO_UNREACHABLE}, status=503
        )
        response["Retry-After"] = "30"
        return response


# -- "test connection" -------------------------------------------------------------------------
@dataclass(frozen=True)
class ConnectionCheck:
    name: str
    ok: bool
    detail: str


def sso_connection_test(*, access: Access, provider: IdentityProvider) -> list[ConnectionCheck]:
    """What an administrator's "test connection" reports: for OpenID Connect, that the
    discovery document is reachable, names this issuer and the endpoints a sign-in uses, and
    that its signing keys load; for SAML, that the IdP's metadata (fetched again when it came
    from a URL) still names the configured entity, sign-in URL and certificate. Each URL
    passes the SSRF check; nothing is written. An SSO provider of an org whose root the
    caller administers with full access only (it makes Doorman fetch its URLs)."""
    import requests

    from accounts.sso_config import fetch_idp_metadata, parse_idp_metadata

    if not provider.is_sso or not access.holds_everything_in(
        provider.organization.root_organization
    ):
        raise PermissionDenied(SSO_NEEDS_ROOT_ADMIN)

    checks: list[ConnectionCheck] = []
    config = provider.config
    if provider.type == IdentityProviderType.OIDC:
        issuer = config.get("issuer", "")
        url = issuer if "/.well-known/" in issuer else issuer.rstrip("/") + WELL_KNOWN
        session = checked_session()
        try:
            response = session.get(url)
            response.raise_for_status()
            discovery = response.json()
        except (requests.RequestException, ValueError) as exc:
            return [ConnectionCheck("Discovery document", False, f"{url}: {_reason(exc)}")]
        checks.append(ConnectionCheck("Discovery document", True, url))
        missing = [k for k in DISCOVERY_NEEDS if not isinstance(discovery.get(k), str)]
        checks.append(
            ConnectionCheck(
                "Endpoints",
                not missing,
                "missing: " + ", ".join(missing) if missing else "authorization, token, keys",
            )
        )
        named = discovery.get("issuer")
        checks.append(
            ConnectionCheck(
                "Issuer",
                isinstance(named, str) and issuer.startswith(named.rstrip("/")),
                f"the document names {named!r}",
            )
        )
        if isinstance(discovery.get("jwks_uri"), str):
            try:
                keys = session.get(discovery["jwks_uri"])
                keys.raise_for_status()
                count = len(keys.json().get("keys") or [])
                checks.append(ConnectionCheck("Signing keys", count > 0, f"{count} key(s)"))
            except (requests.RequestException, ValueError, AttributeError) as exc:
                checks.append(ConnectionCheck("Signing keys", False, _reason(exc)))
        checks.append(
            ConnectionCheck(
                "Client secret",
                bool(provider.client_secret_sealed) and _secret_opens(provider),
                "set and readable" if provider.client_secret_sealed else "not set",
            )
        )
        return checks
    metadata_url = config.get("metadata_url")
    if metadata_url:
        try:
            fresh = parse_idp_metadata(fetch_idp_metadata(metadata_url), config.get("entity_id"))
        except ValidationError as exc:
            return [ConnectionCheck("Metadata", False, "; ".join(exc.messages))]
        checks.append(ConnectionCheck("Metadata", True, metadata_url))
        checks.append(
            ConnectionCheck(
                "Signing certificate",
                fresh["x509cert"] == config.get("x509cert"),
                "unchanged"
                if fresh["x509cert"] == config.get("x509cert")
                else "the IdP now signs with another certificate: save the settings again",
            )
        )
    checks.append(
        ConnectionCheck(
            "Sign-in URL",
            outbound_url_errors(config.get("sso_url", "")) is None,
            config.get("sso_url", ""),
        )
    )
    checks.append(
        ConnectionCheck("Entity id", bool(config.get("entity_id")), config.get("entity_id", ""))
    )
    return checks


WELL_KNOWN = "/.well-known/openid-configuration"
DISCOVERY_NEEDS = ("authorization_endpoint", "token_endpoint", "jwks_uri")


def _reason(exc: Exception) -> str:
    response = getattr(exc, "response", None)
    if response is not None:
        return f"HTTP {response.status_code}"
    return type(exc).__name__


def _secret_opens(provider: IdentityProvider) -> bool:
    try:
        return bool(unseal(provider.client_secret_sealed))
    except SealBroken:
        return False
