"""Agents and managers only: a client, a user with no role, marketing and an anonymous visitor
get nothing from any workspace action."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from crm_app.auth.permissions import Actor
from crm_app.services import assignment, live, macros, presence, saved_views, search, tickets
from crm_app.services.errors import NotAuthenticated, NotFound, PermissionDenied
from crm_app.services.tickets import QueueFilters
from tests.factories import make_client, make_ticket, make_user


@pytest.fixture
def world(db: str) -> dict:
    agent = make_user("agent")
    client_user = make_user("client")
    client_id = make_client(agent, portal_user=client_user)
    number = make_ticket(agent, client_id)
    duplicate = make_ticket(agent, client_id, "Same question again")
    macro = macros.save_macro(agent, title="Thanks", body="Thanks {client.first_name}")
    view = saved_views.save_view(agent, "Mine", QueueFilters(assignee="mine"))
    return {
        "agent": agent,
        "number": number,
        "duplicate": duplicate,
        "macro": macro.id,
        "view": view.key,
        "client_user": client_user,
    }


def _workspace_actions(w: dict) -> dict[str, Callable[[Actor | None], object]]:
    n = w["number"]
    return {
        "queue": lambda a: tickets.queue(a),
        "search_text": lambda a: search.search_tickets(a, "withdrawal"),
        "search_number": lambda a: search.search_tickets(a, f"#{n}"),
        "update": lambda a: tickets.update_ticket(a, n, expected_version=None, priority="high"),
        "assign": lambda a: tickets.update_ticket(a, n, expected_version=None, assignee_id=None),
        "bulk": lambda a: tickets.bulk_update(a, [n], status="pending"),
        "merge": lambda a: tickets.merge_tickets(a, w["duplicate"], n),
        "mark_unread": lambda a: tickets.set_unread(a, n, True),
        "staff_choices": lambda a: tickets.staff_choices(a),
        "list_macros": lambda a: macros.list_macros(a),
        "save_macro": lambda a: macros.save_macro(a, title="X", body="Y"),
        "draft_from_macro": lambda a: macros.draft_from_macro(a, w["macro"], n),
        "delete_macro": lambda a: macros.delete_macro(a, w["macro"]),
        "list_views": lambda a: saved_views.list_views(a),
        "view_filters": lambda a: saved_views.view_filters(a, w["view"]),
        "save_view": lambda a: saved_views.save_view(a, "Theirs", QueueFilters()),
        "presence": lambda a: presence.heartbeat(a, n),
        "live_counter": lambda a: live.change_counter(a),
        "live_ticket": lambda a: live.ticket_signature(a, n),
        "round_robin": lambda a: assignment.assign_round_robin(a, [n]),
        "availability": lambda a: assignment.set_available(a, False),
        "assignment_status": lambda a: assignment.status(a),
        "queue_by_sentiment": lambda a: tickets.queue(a, QueueFilters(sentiment="negative")),
    }


@pytest.mark.parametrize("role", ["client", None, "marketing"], ids=lambda r: r or "no-role")
def test_non_staff_get_nothing_from_any_workspace_action(world: dict, role: str | None) -> None:
    outsider = world["client_user"] if role == "client" else make_user(role)
    for name, run in _workspace_actions(world).items():
        with pytest.raises((PermissionDenied, NotFound)):
            run(outsider)
            pytest.fail(f"{role} was allowed to {name}")


def test_anonymous_visitor_gets_nothing_from_any_workspace_action(world: dict) -> None:
    for run in _workspace_actions(world).values():
        with pytest.raises(NotAuthenticated):
            run(None)


def test_client_still_reads_own_ticket_but_no_internal_history(world: dict) -> None:
    tickets.add_message(world["agent"], world["number"], "KYC flag", internal=True)
    detail = tickets.get_ticket(world["client_user"], world["number"])
    assert detail.history == [] and detail.client is None and detail.other_tickets == []
    assert all(not m.is_internal for m in detail.messages)


def test_managers_may_take_every_workspace_action(world: dict) -> None:
    manager = make_user("manager")
    assignment.set_round_robin(manager, True)
    for name, run in _workspace_actions(world).items():
        if name in ("round_robin", "view_filters"):
            continue  # needs an unassigned ticket / views are private: covered elsewhere
        run(manager)
