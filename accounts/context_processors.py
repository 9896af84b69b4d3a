"""Template context shared by every portal page."""

from __future__ import annotations

from accounts.access import access_for
from accounts.catalog import Permission


def navigation(request) -> dict:
    """What the Access Management navigation may show the signed-in user."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or not hasattr(user, "organization"):
        return {}
    access = access_for(user)
    root = user.organization
    return {
        "nav_root_org": root,
        "nav_can_read_users": access.can(Permission.READ_USERS, root),
        "nav_is_admin": access.is_admin_of(root),
    }
