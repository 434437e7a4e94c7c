"""The SLA scan: due times from sla_config, and each ticket's SLA state, set in SQL."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from crm_app.db import session_scope
from crm_app.services.sla import scan_open_tickets, sla_state_for
from crm_app.settings import get_settings
from models.ticket import SlaState, Ticket, TicketPriority, TicketStatus

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
    due_times: tuple[datetime, datetime] | None = None,
) -> int:
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
            first_response_due_at=due_times[0] if due_times else None,
            resolution_due_at=due_times[1] if due_times else None,
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


def test_open_ticket_gets_due_times_from_its_priority_target(db: str) -> None:
    ticket_id = _ticket(age=HOUR, priority=TicketPriority.NORMAL)  # normal: 8 h / 72 h

    result = scan_open_tickets(NOW)

    ticket = _get(ticket_id)
    assert ticket.first_response_due_at == NOW - HOUR + 8 * HOUR
    assert ticket.resolution_due_at == NOW - HOUR + 72 * HOUR
    assert ticket.sla_state == SlaState.ON_TRACK
    assert result.due_times_set == 1
    assert result.state_changes == {SlaState.ON_TRACK: 1}


def test_unanswered_ticket_past_first_response_due_is_breached(db: str) -> None:
    ticket_id = _ticket(age=40 * MINUTE, priority=TicketPriority.URGENT)  # urgent: 30 min

    scan_open_tickets(NOW)

    assert _state(ticket_id) == SlaState.BREACHED


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


def test_pending_ticket_is_judged_like_an_open_one(db: str) -> None:
    ticket_id = _ticket(age=4 * 24 * HOUR, status=TicketStatus.PENDING, responded_after=HOUR)

    scan_open_tickets(NOW)

    assert _state(ticket_id) == SlaState.BREACHED


def test_unanswered_ticket_past_the_share_of_its_first_response_target_is_near_breach(
    db: str,
) -> None:
    unanswered = _ticket(age=7 * HOUR)  # 7 of 8 h elapsed = 0.875
    answered = _ticket(age=7 * HOUR, responded_after=HOUR)  # only the 72 h target still runs

    scan_open_tickets(NOW, near_breach_share=0.8)

    assert _state(unanswered) == SlaState.NEAR_BREACH
    assert _state(answered) == SlaState.ON_TRACK


def test_ticket_past_the_share_of_its_resolution_target_is_near_breach(db: str) -> None:
    ticket_id = _ticket(age=60 * HOUR, responded_after=HOUR)  # 60 of 72 h = 0.83

    scan_open_tickets(NOW, near_breach_share=0.8)

    assert _state(ticket_id) == SlaState.NEAR_BREACH


def test_near_breach_share_comes_from_the_setting(db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    ticket_id = _ticket(age=7 * HOUR)  # 0.875 of the first-response target

    monkeypatch.setenv("CRM_SLA_NEAR_BREACH_SHARE", "0.9")
    get_settings.cache_clear()
    try:
        scan_open_tickets(NOW)
        assert _state(ticket_id) == SlaState.ON_TRACK
        monkeypatch.setenv("CRM_SLA_NEAR_BREACH_SHARE", "0.85")
        get_settings.cache_clear()
        scan_open_tickets(NOW)
        assert _state(ticket_id) == SlaState.NEAR_BREACH
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()


def test_priority_change_recomputes_due_times_from_creation(db: str) -> None:
    created = NOW - 3 * HOUR
    ticket_id = _ticket(
        age=3 * HOUR,
        priority=TicketPriority.LOW,
        sla_state=SlaState.ON_TRACK,
        due_times=(created + 24 * HOUR, created + 7 * 24 * HOUR),
    )
    assert scan_open_tickets(NOW).changed == 0
    with session_scope() as session:
        session.execute(
            update(Ticket).where(Ticket.id == ticket_id).values(priority=TicketPriority.URGENT)
        )

    result = scan_open_tickets(NOW)

    ticket = _get(ticket_id)
    assert ticket.first_response_due_at == created + 30 * MINUTE
    assert ticket.resolution_due_at == created + 4 * HOUR
    assert ticket.sla_state == SlaState.BREACHED
    assert result.due_times_set == 1


def test_resolved_ticket_within_both_targets_is_met_and_late_one_is_breached(db: str) -> None:
    met = _ticket(
        age=10 * 24 * HOUR,
        status=TicketStatus.RESOLVED,
        responded_after=HOUR,
        resolved_after=24 * HOUR,
    )
    late = _ticket(
        age=10 * 24 * HOUR,
        status=TicketStatus.CLOSED,
        responded_after=HOUR,
        resolved_after=80 * HOUR,
    )
    never_answered_in_time = _ticket(
        age=10 * 24 * HOUR, status=TicketStatus.RESOLVED, resolved_after=9 * HOUR
    )  # 8 h first-response target

    result = scan_open_tickets(NOW)

    assert _state(met) == SlaState.MET
    assert _state(late) == SlaState.BREACHED
    assert _state(never_answered_in_time) == SlaState.BREACHED
    assert result.due_times_set == 3
    assert _get(met).resolution_due_at == NOW - 10 * 24 * HOUR + 72 * HOUR


def test_finished_ticket_keeps_its_verdict(db: str) -> None:
    ticket_id = _ticket(
        age=10 * 24 * HOUR,
        status=TicketStatus.CLOSED,
        responded_after=HOUR,
        resolved_after=HOUR,
        sla_state=SlaState.BREACHED,
    )

    result = scan_open_tickets(NOW)

    assert _state(ticket_id) == SlaState.BREACHED
    assert result.changed == 0
    assert _get(ticket_id).first_response_due_at is None  # finished and judged: left alone


def test_second_scan_writes_nothing_and_scan_never_touches_updated_at(db: str) -> None:
    ids = [_ticket(age=age * HOUR) for age in (1, 7, 100)]
    first = scan_open_tickets(NOW)

    second = scan_open_tickets(NOW)

    assert first.changed == 3
    assert (second.changed, second.due_times_set) == (0, 0)
    for ticket_id in ids:
        ticket = _get(ticket_id)
        assert ticket.updated_at == ticket.created_at


def test_batches_by_id_range_give_the_same_states_as_one_pass(db: str) -> None:
    ids = [_ticket(age=age * HOUR) for age in (1, 7, 100, 2, 71)]

    result = scan_open_tickets(NOW, batch_size=2)

    assert result.batches == 3
    assert [_state(i) for i in ids] == [
        SlaState.ON_TRACK,
        SlaState.NEAR_BREACH,
        SlaState.BREACHED,
        SlaState.ON_TRACK,
        SlaState.BREACHED,  # 71 h unanswered: first response long overdue
    ]


def test_sql_scan_and_python_rule_agree_on_random_tickets(db: str) -> None:
    """The demo seeder computes states with `sla_state_for`; it must match the scan exactly."""
    rng = random.Random(7)
    priorities = list(TicketPriority)
    statuses = list(TicketStatus)
    for _ in range(300):
        age = timedelta(minutes=rng.randint(1, 12 * 24 * 60))
        responded = timedelta(minutes=rng.randint(0, int(age.total_seconds() // 60)))
        resolved = timedelta(minutes=rng.randint(0, int(age.total_seconds() // 60)))
        status = rng.choice(statuses)
        finished = status in (TicketStatus.RESOLVED, TicketStatus.CLOSED)
        _ticket(
            age=age,
            priority=rng.choice(priorities),
            status=status,
            responded_after=responded if rng.random() < 0.7 else None,
            resolved_after=resolved if finished else None,
        )

    scan_open_tickets(NOW, near_breach_share=0.75)

    with session_scope() as session:
        tickets = session.execute(select(Ticket)).scalars().all()
        assert {t.sla_state for t in tickets} == {
            SlaState.ON_TRACK,
            SlaState.NEAR_BREACH,
            SlaState.BREACHED,
            SlaState.MET,
        }
        for t in tickets:
            assert t.first_response_due_at is not None and t.resolution_due_at is not None
            expected = sla_state_for(
                status=t.status,
                created_at=t.created_at,
                first_response_due_at=t.first_response_due_at,
                resolution_due_at=t.resolution_due_at,
                first_responded_at=t.first_responded_at,
                finished_at=t.resolved_at or t.closed_at or t.updated_at,
                now=NOW,
                near_breach_share=0.75,
            )
            assert t.sla_state == expected, t
