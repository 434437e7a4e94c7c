"""The agents' side: whether the visitor is still on the page (and typing), and where a reply
goes (the widget or email); the reply path is registered in `services.channels`."""

from __future__ import annotations

from sqlalchemy import select
from sqlmodel import Session, col

from crm_app.auth.permissions import Action, Actor, require
from crm_app.db import session_scope
from crm_app.services import channels
from crm_app.services.errors import InvalidInput
from crm_app.services.mail import outbox as mail_outbox
from crm_app.services.messaging.web_chat.rows import (
    CHANNEL,
    MAX_TEXT,
    ON_PAGE,
    TYPING,
    VisitorStatus,
    _visitor_of_ticket,
)
from crm_app.services.tickets.rows import fmt
from models.base import utcnow
from models.messaging import ChatVisitor
from models.outbox import OutboundKind, OutboundMessage, OutboundStatus
from models.ticket import Ticket, TicketMessage


def visitor_status(actor: Actor, number: int) -> VisitorStatus | None:
    """For the agent on a web chat ticket: is the visitor still on the page, typing?"""
    require(actor, Action.VIEW_TICKETS)
    with session_scope() as session:
        visitor = _visitor_of_ticket(session, number)
        if visitor is None:
            return None
        now = utcnow()
        on_page = now - visitor.last_seen_at < ON_PAGE
        return VisitorStatus(
            name=visitor.name,
            email=visitor.email,
            on_page=on_page,
            typing=on_page and visitor.typing_at is not None and now - visitor.typing_at < TYPING,
            last_seen=fmt(visitor.last_seen_at),
        )


def presence_text(actor: Actor, number: int) -> str:
    """The agent's line about a web chat's visitor ("" when the ticket is no chat)."""
    status = visitor_status(actor, number)
    if status is None:
        return ""
    if status.typing:
        return f"{status.name} is typing…"
    if status.on_page:
        return f"{status.name} is in the chat"
    return f"{status.name} left the chat (last seen {status.last_seen})"


# ---------------------------------------------------------------- agents' replies


def enqueue_web_chat_reply(session: Session, ticket: Ticket, message: TicketMessage) -> None:
    """An agent's reply on a web chat ticket: shown in the widget when the visitor is on the
    page (recorded as sent), else queued by email to the address they gave."""
    if message.is_internal:
        raise ValueError("internal notes are never sent")
    if len(message.body_text) > MAX_TEXT * 5:
        raise InvalidInput("A chat reply holds up to 10,000 characters (nothing was saved).")
    visitor = session.execute(
        select(ChatVisitor)
        .where(col(ChatVisitor.ticket_id) == ticket.id)
        .order_by(col(ChatVisitor.last_seen_at).desc())
        .limit(1)
    ).scalar_one_or_none()
    now = utcnow()
    if visitor is not None and now - visitor.last_seen_at < ON_PAGE:
        message.channel = CHANNEL
        session.add(
            OutboundMessage(
                ticket_id=ticket.id,
                message_id=message.id,
                channel=CHANNEL,
                kind=OutboundKind.REPLY,
                recipient=visitor.email.lower(),
                to_addrs=visitor.email,
                status=OutboundStatus.SENT,
                attempts=1,
                sent_at=now,
                provider_message_id=f"chat:{message.id}",
            )
        )
        return
    mail_outbox.enqueue_email_reply(session, ticket, message)


def composer_note(number: int) -> str:
    """What the composer says on web chat ticket `number`: where the reply will be read."""
    with session_scope() as session:
        visitor = _visitor_of_ticket(session, number)
        if visitor is None:
            return ""
        if utcnow() - visitor.last_seen_at < ON_PAGE:
            return f"{visitor.name} is in the chat now: the reply shows there at once (plain text)."
        return f"{visitor.name} has left the chat: the reply goes by email to {visitor.email}."


channels.register(CHANNEL, enqueue_web_chat_reply, composer_note)
