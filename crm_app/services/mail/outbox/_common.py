"""Where the email channel's mail goes out from (the mailbox, its From header) and the outbox
row every queued mail gets (`_queue`: replies and acknowledgements alike)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from email.utils import parseaddr

from sqlalchemy import select
from sqlmodel import Session, col

from crm_app.services.mail.compose import (
    from_header,
    new_message_id,
)
from crm_app.settings import Settings, get_settings
from models.mailbox import Mailbox
from models.outbox import OutboundMessage, OutboundStatus
from models.ticket import Channel, Ticket, TicketMessage

CHANNEL = Channel.EMAIL.value


# ---------------------------------------------------------------- where replies go out from


def mailbox_for_ticket(session: Session, ticket: Ticket) -> Mailbox | None:
    """The mailbox a ticket's replies are sent from: the one that received it, else the
    default mailbox; None means the product's own mail settings (CRM_SMTP_*, CRM_MAIL_FROM)."""
    mailbox_id = getattr(ticket, "mailbox_id", None)
    if mailbox_id is not None:
        mailbox = session.get(Mailbox, mailbox_id)
        if mailbox is not None and mailbox.enabled:
            return mailbox
    return session.execute(
        select(Mailbox)
        .where(col(Mailbox.is_default).is_(True), col(Mailbox.enabled).is_(True))
        .order_by(col(Mailbox.id))
        .limit(1)
    ).scalar_one_or_none()


def _sender(mailbox: Mailbox | _MailboxRef | None, settings: Settings) -> tuple[str, str]:
    """(From header, From address) for mail sent from `mailbox`."""
    if mailbox is not None:
        return from_header(mailbox.display_name or mailbox.name, mailbox.address), mailbox.address
    return settings.mail_from, parseaddr(settings.mail_from)[1] or "no-reply@localhost"


@dataclass(frozen=True)
class _MailboxRef:
    """The few mailbox columns sending needs (never its secrets)."""

    id: int
    name: str
    address: str
    display_name: str
    outbound: str


def _queue(
    session: Session,
    ticket: Ticket,
    message: TicketMessage,
    *,
    kind: str,
    to: str,
    extra_headers: dict[str, str],
    subject: str,
    cc: Sequence[str] = (),
) -> OutboundMessage:
    settings = get_settings()
    mailbox = mailbox_for_ticket(session, ticket)
    _, from_address = _sender(mailbox, settings)
    # Fixed now, before any send: every retry (and a resend after a crash) reuses it, so the
    # client's mail program shows one mail and their answer threads back to this message.
    message.external_message_id = new_message_id(from_address)
    message.channel = CHANNEL
    assert ticket.id is not None and message.id is not None  # the reply action flushed both
    row = OutboundMessage(
        ticket_id=ticket.id,
        message_id=message.id,
        channel=CHANNEL,
        kind=kind,
        mailbox_id=mailbox.id if mailbox else None,
        recipient=to.lower(),
        to_addrs=to,
        cc_addrs=", ".join(cc),
        subject=subject,
        headers={"Message-ID": message.external_message_id, **extra_headers},
        status=OutboundStatus.QUEUED,
    )
    session.add(row)
    return row
