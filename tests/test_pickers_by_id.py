"""Assignee pickers send a user id, never a display name: two agents with the same name stay
two people (real services on a real PostgreSQL, the page handlers run on a stand-in tab)."""

from __future__ import annotations

from types import MethodType, SimpleNamespace

from crm_app.services import tickets
from pages.ticket import TicketState
from pages.tickets import TicketsState
from tests.factories import make_client, make_user


def _tab(actor, **fields) -> SimpleNamespace:
    return SimpleNamespace(require_actor=lambda: actor, **fields)


def test_two_agents_with_the_same_name_are_two_choices_of_the_assignee_pickers(db: str) -> None:
    first, second = make_user("agent", "Sam Taylor"), make_user("agent", "Sam Taylor")
    choices = tickets.staff_choices(first)
    assert [uid for uid, name in choices if name == "Sam Taylor"] == sorted(
        [first.user_id, second.user_id]
    )


def test_bulk_assign_gives_the_tickets_to_the_agent_picked_by_id(db: str) -> None:
    first, second = make_user("agent", "Sam Taylor"), make_user("agent", "Sam Taylor")
    number = tickets.create_ticket(
        first,
        client_id=make_client(first),
        subject="Card blocked",
        body="Please help.",
        assignee_id=first.user_id,
    ).number
    tab = _tab(first, selected=[number], _fetch=lambda: None)
    tab._bulk = MethodType(TicketsState._bulk, tab)
    TicketsState.event_handlers["bulk_assign"].fn(tab, str(second.user_id))
    assert tickets.get_ticket(first, number).assignee_id == second.user_id


def test_the_ticket_page_assigns_the_agent_picked_by_id_and_shows_that_id(db: str) -> None:
    first, second = make_user("agent", "Sam Taylor"), make_user("agent", "Sam Taylor")
    number = tickets.create_ticket(
        first,
        client_id=make_client(first),
        subject="Card blocked",
        body="Please help.",
        assignee_id=first.user_id,
    ).number
    tab = _tab(first, _number=number, conflict="", _cc_edited=False)
    tab._refresh = MethodType(TicketState._refresh, tab)
    tab._save = MethodType(TicketState._save, tab)
    tab._refresh()
    assert tab.assignee_id == str(first.user_id)
    TicketState.event_handlers["change_assignee"].fn(tab, str(second.user_id))
    assert tickets.get_ticket(first, number).assignee_id == second.user_id
    assert tab.assignee_id == str(second.user_id)
    TicketState.event_handlers["change_assignee"].fn(tab, "none")
    assert tickets.get_ticket(first, number).assignee_id is None


def test_a_forged_assignee_is_refused_not_guessed(db: str) -> None:
    agent = make_user("agent")
    tab = _tab(agent, selected=[1], _fetch=lambda: None)
    tab._bulk = MethodType(TicketsState._bulk, tab)
    answer = TicketsState.event_handlers["bulk_assign"].fn(tab, "Sam Taylor")
    assert "Choose someone from the list" in str(answer)
