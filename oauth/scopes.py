"""Scopes backend (DOT's SCOPES_BACKEND_CLASS seam): the permission catalog is the source."""

from __future__ import annotations

from oauth2_provider.scopes import BaseScopes

from accounts.catalog import ALL_SCOPES, SCOPE_DESCRIPTIONS, SpecialScope


class ConnectedAppScopes(BaseScopes):
    def get_all_scopes(self) -> dict[str, str]:
        return dict(SCOPE_DESCRIPTIONS)

    def get_available_scopes(self, application=None, request=None, *args, **kwargs) -> list[str]:
        """What `application` may ask for now: its current scopes (plus the implicit `profile`
        of own-behalf apps); with no application, every scope (discovery)."""
        if application is None:
            return list(ALL_SCOPES)
        held = getattr(application, "doorman_scope_names", None)  # the token endpoint's load
        if held is None:
            held = application.scope_grants.values_list("scope", flat=True)
        scopes = set(held)
        if application.acts_on_own_behalf:
            scopes.add(SpecialScope.PROFILE)
        return sorted(scopes)

    def get_default_scopes(self, application=None, request=None, *args, **kwargs) -> list[str]:
        """A request without `scope` gets the app's scopes, never offline access or openid."""
        if application is None:
            return []
        excluded = {SpecialScope.OFFLINE_ACCESS, SpecialScope.OPENID}
        return [s for s in self.get_available_scopes(application) if s not in excluded]
