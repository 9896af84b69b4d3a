"""The scope picker of Create App and of an app's page: the catalog grouped by area, and for
apps acting on their own behalf the orgs/BGs (and environments) each permission scope applies
in, turned into the `scopes` argument of the services and back."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django import forms

from accounts.catalog import PERMISSIONS, SCOPE_DESCRIPTIONS, Permission, SpecialScope
from accounts.models import Environment, Organization
from connected_apps.models import AppScope

# Special scopes by what they are about, in the order the picker shows them.
SPECIAL_SCOPE_AREAS: dict[str, tuple[SpecialScope, ...]] = {
    "Sign-in and profile": (SpecialScope.OPENID, SpecialScope.PROFILE, SpecialScope.EMAIL),
    "Broad access": (SpecialScope.FULL, SpecialScope.READ_FULL),
    "Offline access": (SpecialScope.OFFLINE_ACCESS,),
}


def _slug(scope: str) -> str:
    return scope.replace(":", "_")


def indented(org: Organization, top: int) -> str:
    return "\u2003" * max(org.depth - top, 0) + org.name


@dataclass
class ScopeContexts:
    """Where an own-behalf app's scopes may apply: orgs/BGs and their environments."""

    orgs: list[Organization] = field(default_factory=list)
    environments: list[Environment] = field(default_factory=list)

    @property
    def org_choices(self) -> list[tuple[str, str]]:
        top = min((o.depth for o in self.orgs), default=0)
        return [(str(o.id), indented(o, top)) for o in self.orgs]

    @property
    def environment_choices(self) -> list[tuple[str, list[tuple[str, str]]]]:
        grouped: dict[str, list[tuple[str, str]]] = {}
        for env in self.environments:
            grouped.setdefault(env.organization.name, []).append((str(env.id), env.name))
        return list(grouped.items())

    @property
    def environment_orgs(self) -> dict[str, str]:
        return {str(e.id): str(e.organization_id) for e in self.environments}

    def tree(self) -> list[tuple[Organization, int, list[Environment]]]:
        """Each org/BG in tree order with its depth below the top one and its environments."""
        top = min((o.depth for o in self.orgs), default=0)
        environments: dict[Any, list[Environment]] = {}
        for env in self.environments:
            environments.setdefault(env.organization_id, []).append(env)
        return [(o, o.depth - top, environments.get(o.id, [])) for o in self.orgs]


