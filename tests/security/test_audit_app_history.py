"""An app's whole history under the audit log's `client_id` filter (SPEC §4, issue 12 item 8).

An administrator investigating an app asks the audit log for `client_id=<the app>` and must
get every event about it: what was done to it (created, changed, secret rotated, scopes,
allowlist, revoked, disabled, deleted) and what it did (tokens issued and refused, the writes
of its API calls), including after the app was deleted, and nothing of any other app. The
same filter serves the JSON list, the streamed CSV and the background export. Played over
real HTTP with the administrator's platform token (`POST /accounts/login`)."""

from __future__ import annotations

import csv
import io
import time

import pytest

from tests.audit import worker
from tests.factories import DEFAULT_PASSWORD, UserFactory

celery_worker_thread = worker.celery_worker_thread
pytestmark = pytest.mark.django_db(transaction=True)


def _login(http, urls, username: str) -> str:
    response = http().post(urls["login"], json={"username": username, "password": DEFAULT_PASSWORD})
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


def _api(http, token: str):
    session = http()
    session.headers["Authorization"] = f"Bearer {token}"
    return session


def _cc_app(api, urls, org, name: str) -> dict:
    response = api.post(
        urls["api"] + "/connectedApplications",
        json={
            "client_name": name,
            "grant_types": ["client_credentials"],
            "redirect_uris": [],
            "scopes": [{"scope": "edit:environment", "context_params": {"org": str(org.id)}}],
            "audience": "internal",
        },
    )
    assert response.status_code == 201, response.text
    return response.json()


def _cc_token(http, urls, client_id: str, secret: str) -> str:
    response = http().post(
        urls["token"],
        data={"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret},
    )
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


def _environment_create(api, urls, org, name: str) -> None:
    response = api.post(
        f"{urls['api']}/organizations/{org.id}/environments", json={"name": name, "type": "sandbox"}
    )
    assert response.status_code == 201, response.text


def _audit(api, urls, org, **params) -> list[dict]:
    response = api.get(f"{urls['api']}/organizations/{org.id}/auditLogs", params=params)
    assert response.status_code == 200, response.text
    return response.json()["data"]


def _audit_csv(api, urls, org, **params) -> list[dict]:
    response = api.get(
        f"{urls['api']}/organizations/{org.id}/auditLogs", params={**params, "format": "csv"}
    )
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(response.text)))


def _audit_export(api, urls, org, **params) -> list[dict]:
    base = f"{urls['api']}/organizations/{org.id}/auditLogs/exports"
    created = api.post(base, params=params)
    assert created.status_code == 202, created.text
    deadline = time.monotonic() + 30
    while True:
        body = api.get(f"{base}/{created.json()['id']}").json()
        if body["status"] in ("done", "failed") or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert body["status"] == "done", body
    download = api.get(urls["base"] + body["downloadUrl"])
    return list(csv.DictReader(io.StringIO(download.text)))


def _mentions(event: dict, client_id: str) -> bool:
    """Whether the event names the app anywhere an investigator would look."""
    actor = event.get("actor") or {}
    details = event.get("details") or {}
    return actor.get("id") == client_id or details.get("client_id") == client_id


