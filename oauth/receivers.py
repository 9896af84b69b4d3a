"""What the authorization server does when accounts, below it, reports a change it must act
on (accounts cannot call oauth; it sends a signal)."""

from __future__ import annotations

from typing import Any

from accounts.signals import sign_ins_ended
from oauth.services import platform_tokens_revoke


def _platform_tokens_end(sender: Any, *, user: Any, reason: str, **kwargs: Any) -> None:
    """A user's sign-ins were ended (a new password): their platform tokens go too."""
    platform_tokens_revoke(user=user, reason=reason)


def receivers_connect() -> None:
    sign_ins_ended.connect(_platform_tokens_end, dispatch_uid="oauth-platform-tokens-end")
