"""Portal pages of Access Management (server-rendered).

Views stay thin: reads come from `accounts.selectors`, writes go through `accounts.services`,
and both decide what the viewer may see or do. Selectors raise `Http404` for anything outside
the viewer's organization tree and `PermissionDenied` (403) inside it; a service's
`ValidationError` becomes form errors. Forms are shown only to viewers who may use them, but
the POST handlers never rely on that: the service checks again.

One module per page family; every view and mixin is re-exported here.
"""

from accounts.views.account import AccountView, ProfileUpdateView
from accounts.views.audit_log import AuditCSVView, AuditExportStartView, AuditLogView
from accounts.views.environments import EnvironmentListView, EnvironmentsIndexView
from accounts.views.identity_providers import (
    IdentityLinkDeleteView,
    IdentityProviderDetailView,
    IdentityProviderMixin,
    SsoConnectionTestView,
    SsoDomainsVerifyView,
    SsoProviderCreateView,
    SsoProviderSettingsView,
)
from accounts.views.mixins import OrganizationMixin, PortalMixin, ServiceFormMixin
from accounts.views.organizations import (
    BusinessGroupCreateView,
    IdentityProviderCreateView,
    OrganizationActionView,
    OrganizationDetailView,
    OrganizationRenameView,
    SecurityPolicyUpdateView,
)
from accounts.views.overview import OrgAccess, OrganizationTreeView, access_overview
from accounts.views.sessions import SessionEndView, SessionsView
from accounts.views.users import (
    USERS_PER_PAGE,
    MemberActionView,
    UserEnabledView,
    UserListView,
    UserPasswordResetView,
    UserPermissionsView,
    UserRemoveView,
)

__all__ = [
    "USERS_PER_PAGE",
    "AccountView",
    "AuditCSVView",
    "AuditExportStartView",
    "AuditLogView",
    "BusinessGroupCreateView",
    "EnvironmentListView",
    "EnvironmentsIndexView",
    "IdentityLinkDeleteView",
    "IdentityProviderCreateView",
    "IdentityProviderDetailView",
    "IdentityProviderMixin",
    "MemberActionView",
    "OrgAccess",
    "OrganizationActionView",
    "OrganizationDetailView",
    "OrganizationMixin",
    "OrganizationRenameView",
    "OrganizationTreeView",
    "PortalMixin",
    "ProfileUpdateView",
    "SecurityPolicyUpdateView",
    "ServiceFormMixin",
    "SessionEndView",
    "SessionsView",
    "SsoConnectionTestView",
    "SsoDomainsVerifyView",
    "SsoProviderCreateView",
    "SsoProviderSettingsView",
    "UserEnabledView",
    "UserListView",
    "UserPasswordResetView",
    "UserPermissionsView",
    "UserRemoveView",
    "access_overview",
]