def test_the_client_id_filter_returns_an_apps_whole_history_and_nothing_else(
    http, urls, org, admin, celery_worker_thread
):
    api = _api(http, _login(http, urls, admin.username))
    robot = _cc_app(api, urls, org, "Robot")
    other = _cc_app(api, urls, org, "Other robot")
    client_id = robot["client_id"]
    app_url = f"{urls['api']}/connectedApplications/{client_id}"
    context = {"org": str(org.id)}

    # What is done to the app.
    assert api.patch(app_url, json={"client_name": "Robot 2"}).status_code == 200
    rotated = api.post(app_url + "/client-secret")
    assert rotated.status_code in (200, 201), rotated.text
    secret = rotated.json()["client_secret"]
    scopes = [
        {"scope": "edit:environment", "context_params": context},
        {"scope": "view:environment", "context_params": context},
    ]
    assert api.put(app_url + "/scopes", json={"scopes": scopes}).status_code == 204
    allowlist = f"{urls['api']}/organizations/{org.id}/connectedApplicationsAllowlist"
    assert api.post(allowlist, json={"client_id": client_id}).status_code in (200, 201)
    assert api.delete(f"{allowlist}/{client_id}").status_code == 204

    # What the app does: a refused and an issued token, a write through its API call.
    refused = http().post(
        urls["token"],
        data={"grant_type": "client_credentials", "client_id": client_id, "client_secret": "no"},
    )
    assert refused.status_code == 401
    _environment_create(_api(http, _cc_token(http, urls, client_id, secret)), urls, org, "ci")

    # Another app's history must not leak into the robot's.
    _environment_create(
        _api(http, _cc_token(http, urls, other["client_id"], other["client_secret"])),
        urls,
        org,
        "other-ci",
    )
    assert api.patch(app_url, json={"enabled": False}).status_code == 200
    assert api.delete(app_url).status_code == 204

    expected = sorted(
        [
            "app.created",
            "app.updated",
            "app.secret_rotated",
            "app.scopes_changed",
            "allowlist.approved",
            "allowlist.removed",
            "token.refused",
            "token.issued",
            "environment.created",
            "app.updated",
            "app.deleted",
        ]
    )
    events = _audit(api, urls, org, client_id=client_id)
    assert sorted(e["action"] for e in events) == expected
    assert all(_mentions(e, client_id) for e in events)
    assert not any(_mentions(e, other["client_id"]) for e in events)
    written = next(e for e in events if e["action"] == "environment.created")
    assert written["actor"]["type"] == "app" and written["actor"]["id"] == client_id

    ids = {e["id"] for e in events}
    assert {row["id"] for row in _audit_csv(api, urls, org, client_id=client_id)} == ids
    assert {row["id"] for row in _audit_export(api, urls, org, client_id=client_id)} == ids

    # The other app's filter has its own history only.
    theirs = _audit(api, urls, org, client_id=other["client_id"])
    assert sorted(e["action"] for e in theirs) == [
        "app.created",
        "environment.created",
        "token.issued",
    ]
    assert not ids & {e["id"] for e in theirs}


def test_an_app_acting_for_users_shows_their_consents_its_revocations_and_its_writes(
    http, urls, org, admin, make_app
):
    app = make_app(
        client_name="Portal",
        grant_types=["password", "refresh_token"],
        redirect_uris=[],
        scopes=["profile", "edit:environment"],
    )
    client_id = app.app.client_id
    member = UserFactory(organization=org, username="acme-reader")

    def user_token(username: str) -> str:
        response = http().post(
            urls["token"],
            data={
                "grant_type": "password",
                "username": username,
                "password": DEFAULT_PASSWORD,
                "scope": "profile edit:environment" if username == admin.username else "profile",
                "client_id": client_id,
                "client_secret": app.client_secret,
            },
        )
        assert response.status_code == 200, response.text
        return response.json()["access_token"]

    # The admin's token through the app writes: the write is the app's API call too.
    through_app = _api(http, user_token(admin.username))
    _environment_create(through_app, urls, org, "portal-env")
    api = _api(http, _login(http, urls, admin.username))
    mine = api.delete(f"{urls['api']}/users/me/connectedApplications/{client_id}")
    assert mine.status_code == 204, mine.text
    user_token(member.username)
    revoked = api.delete(f"{urls['api']}/organizations/{org.id}/authorizedApplications/{client_id}")
    assert revoked.status_code == 204, revoked.text

    events = _audit(api, urls, org, client_id=client_id)
    assert sorted(e["action"] for e in events) == sorted(
        [
            "app.created",
            "authorization.granted",
            "token.issued",
            "environment.created",
            "authorization.revoked",
            "authorization.granted",
            "token.issued",
            "authorization.revoked_for_org",
        ]
    )
    written = next(e for e in events if e["action"] == "environment.created")
    assert written["actor"] == {"type": "user", "id": str(admin.id), "name": admin.username}
