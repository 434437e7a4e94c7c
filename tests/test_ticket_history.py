"""The ticket's history shows every change a manager would look for, whoever made it (the SLA
scan, round-robin), and the write path ends with after-commit events."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from crm_app.db import session_scope
from crm_app.services import assignment, events, tickets
from crm_app.services.sla import scan_open_tickets
from models.audit import AuditLog
from models.base import utcnow
from models.ticket import Ticket
from tests.factories import make_client, make_ticket, make_user


def _history(agent, number: int) -> list[tuple[str, str, str]]:
    return [(h.action, h.actor_name, h.changes) for h in tickets.get_ticket(agent, number).history]


def test_sla_state_changes_by_the_scan_appear_in_the_ticket_history(db: str) -> None:
    agent = make_user("agent")
    number = make_ticket(agent, make_client(agent))
    quiet = make_ticket(agent, make_client(agent), "Answered in time")
    tickets.add_message(agent, quiet, "On it.")
    scan_open_tickets(utcnow() + timedelta(hours=7))  # normal: 8 h to first response

    history = _history(agent, number)
    assert history[0] == ("sla state changed", "System", "sla_state: on_track → near_breach")

    assert [h[0] for h in _history(agent, quiet)].count("sla state changed") == 0

    result = scan_open_tickets(utcnow() + timedelta(days=30))
    assert _history(agent, number)[0] == (
        "sla state changed",
        "System",
        "sla_state: near_breach → breached",
    )
    with session_scope() as session:
        audited = session.execute(
            select(func.count())
            .select_from(AuditLog)
            .where(AuditLog.action == "ticket.sla_state_changed")
        ).scalar_one()
    assert result.changed == 2 and audited == 3  # one entry per state change, no more


def test_a_scan_that_changes_nothing_adds_no_history(db: str) -> None:
    agent = make_user("agent")
    number = make_ticket(agent, make_client(agent))
    before = _history(agent, number)
    scan_open_tickets(utcnow())
    scan_open_tickets(utcnow())
    assert _history(agent, number) == before


def test_round_robin_assignment_appears_in_the_ticket_history(db: str) -> None:
    manager = make_user("manager")
    make_user("agent", "Rita Rotation")
    client_id = make_client(manager)
    selected = make_ticket(manager, client_id, "Picked from the queue")
    tickets.bulk_update(manager, [selected], assignee_id=None)
    assignment.set_round_robin(manager, True)

    assignment.assign_round_robin(manager, [selected])
    created = tickets.create_ticket(manager, client_id=client_id, subject="New", body="x")

    action, actor, changes = _history(manager, selected)[0]
    assert (action, actor) == ("assigned", manager.name)
    assert "assignee: — → Rita Rotation" in changes and "round_robin: True" in changes
    action, _, changes = _history(manager, created.number)[0]
    assert action == "created"
    assert "assignee: Rita Rotation" in changes and "round_robin: True" in changes


def test_opening_a_ticket_writes_nothing_and_marking_it_read_is_its_own_action(db: str) -> None:
    agent, other = make_user("agent"), make_user("agent")
    number = tickets.create_ticket(
        agent, client_id=make_client(agent), subject="For Bob", body="x", assignee_id=other.user_id
    ).number

    assert tickets.get_ticket(other, number).ticket.is_unread
    assert tickets.get_ticket(other, number).ticket.is_unread  # still: reading wrote nothing
    assert tickets.mark_read(other, number) is True
    assert not tickets.get_ticket(other, number).ticket.is_unread
    assert tickets.mark_read(other, number) is False


def test_subscribers_run_after_the_commit_and_a_failing_one_breaks_nothing(db: str) -> None:
    agent = make_user("agent")
    number = make_ticket(agent, make_client(agent))
    seen: list[tuple[str, int]] = []

    def outbound(event: events.Event) -> None:
        with session_scope() as session:  # another connection: sees only committed rows
            version = session.execute(
                select(Ticket.version).where(Ticket.number == event.number)
            ).scalar_one()
        seen.append((event.payload["body"], version))

    def broken(event: events.Event) -> None:
        raise RuntimeError("channel down")

    events.subscribe("message.added", broken)
    events.subscribe("message.added", outbound)
    try:
        tickets.add_message(agent, number, "Your statement is attached.")
    finally:
        events.unsubscribe("message.added", broken)
        events.unsubscribe("message.added", outbound)
    assert seen == [
        ("Your statement is attached.", tickets.get_ticket(agent, number).ticket.version)
    ]


@pytest.mark.parametrize("internal", [False, True])
def test_every_message_emits_message_added_once(db: str, internal: bool) -> None:
    agent = make_user("agent")
    number = make_ticket(agent, make_client(agent))
    names: list[str] = []
    handler = events.subscribe("message.added", lambda e: names.append(e.name))
    try:
        tickets.add_message(agent, number, "Noted", internal=internal)
    finally:
        events.unsubscribe("message.added", handler)
    assert names == ["message.added"]
