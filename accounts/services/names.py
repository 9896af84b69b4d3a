"""The one rule for the name of an organization, business group, environment or identity
provider.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError

NAME_REQUIRED = "A name is required."
NAME_TOO_LONG = "Names are at most 100 characters."
NAME_INVALID = "Names cannot contain control characters."


def _has_control_characters(value: str) -> bool:
    # NUL cannot be stored by PostgreSQL at all; the others have no place in a display name.
    return any(ord(c) < 32 or ord(c) == 127 for c in value)


def _clean_name(name: str) -> str:
    name = (name if isinstance(name, str) else "").strip()
    if not name:
        raise ValidationError({"name": NAME_REQUIRED})
    if len(name) > 100:
        raise ValidationError({"name": NAME_TOO_LONG})
    if _has_control_characters(name):
        raise ValidationError({"name": NAME_INVALID})
    return name
