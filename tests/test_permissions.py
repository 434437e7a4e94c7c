"""Role × action matrix, walked through the real services: what is allowed and what is refused."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from crm_app.auth.permissions import Action, Actor, can
from crm_app.services import accounts, clients, tickets
from crm_app.services.errors import NotAuthenticated, NotFound, PermissionDenied
from tests.factories import make_client, make_ticket, make_user

ROLES = ["manager", "agent", "marketing", "client", None]

# What each role may do; everything not listed must be refused.
EXPECTED = {
    "manager": {
        "list_tickets",
        "create_ticket",
        "reply",
        "note",
        "change_status",
        "list_clients",
        "create_client",
        "list_users",
        "assign_role",
    },
    "agent": {
        "list_tickets",
        "create_ticket",
        "reply",
        "note",
        "change_status",
        "list_clients",
        "create_client",
    },
    "marketing": {"list_clients"},
    "client": {"portal"},
    None: set(),
}


@pytest.fixture
def world(db: str) -> dict:
    manager = make_user("manager")
    agent = make_user("agent")
    client_id = make_client(agent)
    number = make_ticket(agent, client_id)
    target = make_user(None)
    return {"manager": manager, "client_id": client_id, "number": number, "target": target}


def _actions(world: dict) -> dict[str, Callable[[Actor], object]]:
    n = world["number"]
    return {
        "list_tickets": lambda a: tickets.queue(a),
        "create_ticket": lambda a: tickets.create_ticket(
            a, client_id=world["client_id"], subject="New", body="Hello"
        ),
        "reply": lambda a: tickets.add_message(a, n, "Reply", internal=False),
        "note": lambda a: tickets.add_message(a, n, "Note", internal=True),
        "change_status": lambda a: tickets.update_ticket(
            a, n, expected_version=None, status="pending"
        ),
        "list_clients": lambda a: clients.list_clients(a),
        "create_client": lambda a: clients.create_client(a, name="Grace Hopper"),
        "list_users": lambda a: accounts.list_users(a),
        "assign_role": lambda a: accounts.assign_role(a, world["target"].user_id, "agent"),
        "portal": lambda a: tickets.portal_tickets(a),
    }


@pytest.mark.parametrize("role", ROLES, ids=lambda r: r or "no-role")
def test_each_role_may_do_exactly_its_actions(world: dict, role: str | None) -> None:
    actor = make_user(role)
    for name, run in _actions(world).items():
        if name in EXPECTED[role]:
            run(actor)
        else:
            with pytest.raises((PermissionDenied, NotFound)):
                run(actor)


def test_anonymous_visitor_is_asked_to_sign_in(world: dict) -> None:
    for run in _actions(world).values():
        with pytest.raises(NotAuthenticated):
            run(None)


def test_user_without_role_can_take_no_action_at_all() -> None:
    nobody = Actor(user_id=1, role=None)
    assert not any(can(nobody, action) for action in Action)


def test_marketing_never_sees_client_net_worth(world: dict) -> None:
    marketing = make_user("marketing")
    rows = clients.list_clients(marketing).items
    assert rows and all(row.net_worth == "" for row in rows)
    agent_rows = clients.list_clients(world["manager"]).items
    assert any(row.net_worth for row in agent_rows)
