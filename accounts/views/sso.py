"""allauth's company-SSO views where they need mending (SPEC §11).

allauth's SAML sign-in ends at `/auth/saml/<provider>/acs/finish/`, which refuses a response
that is not base64 or that python3-saml rejects, with its sign-in failure page (401); its
single-logout URL `/auth/saml/<provider>/sls/` refuses what python3-saml rejects with a 400.
A message that does not parse as XML, or that python3-saml's parser refuses to read (a DTD,
entity declarations), or (at the logout URL) is not base64 or UTF-8, escapes both and would
be a 500: here it is refused as allauth refuses any other invalid message. Both URLs are
anyone's to send anything to.
"""

from __future__ import annotations

import binascii
import logging

from allauth.socialaccount.helpers import render_authentication_error
from allauth.socialaccount.providers.saml.views import FinishACSView, SLSView
from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.utils.decorators import method_decorator
from django.views.decorators.csrf import csrf_exempt
from lxml.etree import XMLSyntaxError
from onelogin.saml2.xmlparser import DTDForbidden, EntitiesForbidden

logger = logging.getLogger(__name__)

# What python3-saml lets escape on a message that is not base64, UTF-8 or XML it will read.
UNREADABLE = (binascii.Error, UnicodeDecodeError, XMLSyntaxError, DTDForbidden, EntitiesForbidden)


@method_decorator(login_not_required, name="dispatch")  # as allauth's view is
class SamlFinishView(FinishACSView):
    """allauth's end of a SAML sign-in, with an unreadable SAMLResponse refused (401)."""

    def dispatch(self, request: HttpRequest, organization_slug: str) -> HttpResponse:
        try:
            return super().dispatch(request, organization_slug)
        except UNREADABLE as error:
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


@method_decorator(csrf_exempt, name="dispatch")  # as allauth's view is
@method_decorator(login_not_required, name="dispatch")
class SamlLogoutView(SLSView):
    """allauth's SAML single-logout URL, with an unreadable message a 400, as allauth answers
    the messages python3-saml rejects."""

    def dispatch(self, request: HttpRequest, organization_slug: str) -> HttpResponse:
        try:
            return super().dispatch(request, organization_slug)
        except UNREADABLE as error:
            reason = f"The SAML message is not readable ({type(error).__name__})."
            logger.warning("SAML SLS message refused: %s", reason)
            return HttpResponseBadRequest(reason, content_type="text/plain")
