"""How and when the session's user signed in, as OpenID Connect states it (OIDC Core §2,
§3.1.2.1; RFC 8176; SPEC §11).

django-allauth keeps a record of every authentication step of a session (sign-in, a second
factor, re-authentication: `get_authentication_records`). From them:

- `auth_time`: when the user last actively authenticated (what `max_age` and `prompt=login`
  judge, and the ID token's `auth_time`);
- `amr`: the RFC 8176 methods used, and `mfa` once two factors were;
- `acr`: `1` for one factor, `2` for two (`ACR_VALUES`, what discovery advertises).

What each record says:

- a password (`password`, `password_reset`): `pwd`; a company SSO sign-in (`socialaccount`):
  `fed`; a code sent by email (`code`): `otp`. One factor each.
- a second factor (`mfa`: TOTP or a recovery code `otp`, a security key `hwk`): allauth asks
  for one only of a signed-in user or one who just gave their password, so with it the
  session has two factors: `mfa`.
- a passkey sign-in (`mfa`, type `webauthn`, `passwordless`): the key alone, no password. It
  is two factors because allauth takes a password-less assertion only with the user verified
  at the authenticator (the UV flag: a PIN or biometric unlocked the key; LoginWebAuthnForm),
  not on presence alone: `hwk` (the key), `user` (RFC 8176's test of the user at the device;
  allauth does not say whether a PIN or a fingerprint verified them, so neither `pin` nor
  `fpt`) and `mfa`. It therefore satisfies an org's "second factor required" policy
  (accounts.factors) and acr `2`.

A session signed in without a record (an older session, or one made by `login()` outside
allauth) has no known time or methods: `max_age` sends its user to authenticate again, and
its codes' ID tokens keep DOT's `auth_time` (the user's last sign-in anywhere).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from allauth.account.authentication import get_authentication_records
from django.http import HttpRequest

ACR_SINGLE_FACTOR = "1"
ACR_MULTI_FACTOR = "2"
ACR_VALUES = (ACR_SINGLE_FACTOR, ACR_MULTI_FACTOR)

# allauth's record -> RFC 8176 methods (RFC 8176 §2).
_MFA_TYPES = {"totp": ("otp",), "recovery_codes": ("otp",), "webauthn": ("hwk",)}
_METHODS = {
    "password": ("pwd",),
    "password_reset": ("pwd",),
    "socialaccount": ("fed",),
    "code": ("otp",),
}
# A passkey sign-in: the key, and its user verified at it (allauth requires UV for it).
_PASSKEY = ("hwk", "user")


@dataclass(frozen=True)
class SignIn:
    auth_time: datetime | None
    amr: tuple[str, ...]

    @property
    def acr(self) -> str:
        return ACR_MULTI_FACTOR if "mfa" in self.amr else ACR_SINGLE_FACTOR

    def older_than(self, seconds: int, now: datetime) -> bool:
        """Whether the last active authentication is over `seconds` old (OIDC `max_age`);
        an unknown time counts as too old."""
        return self.auth_time is None or (now - self.auth_time).total_seconds() > seconds


def session_sign_in(request: HttpRequest) -> SignIn:
    """How and when the request's (signed-in) user authenticated in this session."""
    records = [
        record
        for record in get_authentication_records(request, request.user)
        if isinstance(record.get("at"), int | float)
    ]
    if not records:
        # Unknown (a session older than the records, or one made outside allauth): never
        # young enough for `max_age`, and no claims made about it.
        return SignIn(auth_time=None, amr=())
    methods: list[str] = []
    for record in records:
        for amr in _record_methods(record):
            if amr not in methods:
                methods.append(amr)
    if any(record.get("method") == "mfa" for record in records):
        methods.append("mfa")  # a second factor, or a passkey that verified its user
    latest = max(record["at"] for record in records)
    return SignIn(auth_time=datetime.fromtimestamp(latest, tz=UTC), amr=tuple(methods))


def _record_methods(record: dict) -> tuple[str, ...]:
    """The RFC 8176 methods of one of allauth's records (the module docstring's table)."""
    if record.get("method") != "mfa":
        return _METHODS.get(record.get("method"), ())
    if record.get("type") == "webauthn" and record.get("passwordless"):
        return _PASSKEY
    return _MFA_TYPES.get(record.get("type"), ())
