"""The ticket's SLA panel (a read): its policy, each target with its time left in business
time, and its SLA history.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlmodel import col

from crm_app.auth.permissions import Action, Actor, require
from crm_app.db import session_scope
from crm_app.services.errors import NotFound
from crm_app.services.sla.clocks import _cycle, _get, _left_text, _minutes_text
from crm_app.services.sla.config import TARGET_LABELS, TARGETS, load_setup
from models.base import utcnow
from models.sla import SlaClock, SlaEventKind, SlaTarget, TicketSla, TicketSlaEvent
from models.ticket import Ticket


@dataclass(frozen=True)
class SlaTargetRow:
    target: str
    label: str
    minutes: str  # the target, "8h"
    clock: str  # running / paused / stopped / none
    due_at: str
    time_left: str  # business time: "1h 20m left", "overdue 2h"
    status: str  # on_track / near_breach / breached / met / paused / not measured


@dataclass(frozen=True)
class SlaEventRow:
    at: str
    target: str
    kind: str
    detail: str


@dataclass(frozen=True)
class TicketSlaView:
    policy: str
    calendar: str
    targets: list[SlaTargetRow]
    history: list[SlaEventRow]


def _fmt(moment: datetime | None) -> str:
    """ISO 8601 in UTC ("" for none): the page shows it in the reader's zone."""
    return moment.astimezone(UTC).isoformat() if moment else ""


def ticket_sla(actor: Actor | None, number: int, now: datetime | None = None) -> TicketSlaView:
    """The ticket's policy, each target with its time left in business time, and its SLA
    history (newest first). Staff only."""
    require(actor, Action.VIEW_TICKETS)
    now = now or utcnow()
    with session_scope() as session:
        ticket = session.execute(select(Ticket).where(col(Ticket.number) == int(number))).scalar()
        if ticket is None:
            raise NotFound(f"There is no ticket #{number}.")
        setup = load_setup(session)
        s = session.get(TicketSla, ticket.id)
        if s is None:
            return TicketSlaView("No SLA yet (set by the next scan)", "", [], [])
        policy = setup.policy(s.policy_id)
        calendar = setup.calendar_for(policy)
        breached = {
            (row.target, row.cycle)
            for row in session.scalars(
                select(TicketSlaEvent).where(
                    TicketSlaEvent.ticket_id == ticket.id,
                    col(TicketSlaEvent.kind) == SlaEventKind.BREACHED.value,
                )
            )
        }
        rows: list[SlaTargetRow] = []
        for target in TARGETS:
            minutes = _get(s, target, "minutes")
            clock = _get(s, target, "clock")
            due = _get(s, target, "due_at")
            near = _get(s, target, "near_at")
            used = _get(s, target, "used")
            left = ""
            if not minutes:
                status = "not measured"
            elif clock == SlaClock.RUNNING and due is not None:
                left = _left_text(calendar.business_minutes_between(now, due))
                status = (
                    "breached"
                    if due <= now
                    else "near_breach"
                    if near and near <= now
                    else "on_track"
                )
            elif clock == SlaClock.PAUSED:
                left = _left_text(minutes - used) + " (paused)"
                status = "paused"
            elif clock == SlaClock.STOPPED:
                late = (target.value, _cycle(s, target)) in breached or used > minutes
                status = "breached" if late else "met"
            else:
                status = "not started"
            rows.append(
                SlaTargetRow(
                    target.value,
                    TARGET_LABELS[target],
                    _minutes_text(minutes) if minutes else "—",
                    clock,
                    _fmt(due),
                    left,
                    status,
                )
            )
        history = [
            SlaEventRow(
                _fmt(e.at),
                TARGET_LABELS.get(SlaTarget(e.target), e.target)
                if e.target in {t.value for t in TARGETS}
                else e.target,
                e.kind,
                e.detail,
            )
            for e in session.scalars(
                select(TicketSlaEvent)
                .where(col(TicketSlaEvent.ticket_id) == ticket.id)
                .order_by(col(TicketSlaEvent.id).desc())
                .limit(50)
            )
        ]
        return TicketSlaView(
            policy.name if policy else "No policy", setup.calendar_name(policy), rows, history
        )
