"""An agent's reply on an email ticket, queued in the reply's own transaction (the channel's
`channels` entry): recipient, threading headers, subject."""

from __future__ import annotations

from sqlalchemy import select
from sqlmodel import Session, col

from crm_app.services import channels
from crm_app.services.errors import InvalidInput
from crm_app.services.mail import cc as mail_cc
from crm_app.services.mail.compose import (
    new_subject,
    references_for,
    reply_subject,
    valid_address,
)
from crm_app.services.mail.outbox._common import CHANNEL, _queue
from models.client import Client
from models.outbox import OutboundKind
from models.ticket import SenderKind, Ticket, TicketMessage

# ---------------------------------------------------------------- enqueue (caller's transaction)


def _client_address(session: Session, ticket: Ticket) -> str:
    client = session.get(Client, ticket.client_id) if ticket.client_id else None
    address = (client.email or "").strip() if client else ""
    if not address or not valid_address(address):
        raise InvalidInput(
            "This client has no valid email address: add one on the client before replying "
            "by email (nothing was saved)."
        )
    return address


def _parent(session: Session, ticket: Ticket) -> TicketMessage | None:
    """The client's last message that came with a Message-ID: what the reply answers."""
    return session.execute(
        select(TicketMessage)
        .where(
            col(TicketMessage.ticket_id) == ticket.id,
            col(TicketMessage.sender_kind) == SenderKind.CLIENT,
            col(TicketMessage.external_message_id).is_not(None),
        )
        .order_by(col(TicketMessage.created_at).desc(), col(TicketMessage.id).desc())
        .limit(1)
    ).scalar_one_or_none()


def _thread_headers(session: Session, ticket: Ticket, parent: TicketMessage | None) -> dict:
    if parent is None:
        return {}
    parent_refs = getattr(parent, "references", None)
    if not parent_refs:
        # Without the stored References, the ticket's own mail ids are the thread so far.
        parent_refs = list(
            session.execute(
                select(col(TicketMessage.external_message_id))
                .where(
                    col(TicketMessage.ticket_id) == ticket.id,
                    col(TicketMessage.external_message_id).is_not(None),
                    col(TicketMessage.is_internal).is_(False),
                    col(TicketMessage.id) != parent.id,
                    col(TicketMessage.created_at) <= parent.created_at,
                )
                .order_by(col(TicketMessage.created_at), col(TicketMessage.id))
            ).scalars()
        )
    return {
        "In-Reply-To": parent.external_message_id,
        "References": references_for(parent_refs, parent.external_message_id),
    }


def _cc(session: Session, ticket: Ticket, to: str) -> list[str]:
    """The ticket's CC list as the reply's Cc: never the client (in To) nor one of the firm's
    own mailboxes (a list from before a mailbox was added may still name it)."""
    if not ticket.cc_emails:
        return []
    leave_out = mail_cc.own_addresses(session) | {to.lower()}
    return mail_cc.merged([], ticket.cc_emails, leave_out)


def enqueue_email_reply(session: Session, ticket: Ticket, message: TicketMessage) -> None:
    """Queue an agent's reply on an email ticket (inside the reply's transaction): To the
    client, Cc the ticket's CC list (recorded on the message for the timeline)."""
    if message.is_internal:
        raise ValueError("internal notes are never sent")
    to = _client_address(session, ticket)
    cc = _cc(session, ticket, to)
    message.cc_emails = cc
    parent = _parent(session, ticket)
    headers = _thread_headers(session, ticket, parent)
    if parent is not None:
        message.in_reply_to = parent.external_message_id
    _queue(
        session,
        ticket,
        message,
        kind=OutboundKind.REPLY,
        to=to,
        cc=cc,
        extra_headers=headers,
        # A reply says so; the first mail of a ticket the agent opened does not.
        subject=reply_subject(ticket.subject, ticket.number or 0)
        if parent is not None
        else new_subject(ticket.subject, ticket.number or 0),
    )


channels.register(CHANNEL, enqueue_email_reply)
