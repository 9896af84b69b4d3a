"""Who calls, and about what, in the Schemathesis run (tests/hostile/test_schemathesis.py).

Generated input alone would name organizations, apps and users that do not exist and carry no
credentials, so nearly every call would stop at a 401 or a 404. `World` builds two tenants
with real things in them, and for the n-th call of an operation picks its caller (mostly the
org's administrator; also a plain member, an own-behalf app, a dead token, nobody) and puts
real ids where the generated ones would only be looked up in vain. It leaves alone the part of
a case that the case is about: a negative or boundary value stays as Schemathesis made it.
"""

from __future__ import annotations

import base64
from typing import Any

from schemathesis.core.parameters import ParameterLocation
from schemathesis.generation.meta import TestPhase

from accounts.access import Access
from accounts.catalog import Role
from accounts.services import identity_link_create
from audit.selectors import AuditFilters
from audit.services import audit_export_start
from connected_apps.controls import allowlist_approve
from core.sealing import seal
from oauth.services import authorization_grant
from tests.factories import (
    DEFAULT_PASSWORD,
    EnvironmentFactory,
    IdentityProviderFactory,
    OrganizationFactory,
)
from tests.oauth.helpers import mint_access_token

OAUTH = "/accounts/api/v2/oauth2"
CLIENT_FIELDS = ("client_id", "client_secret", "client_assertion", "client_assertion_type")
WRONG_SECRET = object()  # a token-endpoint caller: the right client_id, a wrong secret
EVERYTHING = "*"


def subject(case, location: ParameterLocation) -> str | None:
    """What at `location` this case tests, to be left as generated: EVERYTHING (a value
    generated invalid), the one parameter or body property the coverage phase gave a boundary
    or wrong-type value, or None (nothing: real ids may go anywhere there)."""
    meta = case.meta
    if meta is None:
        return None
    data = meta.phase.data
    if meta.phase.name == TestPhase.COVERAGE and data.parameter_location == location:
        if location != ParameterLocation.BODY:
            return data.parameter or EVERYTHING
        pointer = (data.location or "").split("/")
        return pointer[2] if pointer[:2] == ["", "properties"] else EVERYTHING
    return EVERYTHING if meta.is_negative_at(location) else None


def _only(container: dict | None, name: str | None) -> dict:
    return {name: container[name]} if container and name in container else {}


