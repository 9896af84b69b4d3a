"""allauth's company-SSO views where they need mending (SPEC §11).

allauth's SAML sign-in ends at `/auth/saml/<provider>/acs/finish/`, which refuses a response
that is not base64 or that python3-saml rejects, with its sign-in failure page (401). A
SAMLResponse that does not parse as XML, or that python3-saml's parser refuses to read (a
DTD, entity declarations), escapes both as an lxml or parser error and would be a 500: here
it is refused like any other invalid response. The ACS is anyone's to post to.
"""

from __future__ import annotations

import logging

from allauth.socialaccount.helpers import render_authentication_error
from allauth.socialaccount.providers.saml.views import FinishACSView
from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse
from django.utils.decorators import method_decorator
from lxml.etree import XMLSyntaxError
from onelogin.saml2.xmlparser import DTDForbidden, EntitiesForbidden

logger = logging.getLogger(__name__)

UNREADABLE_RESPONSE = (XMLSyntaxError, DTDForbidden, EntitiesForbidden)


@method_decorator(login_not_required, name="dispatch")  # as allauth's view is
class SamlFinishView(FinishACSView):
    """allauth's end of a SAML sign-in, with an unreadable SAMLResponse refused (401)."""

    def dispatch(self, request: HttpRequest, organization_slug: str) -> HttpResponse:
        try:
            return super().dispatch(request, organization_slug)
        except UNREADABLE_RESPONSE as error:
            reason = f"The SAMLResponse is not readable XML ({type(error).__name__})."
            logger.warning("SAML ACS response refused: %s", reason)
            return render_authentication_error(
                request,
                self.get_provider(organization_slug),
                extra_context={
                    "saml_errors": ["invalid_response"],
                    "saml_last_error_reason": reason,
                },
            )
