"""SLA policies, clocks and escalation through the real ticket actions: the first matching
policy wins, business hours set the due times, the clock pauses while a ticket waits on its
client and resumes on their answer, and escalation rules act on near-breach and breach."""

from __future__ import annotations

import email
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email import policy as mail_policy
from pathlib import Path

import pytest
from sqlalchemy import select

from crm_app.db import session_scope
from crm_app.services import escalation, sla, system_mail, tickets
from crm_app.services.errors import InvalidInput, PermissionDenied
from crm_app.settings import get_settings
from models.audit import AuditLog
from models.business_hours import BusinessCalendar
from models.notification import Notification
from models.sla import SlaClock, TicketSla, TicketSlaEvent
from models.ticket import SlaState, Ticket
from tests.factories import make_client, make_user

HOUR = timedelta(hours=1)
ALL_TARGETS = {
    p: {"first_response": 60, "next_response": 120, "resolution": 600}
    for p in ("low", "normal", "high", "urgent")
}


class Clock:
    """The actions' notion of now, moved by the test."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> datetime:
        self.now += delta
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    from crm_app.services.tickets import actions

    moment = Clock(datetime(2026, 3, 4, 8, 0, tzinfo=UTC))  # a Wednesday, 09:00 in Zurich
    monkeypatch.setattr(actions, "utcnow", moment)
    return moment


def _clocks(number: int) -> TicketSla:
    with session_scope() as session:
        ticket_id = session.execute(select(Ticket.id).where(Ticket.number == number)).scalar_one()
        row = session.get(TicketSla, ticket_id)
        assert row is not None
        return row


def _history(number: int) -> list[tuple[str, str]]:
    with session_scope() as session:
        ticket_id = session.execute(select(Ticket.id).where(Ticket.number == number)).scalar_one()
        return [
            (e.target, e.kind)
            for e in session.execute(
                select(TicketSlaEvent)
                .where(TicketSlaEvent.ticket_id == ticket_id)
                .order_by(TicketSlaEvent.id)
            ).scalars()
        ]


def _state(number: int) -> str:
    with session_scope() as session:
        return session.execute(select(Ticket.sla_state).where(Ticket.number == number)).scalar_one()


def _office_calendar() -> int:
    with session_scope() as session:
        return session.execute(
            select(BusinessCalendar.id).where(BusinessCalendar.name == sla.OFFICE_CALENDAR_NAME)
        ).scalar_one()


def test_pending_pauses_the_clock_and_the_clients_answer_resumes_it(db: str, clock: Clock) -> None:
    agent = make_user("agent")
    portal = make_user("client")
    client_id = make_client(agent, "Paula Pending", portal_user=portal)
    start = clock.now
    number = tickets.create_ticket(
        agent,
        client_id=client_id,
        subject="Transfer",
        body="Client called: wire 5,000 CHF.",
        channel="phone",
    ).number  # normal: first response 8 h, resolution 72 h, next response 4 h

    clock.advance(HOUR)  # the agent asks the client for a document and waits
    tickets.add_message(agent, number, "Please send the signed form.", status="pending")
    paused = _clocks(number)
    assert paused.first_response_clock == SlaClock.STOPPED
    assert paused.first_response_business_minutes == 60
    assert paused.resolution_clock == SlaClock.PAUSED
    assert paused.resolution_used == 60

    # Four days pass while the ticket waits: the 72 h resolution target must not breach.
    clock.advance(4 * 24 * HOUR)
    assert sla.scan_open_tickets(clock.now).changed == 0
    assert _state(number) == SlaState.ON_TRACK

    answered_at = clock.advance(HOUR)
    tickets.add_message(portal, number, "Here is the signed form.")
    resumed = _clocks(number)
    assert resumed.resolution_clock == SlaClock.RUNNING
    assert resumed.resolution_due_at == answered_at + timedelta(minutes=72 * 60 - 60)
    assert resumed.next_response_clock == SlaClock.RUNNING  # a client message after an answer
    assert resumed.next_response_due_at == answered_at + 4 * HOUR

    clock.advance(HOUR)
    tickets.add_message(agent, number, "Thank you, the transfer is on its way.")
    assert _clocks(number).next_response_clock == SlaClock.STOPPED

    near = sla.scan_open_tickets(answered_at + 70 * HOUR)  # 71 of 72 h used; share 0.8
    assert near.state_changes == {SlaState.NEAR_BREACH: 1}
    assert _state(number) == SlaState.NEAR_BREACH
    sla.scan_open_tickets(answered_at + 72 * HOUR)
    assert _state(number) == SlaState.BREACHED
    assert _history(number) == [
        ("first_response", "started"),
        ("resolution", "started"),
        ("first_response", "met"),
        ("resolution", "paused"),
        ("next_response", "started"),
        ("resolution", "resumed"),
        ("next_response", "met"),
        ("resolution", "near_breach"),
        ("resolution", "breached"),
    ]
    assert start < answered_at
    view = sla.ticket_sla(agent, number, now=answered_at + 72 * HOUR)
    assert view.policy == sla.DEFAULT_POLICY_NAME
    assert [t.status for t in view.targets] == ["met", "met", "breached"]
    assert view.targets[2].time_left == "overdue 1h"  # due 71 h after the answer


def test_business_hours_skip_the_night_and_the_weekend(db: str, clock: Clock) -> None:
    manager = make_user("manager")
    sla.save_policy(
        manager,
        None,
        {
            "name": "Office",
            "position": 1,
            "priorities": ["normal"],
            "calendar_id": _office_calendar(),
            "targets": ALL_TARGETS,
            "near_breach_share": 0.5,
        },
    )
    clock.now = datetime(2026, 3, 6, 16, 30, tzinfo=UTC)  # Friday 17:30 in Zurich, 18:00 close
    number = tickets.create_ticket(
        manager, client_id=make_client(manager), subject="Statement", body="Please send it."
    ).number

    row = _clocks(number)
    # 30 minutes on Friday, then Monday 09:00 (08:00 UTC) + 30 minutes for the first response.
    assert row.first_response_due_at == datetime(2026, 3, 9, 8, 30, tzinfo=UTC)
    assert row.first_response_near_at == datetime(2026, 3, 6, 17, 0, tzinfo=UTC)
    # Resolution 600 minutes: Fri 30 + Mon 540 + Tue 30 minutes.
    assert row.resolution_due_at == datetime(2026, 3, 10, 8, 30, tzinfo=UTC)
    with session_scope() as session:
        ticket = session.execute(select(Ticket).where(Ticket.number == number)).scalar_one()
        assert ticket.first_response_due_at == row.first_response_due_at


def test_first_matching_policy_wins_and_the_default_takes_the_rest(db: str, clock: Clock) -> None:
    manager = make_user("manager")
    banking = sla.save_policy(
        manager,
        None,
        {
            "name": "Private banking",
            "position": 1,
            "tiers": ["private_banking"],
            "targets": ALL_TARGETS,
        },
    )
    sla.save_policy(
        manager,
        None,
        {
            "name": "Email",
            "position": 2,
            "channels": ["email"],
            "tiers": [],
            "targets": {p: {"first_response": 30, "resolution": 300} for p in ALL_TARGETS},
        },
    )
    rich = make_client(manager, "Rich Client", net_worth="12000000")
    modest = make_client(manager, "Modest Client", net_worth="50000")

    def policy_of(client_id: int, channel: str) -> str:
        number = tickets.create_ticket(
            manager, client_id=client_id, subject="Q", body="?", channel=channel
        ).number
        return sla.ticket_sla(manager, number).policy

    assert policy_of(rich, "email") == "Private banking"  # both match: the first wins
    assert policy_of(modest, "email") == "Email"
    assert policy_of(modest, "phone") == sla.DEFAULT_POLICY_NAME
    assert [p.name for p in sla.list_policies(manager)] == [
        "Private banking",
        "Email",
        sla.DEFAULT_POLICY_NAME,
    ]
    assert sla.client_tier(12_000_000) == "private_banking"
    with session_scope() as session:
        audited = (
            session.execute(select(AuditLog.entity_id).where(AuditLog.action == "sla.policy_saved"))
            .scalars()
            .all()
        )
    assert banking in audited


def test_a_policy_change_applies_to_open_tickets_at_the_next_scan(db: str, clock: Clock) -> None:
    manager = make_user("manager")
    number = tickets.create_ticket(
        manager, client_id=make_client(manager, net_worth="9000000"), subject="Q", body="?"
    ).number
    start = clock.now
    assert _clocks(number).first_response_due_at == start + 8 * HOUR

    sla.save_policy(
        manager,
        None,
        {
            "name": "Private banking",
            "position": 1,
            "tiers": ["private_banking"],
            "targets": ALL_TARGETS,
        },
    )
    result = sla.scan_open_tickets(start + 10 * 60 * timedelta(seconds=1))

    assert result.due_times_set == 1
    assert _clocks(number).first_response_due_at == start + HOUR
    assert sla.ticket_sla(manager, number).policy == "Private banking"


def test_policy_and_calendar_validation_and_permission(db: str) -> None:
    manager, agent = make_user("manager"), make_user("agent")
    with pytest.raises(PermissionDenied):
        sla.save_policy(agent, None, {"name": "X", "tiers": ["retail"], "targets": ALL_TARGETS})
    with pytest.raises(InvalidInput, match="condition"):
        sla.save_policy(manager, None, {"name": "No conditions", "targets": ALL_TARGETS})
    with pytest.raises(InvalidInput, match="Unknown tier"):
        sla.save_policy(manager, None, {"name": "X", "tiers": ["gold"], "targets": ALL_TARGETS})
    with pytest.raises(InvalidInput, match="before the first response"):
        sla.save_policy(
            manager,
            None,
            {
                "name": "X",
                "tiers": ["retail"],
                "targets": {"normal": {"first_response": 600, "resolution": 60}},
            },
        )
    with pytest.raises(InvalidInput, match="time zone"):
        sla.save_calendar(
            manager, None, name="Mars", time_zone="Mars/Base", hours={"0": [["09:00", "17:00"]]}
        )
    with pytest.raises(InvalidInput, match="overlap"):
        sla.save_calendar(
            manager,
            None,
            name="Bad",
            time_zone="UTC",
            hours={"0": [["09:00", "13:00"], ["12:00", "17:00"]]},
        )
    with pytest.raises(InvalidInput, match="default"):
        default = next(c for c in sla.list_calendars(manager) if c.is_default)
        sla.delete_calendar(manager, default.id)
    saved = sla.save_calendar(
        manager,
        None,
        name="New York desk",
        time_zone="America/New_York",
        hours={"0": [["08:00", "20:00"]]},
        holidays=["2026-11-26"],
        is_default=True,
    )
    calendars = sla.list_calendars(manager)
    assert [c.id for c in calendars if c.is_default] == [saved]
    assert calendars[0].summary == "Mon 08:00–20:00"


@pytest.fixture
def mail_sink(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A real aiosmtpd server storing mail as files; the CRM configured to send to it."""
    system_mail.flush()
    folder = tmp_path / "mail"
    sink = system_mail.start_sink(folder)
    monkeypatch.setenv("CRM_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("CRM_SMTP_PORT", str(sink.port))
    monkeypatch.setenv("CRM_SMTP_TLS", "none")
    get_settings.cache_clear()
    try:
        yield folder
    finally:
        system_mail.flush()
        sink.stop()
        get_settings.cache_clear()


def test_breach_escalation_notifies_emails_raises_priority_and_reassigns(
    db: str, clock: Clock, mail_sink: Path
) -> None:
    manager = make_user("manager", "Mona Manager")
    agent = make_user("agent", "Alex Agent")
    backup = make_user("agent", "Bea Backup")
    number = tickets.create_ticket(
        agent,
        client_id=make_client(agent),
        subject="Urgent wire",
        body="?",
        priority="high",
        assignee_id=agent.user_id,
    ).number  # high: first response in 2 h
    escalation.save_rule(
        manager,
        None,
        {
            "name": "Near: tell the assignee",
            "trigger": "near_breach",
            "target": "first_response",
            "notify_assignee": True,
        },
    )
    escalation.save_rule(
        manager,
        None,
        {
            "name": "Breached: managers, up, reassign",
            "trigger": "breached",
            "notify_managers": True,
            "send_email": True,
            "raise_priority": True,
            "reassign_to": [backup.user_id],
        },
    )

    near = sla.scan_open_tickets(clock.now + 100 * timedelta(minutes=1))
    assert near.escalations == 1
    sla.scan_open_tickets(clock.now + 130 * timedelta(minutes=1))
    again = sla.scan_open_tickets(clock.now + 131 * timedelta(minutes=1))

    assert again.escalations == 0  # each event escalates once
    detail = tickets.get_ticket(manager, number)
    assert detail.ticket.priority == "urgent"
    assert detail.ticket.assignee_name == "Bea Backup"
    with session_scope() as session:
        notes = session.execute(
            select(Notification.user_id, Notification.title).where(
                Notification.kind == escalation.NOTIFICATION_KIND
            )
        ).all()
        audited = (
            session.execute(
                select(AuditLog.changes).where(
                    AuditLog.action == escalation.ESCALATION_AUDIT_ACTION
                )
            )
            .scalars()
            .all()
        )
    assert {uid for uid, _ in notes} >= {agent.user_id, manager.user_id}
    assert any("SLA breached on #" in title for _, title in notes)
    assert [a["rule"] for a in audited] == [
        "Near: tell the assignee",
        "Breached: managers, up, reassign",
    ]
    history = [h.action for h in detail.history]
    assert "sla escalated" in " ".join(history) or any("escalat" in h for h in history)
    system_mail.flush()
    mails = [
        email.message_from_bytes(p.read_bytes(), policy=mail_policy.default)
        for p in mail_sink.glob("*.eml")
    ]
    assert any(m["Subject"].startswith("SLA breached on #") for m in mails)
    assert ("first_response", "escalated") in _history(number)


def test_escalation_rules_are_validated(db: str) -> None:
    manager = make_user("manager")
    with pytest.raises(InvalidInput, match="do something"):
        escalation.save_rule(manager, None, {"name": "Nothing", "trigger": "breached"})
    with pytest.raises(InvalidInput, match="near breach or breached"):
        escalation.save_rule(manager, None, {"name": "X", "trigger": "later", "notify_assignee": 1})
    with pytest.raises(PermissionDenied):
        escalation.save_rule(make_user("agent"), None, {"name": "X", "trigger": "breached"})


def test_a_policy_for_a_client_segment_applies_to_its_members_only(db: str, clock: Clock) -> None:
    from crm_app.services import clients, segments

    manager = make_user("manager")
    vips = segments.save_segment(
        manager,
        name="VIPs",
        rules={"op": "and", "rules": [{"field": "tags", "operator": "has", "value": "vip"}]},
    )
    sla.save_policy(
        manager,
        None,
        {"name": "VIP desk", "position": 1, "segment_ids": [vips.id], "targets": ALL_TARGETS},
    )
    vip = clients.create_client(manager, name="Vera Important", tags="vip").id
    other = make_client(manager, "Otto Ordinary")

    def policy_of(client_id: int) -> str:
        number = tickets.create_ticket(manager, client_id=client_id, subject="Q", body="?").number
        return sla.ticket_sla(manager, number).policy

    assert policy_of(vip) == "VIP desk"
    assert policy_of(other) == sla.DEFAULT_POLICY_NAME
