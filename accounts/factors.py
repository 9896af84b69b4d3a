"""Second factors (SPEC §11): what a user who has one, or whom their org's policy requires
to use one, may not do without it.

- A password alone signs them in nowhere: the flows that take a password and nothing else
  (`POST /accounts/login`, the password grant) cannot ask for the factor, so they answer
  `interaction_required`, naming the browser sign-in, never a token (as Keycloak and Auth0
  do): `password_alone_refused`.
- A session that did not use one reaches nothing but the pages that take it (allauth's):
  `SecondFactorRequiredMiddleware`; the authorization endpoint decides the same with the
  facts it reads anyway (oauth.engine.authorization).
- Setting a factor up, removing it or regenerating recovery codes is audited.

Which authenticators count (TOTP, WebAuthn keys and passkeys; not recovery codes alone) and
whom the policy covers are accounts.security_policy's.
"""

from __future__ import annotations

from functools import lru_cache
from urllib.parse import urlencode

from allauth.account.internal.flows.login import record_authentication
from allauth.mfa import signals
from django.contrib import messages
from django.contrib.auth import REDIRECT_FIELD_NAME, logout
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse

from accounts.security_policy import (
    POLICY_NOT_READ,
    SECOND_FACTOR_TYPES,
    mfa_required_for,
    second_factor_enrolled,
    sso_required_for,
    totp_enrolled,
)
from accounts.sign_ins import session_sign_in
from audit.models import AuditAction
from audit.services import RequestMeta, audit_record

SSO_NEEDED = (
    "This user's organization signs its members in through its identity provider, which this "
    "flow cannot do: use the authorization code flow (the browser sign-in) instead."
)
SSO_PORTAL = "Your organization signs you in through its identity provider."
SECOND_FACTOR_NEEDED = (
    "This user signs in with a second factor, which this flow cannot ask for: use the "
    "authorization code flow (the browser sign-in) instead."
)


def password_alone_refused(
    user, *, enrolled: bool | None = None, requirement: object = POLICY_NOT_READ
) -> bool:
    """Whether a password alone must not sign `user` in: they have a second factor, or their
    org's policy requires one of them (`enrolled` and `requirement` when already read)."""
    if enrolled if enrolled is not None else second_factor_enrolled(user):
        return True
    return mfa_required_for(user, requirement)


def _factor_change_recorded(action: AuditAction):
    def record(sender, request, user, authenticator, **kwargs) -> None:
        """Audit a factor set up, removed or reset (SPEC §7, §11): its type only."""
        audit_record(
            action=action,
            organization=user.organization,
            actor=user,
            target=user,
            details={"type": authenticator.type},
            meta=RequestMeta.from_request(request),
        )

    return record


_AUDITED = (
    (signals.authenticator_added, AuditAction.FACTOR_ADDED),
    (signals.authenticator_removed, AuditAction.FACTOR_REMOVED),
    (signals.authenticator_reset, AuditAction.FACTOR_RESET),
)


def factor_changes_audited() -> None:
    """Connect the audit of factor changes (accounts.apps.AccountsConfig.ready)."""
    for signal, action in _AUDITED:
        receiver = _factor_change_recorded(action)
        signal.connect(receiver, weak=False, dispatch_uid=f"doorman-audit-{action}")
    signals.authenticator_added.connect(
        factor_setup_recorded, weak=False, dispatch_uid="doorman-factor-setup-used"
    )


# -- the portal ----------------------------------------------------------------------------------
SECOND_FACTOR_PORTAL = "Sign in with your second factor (or set one up) to continue."
# Open to a session that owes a second factor: static files, the OAuth endpoints (the
# authorization endpoint decides for itself with the facts it reads with the consent,
# oauth.engine.authorization), and of allauth's pages those that sign in or out and use a
# factor (with a code, or with a security key or passkey); a user with no factor yet may also
# reach the pages that set one up (all of /auth/: there is no factor to remove or recovery code
# to read). A user who has one may not manage factors from such a session: a browser signed in
# before the factor was set up must not remove it or read the recovery codes with the password
# alone.
OPEN_PREFIXES = ("/static/", "/accounts/api/v2/oauth2/")
FACTOR_USE_PATHS = (
    "mfa_authenticate",
    "mfa_reauthenticate",
    "mfa_reauthenticate_webauthn",
    "account_login",
    "account_logout",
)
SETUP_PREFIX = "/auth/"


