"""What the viewer holds where (their orgs and BGs, each with their role and permissions there),
shown by the organization tree and by the dashboard of members who are neither administrators
nor developers (connected_apps.views.dashboard).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from django.views.generic import TemplateView

from accounts import selectors
from accounts.access import Access
from accounts.catalog import PERMISSIONS, Permission
from accounts.models import Organization
from accounts.views.mixins import PortalMixin, _org_links


# ---------------------------------------------------------------------------------------------
# What the viewer holds where
# ---------------------------------------------------------------------------------------------
@dataclass
class OrgAccess:
    """One org/BG of the viewer's tree with what they may do there."""

    org: Organization
    depth: int
    is_admin: bool
    can_read: bool
    can_view_environments: bool
    can_read_users: bool
    permissions: list[Permission] = field(default_factory=list)
    environment_permissions: list[tuple[Permission, list[str]]] = field(default_factory=list)


def _environment_permissions(access: Access, org: Organization, held: set[Permission]) -> list:
    """Environment-scoped permissions held on some environments only, with their names."""
    result: list[tuple[Permission, list[str]]] = []
    names: dict[uuid.UUID, str] | None = None
    for permission, info in PERMISSIONS.items():
        if not info.environment_scoped or permission in held:
            continue
        environment_ids = access.environment_ids(permission, org) or set()
        if not environment_ids:
            continue
        if names is None:
            names = {e.id: e.name for e in selectors.environment_list(access=access, org=org)}
        result.append((permission, sorted(names[i] for i in environment_ids if i in names)))
    return result


def access_overview(access: Access) -> list[OrgAccess]:
    """The viewer's organization tree, each entry with their role and permissions there."""
    tree = selectors.organization_tree(access=access)
    top = min((o.depth for o in tree), default=0)
    overview = []
    for org in tree:
        links = _org_links(access, org)
        held = access.held_permissions(org)
        overview.append(
            OrgAccess(
                org=org,
                depth=org.depth - top,
                is_admin=access.is_admin_of(org),
                can_read=links["detail"],
                can_view_environments=links["environments"],
                can_read_users=links["users"],
                permissions=[p for p in Permission if p in held],
                environment_permissions=_environment_permissions(access, org, held),
            )
        )
    return overview


# ---------------------------------------------------------------------------------------------
# The organization tree
# ---------------------------------------------------------------------------------------------
class OrganizationTreeView(PortalMixin, TemplateView):
    template_name = "accounts/organization_tree.html"
    nav_section = "organization"

    def get_context_data(self, **kwargs) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["overview"] = access_overview(self.access)
        return context
