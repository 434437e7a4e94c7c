"""Who else has a ticket open: a heartbeat row per (ticket, agent) in PostgreSQL, so every web
worker sees every agent; a row older than PRESENCE_TTL_SECONDS means the agent left."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert

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
            select(Ticket.id).where(Ticket.number == number)
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
            select(User.name, TicketPresence.activity)
            .join(User, User.id == TicketPresence.user_id)
            .where(
                TicketPresence.ticket_id == ticket_id,
                TicketPresence.user_id != actor.user_id,
                TicketPresence.seen_at > now - timedelta(seconds=PRESENCE_TTL_SECONDS),
            )
            .order_by(User.name)
        ).all()
    return [PresenceRow(name=name, activity=act) for name, act in rows]


def leave(actor: Actor, number: int) -> None:
    """The agent closed the ticket: drop their row at once instead of waiting for it to age."""
    require(actor, Action.VIEW_TICKETS)
    with session_scope() as session:
        session.execute(
            delete(TicketPresence).where(
                TicketPresence.user_id == actor.user_id,
                TicketPresence.ticket_id.in_(select(Ticket.id).where(Ticket.number == number)),
            )
        )


def sweep(older_than_seconds: int = 3600) -> int:
    """Delete stale heartbeats (a job may call it; stale rows are ignored anyway)."""
    with session_scope() as session:
        return session.execute(
            delete(TicketPresence).where(
                TicketPresence.seen_at < utcnow() - timedelta(seconds=older_than_seconds)
            )
        ).rowcount
