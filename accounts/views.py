"""Portal pages of Access Management (server-rendered).

Views stay thin: reads come from `accounts.selectors`, writes go through `accounts.services`,
and both decide what the viewer may see or do. Selectors raise `Http404` for anything outside
the viewer's organization tree and `PermissionDenied` (403) inside it; a service's
`ValidationError` becomes form errors. Forms are shown only to viewers who may use them, but
the POST handlers never rely on that: the service checks again.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.views.generic import FormView, RedirectView, TemplateView

from accounts import selectors, services
from accounts.access import Access, access_for
from accounts.catalog import PERMISSIONS, Permission, Role
from accounts.models import Environment, Organization, User
from accounts.portal_forms import (
    BusinessGroupCreateForm,
    EnvironmentCreateForm,
    IdentityLinkForm,
    IdentityProviderCreateForm,
    MemberCreateForm,
    OrganizationRenameForm,
    UserPermissionsForm,
    UserSearchForm,
    add_service_errors,
)
from audit.services import RequestMeta

USERS_PER_PAGE = 25


# ---------------------------------------------------------------------------------------------
# Mixins
# ---------------------------------------------------------------------------------------------
class PortalMixin(LoginRequiredMixin):
    """A signed-in page. `load()` fetches what the page is about before GET or POST runs, so
    a foreign id is a 404 and a missing permission a 403 whatever the method."""

    request: HttpRequest
    kwargs: dict[str, Any]
    nav_section = ""

    @cached_property
    def access(self) -> Access:
        return access_for(self.request.user)

    def load(self) -> None:
        """Fetch the page's objects through selectors; overridden by pages that have some."""

    def dispatch(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not request.user.is_authenticated:
            return self.handle_no_permission()
        self.load()
        return super().dispatch(request, *args, **kwargs)

    def meta(self) -> RequestMeta:
        return RequestMeta.from_request(self.request)

    def get_context_data(self, **kwargs) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)  # type: ignore[misc]
        context["nav_section"] = self.nav_section
        return context


class OrganizationMixin(PortalMixin):
    """A page about one org/BG of the viewer's tree (the viewer's root org when no id)."""

    org: Organization

    def load(self) -> None:
        org_id = self.kwargs.get("org_id", self.request.user.organization_id)
        self.org = selectors.organization_get(access=self.access, org_id=org_id)

    def get_context_data(self, **kwargs) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["org"] = self.org
        context["org_links"] = _org_links(self.access, self.org)
        return context


class ServiceFormMixin:
    """`form_valid()` calls the service (`perform`) and adds a message; the service's
    ValidationError becomes form errors. An invalid form from a viewer who was never shown
    it is refused rather than re-rendered."""

    request: HttpRequest

    def form_allowed(self) -> bool:
        return True

    def perform(self, form: forms.Form) -> Any:
        raise NotImplementedError

    def success_message(self, result: Any) -> str:
        raise NotImplementedError

    def get_success_url(self) -> str:
        raise NotImplementedError

    def form_valid(self, form: forms.Form) -> HttpResponse:
        try:
            self.result = self.perform(form)
        except ValidationError as exc:
            add_service_errors(form, exc)
            return self.form_invalid(form)
        messages.success(self.request, self.success_message(self.result))
        return HttpResponseRedirect(self.get_success_url())

    def form_invalid(self, form: forms.Form) -> HttpResponse:
        if not self.form_allowed():
            raise PermissionDenied("You may not do this here.")
        return super().form_invalid(form)  # type: ignore[misc]


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


def _org_links(access: Access, org: Organization) -> dict[str, bool]:
    return {
        "detail": access.can(Permission.READ_ORGANIZATION, org),
        "environments": access.can_somewhere_in(Permission.VIEW_ENVIRONMENT, org),
        "users": access.can(Permission.READ_USERS, org),
    }


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
# Overview and organization tree
# ---------------------------------------------------------------------------------------------
class HomeView(PortalMixin, TemplateView):
    """Access Management overview: the viewer's organization and what they hold in it."""

    template_name = "accounts/home.html"
    nav_section = "home"

    def get_context_data(self, **kwargs) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["root_org"] = selectors.organization_get(
            access=self.access, org_id=self.request.user.organization_id
        )
        context["overview"] = access_overview(self.access)
        return context


