"""`manage.py bootstrap --org NAME --admin USERNAME --password … --email …` (SPEC §9).

Creates the org with its Organization Administrator, or brings an existing pair back to the
given password and email. Prints one JSON line: {"org_id": …, "user_id": …}.
"""

from __future__ import annotations

import json

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.services import organization_bootstrap


class Command(BaseCommand):
    help = "Create an organization with its administrator (idempotent); prints a JSON line."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--org", required=True, help="Root organization name")
        parser.add_argument("--admin", required=True, help="Administrator username")
        parser.add_argument("--password", required=True, help="Administrator password")
        parser.add_argument("--email", required=True, help="Administrator email")

    def handle(self, *args, **options) -> None:
        try:
            result = organization_bootstrap(
                org_name=options["org"],
                username=options["admin"],
                password=options["password"],
                email=options["email"],
            )
        except ValidationError as exc:
            raise CommandError(_describe(exc)) from exc
        self.stdout.write(
            json.dumps({"org_id": str(result.organization.id), "user_id": str(result.admin.id)})
        )


OPTION_NAMES = {"name": "org", "username": "admin", "admin": "admin"}


def _describe(exc: ValidationError) -> str:
    """`option: message; …`, naming the command-line option each message is about."""
    if not hasattr(exc, "error_dict"):
        return "; ".join(exc.messages)
    return "; ".join(
        f"{OPTION_NAMES.get(field, field)}: {message}"
        for field, errors in exc.error_dict.items()
        for error in errors
        for message in error.messages
    )
