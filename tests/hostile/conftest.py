"""Hostile-input tests share one Hypothesis profile: few examples, no deadline (a database
round trip per example), no example database on disk. `HYPOTHESIS_PROFILE=hostile-long`
explores much more when run by hand."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

COMMON = {
    "deadline": None,
    "database": None,
    "suppress_health_check": [
        HealthCheck.too_slow,
        HealthCheck.function_scoped_fixture,
        HealthCheck.data_too_large,
        HealthCheck.filter_too_much,
    ],
}
# The suite's profile replays the same examples every run, so a CI result can be reproduced;
# the long profile explores afresh each time and is where new bugs are hunted.
settings.register_profile("hostile", max_examples=40, derandomize=True, **COMMON)
settings.register_profile("hostile-long", max_examples=2000, derandomize=False, **COMMON)
# Only these tests use Hypothesis, so the profile may as well be the session's.
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "hostile"))


def examples(default: int = 40) -> int:
    """How many examples a property runs: the suite's budget, or the long profile's."""
    if os.environ.get("HYPOTHESIS_PROFILE") == "hostile-long":
        return 2000
    return default
