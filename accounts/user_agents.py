"""A readable name for a browser from its User-Agent header ("Chrome 131 on Linux"), for the
Sign-in & sessions page. ua-parser reads the header with the uap-core rules."""

from __future__ import annotations

from functools import lru_cache

from ua_parser import parse

UNKNOWN_BROWSER = "Unknown browser"
# uap-core's names where the platform's own reads better.
OS_NAMES = {"Mac OS X": "macOS"}


@lru_cache(maxsize=256)
def user_agent_summary(user_agent: str) -> str:
    """The browser, its major version and its OS, as much as the header tells: "Chrome 131
    on Linux"; "Unknown browser" when it names no browser uap-core knows."""
    result = parse(user_agent or "")
    agent, system = result.user_agent, result.os
    if agent is None or agent.family == "Other":
        return UNKNOWN_BROWSER
    browser = f"{agent.family} {agent.major}" if agent.major else agent.family
    if system is None or system.family == "Other":
        return browser
    return f"{browser} on {OS_NAMES.get(system.family, system.family)}"
