"""Schemathesis against the served OpenAPI schema (/accounts/api/openapi.json), in-process.

Every operation of the schema is called with Schemathesis' generated input (its coverage
phase's boundary and wrong-type cases, then `DOORMAN_SCHEMATHESIS_EXAMPLES` Hypothesis examples
of valid and invalid input), derandomized, through the real WSGI application
(`config.wsgi.application`, the token fast path included) inside the test's transaction. Most
calls are authenticated as the org's administrator against real ids, so they reach the
services; the rest go as a plain member, as an own-behalf app, with a dead token or with
nothing. Each answer must

- not be a 5xx (`not_a_server_error`);
- carry a documented status (`status_code_conformance`), media type
  (`content_type_conformance`) and body (`response_schema_conformance`);
- when it is an error, be the documented JSON error body of that API (`error_body_conformance`:
  also for the method and media-type probes the conformance checks skip).

The budget is per operation (`DOORMAN_SCHEMATHESIS_EXAMPLES`, default 40: about 5,200 requests;
100 makes about 8,500) and the run asserts the requests it made, so it cannot silently shrink
to nothing. `DOORMAN_SCHEMATHESIS_RANDOM=1` explores afresh instead of replaying (README).
"""

from __future__ import annotations

import collections
import json
import os
import time
from typing import Any

import pytest
import schemathesis
from django.core import signals
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from openapi_schema_validator import OAS30Validator
from schemathesis.checks import not_a_server_error
from schemathesis.generation.meta import TestPhase
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from config.wsgi import application
from tests.hostile.api_world import World

pytestmark = pytest.mark.django_db

SCHEMA_PATH = "/accounts/api/openapi.json"
# Hypothesis examples per operation, on top of the coverage phase's cases and the examples.
EXAMPLES = int(os.environ.get("DOORMAN_SCHEMATHESIS_EXAMPLES", "40"))
# The suite replays the same cases every run; DOORMAN_SCHEMATHESIS_RANDOM=1 explores afresh.
RANDOM = os.environ.get("DOORMAN_SCHEMATHESIS_RANDOM") == "1"

CONFIG = schemathesis.Config.from_dict(
    {
        **({} if RANDOM else {"seed": 13}),
        "generation": {
            # Also in @settings below: Schemathesis lets an @settings value equal to
            # Hypothesis' default (100) fall back to its config, else to the loaded profile's.
            "max-examples": EXAMPLES,
            "deterministic": not RANDOM,
            # The test chooses who calls (below); generated Authorization headers would only
            # be 401s.
            "with-security-parameters": False,
            "database": "none",
        },
    }
)
schema = schemathesis.openapi.from_wsgi(SCHEMA_PATH, application, config=CONFIG)
RAW_SCHEMA: dict[str, Any] = schema.raw_schema

OPERATIONS = [result.ok().label for result in schema.get_all_operations()]
# Those with something to generate (parameters or a body): Hypothesis runs EXAMPLES of each.
WITH_INPUT = [
    result.ok().label
    for result in schema.get_all_operations()
    if result.ok().definition.raw.get("parameters") or "requestBody" in result.ok().definition.raw
]

# What the run did, for test_the_run_made_its_requests.
REQUESTS: collections.Counter[str] = collections.Counter()
FUZZED: collections.Counter[str] = collections.Counter()  # Hypothesis' examples
ANSWERS: collections.defaultdict[str, collections.Counter[int]] = collections.defaultdict(
    collections.Counter
)
CLOCK: dict[str, float] = {}


@pytest.fixture
def world(org, admin, member, other_org, other_admin, make_app):
    # In-process calls share the test's connection and transaction: Django's request signals
    # must not close it between requests (django.test.Client disconnects them the same way).
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        yield World(
            org=org,
            admin=admin,
            member=member,
            other_org=other_org,
            other_admin=other_admin,
            make_app=make_app,
        )
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


# -- checks -----------------------------------------------------------------------------------
def _error_component(operation_raw: dict) -> str | None:
    """The error body an operation documents (ApiError or OAuthError), None for HTML errors."""
    for status, response in operation_raw.get("responses", {}).items():
        if status.startswith("4"):
            content = response.get("content", {})
            if "application/json" in content:
                return content["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
    return None


def _resolved(node: Any) -> Any:
    if isinstance(node, dict):
        if "$ref" in node:
            return _resolved(RAW_SCHEMA["components"]["schemas"][node["$ref"].rsplit("/", 1)[-1]])
        return {key: _resolved(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_resolved(item) for item in node]
    return node


ERROR_VALIDATORS = {
    name: OAS30Validator(_resolved(RAW_SCHEMA["components"]["schemas"][name]))
    for name in ("ApiError", "OAuthError")
}


def error_body_conformance(ctx, response, case) -> None:
    """Every error answer is the JSON error body its API documents (SPEC §4: "All API errors
    are JSON"), whatever its status, the probes of unsupported methods and media types too."""
    if response.status_code < 400:
        return None
    component = _error_component(case.operation.definition.raw)
    if component is None:
        return None  # /authorize: a browser endpoint, its errors are documented HTML pages
    content_type = response.headers.get("content-type", [""])[0]
    assert content_type.split(";")[0].strip() == "application/json", (
        f"{response.status_code} answered as {content_type!r}, not JSON"
    )
    body = json.loads(response.content)
    errors = sorted(ERROR_VALIDATORS[component].iter_errors(body), key=str)
    assert not errors, f"{response.status_code} body is not a {component}: {errors[0].message}"
    return None


CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    error_body_conformance,
]


# -- the run ----------------------------------------------------------------------------------
@settings(
    max_examples=EXAMPLES,
    derandomize=not RANDOM,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
@schema.parametrize()
def test_the_api_keeps_its_schema(case, world):
    label = case.operation.label
    n = REQUESTS[label]
    REQUESTS[label] += 1
    FUZZED[label] += case.meta is not None and case.meta.phase.name == TestPhase.FUZZING
    CLOCK.setdefault("first", time.monotonic())
    world.with_real_ids(case, n)
    authorization = world.authorization(case, n)
    headers = {} if authorization is None else {"Authorization": authorization}
    response = case.call(headers=headers)
    CLOCK["last"] = time.monotonic()
    ANSWERS[label][response.status_code] += 1
    case.validate_response(response, checks=CHECKS, headers=headers)


def test_the_run_made_its_requests(capsys):
    """The budget cannot silently shrink to nothing: every operation with input got its
    `EXAMPLES` Hypothesis examples (on top of the coverage phase's cases), and every operation
    was answered below 400 at least once (so the calls got past authentication and lookups
    into the services)."""
    if not REQUESTS:
        pytest.skip("the Schemathesis run was deselected")
    missing = [label for label in OPERATIONS if not REQUESTS[label]]
    if missing:
        pytest.skip(f"part of the Schemathesis run was deselected ({len(missing)} operations)")
    total = sum(REQUESTS.values())
    seconds = CLOCK["last"] - CLOCK["first"]
    with capsys.disabled():
        print(
            f"\nschemathesis: {total} requests, {len(OPERATIONS)} operations, "
            f"{EXAMPLES} examples each, {seconds:.0f} s"
        )
    short = {label: FUZZED[label] for label in WITH_INPUT if FUZZED[label] < EXAMPLES}
    assert not short, f"fewer than {EXAMPLES} Hypothesis examples: {short}"
    never_answered = [
        label for label in OPERATIONS if not any(code < 400 for code in ANSWERS[label])
    ]
    assert not never_answered, f"no call got an answer below 400: {never_answered}"
