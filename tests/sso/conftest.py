"""Company SSO test fixtures: `saml_idp`, a real SAML 2.0 IdP on loopback (tests/sso/saml_idp.py).
A conftest elsewhere gets them the same way: import both names from tests.sso.saml_idp."""

from tests.sso.saml_idp import saml_idp, saml_idp_server

__all__ = ["saml_idp", "saml_idp_server"]
