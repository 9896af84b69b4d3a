"""Signals accounts sends to the apps above it, which it must not import."""

from __future__ import annotations

from django.dispatch import Signal

# Every portal session of a user was ended (accounts.sessions.user_sign_ins_end); receivers end
# what else that user signed in with (oauth: their platform tokens). Arguments: `user`, and
# `reason` (accounts.sessions.SIGN_INS_END_* constants, recorded in the audit trail). Sent
# inside the ending transaction, so a receiver's writes commit or roll back with it.
sign_ins_ended = Signal()
