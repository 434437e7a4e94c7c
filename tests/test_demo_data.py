"""Demo data: realistic finance rows at volume, consistent SLA fields, usable demo staff."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from crm_app.db import session_scope
from crm_app.services import accounts, tickets
from crm_app.services.errors import Conflict
from crm_app.services.sla import DEFAULT_TARGETS, scan_open_tickets
from crm_app.services.tickets import QueueFilters
from crm_app.tools.demo_data import DEMO_DOMAIN, DEMO_PASSWORD, SeedProgress, seed_demo
from models.client import Client, RiskCategory
from models.ticket import Channel, SlaState, Ticket, TicketMessage, TicketStatus
from models.user import Role, User

NOW = datetime(2025, 6, 30, 9, 30, tzinfo=UTC)
TICKETS, CLIENTS, AGENTS = 2_000, 300, 5


@pytest.fixture
def seeded(db: str) -> list[SeedProgress]:
    steps: list[SeedProgress] = []
    seed_demo(
        TICKETS,
        CLIENTS,
        messages_per_ticket=5,
        agents=AGENTS,
        now=NOW,
        random_seed=42,
        progress=steps.append,
    )
    return steps


def _count(model: type, *where: object) -> int:
    with session_scope() as session:
        return session.execute(select(func.count()).select_from(model).where(*where)).scalar_one()


def test_seed_creates_the_requested_volume_and_reports_progress(seeded: list[SeedProgress]) -> None:
    assert _count(Ticket) == TICKETS
    assert _count(Client) == CLIENTS
    assert _count(User, User.role == Role.AGENT) == AGENTS
    messages = _count(TicketMessage)
    assert 4.0 * TICKETS < messages < 5.5 * TICKETS
    assert seeded[-1].stage == "tickets" and seeded[-1].done == TICKETS
    assert seeded[-1].messages == messages


def test_clients_have_exact_finance_fields_and_reserved_email_domains(
    seeded: list[SeedProgress],
) -> None:
    with session_scope() as session:
        clients = session.execute(select(Client)).scalars().all()
    assert {c.risk_category for c in clients} == {r.value for r in RiskCategory}
    for client in clients:
        assert isinstance(client.net_worth, Decimal)
        assert client.net_worth >= Decimal("25000.00")
        assert client.net_worth.as_tuple().exponent == -2
        assert client.email and client.email.rsplit("@", 1)[1] in {
            "example.com",
            "example.net",
            "example.org",
        }
        assert client.region and client.phone and client.owner_agent_id
        assert len(client.currency) == 3
    assert len({c.region for c in clients}) >= 5


def test_tickets_span_statuses_channels_and_two_years_in_number_order(
    seeded: list[SeedProgress],
) -> None:
    with session_scope() as session:
        rows = session.execute(select(Ticket).order_by(Ticket.number)).scalars().all()
    assert {t.status for t in rows} == {s.value for s in TicketStatus}
    assert {t.channel for t in rows} == {c.value for c in Channel}
    created = [t.created_at for t in rows]
    assert created == sorted(created)  # numbers rise with creation time
    assert NOW - timedelta(days=731) <= created[0] < NOW - timedelta(days=700)
    assert NOW - timedelta(days=2) < created[-1] <= NOW
    assert len({t.subject for t in rows}) > 20


def test_timestamps_are_timezone_aware_utc_and_never_in_the_future(
    seeded: list[SeedProgress],
) -> None:
    with session_scope() as session:
        ticket = session.execute(select(Ticket).order_by(Ticket.id.desc())).scalars().first()
        message = session.execute(select(TicketMessage)).scalars().first()
        client = session.execute(select(Client)).scalars().first()
        latest = session.execute(select(func.max(TicketMessage.created_at))).scalar_one()
    assert ticket and message and client
    for moment in (ticket.created_at, ticket.updated_at, message.created_at, client.created_at):
        assert moment.tzinfo is not None
        assert moment.astimezone(UTC) <= NOW
    assert latest <= NOW


def test_due_times_follow_sla_targets_and_the_scan_agrees_with_the_seeded_states(
    seeded: list[SeedProgress],
) -> None:
    with session_scope() as session:
        rows = session.execute(select(Ticket)).scalars().all()
    for ticket in rows:
        first, resolution = DEFAULT_TARGETS[ticket.priority]
        assert ticket.first_response_due_at == ticket.created_at + timedelta(minutes=first)
        assert ticket.resolution_due_at == ticket.created_at + timedelta(minutes=resolution)
    assert {t.sla_state for t in rows} >= {SlaState.MET, SlaState.BREACHED, SlaState.ON_TRACK}

    result = scan_open_tickets(NOW)

    assert (result.changed, result.due_times_set) == (0, 0)


def test_threads_start_with_the_request_and_the_first_reply_is_the_first_response(
    seeded: list[SeedProgress],
) -> None:
    with session_scope() as session:
        ticket = session.execute(
            select(Ticket)
            .where(Ticket.status == TicketStatus.CLOSED, Ticket.channel == Channel.EMAIL)
            .limit(1)
        ).scalar_one()
        thread = (
            session.execute(
                select(TicketMessage)
                .where(TicketMessage.ticket_id == ticket.id)
                .order_by(TicketMessage.created_at, TicketMessage.id)
            )
            .scalars()
            .all()
        )
        notes = session.execute(
            select(func.count())
            .select_from(TicketMessage)
            .where(TicketMessage.is_internal.is_(True), TicketMessage.sender_kind != "agent")
        ).scalar_one()
        internal = _count(TicketMessage, TicketMessage.is_internal.is_(True))
    assert thread[0].sender_kind == "client"
    assert thread[0].created_at == ticket.created_at
    assert thread[1].sender_kind == "agent" and not thread[1].is_internal
    assert thread[1].created_at == ticket.first_responded_at
    assert thread[1].author_id == ticket.assignee_id
    assert thread[0].external_message_id and thread[1].in_reply_to == thread[0].external_message_id
    assert notes == 0  # internal notes are written by staff only
    assert internal > 0


def test_seeded_agent_signs_in_with_the_demo_password_and_sees_the_queue(
    seeded: list[SeedProgress],
) -> None:
    token = accounts.log_in(
        f"agent001@{DEMO_DOMAIN}", DEMO_PASSWORD, client_ip=None, device_id=None
    ).token
    actor = accounts.actor_for_token(token)
    assert actor is not None and actor.role == Role.AGENT

    page = tickets.queue(actor, QueueFilters(status="all"))

    assert page.total == TICKETS
    detail = tickets.get_ticket(actor, page.items[0].number)
    assert detail.messages


def test_empty_instance_gets_a_demo_manager_so_setup_is_not_locked_out(
    seeded: list[SeedProgress],
) -> None:
    token = accounts.log_in(
        f"manager@{DEMO_DOMAIN}", DEMO_PASSWORD, client_ip=None, device_id=None
    ).token
    actor = accounts.actor_for_token(token)
    assert actor is not None and actor.role == Role.MANAGER


def test_seeding_twice_is_refused_unless_appending(seeded: list[SeedProgress]) -> None:
    with pytest.raises(Conflict):
        seed_demo(10, 5, agents=AGENTS, now=NOW)

    seed_demo(100, 0, agents=AGENTS + 1, append=True, now=NOW, random_seed=1)

    assert _count(Ticket) == TICKETS + 100
    assert _count(Client) == CLIENTS  # appended tickets reuse the existing clients
    assert _count(User, User.role == Role.AGENT) == AGENTS + 1
    assert _count(User, User.role == Role.MANAGER) == 1
