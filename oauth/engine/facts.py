"""What a user grant reads with its token or code, in the same statement: the user and the
user's root org controls for the app (the settings row's switches, the allowlist entry's
approved scopes). `user_facts_sql` gives the select list and joins; `user_facts_from` reads
them back; `org_gate_decide` (connected_apps.controls) then applies the org controls' rule."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from allauth.mfa.models import Authenticator
from django.db import connection

from accounts.models import OrgSecurityPolicy, User
from accounts.security_policy import SECOND_FACTOR_TYPES
from connected_apps.controls import OrgGate, org_check, org_gate_decide
from connected_apps.models import AllowlistEntry, Audience, ConnectedApp, OrgAppSettings
from oauth.engine import sql
from oauth.models import SigningKey

USER_NOT_ALLOWED = "The user may not use this app."


@dataclass
class UserFacts:
    user: User | None
    switches: tuple[bool, bool] | None
    approved: list[str] | None
    signing_kid: str | None  # the active signing key's, should an ID token be due

    def gate(self, app: ConnectedApp, org_id: object = None) -> OrgGate:
        """The org controls for this user (or a user about to be created in `org_id`) and
        `app`: the user's root org's settings."""
        return org_gate_decide(
            app=app,
            org_id=org_id if org_id is not None else self.user.organization_id,
            switches=self.switches,
            approved=self.approved,
        )


@lru_cache(maxsize=16)
def user_facts_sql(
    user_column: str, app_column: str, org_column: str = "u.organization_id"
) -> tuple[str, str]:
    """(select list, joins) reading the user `user_column` names, the org controls of the
    root org `org_column` names (the user's own by default) for the app `app_column` names,
    and the active signing key's id."""
    q = sql.quote
    select = (
        f"{sql.select_list(User, 'u')}, s.{q('enabled')}, s.{q('allowlist_enabled')}, "
        f"al.{q('id')}, al.{q('approved_scopes')}, "
        f"(SELECT {q('kid')} FROM {sql.table(SigningKey)} WHERE {q('is_active')} "
        f"ORDER BY {q('created_at')} DESC LIMIT 1)"
    )
    joins = (
        f"LEFT JOIN {sql.table(User)} u ON u.{q('id')} = {user_column} "
        f"LEFT JOIN {sql.table(OrgAppSettings)} s ON s.{q('organization_id')} = {org_column} "
        f"LEFT JOIN {sql.table(AllowlistEntry)} al ON al.{q('organization_id')} = {org_column} "
        f"AND al.{q('app_id')} = {app_column}"
    )
    return select, joins


def user_facts_from(values: tuple | list) -> UserFacts:
    width = sql.width(User)
    enabled, allowlist_enabled, entry_id, approved, kid = values[width : width + 5]
    if entry_id is not None:
        field = AllowlistEntry._meta.get_field("approved_scopes")
        approved = field.from_db_value(approved, None, connection)
    return UserFacts(
        user=sql.instance_from(User, values[:width]),
        switches=None if enabled is None else (bool(enabled), bool(allowlist_enabled)),
        approved=approved if entry_id is not None else None,
        signing_kid=kid,
    )


def user_app_check(user, app: ConnectedApp, scopes=None, *, gate: OrgGate | None = None) -> OrgGate:
    """Whether `user` may get tokens of `app` (for `scopes`, when given): SPEC §2 audience (an
    `internal` app serves members of its owner's root org only), then §6 org controls
    (feature switch, allowlist and its approved scopes). `refusal` says why not."""
    if user is None or not user.is_active:
        return OrgGate(refusal=USER_NOT_ALLOWED)
    if app.audience != Audience.EVERYONE and user.organization_id != app.root_org_id:
        return OrgGate(refusal=USER_NOT_ALLOWED)
    return org_check(user=user, app=app, scopes=scopes, gate=gate)


def user_app_problem(
    user, app: ConnectedApp, scopes=None, *, gate: OrgGate | None = None
) -> str | None:
    return user_app_check(user, app, scopes, gate=gate).refusal


def user_may_use_app(user, app: ConnectedApp) -> bool:
    return user_app_problem(user, app) is None


def sign_in_policy_sql(user_id: str, org_id: str) -> tuple[str, tuple[str, ...]]:
    """(three select-list columns, their parameters): whether the user `user_id` names has a
    second factor (accounts.factors.SECOND_FACTOR_TYPES), and what the sign-in policy of the
    root org `org_id` names requires (None without one): its `mfa_required`, for
    `accounts.factors.password_alone_refused(enrolled=…, requirement=…)`, and its
    `sso_enforced` (accounts.security_policy.sso_required_for). `org_id` appears twice:
    given as a placeholder, it is bound twice."""
    q = sql.quote
    types = ", ".join(["%s"] * len(SECOND_FACTOR_TYPES))
    select = (
        f"EXISTS(SELECT 1 FROM {sql.table(Authenticator)} m "
        f"WHERE m.{q('user_id')} = {user_id} AND m.{q('type')} IN ({types})), "
        f"(SELECT p.{q('mfa_required')} FROM {sql.table(OrgSecurityPolicy)} p "
        f"WHERE p.{q('organization_id')} = {org_id}), "
        f"(SELECT p.{q('sso_enforced')} FROM {sql.table(OrgSecurityPolicy)} p "
        f"WHERE p.{q('organization_id')} = {org_id})"
    )
    return select, SECOND_FACTOR_TYPES
