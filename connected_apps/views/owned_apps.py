"""Owned apps and Create App (SPEC §8).

Reads go through `connected_apps.selectors`, writes through `connected_apps.services`; both
decide what the viewer may see or do. A viewer who may manage apps nowhere gets a 403.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.views.decorators.cache import never_cache
from django.views.generic import FormView, TemplateView

from connected_apps import selectors, services
from connected_apps.forms import (
    ConnectedAppCreateForm,
    ScopeContexts,
    SearchForm,
    add_service_errors,
)
from connected_apps.views.common import (
    ConnectedAppsPortalMixin,
    secret_response,
    submission_done,
    submission_record,
)

APPS_PER_PAGE = 25
NO_MANAGED_ORG = "You need manage:connected_apps in an organization or business group."
ALREADY_CREATED = "This app was already created; its client secret was shown once, when it was."


class ManagerMixin(ConnectedAppsPortalMixin):
    """Pages for viewers who may manage apps somewhere in their tree (403 for the others)."""

    def load(self) -> None:
        self.owners = selectors.app_owner_orgs(access=self.access)
        if not self.owners:
            raise PermissionDenied(NO_MANAGED_ORG)


# ---------------------------------------------------------------------------------------------
# Owned apps
# ---------------------------------------------------------------------------------------------
class AppListView(ManagerMixin, TemplateView):
    """Apps the viewer administers: searchable, 25 a page, with their usage figures."""

    template_name = "connected_apps/app_list.html"

    def get_context_data(self, **kwargs) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        search_form = SearchForm(self.request.GET)
        search = search_form.cleaned_data["q"].strip() if search_form.is_valid() else ""
        apps = selectors.connected_app_list(access=self.access, search=search)
        page = Paginator(apps, APPS_PER_PAGE).get_page(self.request.GET.get("page"))
        usage = selectors.app_usage_many(apps=list(page.object_list))
        context.update(
            page_obj=page,
            rows=[(app, usage[app.pk]) for app in page.object_list],
            search=search,
            search_form=search_form,
        )
        return context


# ---------------------------------------------------------------------------------------------
# Create App
# ---------------------------------------------------------------------------------------------
# A form page the browser keeps (Back, bfcache) would resend an old submission id: the
# create form and the confirmation pages are always fetched afresh.
@method_decorator(never_cache, name="dispatch")
class AppCreateView(ManagerMixin, FormView):
    """The guided Create App flow: one form in the order its answers depend on each other
    (name, type and owner; how people sign in; scopes in the owner's contexts), shown step by
    step by connected_apps.js with only what applies to the app's type and grant types, and
    sent whole; the service validates it. Saving answers with the client secret, once."""

    template_name = "connected_apps/app_create.html"
    form_class = ConnectedAppCreateForm

    def load(self) -> None:
        super().load()
        orgs = selectors.scope_context_orgs(access=self.access)
        self.contexts = ScopeContexts(
            orgs=orgs, environments=selectors.scope_context_environments(orgs=orgs)
        )

    def get_form_kwargs(self) -> dict[str, Any]:
        kwargs = super().get_form_kwargs()
        kwargs.update(owners=self.owners, contexts=self.contexts)
        return kwargs

    def get_initial(self) -> dict[str, Any]:
        return {"owner": str(self.owners[0].id)}

    def form_valid(self, form: ConnectedAppCreateForm) -> HttpResponse:
        submission_id = form.cleaned_data["submission_id"]
        created_id = submission_done(self.request, submission_id)
        if created_id is not None:
            messages.info(self.request, ALREADY_CREATED)
            return HttpResponseRedirect(reverse("connected_apps:app_detail", args=[created_id]))
        try:
            created = services.connected_app_create(
                access=self.access,
                owner=form.owner_org(),
                meta=self.meta(),
                **form.service_arguments(),
            )
        except (ValidationError, PermissionDenied) as exc:
            add_service_errors(form, exc)
            return self.form_invalid(form)
        submission_record(self.request, submission_id, created.app.client_id)
        messages.success(self.request, f"{created.app.name} created.")
        return secret_response(
            self.request,
            app=created.app,
            client_secret=created.client_secret,
            rotated=False,
            context=self.get_context_data(),
        )

    def get_context_data(self, **kwargs) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["owner_paths"] = {str(o.id): o.path for o in self.owners}
        context["context_org_paths"] = {str(o.id): o.path for o in self.contexts.orgs}
        return context
