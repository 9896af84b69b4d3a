"""Company SSO tests: the upstream identity providers Doorman signs users in through."""

from tests.sso.upstream import upstream_oidc_idp, upstream_oidc_idp_factory  # noqa: F401