RESUME_AFTER_SETUP = "doorman_resume_after_factor_setup"


def second_factor_step(request: HttpRequest, *, enrolled: bool) -> str:
    """Where a user owing a second factor goes: to use theirs (allauth's reauthentication
    with a factor, then back to `request`: the code form for an authenticator app, the
    security-key page for a user whose keys are their only factor), or, with none yet, to
    set one up (and back to `request` once it is: `SecondFactorRequiredMiddleware`)."""
    if not enrolled:
        request.session[RESUME_AFTER_SETUP] = request.get_full_path()
        return reverse("mfa_index")
    next_url = request.get_full_path()
    step = "mfa_reauthenticate" if totp_enrolled(request.user) else "mfa_reauthenticate_webauthn"
    return f"{reverse(step)}?{urlencode({REDIRECT_FIELD_NAME: next_url})}"


class SecondFactorRequiredMiddleware:
    """SPEC §11: a signed-in user with a second factor, or whom their org's policy requires
    to use one, uses the portal and the API with a session only once the session used one.
    A page asked for takes them there (and back); anything else is 403. A member of an org
    that enforces SSO keeps a session only if it was made through an identity provider."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        path = request.path_info
        if request.method == "POST" and path.startswith(SETUP_PREFIX):
            return _resumed_after_setup(request, self._checked(request, path))
        return self._checked(request, path)

    def _checked(self, request: HttpRequest, path: str) -> HttpResponse:
        if path.startswith(OPEN_PREFIXES) or path in _factor_use_paths():
            return self.get_response(request)
        if not request.user.is_authenticated:
            return self.get_response(request)
        amr = session_sign_in(request).amr
        if "fed" not in amr and sso_required_for(request.user):
            # A session from before SSO was enforced, or a passkey's: sign in through the IdP.
            logout(request)
            if request.method in ("GET", "HEAD") and not path.startswith("/accounts/api/"):
                messages.info(request, SSO_PORTAL)
                return redirect_to_login(request.get_full_path())
            raise PermissionDenied(SSO_PORTAL)
        if "mfa" in amr:
            return self.get_response(request)
        enrolled = second_factor_enrolled(request.user)
        if not password_alone_refused(request.user, enrolled=enrolled):
            return self.get_response(request)
        if not enrolled and path.startswith(SETUP_PREFIX):
            return self.get_response(request)
        if request.method in ("GET", "HEAD") and not path.startswith("/accounts/api/"):
            return HttpResponseRedirect(second_factor_step(request, enrolled=enrolled))
        raise PermissionDenied(SECOND_FACTOR_PORTAL)


def _resumed_after_setup(request: HttpRequest, response: HttpResponse) -> HttpResponse:
    """A factor set up by someone sent to do so (an authorization request, a portal page)
    takes them back there rather than to allauth's next page (the recovery codes stay on
    /auth/2fa/)."""
    if (
        response.status_code == 302
        and request.user.is_authenticated
        and RESUME_AFTER_SETUP in request.session
        and "mfa" in session_sign_in(request).amr
    ):
        response["Location"] = request.session.pop(RESUME_AFTER_SETUP)
    return response


def factor_setup_recorded(sender, request, user, authenticator, **kwargs) -> None:
    """Setting a second factor up proves it (a TOTP code, a WebAuthn key's attestation):
    the session counts as having used it (allauth records only sign-ins with one)."""
    if request is None or authenticator.type not in SECOND_FACTOR_TYPES:
        return
    record_authentication(request, user, "mfa", type=authenticator.type, id=authenticator.pk)


@lru_cache(maxsize=1)
def _factor_use_paths() -> frozenset[str]:
    return frozenset(reverse(name) for name in FACTOR_USE_PATHS)
