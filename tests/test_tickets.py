"""The first ticket flow through the service layer, and what a client may and may not see."""

from __future__ import annotations

import pytest

from crm_app.services import audit as _audit  # noqa: F401
from crm_app.services import tickets
from crm_app.services.errors import InvalidInput, NotFound, PermissionDenied
from tests.factories import make_client, make_ticket, make_user


def test_agent_creates_ticket_replies_notes_and_changes_status(db: str) -> None:
    agent = make_user("agent")
    client_id = make_client(agent)
    number = make_ticket(agent, client_id)
    listed = tickets.queue(agent).items
    assert [t.number for t in listed] == [number]
    tickets.add_message(agent, number, "We have received your request.")
    tickets.add_message(agent, number, "Check KYC first", internal=True)
    tickets.update_ticket(agent, number, expected_version=None, status="pending")
    detail = tickets.get_ticket(agent, number)
    assert detail.ticket.status == "pending"
    assert [m.is_internal for m in detail.messages] == [False, False, True]
    assert detail.ticket.sla_state == "on_track" and detail.resolution_due_at


def test_first_public_reply_opens_a_new_ticket(db: str) -> None:
    agent = make_user("agent")
    number = make_ticket(agent, make_client(agent))
    tickets.add_message(agent, number, "internal only", internal=True)
    assert tickets.get_ticket(agent, number).ticket.status == "new"
    tickets.add_message(agent, number, "Hello")
    assert tickets.get_ticket(agent, number).ticket.status == "open"


def test_client_never_sees_internal_notes(db: str) -> None:
    agent = make_user("agent")
    client_user = make_user("client")
    number = make_ticket(agent, make_client(agent, portal_user=client_user))
    tickets.add_message(agent, number, "Secret: client is on watch list", internal=True)
    tickets.add_message(agent, number, "Your withdrawal is processed")
    seen = tickets.get_ticket(client_user, number).messages
    assert all(not m.is_internal for m in seen)
    assert not any("watch list" in m.body_text for m in seen)
    with pytest.raises(PermissionDenied):
        tickets.add_message(client_user, number, "sneaky", internal=True)


def test_client_cannot_read_another_clients_ticket(db: str) -> None:
    agent = make_user("agent")
    alice, bob = make_user("client"), make_user("client")
    alices = make_ticket(agent, make_client(agent, "Alice Smith", portal_user=alice))
    make_ticket(agent, make_client(agent, "Bob Jones", portal_user=bob))
    with pytest.raises(NotFound):
        tickets.get_ticket(bob, alices)
    with pytest.raises(NotFound):
        tickets.add_message(bob, alices, "let me in")
    assert [t.number for t in tickets.portal_tickets(alice)] == [alices]
    assert alices not in [t.number for t in tickets.portal_tickets(bob)]


def test_client_reply_marks_ticket_unread_for_staff(db: str) -> None:
    agent = make_user("agent")
    client_user = make_user("client")
    number = make_ticket(agent, make_client(agent, portal_user=client_user))
    tickets.add_message(client_user, number, "Any news?")
    assert tickets.queue(agent).items[0].is_unread
    tickets.mark_read(agent, number)  # what the ticket page does on opening
    assert not tickets.queue(agent).items[0].is_unread


@pytest.mark.parametrize("subject,body", [("", "body"), ("x" * 301, "body"), ("ok", "  ")])
def test_bad_ticket_input_is_refused_with_a_clear_message(db: str, subject: str, body: str) -> None:
    agent = make_user("agent")
    with pytest.raises(InvalidInput) as refused:
        tickets.create_ticket(agent, client_id=None, subject=subject, body=body)
    assert refused.value.message


def test_every_ticket_change_is_audited(db: str) -> None:
    from sqlalchemy import select

    from crm_app.db import session_scope
    from models.audit import AuditLog

    agent = make_user("agent")
    number = make_ticket(agent, make_client(agent))
    tickets.add_message(agent, number, "reply")
    tickets.update_ticket(agent, number, expected_version=None, status="resolved")
    with session_scope() as session:
        actions = list(
            session.execute(
                select(AuditLog.action)
                .where(AuditLog.entity_type == "ticket")
                .order_by(AuditLog.id)
            ).scalars()
        )
    assert actions == ["ticket.created", "ticket.message_added", "ticket.status_changed"]
