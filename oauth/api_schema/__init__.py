"""The OpenAPI fragment of the authorization server (SPEC §4), beside the endpoints it documents.

Its endpoints are plain Django views (django-oauth-toolkit's, customized in oauth/views/), which
drf-spectacular does not see: `paths` documents them by hand and `shapes` holds their bodies'
component schemas. `add_authorization_server`, a SPECTACULAR_SETTINGS POSTPROCESSING_HOOK,
merges both into the generated schema.
"""

from __future__ import annotations

from typing import Any

from core.schema import security
from oauth.api_schema import paths, shapes


def add_authorization_server(result: dict[str, Any], generator, request, public) -> dict:
    """POSTPROCESSING_HOOK: merge the authorization server's fragment into the schema."""
    result["paths"] = dict(sorted({**result.get("paths", {}), **paths.paths()}.items()))
    components = result.setdefault("components", {})
    components.setdefault("schemas", {}).update(shapes.schemas())
    schemes = components.setdefault("securitySchemes", {})
    schemes.update(paths.SECURITY_SCHEMES)
    schemes.setdefault("bearerAuth", security.BEARER_SCHEME)  # userinfo uses it too
    return result
