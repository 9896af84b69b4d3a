"""The portal's Audit log page (SPEC §8): filters, 50 events a page, CSV export streamed or in
the background with its progress."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django import forms
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_date
from django.utils.http import urlencode
from django.views import View
from django.views.generic import TemplateView

from accounts.access import access_for
from accounts.api_audit import csv_response
from accounts.selectors import audit_org_get
from accounts.templatetags.audit_tags import audit_log_org_for
from accounts.views.audit_chart import activity_chart
from audit import selectors
from audit.models import AuditAction, AuditEvent, AuditOutcome
from audit.services import audit_export_start
from audit.targets import APP_BY_CLIENT_ID, detail_references, event_targets, targets_resolve

EVENTS_PER_PAGE = 50


class AuditFilterForm(forms.Form):
    """What the page shows; the query parameters are the API's (`from`, `to`, …)."""

    time_from = forms.CharField(required=False, label="From")
    time_to = forms.CharField(required=False, label="To")
    actor = forms.CharField(required=False, max_length=150, label="Actor")
    client_id = forms.CharField(required=False, max_length=100, label="App (client ID)")
    action = forms.ChoiceField(
        required=False, choices=[("", "Any action"), *AuditAction.choices], label="Action"
    )
    outcome = forms.ChoiceField(
        required=False, choices=[("", "Any outcome"), *AuditOutcome.choices], label="Outcome"
    )


# `since=<preset>`: the page's quick ranges, counted back from now when the page is read.
PRESETS = {
    "1h": ("Last hour", timedelta(hours=1)),
    "24h": ("Last 24 hours", timedelta(days=1)),
    "7d": ("Last 7 days", timedelta(days=7)),
}
PAGE_FILTERS = (*selectors.FILTER_NAMES, "since")
SINCE_INVALID = "Choose one of: " + ", ".join(label for label, _ in PRESETS.values()) + "."


def page_filters(query: Any) -> tuple[selectors.AuditFilters, dict[str, list[str]]]:
    """The page's filters from its query (the API's, plus `since`; a `to` that is a date
    takes the whole day, as a date picker means it), and the errors keyed by parameter."""
    params = {name: (query.get(name) or "").strip() for name in selectors.FILTER_NAMES}
    errors: dict[str, list[str]] = {}
    since = (query.get("since") or "").strip()
    if since and since not in PRESETS:
        errors["since"] = [SINCE_INVALID]
    elif since and not params["from"]:
        params["from"] = (timezone.now() - PRESETS[since][1]).isoformat()
    if len(params["to"]) == 10 and parse_date_or_none(params["to"]):
        params["to"] += "T23:59:59.999999"
    try:
        filters = selectors.AuditFilters.parse(params)
    except ValidationError as exc:
        errors.update({k: [str(m) for m in v] for k, v in exc.message_dict.items()})
        filters = selectors.AuditFilters()
    return filters, errors


def parse_date_or_none(value: str) -> Any:
    try:
        return parse_date(value)
    except ValueError:
        return None


def date_value(raw: str) -> str:
    """What a date input shows for a `from`/`to` parameter: its date (an input of type date
    holds nothing else)."""
    return raw[:10] if parse_date_or_none(raw[:10]) else ""


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
        self.filters, self.filter_errors = page_filters(request.GET)
        return super().dispatch(request, *args, **kwargs)


class AuditLogView(AuditPageMixin, TemplateView):
    template_name = "audit/audit_log.html"

    def get(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        # Bad filters answer 400 with the form's errors, as the API does, and no list: a list
        # that ignored a filter would read as its answer.
        status = 400 if self.filter_errors else 200
        return self.render_to_response(self.get_context_data(**kwargs), status=status)

    def get_context_data(self, **kwargs) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        raw = {name: (self.request.GET.get(name) or "").strip() for name in PAGE_FILTERS}
        query = {name: value for name, value in raw.items() if value}
        base = {k: v for k, v in query.items() if k not in ("from", "to", "since")}
        context.update(
            nav_section="audit",
            org=self.org,
            filter_errors=self.filter_errors,
            raw=raw,
            date_from=date_value(raw["from"]),
            date_to=date_value(raw["to"]),
            presets=[
                {"key": key, "label": label, "query": urlencode({**base, "since": key})}
                for key, (label, _) in PRESETS.items()
            ],
            filter_form=AuditFilterForm(),
            filters_active=sum(1 for name in selectors.FILTER_NAMES if raw.get(name)),
            query=urlencode(query),
        )
        if self.filter_errors:
            return context
        events = selectors.audit_event_list(org=self.org, filters=self.filters)
        page = Paginator(events, EVENTS_PER_PAGE).get_page(self.request.GET.get("page"))
        export_query = self.filters.as_params()
        context.update(
            activity=activity_chart(*selectors.audit_activity(events=events, filters=self.filters)),
            page_obj=page,
            events=audit_event_rows(org=self.org, events=list(page)),
            csv_url=reverse("audit:export_csv")
            + ("?" + urlencode(export_query) if export_query else ""),
            export_id=self.request.GET.get("export", ""),
            export_status_base=reverse("api-audit-exports", args=[self.org.id]),
        )
        return context


def audit_event_rows(*, org: Any, events: list[AuditEvent]) -> list[dict[str, Any]]:
    """Events as the audit log shows them: the action in words, the actor, and the acting
    user, acting app and target named, and the orgs and environments their details name (one
    resolver call per target type, not per row)."""
    labels = dict(AuditAction.choices)
    names = targets_resolve(org=org, targets=[*event_targets(events), *detail_references(events)])
    return [
        {
            "event": event,
            "label": labels.get(event.action, event.action),
            "actor": selectors.actor_data(event),
            "actor_user": names.get(("user", str(event.actor_user_id))),
            "actor_app": names.get((APP_BY_CLIENT_ID, event.actor_client_id)),
            "target": names.get((event.target_type, event.target_id)),
            "names": names,
        }
        for event in events
    ]


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
