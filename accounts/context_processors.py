"""Template context shared by every portal page."""

from __future__ import annotations

from accounts.access import access_for
from accounts.catalog import Permission
from accounts.selectors import organization_tree


def navigation(request) -> dict:
    """What the Access Management navigation may show the signed-in user.

    `nav_users_org` / `nav_environments_org` are the first org/BG of the user's tree where the
    Users / Environments pages would open for them (None hides the link): an administrator of
    a business group only has no business on the root org's pages.
    """
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or not hasattr(user, "organization"):
        return {}
    access = access_for(user)
    root = user.organization
    tree = organization_tree(access=access)
    return {
        "nav_root_org": root,
        "nav_can_read_users": access.can(Permission.READ_USERS, root),
        "nav_is_admin": access.is_admin_of(root),
        "nav_users_org": next((o for o in tree if access.can(Permission.READ_USERS, o)), None),
        "nav_environments_org": next(
            (o for o in tree if access.can_somewhere_in(Permission.VIEW_ENVIRONMENT, o)), None
        ),
    }
