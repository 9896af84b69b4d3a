"""The portal's home page (`portal:home`, /): a dashboard per role (issue 16).

It lives here, not in accounts, because its figures are connected apps' (apps, authorizations,
token usage, the allowlist); config/urls.py keeps it in the portal's namespace. Which dashboard
and what it shows are connected_apps.dashboard's to say: the view only renders it.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils import timezone
from django.views.generic import TemplateView

from accounts.selectors import organization_tree
from accounts.views import PortalMixin, access_overview
from accounts.views.audit_log import audit_event_rows
from connected_apps import dashboard
from connected_apps.dashboard import DashboardRole
from connected_apps.views.usage_chart import usage_chart


class DashboardView(PortalMixin, TemplateView):
    """Administrators see their org's figures, developers their apps' usage, members what they
    hold where; a user with nothing to manage is sent to My apps."""

    template_name = "connected_apps/dashboard.html"
    nav_section = "home"

    def load(self) -> None:
        self.tree = organization_tree(access=self.access)
        self.dashboard = dashboard.dashboard_for(access=self.access, tree=self.tree)

    def get(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if self.dashboard.role == DashboardRole.END_USER:
            return HttpResponseRedirect(reverse("connected_apps:my_apps"))
        return super().get(request, *args, **kwargs)

    def get_context_data(self, **kwargs) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        role, today = self.dashboard.role, timezone.now().date()
        context.update(role=role, root_org=self.request.user.organization, today=today)
        if role == DashboardRole.ADMIN:
            figures = dashboard.org_figures(access=self.access, org=self.dashboard.org, today=today)
            context.update(
                figures=figures,
                chart=usage_chart(figures.tokens_issued, figures.tokens_refused),
                events=audit_event_rows(org=figures.org, events=figures.recent_events),
            )
        elif role == DashboardRole.DEVELOPER:
            figures = dashboard.developer_figures(access=self.access, today=today)
            context.update(figures=figures, chart=usage_chart(figures.tokens_issued))
        else:
            context["overview"] = access_overview(self.access)
        return context
