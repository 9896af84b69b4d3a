"""The scopes a grant without a browser (password, jwt-bearer) gives a user: SPEC §2's
audience and §6's org controls, then what the app holds (RFC 6749 §3.3)."""

from __future__ import annotations

import uuid

from accounts.models import User
from connected_apps.controls import SCOPES_NONE_APPROVED, OrgGate
from connected_apps.models import ConnectedApp
from oauth.engine.facts import UserFacts, user_app_check
from oauth.engine.issue import Issue
from oauth.engine.request import TokenRequest, requested_resource
from oauth.errors import InvalidGrant, InvalidScope
from oauth.scopes import ConnectedAppScopes

SCOPES = ConnectedAppScopes()


def user_admitted(req: TokenRequest, app: ConnectedApp, user: User, gate: OrgGate) -> OrgGate:
    """SPEC §2 audience and §6 org controls for `user` asking through `app` (the scopes it
    names, when it names any): the org's gate, or InvalidGrant saying why not."""
    checked = user_app_check(user, app, _requested(req), gate=gate)
    if checked.refusal:
        raise InvalidGrant(checked.refusal)
    return checked


def user_grant_scopes(req: TokenRequest, app: ConnectedApp, checked: OrgGate) -> list[str]:
    """The scopes to grant an admitted user: those the request names, or (none named) the
    app's defaults narrowed to what the user's org approved. Raises InvalidScope."""
    if _requested(req) is None:
        scopes = SCOPES.get_default_scopes(app)
        if checked.approved_scopes is not None:  # SPEC §6: only what the org approved
            scopes = [scope for scope in scopes if scope in checked.approved_scopes]
            if not scopes:
                raise InvalidScope(SCOPES_NONE_APPROVED)
    else:
        scopes = req.params["scope"].strip().split(" ")  # oauthlib's scope_to_list
    if not set(scopes) <= set(SCOPES.get_available_scopes(app)):
        raise InvalidScope()
    return scopes


def user_sign_in(
    req: TokenRequest, app: ConnectedApp, user: User, facts: UserFacts, **issue: object
) -> Issue:
    """What a grant without a browser issues `user` through `app` (password, jwt-bearer):
    the user admitted (`user_admitted`), told to the endpoint, the scopes granted, and a
    token family of their own (SPEC §10); `issue` adds the grant's own fields."""
    checked = user_admitted(req, app, user, facts.gate(app, user.organization_id))
    req.user_is(user)
    return Issue(
        app=app,
        user=user,
        scopes=user_grant_scopes(req, app, checked),
        family=uuid.uuid4(),
        resource=requested_resource(req),
        signing_kid=facts.signing_kid,
        **issue,
    )


def _requested(req: TokenRequest) -> list[str] | None:
    return (req.params.get("scope") or "").split() or None
