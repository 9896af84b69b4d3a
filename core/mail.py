"""Sending email: when it cannot be sent, say so (a 503 with Retry-After), never fail.

Mail is configured by DOORMAN_SMTP_* (config/settings.py). Without an SMTP server, development
prints mail on the console and production uses `UnconfiguredEmailBackend`, which refuses to
send: a password-reset link must never end up in a log. A send that fails (the server is
away, refuses us or times out after EMAIL_TIMEOUT) raises `MailUnavailable`, which
core.api_errors answers with 503 and Retry-After, JSON on API paths and a page elsewhere.
"""

from __future__ import annotations

import smtplib

from django.core.mail.backends.base import BaseEmailBackend

MAIL_ERRORS = (smtplib.SMTPException, OSError)


class MailUnavailable(Exception):
    """The email could not be sent now; trying again later may work."""


class UnconfiguredEmailBackend(BaseEmailBackend):
    """Production without DOORMAN_SMTP_HOST: nothing is sent and nothing is printed."""

    def send_messages(self, email_messages) -> int:
        if email_messages and not self.fail_silently:
            raise MailUnavailable("No mail server is configured (DOORMAN_SMTP_HOST).")
        return 0
