"""A client's message from a messaging channel (WhatsApp, web chat) onto its ticket: the one
write both channels share, inside the caller's transaction, and the events after its commit."""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlmodel import Session

from crm_app.services import assignment, attachments, audit, events, sla
from crm_app.services.tickets.rows import MAX_BODY, touch
from crm_app.settings import get_settings
from models.client import Client
from models.ticket import Attachment, SenderKind, Ticket, TicketMessage, TicketStatus


@dataclass(frozen=True)
class MediaFile:
    filename: str
    content_type: str
    data: bytes


@dataclass(frozen=True)
class StoredMessage:
    ticket_id: int
    number: int
    subject: str
    assignee_id: int | None
    client_name: str
    message_id: int
    body: str
    channel: str
    new_ticket: bool


def subject_from(body: str, fallback: str) -> str:
    first = " ".join((body or "").split())
    if first:
        return (first[:77] + "…") if len(first) > 80 else first
    return fallback[:300]


def _store_blob(data: bytes) -> str:
    digest = hashlib.sha256(data).hexdigest()
    target = attachments.blob_path(digest)
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=target.parent, suffix=".part", delete=False) as tmp:
            tmp.write(data)
        Path(tmp.name).replace(target)
    return digest


def add_client_message(
    session: Session,
    *,
    channel: str,
    client: Client,
    ticket: Ticket | None,
    subject: str,
    body: str,
    now: datetime,
    external_id: str | None = None,
    media: Sequence[MediaFile] = (),
    audit_extra: dict[str, Any] | None = None,
) -> StoredMessage:
    """Continue `ticket` (None: open a new one, round-robin assigned when on, SLA clocks
    started) with the client's message and its files; audited by the system."""
    new_ticket = ticket is None
    if ticket is None:
        ticket = Ticket(
            subject=subject[:300],
            channel=channel,
            client_id=client.id,
            assignee_id=assignment.next_agent(session),
            is_unread=True,
            created_at=now,
            updated_at=now,
        )
        session.add(ticket)
        session.flush()
        sla.on_ticket_event(session, ticket, now, created=True, message="client")
    else:
        status_before, priority_before = ticket.status, ticket.priority
        touch(ticket, now)
        ticket.is_unread = True
        if ticket.status in (TicketStatus.PENDING, TicketStatus.RESOLVED):
            ticket.status = TicketStatus.OPEN
        sla.on_ticket_event(
            session,
            ticket,
            now,
            status_before=status_before,
            priority_before=priority_before,
            message="client",
        )
    body = body[:MAX_BODY]
    assert ticket.id is not None  # a stored ticket
    stored = TicketMessage(
        ticket_id=ticket.id,
        sender_kind=SenderKind.CLIENT,
        body_text=body,
        channel=channel,
        external_message_id=external_id[:998] if external_id else None,
        created_at=now,
    )
    session.add(stored)
    session.flush()
    assert stored.id is not None
    limit = get_settings().attachment_max_bytes
    kept = 0
    for item in media:
        if len(item.data) > limit:
            continue
        digest = _store_blob(item.data)
        session.add(
            Attachment(
                message_id=stored.id,
                filename=attachments.clean_filename(item.filename),
                content_type=item.content_type[:255] or "application/octet-stream",
                size_bytes=len(item.data),
                sha256=digest,
                storage_path=attachments.blob_path(digest)
                .relative_to(get_settings().data_dir)
                .as_posix(),
            )
        )
        kept += 1
    session.refresh(ticket)
    assert ticket.number is not None  # given by the database
    record: dict[str, Any] = {"message_id": stored.id, "channel": channel, **(audit_extra or {})}
    if kept:
        record["attachments"] = kept
    if new_ticket:
        record.update(number=ticket.number, subject=ticket.subject)
    audit.record(
        session,
        None,
        "ticket.created" if new_ticket else "ticket.message_added",
        "ticket",
        ticket.id,
        record,
    )
    return StoredMessage(
        ticket_id=ticket.id,
        number=ticket.number,
        subject=ticket.subject,
        assignee_id=ticket.assignee_id,
        client_name=client.name,
        message_id=stored.id,
        body=body,
        channel=channel,
        new_ticket=new_ticket,
    )


def emit_client_message(stored: StoredMessage) -> None:
    """After the commit: `ticket.created` for a new ticket, then `message.added`."""
    if stored.new_ticket:
        events.emit(
            events.Event(
                "ticket.created",
                actor=None,
                ticket_id=stored.ticket_id,
                number=stored.number,
                subject=stored.subject,
                payload={"assignee_id": stored.assignee_id},
            )
        )
    events.emit(
        events.Event(
            "message.added",
            actor=None,
            ticket_id=stored.ticket_id,
            number=stored.number,
            subject=stored.subject,
            payload={
                "message_id": stored.message_id,
                "internal": False,
                "from_client": True,
                "body": stored.body,
                "channel": stored.channel,
                "queued_for_delivery": False,
                "assignee_id": stored.assignee_id,
                "client_name": stored.client_name,
            },
        )
    )
