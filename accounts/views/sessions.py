"""Sign-in & sessions (SPEC §11): where the viewer is signed in, ending one session or all of
them (after confirming), and the way to their second factors and password."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.views.decorators.cache import never_cache
from django.views.generic import TemplateView

from accounts import sign_in_sessions
from accounts.views.mixins import PortalMixin

CONFIRMED = "yes"


class SessionsMixin(PortalMixin):
    nav_section = "sessions"

    def sessions(self) -> list[sign_in_sessions.SignInSession]:
        return sign_in_sessions.user_sessions(
            user=self.request.user, current_key=self.request.session.session_key
        )


@method_decorator(never_cache, name="dispatch")
class SessionsView(SessionsMixin, TemplateView):
    template_name = "accounts/sessions.html"

    def get_context_data(self, **kwargs) -> dict[str, Any]:
        return {**super().get_context_data(**kwargs), "sessions": self.sessions()}


@method_decorator(never_cache, name="dispatch")
class SessionEndView(SessionsMixin, TemplateView):
    """GET asks to confirm; POST ends the session (`session_id`, or every one with `all`)."""

    template_name = "accounts/session_end.html"
    everywhere = False

    def load(self) -> None:
        self.session = None
        if not self.everywhere:
            found = [s for s in self.sessions() if s.id == self.kwargs["session_id"]]
            if not found:
                raise Http404(sign_in_sessions.SESSION_NOT_FOUND)
            self.session = found[0]

    def get_context_data(self, **kwargs) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        return {**context, "session": self.session, "everywhere": self.everywhere}

    def post(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if request.POST.get("confirm") != CONFIRMED:
            return HttpResponseRedirect(request.path)
        user = request.user
        if self.everywhere:
            sign_in_sessions.user_sessions_end_all(user=user, meta=self.meta())
            return HttpResponseRedirect(reverse("account_login"))
        sign_in_sessions.user_session_end(user=user, session_id=self.session.id, meta=self.meta())
        if self.session.current:
            return HttpResponseRedirect(reverse("account_login"))
        messages.success(request, "That session is signed out.")
        return HttpResponseRedirect(reverse("portal:sessions"))
