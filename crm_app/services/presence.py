"""Who else has a ticket open: a heartbeat row per (ticket, agent) in PostgreSQL, so every web
worker sees every agent; a row older than PRESENCE_TTL_SECONDS means the agent left."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, delete, select
from sqlalchemy.dialects.postgresql import insert
from sqlmodel import col

from crm_app.auth.permissions import Action, Actor, require
from crm_app.db import session_scope
from crm_app.services.errors import InvalidInput, NotFound
from models.base import utcnow
from models.ticket import Ticket
from models.user import User
from models.workspace import TicketPresence

PRESENCE_TTL_SECONDS = 20
ACTIVITIES = ("viewing", "replying")


@dataclass(frozen=True)
class PresenceRow:
    name: str
    activity: str


def heartbeat(actor: Actor, number: int, activity: str = "viewing") -> list[PresenceRow]:
    """Record that the actor has the ticket open (or is writing a reply), and return the
    other staff who do."""
    require(actor, Action.VIEW_TICKETS)
    if activity not in ACTIVITIES:
        raise InvalidInput("Activity must be viewing or replying.")
    now = utcnow()
    with session_scope() as session:
        ticket_id = session.execute(
            select(col(Ticket.id)).where(col(Ticket.number) == number)
        ).scalar_one_or_none()
        if ticket_id is None:
            raise NotFound(f"There is no ticket #{number}.")
        if actor.user_id is not None:
            session.execute(
                insert(TicketPresence)
                .values(ticket_id=ticket_id, user_id=actor.user_id, activity=activity, seen_at=now)
                .on_conflict_do_update(
                    index_elements=["ticket_id", "user_id"],
                    set_={"activity": activity, "seen_at": now},
                )
            )
        rows = session.execute(
            select(col(User.name), col(TicketPresence.activity))
            .join(User, col(User.id) == col(TicketPresence.user_id))
            .where(
                col(TicketPresence.ticket_id) == ticket_id,
                col(TicketPresence.user_id) != actor.user_id,
                col(TicketPresence.seen_at) > now - timedelta(seconds=PRESENCE_TTL_SECONDS),
            )
            .order_by(col(User.name))
        ).all()
    return [PresenceRow(name=name, activity=act) for name, act in rows]


def leave(actor: Actor, number: int) -> None:
    """The agent closed the ticket: drop their row at once instead of waiting for it to age."""
    require(actor, Action.VIEW_TICKETS)
    with session_scope() as session:
        session.execute(
            delete(TicketPresence).where(
                col(TicketPresence.user_id) == actor.user_id,
                col(TicketPresence.ticket_id).in_(
                    select(col(Ticket.id)).where(col(Ticket.number) == number)
                ),
            )
        )


def sweep(older_than_seconds: int = 3600) -> int:
    """Delete stale heartbeats (a job may call it; stale rows are ignored anyway)."""
    with session_scope() as session:
        # A DELETE's result is a CursorResult (with rowcount); Session.execute says Result.
        return cast(
            CursorResult[Any],
            session.execute(
                delete(TicketPresence).where(
                    col(TicketPresence.seen_at) < utcnow() - timedelta(seconds=older_than_seconds)
                )
            ),
        ).rowcount
