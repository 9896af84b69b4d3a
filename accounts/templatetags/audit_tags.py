"""`{% audit_log_org as org %}`: the org/BG whose audit log the viewer may read (or None)."""

from __future__ import annotations

from django import template

from accounts.access import access_for
from accounts.catalog import Permission
from accounts.selectors import organization_tree

register = template.Library()


def audit_log_org_for(user):
    """The first org/BG of the viewer's tree (root first) where they hold read:audit_logs."""
    if user is None or not user.is_authenticated or not hasattr(user, "organization"):
        return None
    access = access_for(user)
    tree = organization_tree(access=access)
    return next((o for o in tree if access.can(Permission.READ_AUDIT_LOGS, o)), None)


@register.simple_tag(takes_context=True)
def audit_log_org(context):
    request = context.get("request")
    return audit_log_org_for(getattr(request, "user", None))
