"""The SLA scan: clocks for open tickets from their creation, near-breach and breach recorded
once each in the SLA history, states set in SQL, and a quiet scan writes nothing."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select, update

from crm_app.db import session_scope
from crm_app.services.sla import bump_version, scan_open_tickets, sla_state_for
from models.sla import SlaPolicy, TicketSlaEvent
from models.ticket import OPEN_STATUSES, SlaState, Ticket, TicketPriority, TicketStatus

NOW = datetime(2025, 3, 14, 12, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
MINUTE = timedelta(minutes=1)


def _ticket(
    *,
    age: timedelta,
    priority: str = TicketPriority.NORMAL,
    status: str = TicketStatus.OPEN,
    responded_after: timedelta | None = None,
    resolved_after: timedelta | None = None,
    sla_state: str = SlaState.NONE,
) -> int:
    """A ticket written straight to the table (as an import or the demo seeder would)."""
    created = NOW - age
    with session_scope() as session:
        ticket = Ticket(
            subject="Withdrawal request",
            status=status,
            priority=priority,
            created_at=created,
            updated_at=created,
            first_responded_at=created + responded_after if responded_after else None,
            resolved_at=created + resolved_after if resolved_after else None,
            sla_state=sla_state,
        )
        session.add(ticket)
        session.flush()
        assert ticket.id is not None
        return ticket.id


def _get(ticket_id: int) -> Ticket:
    with session_scope() as session:
        ticket = session.get(Ticket, ticket_id)
        assert ticket is not None
        return ticket


def _state(ticket_id: int) -> str:
    return _get(ticket_id).sla_state


def _events(ticket_id: int) -> list[tuple[str, str]]:
    with session_scope() as session:
        return [
            (e.target, e.kind)
            for e in session.execute(
                select(TicketSlaEvent)
                .where(TicketSlaEvent.ticket_id == ticket_id)
                .order_by(TicketSlaEvent.id)
            ).scalars()
        ]


def _set_share(share: float) -> None:
    with session_scope() as session:
        session.execute(update(SlaPolicy).values(near_breach_share=share))
        bump_version(session)


def test_open_ticket_without_clocks_gets_due_times_from_its_priority_target(db: str) -> None:
    ticket_id = _ticket(age=HOUR, priority=TicketPriority.NORMAL)  # normal: 8 h / 72 h

    result = scan_open_tickets(NOW)

    ticket = _get(ticket_id)
    assert ticket.first_response_due_at == NOW - HOUR + 8 * HOUR
    assert ticket.resolution_due_at == NOW - HOUR + 72 * HOUR
    assert ticket.sla_state == SlaState.ON_TRACK
    assert result.due_times_set == 1
    assert result.state_changes == {}  # set by the rebuild, not by an alarm


def test_unanswered_ticket_past_first_response_due_is_breached_and_recorded_once(db: str) -> None:
    ticket_id = _ticket(age=40 * MINUTE, priority=TicketPriority.URGENT)  # urgent: 30 min

    scan_open_tickets(NOW)
    scan_open_tickets(NOW + MINUTE)

    assert _state(ticket_id) == SlaState.BREACHED
    assert _events(ticket_id).count(("first_response", "breached")) == 1
    assert _events(ticket_id).count(("first_response", "near_breach")) == 1


def test_late_first_response_breaches_the_ticket(db: str) -> None:
    late = _ticket(age=2 * HOUR, priority=TicketPriority.URGENT, responded_after=45 * MINUTE)
    in_time = _ticket(age=HOUR, priority=TicketPriority.URGENT, responded_after=10 * MINUTE)

    scan_open_tickets(NOW)

    assert _state(late) == SlaState.BREACHED
    assert _state(in_time) == SlaState.ON_TRACK  # 1 h of the 4 h resolution target used


def test_open_ticket_past_resolution_due_is_breached_even_if_answered(db: str) -> None:
    ticket_id = _ticket(age=4 * 24 * HOUR, responded_after=HOUR)  # normal: resolve in 72 h

    scan_open_tickets(NOW)

    assert _state(ticket_id) == SlaState.BREACHED
    assert ("resolution", "breached") in _events(ticket_id)


def test_ticket_crossing_the_policy_share_later_becomes_near_breach_at_that_scan(db: str) -> None:
    _set_share(0.8)
    unanswered = _ticket(age=5 * HOUR)  # 5 of 8 h: not yet at 6.4 h
    answered = _ticket(age=5 * HOUR, responded_after=HOUR)  # only the 72 h target still runs

    first = scan_open_tickets(NOW)
    later = scan_open_tickets(NOW + 2 * HOUR)  # 7 of 8 h elapsed = 0.875

    assert first.changed == 0
    assert later.state_changes == {SlaState.NEAR_BREACH: 1}
    assert _state(unanswered) == SlaState.NEAR_BREACH
    assert _state(answered) == SlaState.ON_TRACK


def test_near_breach_share_comes_from_the_policy(db: str) -> None:
    ticket_id = _ticket(age=7 * HOUR)  # 0.875 of the first-response target

    _set_share(0.9)
    scan_open_tickets(NOW)
    assert _state(ticket_id) == SlaState.ON_TRACK
    _set_share(0.85)  # a changed policy applies to open tickets from the next scan
    scan_open_tickets(NOW)
    assert _state(ticket_id) == SlaState.NEAR_BREACH


def test_priority_change_outside_the_actions_recomputes_due_times_from_creation(db: str) -> None:
    created = NOW - 3 * HOUR
    ticket_id = _ticket(age=3 * HOUR, priority=TicketPriority.LOW)
    scan_open_tickets(NOW)
    assert _get(ticket_id).first_response_due_at == created + 24 * HOUR
    with session_scope() as session:
        session.execute(
            update(Ticket).where(Ticket.id == ticket_id).values(priority=TicketPriority.URGENT)
        )

    result = scan_open_tickets(NOW)

    ticket = _get(ticket_id)
    assert ticket.first_response_due_at == created + 30 * MINUTE
    assert ticket.resolution_due_at == created + 4 * HOUR
    assert result.due_times_set == 1
    scan_open_tickets(NOW + MINUTE)
    assert _state(ticket_id) == SlaState.BREACHED


def test_finished_ticket_without_clocks_keeps_its_verdict(db: str) -> None:
    ticket_id = _ticket(
        age=10 * 24 * HOUR,
        status=TicketStatus.CLOSED,
        responded_after=HOUR,
        resolved_after=HOUR,
        sla_state=SlaState.BREACHED,
    )

    result = scan_open_tickets(NOW)

    assert _state(ticket_id) == SlaState.BREACHED
    assert result.changed == 0 and result.due_times_set == 0


def test_second_scan_writes_nothing_and_scan_never_touches_updated_at(db: str) -> None:
    ids = [_ticket(age=age * HOUR) for age in (1, 7, 100)]
    scan_open_tickets(NOW)
    with session_scope() as session:
        events = session.execute(select(func.count()).select_from(TicketSlaEvent)).scalar_one()

    second = scan_open_tickets(NOW)

    assert (second.changed, second.due_times_set, second.events) == (0, 0, [])
    with session_scope() as session:
        assert (
            session.execute(select(func.count()).select_from(TicketSlaEvent)).scalar_one() == events
        )
    for ticket_id in ids:
        ticket = _get(ticket_id)
        assert ticket.updated_at == ticket.created_at


def test_small_batches_give_the_same_states_as_one_pass(db: str) -> None:
    ids = [_ticket(age=age * HOUR) for age in (1, 7, 100, 2, 71)]
    scan_open_tickets(NOW - 3 * 24 * HOUR)  # clocks exist before any alarm is due

    result = scan_open_tickets(NOW, batch_size=2)

    assert result.batches >= 2
    assert [_state(i) for i in ids] == [
        SlaState.ON_TRACK,
        SlaState.NEAR_BREACH,
        SlaState.BREACHED,
        SlaState.ON_TRACK,
        SlaState.BREACHED,  # 71 h unanswered: first response long overdue
    ]


def test_sql_scan_and_python_rule_agree_on_random_open_tickets(db: str) -> None:
    """The demo seeder computes states with `sla_state_for`; on the around-the-clock default
    calendar with no pauses the scan must agree with it exactly."""
    _set_share(0.75)
    rng = random.Random(7)
    priorities = list(TicketPriority)
    for _ in range(300):
        age = timedelta(minutes=rng.randint(1, 12 * 24 * 60))
        responded = timedelta(minutes=rng.randint(0, int(age.total_seconds() // 60)))
        _ticket(
            age=age,
            priority=rng.choice(priorities),
            status=rng.choice(list(OPEN_STATUSES)),
            responded_after=responded if rng.random() < 0.7 else None,
        )

    scan_open_tickets(NOW)

    with session_scope() as session:
        tickets = session.execute(select(Ticket)).scalars().all()
        assert {t.sla_state for t in tickets} == {
            SlaState.ON_TRACK,
            SlaState.NEAR_BREACH,
            SlaState.BREACHED,
        }
        for t in tickets:
            assert t.first_response_due_at is not None and t.resolution_due_at is not None
            expected = sla_state_for(
                status=t.status,
                created_at=t.created_at,
                first_response_due_at=t.first_response_due_at,
                resolution_due_at=t.resolution_due_at,
                first_responded_at=t.first_responded_at,
                finished_at=None,
                now=NOW,
                near_breach_share=0.75,
            )
            assert t.sla_state == expected, t


def test_ticket_closed_outside_the_actions_stops_its_clocks_instead_of_breaching(db: str) -> None:
    ticket_id = _ticket(age=HOUR)
    scan_open_tickets(NOW)
    with session_scope() as session:  # as a merge closes the duplicate
        session.execute(
            update(Ticket).where(Ticket.id == ticket_id).values(status=TicketStatus.CLOSED)
        )

    result = scan_open_tickets(NOW + 30 * 24 * HOUR)

    assert result.events == []
    assert ("first_response", "breached") not in _events(ticket_id)