class OrganizationTreeView(PortalMixin, TemplateView):
    template_name = "accounts/organization_tree.html"
    nav_section = "organization"

    def get_context_data(self, **kwargs) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["overview"] = access_overview(self.access)
        return context


class OrganizationDetailView(OrganizationMixin, TemplateView):
    """One org/BG: rename, business groups, environments link, identity providers."""

    template_name = "accounts/organization_detail.html"
    nav_section = "organization"

    def load(self) -> None:
        super().load()
        self.access.require(Permission.READ_ORGANIZATION, self.org)

    def get_context_data(self, **kwargs) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        org, access = self.org, self.access
        can_edit = access.can(Permission.EDIT_ORGANIZATION, org)
        can_manage_groups = access.can(Permission.MANAGE_BUSINESS_GROUPS, org)
        context.update(
            parent=org.parent,
            parent_readable=org.parent is not None
            and access.can(Permission.READ_ORGANIZATION, org.parent),
            business_groups=selectors.business_group_list(access=access, org=org),
            identity_providers=selectors.identity_provider_list(access=access, org=org),
            can_edit=can_edit,
            can_manage_groups=can_manage_groups,
            is_admin=access.is_admin_of(org),
        )
        if can_edit:
            context.setdefault("rename_form", OrganizationRenameForm(initial={"name": org.name}))
            context.setdefault("identity_provider_form", IdentityProviderCreateForm())
        if can_manage_groups:
            context.setdefault("business_group_form", BusinessGroupCreateForm())
        return context


