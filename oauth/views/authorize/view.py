"""The authorization endpoint and its Authorize App consent screen (RFC 6749 §4.1, OIDC Core
§3.1.2).

DOT's AuthorizationView does the protocol work (oauthlib validates the request, and mints the
code behind the consent screen's Allow); this subclass adds what only Doorman knows:

* refusals that need the app or the user: a disabled app, an `internal` app and a user from
  another organization → `access_denied` redirects to the (registered, hence trusted)
  redirect URI; an unknown client or an unregistered redirect URI → an HTML error page, never
  a redirect (RFC 6749 §4.1.2.1);
* PKCE with S256 only, response_type `code` only, bounded parameter lengths;
* remembered consent: when the user's live Authorization already covers every requested scope
  the screen is skipped and the token engine stores a code at once (one read of the org
  controls and the consent, one INSERT: oauth.engine.authorization); Allow records the
  consent (oauth.services.authorization_grant) in the transaction that stores the code;
* `prompt=none` answered with login_required / consent_required (OIDC Core §3.1.2.6).

The consent form is DOT's AllowForm, unchanged: clients and tests post exactly its fields.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlencode, urlsplit

from allauth.account.adapter import get_adapter
from django.contrib.auth import REDIRECT_FIELD_NAME, logout
from django.contrib.auth.views import redirect_to_login
from django.db import transaction
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import resolve_url
from django.template.response import TemplateResponse
from django.utils.cache import add_never_cache_headers
from django.utils.timezone import now
from oauth2_provider.exceptions import FatalClientError, OAuthToolkitError
from oauth2_provider.settings import oauth2_settings
from oauth2_provider.views import AuthorizationView
from oauth2_provider.views.mixins import OAuthLibMixin
from oauthlib.common import add_params_to_uri
from oauthlib.oauth2.rfc6749 import errors as oauth_errors
from oauthlib.openid.connect.core.exceptions import RequestNotSupported

from accounts.catalog import SCOPE_DESCRIPTIONS
from accounts.factors import SSO_NEEDED, password_alone_refused, second_factor_step
from accounts.forms import LOGIN_HINT
from accounts.sign_ins import ACR_MULTI_FACTOR, session_sign_in
from audit.services import RequestMeta
from connected_apps.models import ConnectedApp, GrantType
from oauth.engine.authorization import code_issue, consent_facts, resource_indicators
from oauth.errors import InvalidTarget
from oauth.services import authorization_grant
from oauth.views.authorize.checks import (
    APP_DISABLED,
    CONSENT_FORM_INVALID,
    CONSENT_REQUIRED,
    ERROR_EXPLANATIONS,
    MAX_AGE_MALFORMED,
    PROMPT_NONE_ALONE,
    REQUEST_OBJECTS_UNSUPPORTED,
    RESPONSE_MODE_QUERY_ONLY,
    RESPONSE_TYPE_CODE_ONLY,
    SECOND_FACTOR_DUE,
    SIGN_IN_TOO_OLD,
    USER_DENIED,
    app_refusal,
    carries_code,
    catalog_order,
    parameter_problem,
    pkce_problem,
    user_refusal,
)


class DoormanAuthorizationView(AuthorizationView):
    template_name = "oauth/authorize.html"
    error_template_name = "oauth/authorize_error.html"

    def dispatch(self, request, *args, **kwargs):
        self._validated = None
        self._application: ConnectedApp | None = None
        self._record_consent = False
        response = super().dispatch(request, *args, **kwargs)
        # Clickjacking: the consent screen must never be framed (RFC 6749 §10.13).
        response["X-Frame-Options"] = "DENY"
        response["Content-Security-Policy"] = "frame-ancestors 'none'"
        add_never_cache_headers(response)
        return response

    # -- DOT seams -------------------------------------------------------------------------------
    def validate_authorization_request(self, request):
        """oauthlib's validation, once per request (DOT's get() and prompt handling ask too)."""
        if self._validated is None:
            self._validated = super().validate_authorization_request(request)
        return self._validated

    def create_authorization_response(self, request, scopes, credentials, allow):
        # How the user signed in travels with the code (oauthlib sets credentials on its
        # request; oauth.validators.codes stores it).
        credentials["sign_in"] = session_sign_in(request)
        uri, headers, body, status = super().create_authorization_response(
            request, scopes, credentials, allow
        )
        if allow and self._record_consent and carries_code(uri):
            authorization_grant(
                user=request.user,
                app=self._application,
                scopes=scopes.split(),
                meta=RequestMeta.from_request(request),
            )
        return uri, headers, body, status

    def error_response(self, error, application, **kwargs):
        # OAuthLibMixin gives (redirect?, {"error", "url"}); fatal errors never redirect.
        redirect, data = OAuthLibMixin.error_response(self, error, **kwargs)
        if redirect:
            return self.redirect(self._with_iss(data["url"]), application)
        return self.error_page(data["error"])

    def handle_no_permission(self):
        """Anonymous users: refuse a broken request before asking them to sign in; otherwise
        DOT's handling (login page with `next`, or login_required for prompt=none)."""
        if self.request.method == "GET":
            checked = self._checked_request()
            if isinstance(checked, HttpResponse):
                return checked
        return self._with_login_hint(super().handle_no_permission())

    def _with_login_hint(self, response: HttpResponse) -> HttpResponse:
        """OIDC Core §3.1.2.1: the sign-in page is prefilled with `login_hint`
        (accounts.forms.LoginForm)."""
        hint = self.request.GET.get(LOGIN_HINT)
        login_path = resolve_url(self.get_login_url())
        if hint and response.status_code == 302 and response["Location"].startswith(login_path):
            response["Location"] = add_params_to_uri(response["Location"], [(LOGIN_HINT, hint)])
        return response

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        app = self._application
        allowed = consent_facts(self.request.user, app).consented or frozenset()
        scopes = sorted(kwargs.get("scopes", []), key=catalog_order)
        context.update(
            app=app,
            owner_org=app.owner_org,
            root_org=app.root_org if app.root_org_id != app.owner_org_id else None,
            scope_items=[
                {
                    "name": scope,
                    "description": SCOPE_DESCRIPTIONS.get(scope, scope),
                    "already_allowed": scope in allowed,
                }
                for scope in scopes
            ],
            redirect_host=urlsplit(kwargs.get("redirect_uri") or "").netloc,
        )
        return context

    # -- GET: the screen, or a redirect --------------------------------------------------------
    def get(self, request, *args, **kwargs):
        checked = self._checked_request()
        if isinstance(checked, HttpResponse):
            return checked
        scopes, credentials, app = checked
        redirect_uri, state = credentials["redirect_uri"], credentials.get("state")
        facts = consent_facts(request.user, app)
        refusal = user_refusal(app, request.user, scopes, gate=facts.gate)
        if refusal:
            return self._redirect_error(
                oauth_errors.AccessDeniedError(description=refusal, state=state), redirect_uri, app
            )
        prompt = set(request.GET.get("prompt", "").split())
        covered = facts.consented is not None and set(scopes) <= facts.consented
        if "none" in prompt and len(prompt) > 1:
            error = oauth_errors.InvalidRequestError(description=PROMPT_NONE_ALONE, state=state)
            return self._redirect_error(error, redirect_uri, app)
        wanted = ACR_MULTI_FACTOR in request.GET.get("acr_values", "").split()
        owed = self._second_factor_owed(facts, prompt, state, redirect_uri, app, wanted=wanted)
        if owed is not None:
            return owed
        max_age = request.GET.get("max_age")
        if max_age is not None and session_sign_in(request).older_than(int(max_age), now()):
            # OIDC Core §3.1.2.1: the user must authenticate actively again.
            if "none" in prompt:
                error = oauth_errors.LoginRequired(description=SIGN_IN_TOO_OLD, state=state)
                return self._redirect_error(error, redirect_uri, app)
            return self.handle_prompt_login()
        if "none" in prompt:  # OIDC Core §3.1.2.1: no UI at all
            if not covered:
                error = oauth_errors.ConsentRequired(description=CONSENT_REQUIRED, state=state)
                return self._redirect_error(error, redirect_uri, app)
            return self._approve(scopes, credentials, app)
        if covered and prompt.isdisjoint({"consent", "login", "create"}):
            return self._approve(scopes, credentials, app)
        # Consent is remembered by Authorization rows only, never by DOT's "approval_prompt=auto"
        # (which would skip the screen for any user holding a token of the app).
        if "approval_prompt" in request.GET:
            query = request.GET.copy()
            query["approval_prompt"] = "force"
            request.GET = query
        return super().get(request, *args, **kwargs)

    def _checked_request(self):
        """Validate a GET authorization request: (scopes, credentials, app), or the response
        refusing it (400 page when the client or redirect URI is not trusted, else a redirect)."""
        problem = parameter_problem(self.request.GET)
        if problem:
            return self.error_page(oauth_errors.InvalidRequestFatalError(description=problem))
        try:
            scopes, credentials = self.validate_authorization_request(self.request)
        except FatalClientError as error:
            return self._disabled_app_redirect(error) or self.error_response(error, None)
        except OAuthToolkitError as error:
            return self.error_response(error, None)
        # The app oauthlib validated the client with (oauth.engine.clients' fresh instance).
        app = credentials["request"].client
        self._application = app
        redirect_uri, state = credentials["redirect_uri"], credentials.get("state")
        problem = self._protocol_problem(credentials)
        if problem is not None:
            error_class, description = problem
            error = error_class(description=description, state=state)
            return self._redirect_error(error, redirect_uri, app)
        refusal = app_refusal(app)
        if refusal:
            return self._redirect_error(
                oauth_errors.AccessDeniedError(description=refusal, state=state), redirect_uri, app
            )
        return scopes, credentials, app

    def _protocol_problem(self, credentials) -> tuple[type[oauth_errors.OAuth2Error], str] | None:
        """What oauthlib let through but Doorman refuses: (oauthlib error class, description)."""
        params = self.request.GET
        if "request" in params or "request_uri" in params:  # OIDC Core §6
            return RequestNotSupported, REQUEST_OBJECTS_UNSUPPORTED
        max_age = params.get("max_age")
        if max_age is not None and not (max_age.isascii() and max_age.isdigit()):
            return oauth_errors.InvalidRequestError, MAX_AGE_MALFORMED
        if credentials.get("response_type") != "code":
            return oauth_errors.UnsupportedResponseTypeError, RESPONSE_TYPE_CODE_ONLY
        if self.request.GET.get("response_mode", "query") != "query":
            return oauth_errors.InvalidRequestError, RESPONSE_MODE_QUERY_ONLY
        problem = pkce_problem(
            credentials.get("code_challenge"), credentials.get("code_challenge_method")
        )
        if problem:
            return oauth_errors.InvalidRequestError, problem
        return None

    def _disabled_app_redirect(self, error) -> HttpResponse | None:
        """oauthlib reports a disabled app as an unknown client. When the app exists and the
        redirect URI is one it registered, the client is known and trusted: tell it
        `access_denied` rather than stranding the user on an error page (SPEC §4)."""
        if not isinstance(error.oauthlib_error, oauth_errors.InvalidClientIdError):
            return None
        params = self.request.GET
        client_id, redirect_uri = params.get("client_id"), params.get("redirect_uri")
        if not client_id or not redirect_uri:
            return None
        app = ConnectedApp.objects.filter(client_id=client_id, enabled=False).first()
        if (
            app is None
            or GrantType.AUTHORIZATION_CODE not in app.grant_types
            or not app.redirect_uri_allowed(redirect_uri)
        ):
            return None
        error = oauth_errors.AccessDeniedError(description=APP_DISABLED, state=params.get("state"))
        return self._redirect_error(error, redirect_uri, app)

    def _approve(self, scopes, credentials, app) -> HttpResponse:
        """Remembered consent: a code straight away (RFC 6749 §4.1.2), with the request's
        state and the issuer (RFC 9207), stored by the token engine's one writer of codes."""
        redirect_uri, state = credentials["redirect_uri"], credentials.get("state")
        try:
            resource = resource_indicators(self.request.GET.getlist("resource"))
        except InvalidTarget as error:
            target = oauth_errors.CustomOAuth2Error(
                error=error.error, description=error.description, state=state
            )
            return self._redirect_error(target, redirect_uri, app)
        code = code_issue(
            app=app,
            user=self.request.user,
            redirect_uri=redirect_uri,
            scopes=scopes,
            code_challenge=credentials.get("code_challenge"),
            code_challenge_method=credentials.get("code_challenge_method"),
            nonce=credentials.get("nonce"),
            claims=credentials.get("claims"),
            resource=resource,
            sign_in=session_sign_in(self.request),
        )
        params = [("code", code)] + ([("state", state)] if state else [])
        return self.redirect(self._with_iss(add_params_to_uri(redirect_uri, params)), app)

    def _second_factor_owed(
        self, facts, prompt: set[str], state, redirect_uri: str, app, *, wanted: bool = False
    ) -> HttpResponse | None:
        """SPEC §11: the user signs in with a second factor (theirs, or as their org's policy
        requires; or the client asked for one: `acr_values` 2) and this session has not used
        one: no code, but the factor step (or, with `prompt=none`, interaction_required)."""
        request = self.request
        sign_in = session_sign_in(request)
        if facts.sso_enforced and "fed" not in sign_in.amr:
            # The org's members sign in through its identity provider only.
            if "none" in prompt:
                error = oauth_errors.LoginRequired(description=SSO_NEEDED, state=state)
                return self._redirect_error(error, redirect_uri, app)
            logout(request)
            return redirect_to_login(request.get_full_path(), resolve_url(self.get_login_url()))
        refused = password_alone_refused(
            request.user, enrolled=facts.enrolled, requirement=facts.requirement
        )
        if not (refused or wanted) or "mfa" in sign_in.amr:
            return None
        if "none" in prompt:
            error = oauth_errors.CustomOAuth2Error(
                error="interaction_required", description=SECOND_FACTOR_DUE, state=state
            )
            return self._redirect_error(error, redirect_uri, app)
        return HttpResponseRedirect(second_factor_step(request, enrolled=facts.enrolled))

    def handle_prompt_login(self) -> HttpResponse:
        """OIDC Core §3.1.2.1 (`prompt=login`, or `max_age` exceeded): the user authenticates
        actively, then comes back to this request without the demand, which is then met. A
        signed-in user re-authenticates on allauth's page (their password, or a factor of
        theirs) and keeps the session; anyone else signs in."""
        query = self.request.GET.copy()
        prompt = [value for value in query.get("prompt", "").split() if value != "login"]
        if prompt:
            query["prompt"] = " ".join(prompt)
        else:
            query.pop("prompt", None)
        query.pop("max_age", None)
        next_url = f"{self.request.path}?{query.urlencode()}"
        user = self.request.user
        methods = get_adapter(self.request).get_reauthentication_methods(user)
        if not user.is_authenticated or not methods:
            logout(self.request)
            login_url = resolve_url(self.get_login_url())
            response = redirect_to_login(next_url, login_url, self.get_redirect_field_name())
            return self._with_login_hint(response)
        return HttpResponseRedirect(
            f"{methods[0]['url']}?{urlencode({REDIRECT_FIELD_NAME: next_url})}"
        )

    # -- POST: Allow / Deny ----------------------------------------------------------------------
    def post(self, request, *args, **kwargs):
        problem = parameter_problem(request.POST)
        if problem:
            return self.error_page(oauth_errors.InvalidRequestFatalError(description=problem))
        return super().post(request, *args, **kwargs)

    def form_invalid(self, form):
        return self.error_page(
            oauth_errors.InvalidRequestFatalError(description=CONSENT_FORM_INVALID)
        )

    def form_valid(self, form):
        data = form.cleaned_data
        app = (
            ConnectedApp.objects.select_related("owner_org", "root_org")
            .filter(client_id=data["client_id"])
            .first()
        )
        # The hidden fields may have been tampered with: never redirect to an untrusted URI.
        if app is None:
            return self.error_page(oauth_errors.InvalidClientIdError())
        redirect_uri, state = data["redirect_uri"], data.get("state") or None
        if not app.redirect_uri_allowed(redirect_uri):
            return self.error_page(oauth_errors.MismatchingRedirectURIError())
        self._application = app
        if not data.get("allow"):  # RFC 6749 §4.1.2.1
            error = oauth_errors.AccessDeniedError(description=USER_DENIED, state=state)
            return self._redirect_error(error, redirect_uri, app)
        facts = consent_facts(self.request.user, app)
        refusal = app_refusal(app) or user_refusal(
            app, self.request.user, (data.get("scope") or "").split(), gate=facts.gate
        )
        if refusal:
            error = oauth_errors.AccessDeniedError(description=refusal, state=state)
            return self._redirect_error(error, redirect_uri, app)
        # The screen's GET sent a session owing a second factor to it; a POST made without
        # showing the screen must not get round that.
        owed = self._second_factor_owed(facts, set(), state, redirect_uri, app)
        if owed is not None:
            return owed
        problem = pkce_problem(
            data.get("code_challenge") or None, data.get("code_challenge_method") or None
        )
        if problem:
            error = oauth_errors.InvalidRequestError(description=problem, state=state)
            return self._redirect_error(error, redirect_uri, app)
        self._record_consent = True
        with transaction.atomic():  # the code and the consent row, or neither
            return super().form_valid(form)

    # -- responses -------------------------------------------------------------------------------
    def _redirect_error(self, oauthlib_error, redirect_uri: str, app) -> HttpResponse:
        """An RFC 6749 §4.1.2.1 error redirect; only ever called with a registered URI."""
        return self.error_response(
            OAuthToolkitError(error=oauthlib_error, redirect_uri=redirect_uri), app
        )

    def _with_iss(self, uri: str) -> str:
        """RFC 9207: error responses name the issuer too (DOT adds it to successes)."""
        if not oauth2_settings.COMPLIANT_BCP_RFC9700_AUTHZ_RESPONSE_ISS:
            return uri
        if "iss" in parse_qs(urlsplit(uri).query):
            return uri
        return add_params_to_uri(uri, [("iss", oauth2_settings.OIDC_ISS_ENDPOINT)])

    def error_page(self, error) -> HttpResponse:
        """The HTML page for an error that must not be redirected (RFC 6749 §4.1.2.1)."""
        code = error.error
        if isinstance(error, oauth_errors.InvalidClientIdError | oauth_errors.MissingClientIdError):
            code = "invalid_client"
        elif isinstance(
            error,
            oauth_errors.MismatchingRedirectURIError
            | oauth_errors.InvalidRedirectURIError
            | oauth_errors.MissingRedirectURIError,
        ):
            code = "invalid_redirect_uri"
        context = {
            "error_code": code,
            "error_description": error.description,
            "explanation": ERROR_EXPLANATIONS.get(code, ERROR_EXPLANATIONS["invalid_request"]),
        }
        return TemplateResponse(self.request, self.error_template_name, context, status=400)