class ScopePickerMixin:
    """Adds the scope picker's fields to a form: `scopes` (checkboxes) and, for each
    permission scope, the orgs/BGs (and environments) an own-behalf app holds it in."""

    fields: dict[str, forms.Field]

    def add_scope_fields(self, contexts: ScopeContexts) -> None:
        self.contexts = contexts
        self.fields["scopes"] = forms.MultipleChoiceField(
            label="Scopes",
            required=False,
            choices=[(s, s) for s in (*SpecialScope.values, *Permission.values)],
            widget=forms.CheckboxSelectMultiple,
        )
        for permission, info in PERMISSIONS.items():
            self.fields[f"orgs_{_slug(permission)}"] = forms.MultipleChoiceField(
                label=f"Organizations and business groups for {permission.value}",
                required=False,
                choices=contexts.org_choices,
                widget=forms.CheckboxSelectMultiple,
            )
            if info.environment_scoped:
                self.fields[f"envs_{_slug(permission)}"] = forms.MultipleChoiceField(
                    label=f"Environments for {permission.value}",
                    required=False,
                    choices=contexts.environment_choices,
                    widget=forms.CheckboxSelectMultiple,
                )

    def scope_values(self, *, own_behalf: bool) -> list[Any]:
        """The `scopes` argument of the services.

        A user app: the checked scope names. An own-behalf app: each checked permission scope
        once per environment chosen, and once per org/BG chosen without an environment of its
        own (no choice at all: the owner org, as the service decides).
        """
        data = self.cleaned_data  # type: ignore[attr-defined]
        names = list(data.get("scopes") or [])
        if not own_behalf:
            return names
        env_orgs = self.contexts.environment_orgs
        values: list[Any] = []
        for name in names:
            if name not in Permission.values:
                values.append(name)  # the service says which special scope is not allowed
                continue
            orgs = data.get(f"orgs_{_slug(name)}") or []
            envs = data.get(f"envs_{_slug(name)}") or []
            if not orgs and not envs:
                values.append({"scope": name})
                continue
            for env_id in envs:
                context = {"org": env_orgs[env_id], "envId": env_id}
                values.append({"scope": name, "context_params": context})
            orgs_with_env = {env_orgs[e] for e in envs}
            for org_id in orgs:
                if org_id not in orgs_with_env:
                    values.append({"scope": name, "context_params": {"org": org_id}})
        return values

    def scope_groups(self) -> list[dict]:
        """The catalog grouped by area for the template, each scope with its bound fields."""
        bound = self["scopes"]  # type: ignore[index]
        selected = set(bound.value() or [])
        groups: list[dict] = []
        for area, scopes in SPECIAL_SCOPE_AREAS.items():
            groups.append(
                {
                    "area": area,
                    "special": True,
                    "items": [self._scope_item(s.value, selected) for s in scopes],
                }
            )
        by_area: dict[str, list[dict]] = {}
        for permission in PERMISSIONS:
            by_area.setdefault(PERMISSIONS[permission].area, []).append(
                self._scope_item(permission.value, selected)
            )
        groups += [{"area": a, "special": False, "items": items} for a, items in by_area.items()]
        return groups

    def _scope_item(self, scope: str, selected: set[str]) -> dict:
        slug = _slug(scope)
        info = PERMISSIONS.get(Permission(scope)) if scope in Permission.values else None
        return {
            "value": scope,
            "description": SCOPE_DESCRIPTIONS[scope],
            "checked": scope in selected,
            "id": f"id_scope_{slug}",
            "permission": info is not None,
            "environment_scoped": bool(info and info.environment_scoped),
            "contexts": self._context_rows(slug, info.environment_scoped) if info else [],
        }

    def _context_rows(self, slug: str, environment_scoped: bool) -> list[dict]:
        """Where a permission scope applies, as checkboxes: every org/BG of the tree and,
        for an environment scope, every environment under its org (none left out)."""
        orgs_name, envs_name = f"orgs_{slug}", f"envs_{slug}"
        chosen_orgs = {str(v) for v in self[orgs_name].value() or []}  # type: ignore[index]
        chosen_envs = (
            {str(v) for v in self[envs_name].value() or []}  # type: ignore[index]
            if environment_scoped
            else set()
        )
        rows: list[dict] = []
        for index, (org, depth, environments) in enumerate(self.contexts.tree()):
            envs = environments if environment_scoped else []
            rows.append(
                {
                    "id": f"id_{orgs_name}_{index}",
                    "name": orgs_name,
                    "value": str(org.id),
                    "label": org.name,
                    "checked": str(org.id) in chosen_orgs,
                    "depth": min(depth, 4),
                    "environments": [
                        {
                            "id": f"id_{envs_name}_{index}_{number}",
                            "name": envs_name,
                            "value": str(env.id),
                            "label": env.name,
                            "checked": str(env.id) in chosen_envs,
                        }
                        for number, env in enumerate(envs)
                    ],
                }
            )
        return rows

    def scope_errors(self) -> list[str]:
        errors = list(self.errors.get("scopes", []))  # type: ignore[attr-defined]
        for name, field_errors in self.errors.items():  # type: ignore[attr-defined]
            if name.startswith(("orgs_", "envs_")):
                errors += field_errors
        return errors


def scope_initial(rows: Iterable[AppScope]) -> dict[str, Any]:
    """The picker's initial values for an app's scope rows (the inverse of scope_values).

    An org/BG holding a scope org-wide covers its environments, so an environment row next
    to an org-wide row of the same org changes nothing and is shown as the org-wide one; an
    org/BG is ticked only where it holds the scope org-wide ("all environments").
    """
    initial: dict[str, Any] = {"scopes": []}
    per_scope: dict[str, list[AppScope]] = {}
    for row in rows:
        per_scope.setdefault(row.scope, []).append(row)
    for scope, scope_rows in per_scope.items():
        initial["scopes"].append(scope)
        if scope not in Permission.values:
            continue
        wide = {r.context_org_id for r in scope_rows if r.context_environment_id is None}
        orgs = {o for o in wide if o}
        envs = [
            r.context_environment_id
            for r in scope_rows
            if r.context_environment_id and r.context_org_id not in wide
        ]
        initial[f"orgs_{_slug(scope)}"] = [str(o) for o in orgs]
        if envs:
            initial[f"envs_{_slug(scope)}"] = [str(e) for e in envs]
    return initial
