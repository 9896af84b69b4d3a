"""Real concurrency against PostgreSQL: twelve simultaneous creations in a root org five apps
short of MAX_APPS_PER_ROOT_ORG (2000, the real constant, not a patched one). Exactly five win;
the others get TOO_MANY_APPS and leave nothing behind, neither an app, nor a scope row, nor an
audit event. `connected_app_create` serialises creations per root org with a row lock on the
root org; without it, racers that all counted 1995..1999 each insert, and the org ends up over
the limit (SPEC §2).

Each racer is a thread, so it has its own database connection (Django's connections are
per thread); every racer opens its connection first and then waits at a barrier, so all twelve
reach the count-then-insert at the same instant.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, connections
from django.test import Client

from accounts.access import Access
from audit.models import AuditAction, AuditEvent
from connected_apps import services
from connected_apps.models import AppScope, ConnectedApp, GrantType

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="SQLite serialises writers (the test database even locks whole tables)",
    ),
]

RACERS = 12
FREE_SLOTS = 5
LIMIT = services.MAX_APPS_PER_ROOT_ORG
APPS = "/accounts/api/connectedApplications"
SCOPES = ["profile", "offline_access"]
BODY = {
    "client_name": "Racer",
    "grant_types": ["authorization_code", "refresh_token"],
    "redirect_uris": ["https://racer.example/callback"],
    "scopes": SCOPES,
    "audience": "internal",
}


@pytest.fixture
def nearly_full_org(org, admin):
    """`org` already owning LIMIT - FREE_SLOTS apps, written in one bulk insert (a second or
    so) with the fields the service sets; they hold no scopes, so every AppScope row in the
    database belongs to an app a racer created."""
    ConnectedApp.objects.bulk_create(
        [
            ConnectedApp(
                name=f"Existing {n}",
                grant_types=[GrantType.AUTHORIZATION_CODE],
                redirect_uris="https://existing.example/callback",
                public_keys=[],
                owner_org=org,
                root_org_id=org.root_id_or_self,
                user=admin,
                client_type=ConnectedApp.CLIENT_CONFIDENTIAL,
                skip_authorization=False,
            )
            for n in range(LIMIT - FREE_SLOTS)
        ],
        batch_size=500,
    )
    existing = ConnectedApp.objects.filter(root_org_id=org.root_id_or_self)
    assert existing.count() == LIMIT - FREE_SLOTS
    assert not AppScope.objects.exists()
    assert not AuditEvent.objects.filter(action=AuditAction.APP_CREATED).exists()
    return org


def race(attempt: Callable[[int], Any]) -> list[Any]:
    """Run `attempt(i)` in RACERS threads released together; each result, or the exception."""
    barrier = threading.Barrier(RACERS, timeout=30)
    results: list[Any] = [None] * RACERS

    def run(i: int) -> None:
        try:
            connection.ensure_connection()  # this thread's own connection, opened up front
            barrier.wait()
            results[i] = attempt(i)
        except Exception as exc:  # the caller inspects every outcome
            results[i] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(RACERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads), "a racer hung"
    return results


def assert_nothing_left_over(org, created_pks: set) -> None:
    """The org is exactly at the limit; scope rows and audit events exist for winners only."""
    root_id = org.root_id_or_self
    assert ConnectedApp.objects.filter(root_org_id=root_id).count() == LIMIT
    racers = ConnectedApp.objects.filter(name__startswith="Racer")
    assert set(racers.values_list("pk", flat=True)) == created_pks
    assert set(AppScope.objects.values_list("app_id", flat=True)) == created_pks
    assert AppScope.objects.count() == len(SCOPES) * FREE_SLOTS
    created_events = AuditEvent.objects.filter(action=AuditAction.APP_CREATED)
    assert created_events.count() == FREE_SLOTS  # a refusal records nothing
    assert {event.target_id for event in created_events} == {str(pk) for pk in created_pks}


def test_parallel_service_creations_stop_exactly_at_the_limit(nearly_full_org, admin):
    def create(i: int) -> services.AppWithSecret:
        return services.connected_app_create(
            access=Access(user=admin),
            owner=nearly_full_org,
            **{**BODY, "client_name": f"Racer {i}"},
        )

    results = race(create)

    created = [r for r in results if isinstance(r, services.AppWithSecret)]
    refused = [r for r in results if isinstance(r, ValidationError)]
    assert len(created) == FREE_SLOTS, results
    assert len(refused) == RACERS - FREE_SLOTS, results
    for error in refused:
        assert error.message_dict == {"non_field_errors": [services.TOO_MANY_APPS]}
    assert_nothing_left_over(nearly_full_org, {c.app.pk for c in created})


def test_parallel_api_creations_stop_exactly_at_the_limit(nearly_full_org, admin):
    clients = []
    for _ in range(RACERS):  # one session each, committed before the race
        client = Client()
        client.force_login(admin)
        clients.append(client)

    def post(i: int) -> tuple[int, dict]:
        body = {**BODY, "client_name": f"Racer {i}"}
        response = clients[i].post(APPS, data=body, content_type="application/json")
        return response.status_code, response.json()

    results = race(post)

    assert not any(isinstance(r, Exception) for r in results), results
    statuses = sorted(status for status, _ in results)
    assert statuses == [201] * FREE_SLOTS + [400] * (RACERS - FREE_SLOTS), results
    created_client_ids = set()
    for status, body in results:
        if status == 201:
            assert body["client_secret"]
            created_client_ids.add(body["client_id"])
        else:
            assert body == {
                "error": "invalid_request",
                "message": services.TOO_MANY_APPS,
                "fields": {"non_field_errors": [services.TOO_MANY_APPS]},
            }
    created_pks = set(
        ConnectedApp.objects.filter(client_id__in=created_client_ids).values_list("pk", flat=True)
    )
    assert len(created_pks) == FREE_SLOTS
    assert_nothing_left_over(nearly_full_org, created_pks)