class World:
    """Two tenants: Acme (an administrator, a member, a business group, an environment, an
    authorization-code app both users authorized, an own-behalf app, an identity provider the
    member is linked to, an audit export) and Globex, whose `everyone` app Acme allowlisted."""

    def __init__(self, *, org, admin, member, other_org, other_admin, make_app) -> None:
        self.org, self.admin, self.member, self.other_org = org, admin, member, other_org
        self.bg = OrganizationFactory(parent=org, name="Sales")
        self.env = EnvironmentFactory(organization=org, name="Sandbox")
        self.code_app = make_app()
        self.cc_app = make_app(
            client_name="CI Robot",
            grant_types=["client_credentials"],
            redirect_uris=[],
            scopes=[{"scope": "read:organization", "context_params": {"org": str(org.id)}}],
        )
        self.guest_app = make_app(actor=other_admin, client_name="Guest", audience="everyone")
        allowlist_approve(
            access=Access(user=admin), org=org, client_id=self.guest_app.app.client_id
        )
        for user in (admin, member):
            authorization_grant(user=user, app=self.code_app.app, scopes=["openid", "profile"])
        # An SSO provider, so its settings can be changed (jwt-bearer refuses to name it).
        self.provider = IdentityProviderFactory(
            organization=org,
            name="Okta",
            type="oidc",
            config={"issuer": "https://okta.example", "client_id": "doorman"},
            client_secret_sealed=seal("upstream-secret"),
        )
        identity_link_create(access=Access(user=admin), provider=self.provider, user=member)
        self.export = audit_export_start(org=org, user=admin, filters=AuditFilters.parse({}))
        self.admin_token = mint_access_token(user=admin, app=None, scope="full")
        self.member_token = mint_access_token(user=member, app=None, scope="full")
        self.app_token = mint_access_token(
            user=None, app=self.cc_app.app, scope="read:organization"
        )
        self.openid_token = mint_access_token(
            user=admin, app=self.code_app.app, scope="openid profile email"
        )

    # -- callers ----------------------------------------------------------------------------
    def _basic(self, app_with_secret, secret: str | None = None) -> str:
        pair = f"{app_with_secret.app.client_id}:{secret or app_with_secret.client_secret}"
        return "Basic " + base64.b64encode(pair.encode()).decode()

    def _client_app(self, n: int):
        """The app a token-endpoint call authenticates as (None: none in the header)."""
        apps = [self.code_app, self.cc_app, self.code_app, self.cc_app, self.guest_app]
        return [*apps, WRONG_SECRET, None][n % 7]

    def authorization(self, case, n: int) -> str | None:
        """The Authorization header of the n-th call of this operation (None: none)."""
        path = case.operation.path
        if path.startswith(OAUTH) and path.endswith(("/token", "/introspect", "/revoke")):
            app = self._client_app(n)
            if app is WRONG_SECRET:
                return self._basic(self.code_app, secret="not-the-secret")
            return None if app is None else self._basic(app)
        if path.endswith("/userinfo"):
            tokens = [self.openid_token] * 6 + [self.admin_token, None]
            return None if tokens[n % 8] is None else f"Bearer {tokens[n % 8]}"
        if path == "/accounts/logout":
            # Logging out revokes the token, so each call gets a fresh one.
            fresh = mint_access_token(user=self.admin, app=None, scope="full")
            return None if n % 8 == 7 else f"Bearer {fresh}"
        if not case.operation.definition.raw.get("security", True):
            return None  # discovery, JWKS, /authorize, POST /accounts/login
        tokens = [self.admin_token] * 3 + [self.member_token, self.admin_token, self.app_token]
        tokens += [self.admin_token, None, self.admin_token, "not-a-token"]
        return None if tokens[n % 10] is None else f"Bearer {tokens[n % 10]}"

    # -- real ids ---------------------------------------------------------------------------
    def _org_id(self, n: int) -> str:
        return str([self.org.id, self.org.id, self.bg.id, self.org.id, self.other_org.id][n % 5])

    def _path_value(self, name: str, path: str, n: int) -> str | None:
        if name == "org_id":
            return self._org_id(n)
        if name == "client_id":
            if "Allowlist" in path:
                return self.guest_app.app.client_id
            if "authorizedApplications" in path or "/users/me/" in path:
                return self.code_app.app.client_id
            return [self.code_app, self.cc_app][n % 2].app.client_id
        if name == "user_id":
            return str(self.admin.id if n % 6 == 0 else self.member.id)
        value = {"provider_id": self.provider.id, "export_id": self.export.id}.get(name)
        return None if value is None else str(value)

    def with_real_ids(self, case, n: int) -> None:
        """Real ids in the path, query and body of the n-th call, except one call in five (ids
        nobody has) and the part the case is about."""
        if n % 5 == 4:
            return
        # Decided before anything changes: Schemathesis re-reads an edited case's metadata.
        about = {location: subject(case, location) for location in ParameterLocation}
        for name in case.path_parameters or {}:
            value = self._path_value(name, case.operation.path, n)
            if value is not None and about[ParameterLocation.PATH] not in (name, EVERYTHING):
                case.path_parameters[name] = value
        if case.operation.path.endswith("/authorize"):
            real = {
                "client_id": self.code_app.app.client_id,
                "redirect_uri": self.code_app.app.redirect_uris.split()[0],
            }
            tested = about[ParameterLocation.QUERY]
            if tested != EVERYTHING:
                case.query = {**(case.query or {}), **real, **_only(case.query, tested)}
        if isinstance(case.body, dict) and about[ParameterLocation.BODY] != EVERYTHING:
            self._body_ids(case, n, keep=about[ParameterLocation.BODY])

    def _body_ids(self, case, n: int, keep: str | None) -> None:
        body, path = dict(case.body), case.operation.path
        tested = _only(body, keep)
        body.pop(keep, None)  # nested values are edited in place below
        if "owner_org_id" in body:
            body["owner_org_id"] = self._org_id(n)
        if "client_id" in body and path.endswith("Allowlist"):
            body["client_id"] = [self.guest_app, self.code_app][n % 2].app.client_id
        if "user_id" in body:
            body["user_id"] = str(self.member.id)
        if isinstance(body.get("environments"), list):
            body["environments"] = [str(self.env.id)]
        if "role" in body and n % 2 == 0:
            body["role"] = Role.ORGANIZATION_ADMINISTRATOR
        for item in body.get("scopes") or []:
            context = item.get("context_params") if isinstance(item, dict) else None
            if isinstance(context, dict):
                context.update(
                    {key: value for key, value in self._context(n).items() if key in context}
                )
        if path.startswith(OAUTH):
            self._client_body(case, body, n)
        if path.endswith("/identityProviders/{provider_id}") and n % 3 != 2:
            # Valid settings the fuzzed fields go with (a random issuer is never an URL).
            body.update(issuer="https://okta.example", client_id="doorman")
            for key in ("scopes", "metadata_xml", "metadata_url", "entity_id", "domains"):
                body.pop(key, None)
        if path == "/accounts/login" and n % 3 != 2:
            body["username"] = self.admin.username
            body["password"] = DEFAULT_PASSWORD if n % 3 == 0 else "not-the-password"
        case.body = {**body, **tested}

    def _context(self, n: int) -> dict[str, Any]:
        return {"org": self._org_id(n), "envId": str(self.env.id)}

    def _client_body(self, case, body: dict, n: int) -> None:
        """With client credentials in the header, a body naming another client is refused
        before anything else; mostly leave them out, and ask for what the client may get."""
        app = self._client_app(n)
        if app is None or app is WRONG_SECRET or n % 3 == 2:
            return
        for field in CLIENT_FIELDS:
            body.pop(field, None)
        if case.operation.path.endswith("/token") and app is self.cc_app:
            body["grant_type"] = "client_credentials"
            body["scope"] = "read:organization"
        elif "token" in body and n % 2 == 0:
            # A live token of the calling client (revocation ends it: a fresh one each time).
            body["token"] = mint_access_token(user=self.admin, app=app.app, scope="openid")
