"""The automatic "we received your request #N" for a new email ticket, with loop protection."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select, text
from sqlmodel import Session, col

from crm_app.services.mail.compose import (
    references_for,
    valid_address,
)
from crm_app.services.mail.outbox._common import CHANNEL, _queue, mailbox_for_ticket
from models.base import utcnow
from models.mailbox import Mailbox
from models.outbox import OutboundKind, OutboundMessage
from models.ticket import SenderKind, Ticket, TicketMessage

ACK_WINDOW = timedelta(hours=1)
# Local parts that are machines: an acknowledgement to them would start a mail loop.
_MACHINE_LOCALPARTS = {
    "mailer-daemon",
    "postmaster",
    "mail-daemon",
    "mailerdaemon",
    "noreply",
    "no-reply",
    "do-not-reply",
    "donotreply",
    "bounce",
    "bounces",
}


# ---------------------------------------------------------------- acknowledgement


def _sender_of(inbound: Any) -> str:
    sender = getattr(inbound, "sender", None)
    address = getattr(sender, "email", None) if sender is not None else None
    return (address or "").strip()


def acknowledge(session: Session, ticket: Ticket, inbound_message: Any) -> str | None:
    """Queue "We received your request #N" for a new email ticket, in the caller's
    transaction, when its mailbox asks for it. `inbound_message` is the parsed mail
    (`ingest.model.Message`: sender, automation, message_id, references).

    Returns None when queued, else why not: acknowledgements off, a machine sender
    (Auto-Submitted, bulk, bounce, mailer-daemon: answering would loop), one of our own
    addresses, or this sender already got one within the hour.
    Side effects: a system message on the ticket and its outbox row (`Auto-Submitted:
    auto-replied`, so a well-behaved auto-responder on the other side stays quiet)."""
    mailbox = mailbox_for_ticket(session, ticket)
    if mailbox is None or not mailbox.send_acknowledgement:
        return "acknowledgements are off for this mailbox"
    automation = getattr(inbound_message, "automation", None)
    if automation is not None:
        return f"machine-generated mail ({automation.reason})"
    address = _sender_of(inbound_message)
    if not address or not valid_address(address):
        return "no usable sender address"
    local = address.split("@", 1)[0].lower()
    if local in _MACHINE_LOCALPARTS or local.startswith(("mailer-daemon", "bounce")):
        return f"machine sender {address}"
    own = {a.lower() for a in session.scalars(select(col(Mailbox.address)))}
    if address.lower() in own:
        return "sent from one of our own mailboxes"
    # One sender at a time: two jobs processes importing two mails of the same sender at once
    # must not both see "none in the last hour".
    session.execute(
        text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": f"ack:{address.lower()}"}
    )
    recent = session.execute(
        select(col(OutboundMessage.id))
        .where(
            col(OutboundMessage.kind) == OutboundKind.ACKNOWLEDGEMENT,
            col(OutboundMessage.recipient) == address.lower(),
            col(OutboundMessage.created_at) > utcnow() - ACK_WINDOW,
        )
        .limit(1)
    ).first()
    if recent is not None:
        return "this sender was acknowledged within the last hour"
    number = ticket.number or 0
    body = (
        f"Thank you for your message. We received your request and opened ticket #{number}; "
        "an adviser will answer you soon.\n\n"
        "To add anything, reply to this email and keep the ticket number in the subject.\n\n"
        f"{mailbox.display_name or mailbox.name}"
    )
    assert ticket.id is not None  # a stored ticket
    note = TicketMessage(
        ticket_id=ticket.id,
        sender_kind=SenderKind.SYSTEM,
        body_text=body,
        channel=CHANNEL,
        in_reply_to=getattr(inbound_message, "message_id", None),
        created_at=utcnow(),
    )
    session.add(note)
    session.flush()
    parent_id = getattr(inbound_message, "message_id", None)
    headers: dict[str, str] = {"Auto-Submitted": "auto-replied", "X-Auto-Response-Suppress": "All"}
    if parent_id:
        headers["In-Reply-To"] = parent_id
        headers["References"] = references_for(
            list(getattr(inbound_message, "references", None) or []), parent_id
        )
    _queue(
        session,
        ticket,
        note,
        kind=OutboundKind.ACKNOWLEDGEMENT,
        to=address,
        extra_headers=headers,
        subject=f"We received your request #{number}: {ticket.subject}"[:998],
    )
    session.flush()  # the next mail of this sender in the same batch must see it
    return None