class OrganizationActionView(ServiceFormMixin, OrganizationDetailView):
    """A form of the organization page, posted to its own URL; errors re-render the page."""

    http_method_names = ["post"]
    form_class: type[forms.Form]
    form_context_name: str
    permission: Permission

    def form_allowed(self) -> bool:
        return self.access.can(self.permission, self.org)

    def post(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        form = self.form_class(request.POST)
        if form.is_valid():
            return self.form_valid(form)
        return self.form_invalid(form)

    def form_invalid(self, form: forms.Form) -> HttpResponse:
        if not self.form_allowed():
            raise PermissionDenied(f"You need {self.permission.value} in {self.org.name}.")
        context = self.get_context_data(**{self.form_context_name: form})
        return self.render_to_response(context)

    def get_success_url(self) -> str:
        return reverse("portal:organization_detail", args=[self.org.id])


class OrganizationRenameView(OrganizationActionView):
    form_class = OrganizationRenameForm
    form_context_name = "rename_form"
    permission = Permission.EDIT_ORGANIZATION

    def perform(self, form: forms.Form) -> Organization:
        return services.organization_rename(
            access=self.access, org=self.org, name=form.cleaned_data["name"], meta=self.meta()
        )

    def success_message(self, result: Organization) -> str:
        return f"Renamed to {result.name}."


class BusinessGroupCreateView(OrganizationActionView):
    form_class = BusinessGroupCreateForm
    form_context_name = "business_group_form"
    permission = Permission.MANAGE_BUSINESS_GROUPS

    def perform(self, form: forms.Form) -> Organization:
        return services.business_group_create(
            access=self.access, parent=self.org, name=form.cleaned_data["name"], meta=self.meta()
        )

    def success_message(self, result: Organization) -> str:
        return f"Business group {result.name} created."


class IdentityProviderCreateView(OrganizationActionView):
    form_class = IdentityProviderCreateForm
    form_context_name = "identity_provider_form"
    permission = Permission.EDIT_ORGANIZATION

    def perform(self, form: forms.Form):
        return services.identity_provider_create(
            access=self.access, org=self.org, name=form.cleaned_data["name"], meta=self.meta()
        )

    def success_message(self, result) -> str:
        return f"Identity provider {result.name} registered with id {result.id}."


class IdentityProviderMixin(OrganizationMixin):
    """A page about one identity provider of the org; links are for administrators only."""

    nav_section = "organization"

    def load(self) -> None:
        super().load()
        self.provider = selectors.identity_provider_get(
            access=self.access, org=self.org, provider_id=self.kwargs["provider_id"]
        )
        # As identity_link_create decides: the root org's administrator only.
        self.may_link = self.access.holds_everything_in(self.org.root_organization)

    def get_context_data(self, **kwargs) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context.update(provider=self.provider, may_link=self.may_link)
        return context

    def detail_url(self) -> str:
        return reverse("portal:identity_provider_detail", args=[self.org.id, self.provider.id])


class IdentityProviderDetailView(IdentityProviderMixin, TemplateView):
    """The provider's id and the members it reaches (SPEC §5: only linked users)."""

    template_name = "accounts/identity_provider_detail.html"

    def get_context_data(self, **kwargs) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        can_read_users = self.access.can(Permission.READ_USERS, self.org)
        context["links"] = (
            selectors.identity_link_list(access=self.access, provider=self.provider)
            if can_read_users
            else None
        )
        if self.may_link:
            context.setdefault("link_form", IdentityLinkForm())
        return context

    def post(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        form = IdentityLinkForm(request.POST)
        if not self.may_link:
            raise PermissionDenied(services.IDENTITY_LINK_NEEDS_ADMIN)
        if form.is_valid():
            user = (
                selectors.user_list(access=self.access, org=self.org)
                .filter(username__iexact=form.cleaned_data["username"])
                .first()
            )
            if user is None:
                form.add_error("username", "No member of this organization has that username.")
            else:
                services.identity_link_create(
                    access=self.access, provider=self.provider, user=user, meta=self.meta()
                )
                messages.success(request, f"{user.username} linked to {self.provider.name}.")
                return HttpResponseRedirect(self.detail_url())
        return self.render_to_response(self.get_context_data(link_form=form), status=400)


class IdentityLinkDeleteView(IdentityProviderMixin, TemplateView):
    """GET asks for confirmation; POST unlinks."""

    template_name = "accounts/identity_link_confirm.html"

    def load(self) -> None:
        super().load()
        if not self.may_link:
            raise PermissionDenied(services.IDENTITY_LINK_NEEDS_ADMIN)
        self.subject = selectors.user_get(
            access=self.access, org=self.org, user_id=self.kwargs["user_id"]
        )

    def get_context_data(self, **kwargs) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["subject"] = self.subject
        return context

    def post(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        services.identity_link_delete(
            access=self.access, provider=self.provider, user=self.subject, meta=self.meta()
        )
        messages.success(request, f"{self.subject.username} unlinked from {self.provider.name}.")
        return HttpResponseRedirect(self.detail_url())


# ---------------------------------------------------------------------------------------------
# Environments
# ---------------------------------------------------------------------------------------------
class EnvironmentsIndexView(PortalMixin, RedirectView):
    """The environments of the first org/BG of the viewer's tree they may see any in."""

    def get_redirect_url(self, *args, **kwargs) -> str:
        for entry in access_overview(self.access):
            if entry.can_view_environments:
                return reverse("portal:environment_list", args=[entry.org.id])
        raise PermissionDenied("You may not view any environment.")


class EnvironmentListView(OrganizationMixin, ServiceFormMixin, FormView):
    template_name = "accounts/environment_list.html"
    nav_section = "environments"
    form_class = EnvironmentCreateForm

    def load(self) -> None:
        super().load()
        self.environments = selectors.environment_list(access=self.access, org=self.org)

    def form_allowed(self) -> bool:
        return self.access.can(Permission.EDIT_ENVIRONMENT, self.org)

    def perform(self, form: forms.Form) -> Environment:
        return services.environment_create(
            access=self.access,
            org=self.org,
            name=form.cleaned_data["name"],
            type=form.cleaned_data["type"],
            meta=self.meta(),
        )

    def success_message(self, result: Environment) -> str:
        return f"Environment {result.name} created."

    def get_success_url(self) -> str:
        return reverse("portal:environment_list", args=[self.org.id])

    def get_context_data(self, **kwargs) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["environments"] = self.environments
        context["can_create"] = self.form_allowed()
        return context


# ---------------------------------------------------------------------------------------------
# Users and their permissions
# ---------------------------------------------------------------------------------------------
class UserListView(OrganizationMixin, ServiceFormMixin, FormView):
    """Members of the org's root organization, searchable, 25 a page; "Add member"."""

    template_name = "accounts/user_list.html"
    nav_section = "users"
    form_class = MemberCreateForm

    def load(self) -> None:
        super().load()
        self.search_form = UserSearchForm(self.request.GET)
        search = self.search_form.cleaned_data["q"].strip() if self.search_form.is_valid() else ""
        self.search = search
        self.users = selectors.user_list(access=self.access, org=self.org, search=search)

    def form_allowed(self) -> bool:
        return self.access.can(Permission.MANAGE_USERS, self.org)

    def perform(self, form: forms.Form) -> User:
        data = form.cleaned_data
        return services.user_create(
            access=self.access,
            org=self.org,
            username=data["username"],
            email=data["email"],
            password=data["password"],
            first_name=data["first_name"],
            last_name=data["last_name"],
            meta=self.meta(),
        )

    def success_message(self, result: User) -> str:
        return f"{result.username} added to {self.org.name}. Give them permissions below."

    def get_success_url(self) -> str:
        return reverse("portal:user_permissions", args=[self.org.id, self.result.id])

    def get_context_data(self, **kwargs) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        page = Paginator(self.users, USERS_PER_PAGE).get_page(self.request.GET.get("page"))
        context.update(
            page_obj=page,
            users=page.object_list,
            search_form=self.search_form,
            search=self.search,
            administrator_ids=set(
                selectors.administrators_of(self.org).values_list("id", flat=True)
            ),
            can_manage=self.form_allowed(),
        )
        return context


class UserPermissionsView(OrganizationMixin, ServiceFormMixin, FormView):
    """A member's permissions (and role) in one org/BG of the tree, switchable by org."""

    template_name = "accounts/user_permissions.html"
    nav_section = "users"
    form_class = UserPermissionsForm

    def load(self) -> None:
        super().load()
        self.subject = selectors.user_get(
            access=self.access, org=self.org, user_id=self.kwargs["user_id"]
        )
        self.current = selectors.user_permissions_get(
            access=self.access, org=self.org, user=self.subject
        )

    @cached_property
    def environments(self) -> list[Environment]:
        if not self.access.can_somewhere_in(Permission.VIEW_ENVIRONMENT, self.org):
            return []
        return list(selectors.environment_list(access=self.access, org=self.org))

    def form_allowed(self) -> bool:
        return self.access.can(Permission.MANAGE_USERS, self.org)

    def get_initial(self) -> dict[str, Any]:
        return {
            "permissions": self.current.permissions,
            "environments": self.current.environments,
            "is_admin": self.current.role == Role.ORGANIZATION_ADMINISTRATOR,
        }

    def get_form_kwargs(self) -> dict[str, Any]:
        kwargs = super().get_form_kwargs()
        kwargs.update(
            environments=self.environments,
            show_role=self.access.is_admin_of(self.org),
            holds_role=self.current.role is not None,
        )
        return kwargs

    def perform(self, form: UserPermissionsForm) -> None:
        role_kwargs: dict[str, Any] = {}
        if form.show_role:
            role = Role.ORGANIZATION_ADMINISTRATOR.value if form.cleaned_data["is_admin"] else ""
            role_kwargs = {"role": role, "set_role": True}
        services.user_permissions_set(
            access=self.access,
            org=self.org,
            user=self.subject,
            permissions=form.cleaned_data["permissions"],
            environments=form.cleaned_data["environments"],
            meta=self.meta(),
            **role_kwargs,
        )

    def success_message(self, result: None) -> str:
        return f"Permissions of {self.subject.username} in {self.org.name} saved."

    def get_success_url(self) -> str:
        return reverse("portal:user_permissions", args=[self.org.id, self.subject.id])

    def get_context_data(self, **kwargs) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        subject_access = access_for(self.subject)
        context.update(
            subject=self.subject,
            current=self.current,
            inherited_admin=self.current.role is None and subject_access.is_admin_of(self.org),
            switchable_orgs=[
                entry for entry in access_overview(self.access) if entry.can_read_users
            ],
            can_manage=self.form_allowed(),
        )
        return context
