"""What staff do with the outbox: send a failed mail again; the counts per status."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy import select
from sqlmodel import col

from crm_app.auth.permissions import Action, Actor, require
from crm_app.db import get_engine, session_scope
from crm_app.services import audit, events
from crm_app.services.errors import InvalidInput, NotFound
from models.base import utcnow
from models.outbox import OutboundMessage, OutboundStatus
from models.ticket import Ticket

# ---------------------------------------------------------------- staff actions


def retry(actor: Actor, message_id: int) -> None:
    """Send a failed reply again (same Message-ID, so the client sees one mail).

    Side effects: the outbox row is queued now with its attempts reset; audited as
    `ticket.message_resend` with the error it had. After the commit: emits
    `message.resend` (open views reload)."""
    require(actor, Action.EDIT_TICKETS)
    if not isinstance(message_id, int) or message_id <= 0:
        raise InvalidInput("That is not a message.")
    with session_scope() as session:
        row = session.execute(
            select(OutboundMessage)
            .where(col(OutboundMessage.message_id) == message_id)
            .with_for_update()
        ).scalar_one_or_none()
        if row is None:
            raise NotFound("That message is not waiting to be sent.")
        if row.status != OutboundStatus.FAILED:
            raise InvalidInput("Only a message that failed can be sent again.")
        ticket = session.get(Ticket, row.ticket_id)
        previous = row.last_error
        row.status = OutboundStatus.QUEUED
        row.attempts = 0
        row.last_error = None
        row.next_attempt_at = utcnow()
        row.updated_at = utcnow()
        audit.record(
            session,
            actor,
            "ticket.message_resend",
            "ticket",
            row.ticket_id,
            {"message_id": message_id, "last_error": previous},
        )
        number, subject, ticket_id = ticket.number, ticket.subject, ticket.id
    events.emit(
        events.Event(
            "message.resend",
            actor=actor,
            ticket_id=ticket_id,
            number=number,
            subject=subject,
            payload={"message_id": message_id},
        )
    )


def outbox_counts() -> dict[str, int]:
    """Rows per status (the bench and operators)."""
    with get_engine().connect() as conn:
        return dict(
            conn.execute(
                sa.select(col(OutboundMessage.status), sa.func.count()).group_by(
                    col(OutboundMessage.status)
                )
            ).all()
        )
