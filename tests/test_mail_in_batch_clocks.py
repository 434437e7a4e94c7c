"""The mail intake opens tickets set-wise: the SLA clocks it computes for a batch are exactly
those the ticket action gives one ticket (policy by tier and channel, business-hours due
times, history, the ticket's own SLA columns)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from crm_app.db import session_scope
from crm_app.services import sla, tickets
from models.business_hours import BusinessCalendar
from models.client import Client
from models.sla import TicketSla, TicketSlaEvent
from models.ticket import Ticket
from tests.factories import make_client, make_user

NOW = datetime(2026, 3, 6, 16, 30, tzinfo=UTC)  # a Friday afternoon: the weekend counts


@pytest.fixture
def frozen(monkeypatch: pytest.MonkeyPatch) -> datetime:
    from crm_app.services.tickets import actions

    monkeypatch.setattr(actions, "utcnow", lambda: NOW)
    return NOW


def test_batch_clocks_of_new_mail_tickets_equal_the_ticket_actions_clocks(
    db: str, frozen: datetime
) -> None:
    manager = make_user("manager")
    with session_scope() as session:
        office = session.execute(
            select(BusinessCalendar.id).where(BusinessCalendar.name == sla.OFFICE_CALENDAR_NAME)
        ).scalar_one()
    sla.save_policy(
        manager,
        None,
        {
            "name": "Private banking by email",
            "position": 1,
            "tiers": ["private_banking"],
            "channels": ["email"],
            "calendar_id": office,
            "targets": {
                p: {"first_response": 90, "next_response": 60, "resolution": 900}
                for p in ("low", "normal", "high", "urgent")
            },
        },
    )
    rich = make_client(manager, "Rich Client", net_worth="12000000")
    modest = make_client(manager, "Modest Client", net_worth="50000")
    for client_id in (rich, modest):
        number = tickets.create_ticket(
            manager, client_id=client_id, subject="Q", body="?", channel="email"
        ).number
        with session_scope() as session:
            ticket = session.execute(select(Ticket).where(Ticket.number == number)).scalar_one()
            by_action = session.get(TicketSla, ticket.id)
            assert by_action is not None
            history = [
                (e.target, e.kind, e.due_at)
                for e in session.execute(
                    select(TicketSlaEvent)
                    .where(TicketSlaEvent.ticket_id == ticket.id)
                    .order_by(TicketSlaEvent.id)
                ).scalars()
            ]
            net_worth = session.get(Client, client_id).net_worth_reporting  # type: ignore[union-attr]
            facts = sla.NewTicketFacts(
                client_id, net_worth, ticket.channel, ticket.priority, ticket.status, NOW
            )
            twice = sla.clocks_for_new_tickets(session, [facts, facts], NOW)
            planned = twice[0]
            assert twice[1] == planned
            skip = {"ticket_id", "updated_at"}
            expected = {
                c.key: getattr(by_action, c.key)
                for c in TicketSla.__table__.columns
                if c.key not in skip
            }
            assert {k: v for k, v in planned.sla.items() if k not in skip} == expected
            assert [(e["target"], e["kind"], e["due_at"]) for e in planned.history] == history
            assert planned.ticket == {
                "first_response_due_at": ticket.first_response_due_at,
                "resolution_due_at": ticket.resolution_due_at,
                "sla_state": ticket.sla_state,
            }
    assert by_action.policy_id is not None
