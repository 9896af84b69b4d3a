"""The portal's Audit log page (SPEC §8): filters, 50 events a page, CSV export streamed or in
the background with its progress."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.http import urlencode
from django.views import View
from django.views.generic import TemplateView

from accounts.access import access_for
from accounts.api_audit import csv_response
from accounts.selectors import audit_org_get
from accounts.templatetags.audit_tags import audit_log_org_for
from audit import selectors
from audit.models import AuditAction, AuditOutcome
from audit.services import audit_export_start
from audit.targets import APP_BY_CLIENT_ID, event_targets, targets_resolve

EVENTS_PER_PAGE = 50


class AuditFilterForm(forms.Form):
    """What the page shows; the query parameters are the API's (`from`, `to`, …)."""

    time_from = forms.CharField(required=False, label="From")
    time_to = forms.CharField(required=False, label="To")
    actor = forms.CharField(required=False, max_length=150, label="Actor")
    client_id = forms.CharField(required=False, max_length=100, label="App client_id")
    action = forms.ChoiceField(
        required=False, choices=[("", "Any action"), *AuditAction.choices], label="Action"
    )
    outcome = forms.ChoiceField(
        required=False, choices=[("", "Any outcome"), *AuditOutcome.choices], label="Outcome"
    )


class AuditPageMixin(LoginRequiredMixin):
    request: HttpRequest

    def dispatch(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not request.user.is_authenticated:
            return self.handle_no_permission()
        org = audit_log_org_for(request.user)
        if org is None:
            raise PermissionDenied("You need read:audit_logs to see the audit log.")
        self.access = access_for(request.user)
        self.org = audit_org_get(access=self.access, org_id=org.id)
        self.filter_errors: dict[str, list[str]] = {}
        try:
            self.filters = selectors.AuditFilters.parse(request.GET)
        except ValidationError as exc:
            self.filter_errors = {k: [str(m) for m in v] for k, v in exc.message_dict.items()}
            self.filters = selectors.AuditFilters()
        return super().dispatch(request, *args, **kwargs)


class AuditLogView(AuditPageMixin, TemplateView):
    template_name = "audit/audit_log.html"

    def get_context_data(self, **kwargs) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        events = selectors.audit_event_list(org=self.org, filters=self.filters)
        page = Paginator(events, EVENTS_PER_PAGE).get_page(self.request.GET.get("page"))
        query = self.filters.as_params()
        labels = dict(AuditAction.choices)
        page_events = list(page)
        names = targets_resolve(org=self.org, targets=event_targets(page_events))
        context.update(
            nav_section="audit",
            org=self.org,
            page_obj=page,
            events=[
                {
                    "event": event,
                    "label": labels.get(event.action, event.action),
                    "actor": selectors.actor_data(event),
                    "actor_user": names.get(("user", str(event.actor_user_id))),
                    "actor_app": names.get((APP_BY_CLIENT_ID, event.actor_client_id)),
                    "target": names.get((event.target_type, event.target_id)),
                }
                for event in page_events
            ],
            filter_form=AuditFilterForm(
                initial={
                    "time_from": self.request.GET.get("from", ""),
                    "time_to": self.request.GET.get("to", ""),
                    "actor": self.filters.actor,
                    "client_id": self.filters.client_id,
                    "action": self.filters.action,
                    "outcome": self.filters.outcome,
                }
            ),
            filter_errors=self.filter_errors,
            query=urlencode(query),
            csv_url=reverse("audit:export_csv") + ("?" + urlencode(query) if query else ""),
            export_id=self.request.GET.get("export", ""),
            export_status_base=reverse("api-audit-exports", args=[self.org.id]),
        )
        return context


class AuditCSVView(AuditPageMixin, View):
    """The filtered events as a streamed CSV download."""

    def get(self, request: HttpRequest) -> HttpResponse:
        if self.filter_errors:
            return HttpResponseRedirect(reverse("audit:log"))
        events = selectors.audit_event_list(org=self.org, filters=self.filters)
        return csv_response(selectors.csv_stream(events), f"audit-{self.org.id}.csv")


class AuditExportStartView(AuditPageMixin, View):
    """Start a background export of the filtered events; the page then polls its progress."""

    def post(self, request: HttpRequest) -> HttpResponse:
        if self.filter_errors:
            return HttpResponseRedirect(reverse("audit:log"))
        export = audit_export_start(org=self.org, user=request.user, filters=self.filters)
        query = {**self.filters.as_params(), "export": str(export.id)}
        return HttpResponseRedirect(reverse("audit:log") + "?" + urlencode(query))
