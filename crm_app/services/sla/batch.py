"""Clocks for a batch of tickets about to be opened (mail intake), computed set-wise with the
same rules as `on_ticket_event(created=True)` and written as plain rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from types import SimpleNamespace
from typing import Any

from sqlmodel import Session

from crm_app.services import bulk
from crm_app.services.business_hours import Calendar
from crm_app.services.sla.clocks import _assign_policy, _Clocks, _cycle, _get, _mirror
from crm_app.services.sla.config import NO_TIER, client_tier, load_setup
from crm_app.services.sla.matching import TicketFacts, match_policy
from models.sla import SlaEventKind, SlaTarget, TicketSla, TicketSlaEvent
from models.ticket import SlaState


class _PlainClocks:
    """A `ticket_sla` row as plain attributes (the column defaults): what `_Clocks` works on
    when a batch writes its rows set-wise instead of through the ORM."""

    def __init__(self) -> None:
        # SQLModel's metaclass sets __table__ on table models; mypy does not see it.
        for column in TicketSla.__table__.columns:  # type: ignore[attr-defined]
            default = column.default
            value = None
            if default is not None and default.is_scalar:
                value = default.arg
            setattr(self, column.key, str(value) if isinstance(value, StrEnum) else value)

    def row(self) -> dict[str, Any]:
        columns = TicketSla.__table__.columns  # type: ignore[attr-defined]  # (see __init__)
        return {column.key: getattr(self, column.key) for column in columns}


class _CollectingClocks(_Clocks):
    """`_Clocks` that collects its history rows instead of adding them to a session."""

    def __init__(self, s: Any, calendar: Calendar, now: datetime) -> None:
        super().__init__(None, s, calendar, now)
        self.history: list[dict[str, Any]] = []

    def event(self, target: SlaTarget, kind: SlaEventKind, detail: str = "") -> None:
        self.history.append(
            {
                "target": target.value,
                "kind": kind.value,
                "cycle": _cycle(self.s, target),
                "at": self.now,
                "due_at": _get(self.s, target, "due_at"),
                "detail": detail[:300],
            }
        )


@dataclass(frozen=True)
class NewTicketFacts:
    """A ticket about to be opened in bulk (mail intake), as its clocks need it."""

    client_id: int | None
    net_worth_reporting: Decimal | None
    channel: str
    priority: str
    status: str
    created_at: datetime


@dataclass
class NewTicketClocks:
    """What `on_ticket_event(created=True)` would write for one ticket, as plain rows:
    `sla` (ticket_sla) and `history` (ticket_sla_event) still without their ticket_id, and
    `ticket`, the ticket's own SLA columns."""

    sla: dict[str, Any]
    history: list[dict[str, Any]]
    ticket: dict[str, Any]


def clocks_for_new_tickets(
    session: Session, tickets: Sequence[NewTicketFacts], now: datetime
) -> list[NewTicketClocks]:
    """The clocks of tickets about to be opened, computed set-wise: one configuration read for
    the whole batch instead of ORM loads per ticket. Same rules as `on_ticket_event(created=
    True)`; the caller writes the rows (`write_new_ticket_clocks`) once it has the ids."""
    setup = load_setup(session)
    planned: list[NewTicketClocks] = []
    # Tickets with the same facts get the same clocks (one `now`): computed once each. Only
    # segment conditions look at the client itself.
    by_client = any(p.segment_ids for p in setup.policies)
    known: dict[tuple[Any, ...], NewTicketClocks] = {}
    for facts in tickets:
        tier = client_tier(facts.net_worth_reporting) if facts.client_id is not None else NO_TIER
        key = (
            facts.client_id if by_client else None,
            tier,
            facts.channel,
            facts.priority,
            facts.status,
            facts.created_at,
        )
        if key in known:
            planned.append(known[key])
            continue
        s: Any = _PlainClocks()
        policy = match_policy(
            session, setup, TicketFacts(facts.client_id, tier, facts.channel, facts.priority)
        )
        _assign_policy(s, policy, facts.priority, setup.version)
        clocks = _CollectingClocks(s, setup.calendar_for(policy), now)
        clocks.start(SlaTarget.FIRST_RESPONSE)
        clocks.start(SlaTarget.RESOLUTION)
        clocks.settle()
        s.anchor_created_at, s.anchor_priority = facts.created_at, facts.priority
        mirror = SimpleNamespace(
            status=facts.status, first_response_due_at=None, resolution_due_at=None, sla_state=None
        )
        _mirror(mirror, s)  # type: ignore[arg-type]
        known[key] = NewTicketClocks(
            sla=s.row(),
            history=clocks.history,
            ticket={
                "first_response_due_at": mirror.first_response_due_at,
                "resolution_due_at": mirror.resolution_due_at,
                "sla_state": str(mirror.sla_state or SlaState.NONE),
            },
        )
        planned.append(known[key])
    return planned


def write_new_ticket_clocks(
    session: Session, planned: Sequence[NewTicketClocks], ticket_ids: Sequence[int]
) -> None:
    """Insert the rows of `clocks_for_new_tickets` for the tickets now written (same order)."""
    sla_rows: list[dict[str, Any]] = []
    history: list[dict[str, Any]] = []
    for plan, ticket_id in zip(planned, ticket_ids, strict=True):
        sla_rows.append({**plan.sla, "ticket_id": ticket_id})
        history.extend({**row, "ticket_id": ticket_id} for row in plan.history)
    bulk.insert_rows(session, TicketSla.__tablename__, sla_rows)
    bulk.insert_rows(session, TicketSlaEvent.__tablename__, history)
