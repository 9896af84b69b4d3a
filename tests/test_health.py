"""/healthz and /readyz (issue 13): what a load balancer asks before sending traffic."""

from __future__ import annotations

import pytest
from django.db import DatabaseError
from django.test import Client

from core import health

pytestmark = pytest.mark.django_db


def test_healthz_answers_without_asking_anything():
    response = Client().get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert "no-cache" in response["Cache-Control"] or "max-age=0" in response["Cache-Control"]


def test_readyz_reports_the_database_and_redis():
    response = Client().get("/readyz")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "ok"
    assert body["database"] == "ok"
    assert body["redis"] in ("ok", "off")


def test_readyz_is_503_with_retry_after_when_the_database_is_away(monkeypatch):
    def unreachable():
        raise DatabaseError("connection refused")

    monkeypatch.setattr(health.connection, "cursor", unreachable)
    response = Client().get("/readyz")
    assert response.status_code == 503
    assert response["Retry-After"]
    assert response.json()["database"] == "unreachable"


def test_readyz_is_503_while_migrations_are_pending(monkeypatch):
    monkeypatch.setattr(health, "_database_status", lambda: "migrations_pending")
    response = Client().get("/readyz")
    assert response.status_code == 503
    assert response.json()["database"] == "migrations_pending"


def test_redis_failing_is_degraded_not_unready(monkeypatch):
    monkeypatch.setattr(health, "redis_status", lambda: "degraded")
    response = Client().get("/readyz")
    assert response.status_code == 200
    assert response.json()["redis"] == "degraded"


def test_only_get():
    assert Client().post("/healthz").status_code == 405
