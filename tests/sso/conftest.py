"""Company SSO tests: the upstream identity providers Doorman signs users in through, a real
OpenID Connect provider (node oidc-provider, tests/sso/upstream.py) and a real SAML 2.0 IdP
(pysaml2, tests/sso/saml_idp.py), each on loopback. A conftest elsewhere imports the same
names."""

from tests.sso.saml_idp import saml_idp, saml_idp_server
from tests.sso.upstream import upstream_oidc_idp, upstream_oidc_idp_factory

__all__ = ["saml_idp", "saml_idp_server", "upstream_oidc_idp", "upstream_oidc_idp_factory"]
