"""Users of an org or BG (search, add a member) and one user's permissions there."""

from __future__ import annotations

from functools import cached_property
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.views.generic import FormView, TemplateView

from accounts import selectors, services
from accounts.access import access_for
from accounts.catalog import Permission, Role
from accounts.models import Environment, User
from accounts.portal_forms import (
    MemberCreateForm,
    UserPermissionsForm,
    UserSearchForm,
)
from accounts.views.mixins import OrganizationMixin, ServiceFormMixin
from accounts.views.overview import access_overview
from core.mail import MailUnavailable

USERS_PER_PAGE = 25
MAIL_NOT_SENT = (
    "The email could not be sent: the mail server did not take it. Try again in a few minutes."
)


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


class MemberActionView(OrganizationMixin, TemplateView):
    """A page asking before an administrator acts on a member (disable, password reset,
    remove); POST does it. Only the root organization's administrators see it (403 for
    anyone else); the service checks again."""

    nav_section = "users"

    def load(self) -> None:
        super().load()
        self.subject = selectors.user_get(
            access=self.access, org=self.org, user_id=self.kwargs["user_id"]
        )
        if not services.member_administrable(self.access, self.subject):
            raise PermissionDenied(services.MEMBER_ACTIONS_NEED_ADMIN)

    @property
    def subject_url(self) -> str:
        return reverse("portal:user_permissions", args=[self.org.id, self.subject.id])

    def get_context_data(self, **kwargs) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["subject"] = self.subject
        context["is_self"] = self.subject.pk == self.request.user.pk
        return context

    def refused(self, exc: ValidationError) -> HttpResponse:
        messages.error(self.request, " ".join(exc.messages))
        return HttpResponseRedirect(self.subject_url)


class UserEnabledView(MemberActionView):
    """GET asks before disabling a member (what stops at once); POST `enabled=false|true`
    does it."""

    template_name = "accounts/user_disable_confirm.html"

    def post(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        enabled = request.POST.get("enabled") == "true"
        try:
            services.user_enabled_set(
                access=self.access, user=self.subject, enabled=enabled, meta=self.meta()
            )
        except ValidationError as exc:
            return self.refused(exc)
        state = "enabled" if enabled else "disabled: their sessions ended and their tokens stopped"
        messages.success(request, f"{self.subject.username} is {state}.")
        return HttpResponseRedirect(self.subject_url)


class UserPasswordResetView(MemberActionView):
    """GET asks before emailing a member a password reset (or says why they cannot get one);
    POST sends it. The link goes to the member only: this page never shows it."""

    template_name = "accounts/user_password_reset_confirm.html"

    def get_context_data(self, **kwargs) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context.update(
            problem=services.CANNOT_RESET_YOURSELF
            if context["is_self"]
            else services.password_reset_problem(self.subject),
            valid_hours=settings.PASSWORD_RESET_TIMEOUT // 3600,
        )
        return context

    def post(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        try:
            services.user_password_reset_send(
                access=self.access, user=self.subject, meta=self.meta()
            )
        except ValidationError as exc:
            return self.refused(exc)
        except services.PasswordResetRateLimited as exc:
            messages.error(request, str(exc))
            return HttpResponseRedirect(self.subject_url)
        except MailUnavailable:
            messages.error(request, MAIL_NOT_SENT)
            return HttpResponseRedirect(self.subject_url)
        messages.success(
            request,
            f"A password reset email was sent to {self.subject.username} at their own address. "
            "The link in it works once and expires.",
        )
        return HttpResponseRedirect(self.subject_url)


class UserRemoveView(MemberActionView):
    """GET lists what goes with a member before removing them; POST removes them."""

    template_name = "accounts/user_remove_confirm.html"

    def get_context_data(self, **kwargs) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["problem"] = services.CANNOT_REMOVE_YOURSELF if context["is_self"] else None
        return context

    def post(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        username = self.subject.username
        try:
            services.user_remove(access=self.access, user=self.subject, meta=self.meta())
        except ValidationError as exc:
            return self.refused(exc)
        messages.success(
            request,
            f"{username} was removed: their sessions, tokens, authorizations and permissions "
            "are gone.",
        )
        return HttpResponseRedirect(reverse("portal:user_list", args=[self.org.id]))


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
            may_administer=self.subject.pk != self.request.user.pk
            and services.member_administrable(self.access, self.subject),
        )
        return context
