"""Every `/api/v1` route × every role: the same permission rules as the pages, allowed and
refused, including another client's ids. Requests go through the security middleware as in
production, authenticated with each role's own write token."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient

from crm_app.api import build_api
from crm_app.api.security import SecurityMiddleware
from crm_app.auth.permissions import Actor
from crm_app.services import accounts, api_tokens, segments, webhooks
from tests.factories import make_client, make_ticket, make_user

ROLES = ("manager", "agent", "marketing", "client", "none")


@dataclass
class World:
    manager: Actor
    actors: dict[str, Actor]
    tokens: dict[str, str]
    own_client: int  # the client whose portal user is the "client" role
    other_client: int
    own_ticket: int
    other_ticket: int
    segment: int

    def fresh_webhook(self) -> int:
        return webhooks.register_endpoint(self.manager, "http://127.0.0.1:9/hook").row.id

    def fresh_user(self) -> int:
        return make_user("agent").user_id


def _token(actor: Actor) -> str:
    return api_tokens.create_token(actor, "matrix", "write", 7).token


def empty_database() -> None:
    """What the `db` fixture does, once for this module: the world below is built once and
    shared by every test here (each role's requests only add rows the others tolerate)."""
    from sqlalchemy import text
    from sqlmodel import SQLModel

    import models  # noqa: F401
    from crm_app.db import get_engine
    from crm_app.services import sla

    tables = ", ".join(f'"{t.name}"' for t in SQLModel.metadata.sorted_tables)
    with get_engine().begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    sla.ensure_default_targets()


@pytest.fixture(scope="module")
def world(database_url: str) -> World:
    empty_database()
    manager = make_user("manager")
    actors = {role: make_user(role) for role in ("agent", "marketing", "client")}
    actors["manager"] = manager
    other_portal_user = make_user("client")
    own_client = make_client(manager, "Ada Lovelace", portal_user=actors["client"])
    other_client = make_client(manager, "Bob Other", portal_user=other_portal_user)
    tokens = {role: _token(actor) for role, actor in actors.items()}
    # A user whose role was taken away: their token now acts with no role at all.
    demoted = make_user("agent")
    tokens["none"] = _token(demoted)
    accounts.assign_role(manager, demoted.user_id, None)
    actors["none"] = demoted
    segment = segments.save_segment(
        manager,
        name="London",
        rules={"op": "and", "rules": [{"field": "region", "operator": "eq", "value": "London"}]},
    ).id
    return World(
        manager=manager,
        actors=actors,
        tokens=tokens,
        own_client=own_client,
        other_client=other_client,
        own_ticket=make_ticket(manager, own_client, "Own request"),
        other_ticket=make_ticket(manager, other_client, "Someone else's request"),
        segment=segment,
    )


@pytest.fixture
def api() -> TestClient:
    return TestClient(SecurityMiddleware(build_api()))


@dataclass(frozen=True)
class Case:
    method: str
    path: Callable[[World], str]  # the path, built from the world (and fresh rows if needed)
    allowed: dict[str, int]  # role -> the status it gets; every other role gets `refused`
    body: dict[str, Any] | None = None
    refused: int = 403


_STAFF = {"manager": 200, "agent": 200}
_READERS = {"manager": 200, "agent": 200, "marketing": 200}
_MANAGER = {"manager": 200}

CASES: dict[str, Case] = {
    "me": Case("GET", lambda w: "/api/v1/users/me", dict.fromkeys(ROLES, 200)),
    "users": Case("GET", lambda w: "/api/v1/users", _MANAGER),
    "set role": Case(
        "POST", lambda w: f"/api/v1/users/{w.fresh_user()}/role", _MANAGER, {"role": "marketing"}
    ),
    "ticket list": Case("GET", lambda w: "/api/v1/tickets", {**_STAFF, "client": 200}),
    "own ticket": Case(
        "GET", lambda w: f"/api/v1/tickets/{w.own_ticket}", {**_STAFF, "client": 200}
    ),
    "another client's ticket": Case(
        "GET", lambda w: f"/api/v1/tickets/{w.other_ticket}", _STAFF | {"client": 404}
    ),
    "create ticket": Case(
        "POST",
        lambda w: "/api/v1/tickets",
        {"manager": 201, "agent": 201},
        {"subject": "Called about fees", "body": "Asked for the fee schedule."},
    ),
    "update ticket": Case(
        "PATCH", lambda w: f"/api/v1/tickets/{w.own_ticket}", _STAFF, {"priority": "high"}
    ),
    "reply": Case(
        "POST",
        lambda w: f"/api/v1/tickets/{w.own_ticket}/replies",
        {"manager": 201, "agent": 201, "client": 201},
        {"body": "Thanks, noted."},
    ),
    "reply on another client's ticket": Case(
        "POST",
        lambda w: f"/api/v1/tickets/{w.other_ticket}/replies",
        {"manager": 201, "agent": 201, "client": 404},
        {"body": "Let me in."},
    ),
    "note": Case(
        "POST",
        lambda w: f"/api/v1/tickets/{w.own_ticket}/notes",
        {"manager": 201, "agent": 201},
        {"body": "Checked with compliance."},
    ),
    "client list": Case("GET", lambda w: "/api/v1/clients", _READERS),
    "one client": Case("GET", lambda w: f"/api/v1/clients/{w.own_client}", _READERS),
    "create client": Case(
        "POST",
        lambda w: "/api/v1/clients",
        {"manager": 201, "agent": 201},
        {"name": "Carol New", "email": "carol@new.example"},
    ),
    "update client": Case(
        "PATCH", lambda w: f"/api/v1/clients/{w.own_client}", _STAFF, {"region": "Leeds"}
    ),
    "segments": Case("GET", lambda w: "/api/v1/segments", _READERS),
    "segment members": Case("GET", lambda w: f"/api/v1/segments/{w.segment}/members", _READERS),
    "webhooks": Case("GET", lambda w: "/api/v1/webhooks", _MANAGER),
    "register webhook": Case(
        "POST",
        lambda w: "/api/v1/webhooks",
        {"manager": 201},
        {"url": "http://127.0.0.1:9/hook", "events": ["ticket.created"]},
    ),
    "remove webhook": Case(
        "DELETE", lambda w: f"/api/v1/webhooks/{w.fresh_webhook()}", {"manager": 204}
    ),
    "webhook deliveries": Case(
        "GET", lambda w: f"/api/v1/webhooks/{w.fresh_webhook()}/deliveries", _MANAGER
    ),
}


@pytest.mark.parametrize("name", list(CASES))
def test_each_role_gets_exactly_what_the_pages_allow(
    name: str, world: World, api: TestClient
) -> None:
    case = CASES[name]
    seen = {}
    for role in ROLES:
        response = api.request(
            case.method,
            case.path(world),
            json=case.body,
            headers={"Authorization": f"Bearer {world.tokens[role]}"},
        )
        seen[role] = response.status_code
        if response.status_code >= 400:
            assert set(response.json()) == {"error"}, response.text
            assert response.json()["error"]["message"]
    expected = {role: case.allowed.get(role, case.refused) for role in ROLES}
    assert seen == expected


def test_the_matrix_covers_every_api_v1_route() -> None:
    routes = {
        (method.upper(), path)
        for path, operations in build_api().openapi()["paths"].items()
        if path.startswith("/api/v1/")
        for method in operations
    }
    covered = {
        ("GET", "/api/v1/users/me"),
        ("GET", "/api/v1/users"),
        ("POST", "/api/v1/users/{user_id}/role"),
        ("GET", "/api/v1/tickets"),
        ("GET", "/api/v1/tickets/{number}"),
        ("POST", "/api/v1/tickets"),
        ("PATCH", "/api/v1/tickets/{number}"),
        ("POST", "/api/v1/tickets/{number}/replies"),
        ("POST", "/api/v1/tickets/{number}/notes"),
        ("GET", "/api/v1/clients"),
        ("GET", "/api/v1/clients/{client_id}"),
        ("POST", "/api/v1/clients"),
        ("PATCH", "/api/v1/clients/{client_id}"),
        ("GET", "/api/v1/segments"),
        ("GET", "/api/v1/segments/{segment_id}/members"),
        ("GET", "/api/v1/webhooks"),
        ("POST", "/api/v1/webhooks"),
        ("DELETE", "/api/v1/webhooks/{webhook_id}"),
        ("GET", "/api/v1/webhooks/{webhook_id}/deliveries"),
    }
    assert routes == covered


def test_a_client_lists_only_their_own_tickets(world: World, api: TestClient) -> None:
    listed = api.get(
        "/api/v1/tickets", headers={"Authorization": f"Bearer {world.tokens['client']}"}
    ).json()
    assert [t["number"] for t in listed["items"]] == [world.own_ticket]


def test_a_client_never_sees_internal_notes(world: World, api: TestClient) -> None:
    staff = {"Authorization": f"Bearer {world.tokens['agent']}"}
    api.post(f"/api/v1/tickets/{world.own_ticket}/notes", json={"body": "secret"}, headers=staff)
    seen = api.get(
        f"/api/v1/tickets/{world.own_ticket}",
        headers={"Authorization": f"Bearer {world.tokens['client']}"},
    ).json()
    assert seen["messages"] and all(not m["is_internal"] for m in seen["messages"])
    assert "secret" not in str(seen)


def test_marketing_never_sees_a_clients_net_worth(world: World, api: TestClient) -> None:
    def net_worth(role: str) -> str:
        headers = {"Authorization": f"Bearer {world.tokens[role]}"}
        return api.get(f"/api/v1/clients/{world.own_client}", headers=headers).json()["net_worth"]

    assert net_worth("agent") != ""
    assert net_worth("marketing") == ""


def test_a_read_token_may_read_but_not_write(world: World, api: TestClient) -> None:
    read = api_tokens.create_token(world.actors["agent"], "read only", "read", 7).token
    headers = {"Authorization": f"Bearer {read}"}
    assert api.get("/api/v1/tickets", headers=headers).status_code == 200
    refused = api.post(
        f"/api/v1/tickets/{world.own_ticket}/notes", json={"body": "x"}, headers=headers
    )
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "permission_denied"


def test_without_credentials_or_with_a_bad_token_the_answer_is_401(
    world: World, api: TestClient
) -> None:
    assert api.get("/api/v1/tickets").status_code == 401
    bad = api.get("/api/v1/tickets", headers={"Authorization": "Bearer crm_pat_nope"})
    assert bad.status_code == 401 and bad.json()["error"]["code"] == "not_authenticated"


def test_the_browser_session_works_same_origin_and_is_refused_cross_site(
    world: World, api: TestClient
) -> None:
    from tests.factories import log_in

    session = log_in(world.actors["agent"].email)
    api.cookies.set("crm_session", session)
    note = {"body": "from the browser"}
    path = f"/api/v1/tickets/{world.own_ticket}/notes"
    assert api.get("/api/v1/users/me").json()["authenticated_by"] == "session"
    same = api.post(path, json=note, headers={"Origin": "http://testserver"})
    assert same.status_code == 201
    assert api.post(path, json=note, headers={"Origin": "https://evil.example"}).status_code == 403


def test_a_token_from_a_script_without_origin_may_write(world: World, api: TestClient) -> None:
    response = api.post(
        "/api/v1/tickets",
        json={"subject": "From a script", "body": "Created with curl."},
        headers={"Authorization": f"Bearer {world.tokens['agent']}"},
    )
    assert response.status_code == 201 and response.json()["subject"] == "From a script"


def test_an_email_ticket_opened_by_script_keeps_its_cc(world: World, api: TestClient) -> None:
    headers = {"Authorization": f"Bearer {world.tokens['agent']}"}
    ticket = {
        "subject": "Statement copy",
        "body": "As discussed, the statement follows.",
        "client_id": world.own_client,
        "channel": "email",
    }
    wrong = api.post("/api/v1/tickets", json={**ticket, "cc": ["not an address"]}, headers=headers)
    assert wrong.status_code in (400, 422), wrong.text
    created = api.post(
        "/api/v1/tickets", json={**ticket, "cc": ["Spouse@Example.com"]}, headers=headers
    )
    assert created.status_code == 201, created.text
    number = created.json()["number"]
    detail = api.get(f"/api/v1/tickets/{number}", headers=headers).json()
    assert detail["cc"] == ["spouse@example.com"]


def test_cors_is_closed_by_default(world: World, api: TestClient) -> None:
    preflight = api.options(
        "/api/v1/tickets",
        headers={
            "Origin": "https://evil.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization",
        },
    )
    assert "access-control-allow-origin" not in preflight.headers
