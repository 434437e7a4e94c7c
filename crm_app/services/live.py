"""Live updates across web workers: a change counter PostgreSQL bumps (statement triggers on
ticket and ticket_message, see the workspace migration). An open queue or ticket polls it,
a single cheap read, and reloads only when it moved.

The trigger bumps it inside the writing transaction, before that commits (a sequence is not
transactional): a view polling in between reloads, still sees the old rows, and would keep the
new value. So every domain action's after-commit event bumps it once more."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select, text
from sqlmodel import col

from crm_app.auth.permissions import Action, Actor, require
from crm_app.db import get_engine
from crm_app.services import events
from models.ai import MessageSentiment
from models.outbox import OutboundMessage
from models.ticket import Ticket, TicketMessage
from models.workspace import CHANGE_SEQUENCE

_COUNTER = text(f"SELECT last_value FROM {CHANGE_SEQUENCE}")
_BUMP = text(f"SELECT nextval('{CHANGE_SEQUENCE}')")


def change_counter(actor: Actor) -> int:
    """A number that grows whenever any ticket or message is written."""
    require(actor, Action.VIEW_TICKETS)
    return current_counter()


def current_counter() -> int:
    """The counter for a web worker's shared watch (`crm_app/change_watch.py`): it tells only
    that something changed, and each view checks its actor before it reads what."""
    with get_engine().connect() as conn:
        return int(conn.execute(_COUNTER).scalar_one())


def ticket_signature(actor: Actor, number: int) -> str:
    """The ticket's version and newest message id ("" when it is gone): what an open ticket
    view compares, so a message written by any path (mail intake included) shows up."""
    require(actor, Action.VIEW_TICKETS)
    newest = (
        select(func.max(col(TicketMessage.id)))
        .where(col(TicketMessage.ticket_id) == col(Ticket.id))
        .scalar_subquery()
    )
    # Sentiment is scored by a job after the message lands: its arrival refreshes the view too.
    scored = (
        select(func.count())
        .where(col(MessageSentiment.ticket_id) == col(Ticket.id))
        .scalar_subquery()
    )
    # The email outbox records a send (or a failure) after the reply: the view shows it.
    delivered = (
        select(func.max(col(OutboundMessage.updated_at)))
        .where(col(OutboundMessage.ticket_id) == col(Ticket.id))
        .scalar_subquery()
    )
    with get_engine().connect() as conn:
        row = conn.execute(
            select(col(Ticket.version), newest, scored, delivered).where(
                col(Ticket.number) == number
            )
        ).first()
    return f"{row[0]}:{row[1] or 0}:{row[2]}:{row[3] or ''}" if row else ""


@events.batch_subscriber
def signal_change(batch: Sequence[events.Event]) -> None:
    """After a commit: move the counter so every open view reloads and sees the change (once
    per committed batch: one bump covers every change in it)."""
    with get_engine().connect() as conn:
        conn.execute(_BUMP)
        conn.commit()
