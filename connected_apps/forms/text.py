"""The Connected Apps forms' text areas, turned into the lists the services take."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable

_PEM_BLOCK = re.compile(r"-----BEGIN [A-Z0-9 ]+-----.*?-----END [A-Z0-9 ]+-----", re.DOTALL)


def lines_to_list(text: str) -> list[str]:
    """One entry per non-blank line, stripped."""
    return [line.strip() for line in (text or "").splitlines() if line.strip()]


def parse_public_keys(text: str) -> list[str | dict]:
    """PEM blocks, and JWKs as JSON (one object, an array, or one object a line).

    Anything left that is neither is passed on as it is, so the service reports it as an
    unreadable key rather than the form dropping it silently.
    """
    text = text or ""
    keys: list[str | dict] = [match.group(0) for match in _PEM_BLOCK.finditer(text)]
    rest = _PEM_BLOCK.sub("", text).strip()
    if not rest:
        return keys
    try:
        parsed = json.loads(rest)
    except ValueError:
        parsed = None
    if isinstance(parsed, dict):
        return [*keys, parsed]
    if isinstance(parsed, list):
        return [*keys, *parsed]
    for line in lines_to_list(rest):
        try:
            keys.append(json.loads(line))
        except ValueError:
            keys.append(line)
    return keys


def public_keys_text(keys: Iterable[str | dict]) -> str:
    """The edit form's text for stored keys: PEM as it is, a JWK as one JSON line."""
    parts = [k.strip() if isinstance(k, str) else json.dumps(k, sort_keys=True) for k in keys]
    return "\n".join(parts)
