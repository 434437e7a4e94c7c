"""Which SLA policy applies to a ticket: the first (by position) whose conditions on tier,
segment, channel and priority all hold, else the default.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlmodel import Session, col

from crm_app.auth.permissions import SYSTEM
from crm_app.services.sla.config import NO_TIER, PolicySpec, SlaSetup, client_tier
from models.client import Client
from models.ticket import Ticket

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TicketFacts:
    """What policy conditions look at."""

    client_id: int | None
    tier: str
    channel: str
    priority: str


def _segment_members(session: Session, segment_ids: Sequence[int], client_id: int) -> set[int]:
    """The segments (of `segment_ids`) that `client_id` belongs to."""
    from crm_app.services.segments import segment_where
    from models.segment import Segment

    found: set[int] = set()
    for segment in session.scalars(select(Segment).where(col(Segment.id).in_(segment_ids))):
        assert segment.id is not None  # a stored row
        try:
            where = segment_where(session, SYSTEM, segment.rules)
        except Exception:  # a segment whose rules no longer compile matches no one
            log.warning("segment rules unusable for SLA", extra={"segment_id": segment.id})
            continue
        hit = session.execute(
            select(col(Client.id)).where(col(Client.id) == client_id, where).limit(1)
        ).first()
        if hit:
            found.add(segment.id)
    return found


def match_policy(session: Session, setup: SlaSetup, facts: TicketFacts) -> PolicySpec | None:
    """The first policy (by position) whose conditions all hold, else the default."""
    segments: set[int] | None = None
    for policy in setup.policies:
        if policy.is_default:
            continue
        if policy.tiers and facts.tier not in policy.tiers:
            continue
        if policy.channels and facts.channel not in policy.channels:
            continue
        if policy.priorities and facts.priority not in policy.priorities:
            continue
        if policy.segment_ids:
            if facts.client_id is None:
                continue
            if segments is None:
                wanted = {s for p in setup.policies for s in p.segment_ids}
                segments = _segment_members(session, sorted(wanted), facts.client_id)
            if not segments.intersection(policy.segment_ids):
                continue
        return policy
    return next((p for p in setup.policies if p.is_default), None)


def _facts(
    session: Session, ticket: Ticket, net_worths: dict[int, Any] | None = None
) -> TicketFacts:
    """What the conditions look at; `net_worths` (client id -> amount) saves a query each."""
    net_worth = None
    if net_worths is not None and ticket.client_id is not None:
        net_worth = net_worths.get(ticket.client_id)
    elif ticket.client_id is not None:
        net_worth = session.execute(
            select(col(Client.net_worth_reporting)).where(col(Client.id) == ticket.client_id)
        ).scalar()
    tier = client_tier(net_worth) if ticket.client_id is not None else NO_TIER
    return TicketFacts(ticket.client_id, tier, ticket.channel, ticket.priority)
