"""Mail in: a fetched message becomes a ticket, or a message on one, or a recorded refusal.

`import_batch` is the one action of the mail intake, used by the `imap_poll` job and the
benchmark alike. For a batch of messages fetched from one folder it parses each through
`ingest` (the product's one MIME parser), then in ONE transaction: records every message in
`inbound_mail` (a unique Message-ID key: the same mail is never imported twice), threads or
opens tickets, matches or creates the sender's client, links the attachments, audits, and moves
the folder's poll position past the batch. A crash therefore loses nothing and repeats
nothing: either the batch and its new position are committed, or neither is. After the commit
it emits `ticket.created` / `message.added` (notifications, live updates).

Threading: In-Reply-To and References against the Message-IDs of the ticket's messages
(`TicketMessage.external_message_id`, sent replies included), then `[#number]` in the subject
(only when the sender is that ticket's client, so a stranger cannot write into someone else's
ticket), else a new ticket on the `email` channel, assigned by the round robin.

Never a ticket: auto-replies, bounces, mailer-daemon and delivery reports (`ingest.automation`),
mail from one of the firm's own mailbox addresses, and the same subject from the same sender
more than `LOOP_LIMIT` times within `LOOP_WINDOW` (a mail loop). Each is recorded as ignored
with its reason. A message the parser cannot read is kept: its raw bytes are stored under the
data folder and it is listed as a failed import with the parser's error (never retried).
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import tempfile
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlmodel import Session

from crm_app import routes
from crm_app.auth.permissions import SYSTEM
from crm_app.db import session_scope
from crm_app.services import assignment, attachments, audit, events
from crm_app.services.tickets.rows import MAX_BODY, apply_sla_targets, touch
from crm_app.settings import get_settings
from ingest import IngestError, parse_mime
from ingest.attachments import AttachmentWriter
from ingest.model import Message
from models.base import utcnow
from models.client import Client
from models.inbound_mail import InboundMail, InboundStatus
from models.mailbox import Mailbox, MailboxFolderState
from models.ticket import (
    Attachment,
    Channel,
    SenderKind,
    Ticket,
    TicketMessage,
    TicketStatus,
)

log = logging.getLogger(__name__)

FAILED_STORE = "mail-failed"  # raw bytes of messages that could not be imported
LOOP_LIMIT = 10  # the same subject from the same sender this often...
LOOP_WINDOW = timedelta(minutes=10)  # ...within this long is a mail loop
MAX_ATTACHMENTS = 100  # per message; more are listed in the body, not stored
_REPLY_PREFIX = re.compile(r"^\s*((re|fw|fwd|aw|wg|sv|vs|tr)\s*(\[\d+\])?\s*:\s*)+", re.IGNORECASE)
_REOPENED = (TicketStatus.PENDING.value, TicketStatus.RESOLVED.value)


@dataclass(frozen=True)
class FetchedMail:
    """One message as the server handed it over."""

    uid: int
    raw: bytes
    size: int | None = None  # RFC822.SIZE; None: len(raw)
    # Set when the message was not fetched (too large): it is recorded as failed with this.
    refused: str | None = None


@dataclass(frozen=True)
class MailboxRef:
    id: int
    name: str
    address: str


@dataclass
class BatchResult:
    imported: int = 0
    ignored: int = 0
    failed: int = 0
    duplicates: int = 0
    tickets_created: int = 0
    skipped: int = 0  # already recorded at this position (a replayed batch)
    events: list[events.Event] = field(default_factory=list)

    def add(self, other: BatchResult) -> None:
        for name in ("imported", "ignored", "failed", "duplicates", "tickets_created", "skipped"):
            setattr(self, name, getattr(self, name) + getattr(other, name))


# --- attachments: straight into the content-addressed store, with the size limit ----------------


class _StoreWriter:
    """Streams one attachment into `attachments/sha256/...`; past the size limit it keeps
    counting and hashing (ingest does that) but stores nothing."""

    def __init__(self, tmp_dir: Path, limit: int) -> None:
        tmp_dir.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=tmp_dir, prefix="mail-", suffix=".part")
        self._tmp = Path(name)
        self._file = os.fdopen(fd, "wb")
        self._limit = limit
        self._size = 0
        self.too_large = False

    def write(self, data: bytes) -> None:
        self._size += len(data)
        if self._size > self._limit:
            if not self.too_large:
                self.too_large = True
                self._file.close()
                self._tmp.unlink(missing_ok=True)
            return
        self._file.write(data)

    def finish(self, sha256: str) -> str | None:
        if self.too_large:
            return None
        self._file.close()
        target = attachments.blob_path(sha256)
        if target.exists():
            self._tmp.unlink(missing_ok=True)  # the same bytes are stored already
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            self._tmp.replace(target)
        return str(target)

    def abort(self) -> None:
        if not self._file.closed:
            self._file.close()
        self._tmp.unlink(missing_ok=True)


class StoreSink:
    """The ingest `AttachmentSink` of the mail intake."""

    def __init__(self) -> None:
        settings = get_settings()
        self.tmp_dir = settings.data_dir / attachments.STORE / "tmp"
        self.limit = settings.attachment_max_bytes

    def open(self, filename: str | None, content_type: str) -> AttachmentWriter:
        return _StoreWriter(self.tmp_dir, self.limit)


# --- parsing (outside any transaction) ----------------------------------------------------------


@dataclass
class _Parsed:
    mail: FetchedMail
    message: Message | None
    error: str | None
    key: str


def _raw_key(raw: bytes) -> str:
    return "raw:" + hashlib.sha256(raw).hexdigest()


def parse(mail: FetchedMail, *, source: str, folder: str, sink: StoreSink | None = None) -> _Parsed:
    """Parse one fetched message through ingest; a parser error is the result, never raised."""
    if mail.refused:
        return _Parsed(mail, None, mail.refused, _raw_key(mail.raw or str(mail.uid).encode()))
    try:
        message = parse_mime(mail.raw, source=source, folder=folder, position=mail.uid, sink=sink)
    except IngestError as error:
        return _Parsed(mail, None, error.reason, _raw_key(mail.raw))
    except Exception as error:  # the parser is robust; a bug there must still not lose mail
        log.exception("mail parser crashed", extra={"uid": mail.uid})
        return _Parsed(mail, None, f"parser crashed: {error!r}"[:300], _raw_key(mail.raw))
    return _Parsed(mail, message, None, message.dedup_key[:998])


def store_failed_raw(raw: bytes) -> str:
    """Keep an unimportable message's bytes under the data folder; returns the relative path."""
    data_dir = get_settings().data_dir
    digest = hashlib.sha256(raw).hexdigest()
    target = data_dir / FAILED_STORE / digest[:2] / f"{digest}.eml"
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{uuid.uuid4().hex}.part")
        tmp.write_bytes(raw)
        tmp.replace(target)
    return target.relative_to(data_dir).as_posix()


# --- the transaction ---------------------------------------------------------------------------


def import_batch(
    mailbox: MailboxRef,
    folder: str,
    uidvalidity: int,
    mails: Sequence[FetchedMail],
    *,
    last_uid: int | None = None,
) -> BatchResult:
    """Import `mails` (fetched from `folder`) and move the folder's position to `last_uid`
    (default: the highest UID of the batch), all in one transaction.

    Side effects: inbound_mail rows, tickets, messages, clients, attachments, audit entries,
    the mailbox's imported count; raw bytes of failed messages on disk. After the commit:
    `ticket.created` / `message.added` per imported message.
    """
    sink = StoreSink()
    source = f"mailbox {mailbox.name}"
    parsed = [parse(mail, source=source, folder=folder, sink=sink) for mail in mails]
    result = BatchResult()
    with session_scope() as session:
        own = {
            address.lower()
            for address in session.execute(select(Mailbox.address)).scalars()
            if address
        }
        done = set(
            session.execute(
                select(InboundMail.uid).where(
                    InboundMail.mailbox_id == mailbox.id,
                    InboundMail.folder == folder,
                    InboundMail.uidvalidity == uidvalidity,
                    InboundMail.uid.in_([mail.uid for mail in mails]),
                )
            ).scalars()
        )
        for item in parsed:
            if item.mail.uid in done:
                result.skipped += 1
                continue
            done.add(item.mail.uid)
            _import_one(session, mailbox, folder, uidvalidity, item, own, result)
        position = max((mail.uid for mail in mails), default=0)
        _advance(session, mailbox.id, folder, uidvalidity, max(last_uid or 0, position))
        if result.imported:
            session.execute(
                sa.update(Mailbox)
                .where(Mailbox.id == mailbox.id)
                .values(messages_imported=Mailbox.messages_imported + result.imported)
            )
    for event in result.events:
        events.emit(event)
    return result


def _advance(session: Session, mailbox_id: int, folder: str, uidvalidity: int, uid: int) -> None:
    now = utcnow()
    session.execute(
        insert(MailboxFolderState)
        .values(
            mailbox_id=mailbox_id,
            folder=folder,
            uidvalidity=uidvalidity,
            last_uid=uid,
            updated_at=now,
        )
        .on_conflict_do_update(
            index_elements=["mailbox_id", "folder"],
            set_={
                "uidvalidity": uidvalidity,
                # A changed UIDVALIDITY starts the count again; else the position only grows.
                "last_uid": sa.case(
                    (
                        MailboxFolderState.uidvalidity == uidvalidity,
                        sa.func.greatest(MailboxFolderState.last_uid, uid),
                    ),
                    else_=uid,
                ),
                "updated_at": now,
            },
        )
    )


def _record(
    session: Session,
    mailbox: MailboxRef,
    folder: str,
    uidvalidity: int,
    item: _Parsed,
    status: str,
    reason: str = "",
) -> int | None:
    """Insert the inbound row; None when the message key is taken (a duplicate)."""
    message = item.message
    values: dict[str, Any] = {
        "mailbox_id": mailbox.id,
        "folder": folder[:255],
        "uidvalidity": uidvalidity,
        "uid": item.mail.uid,
        "message_key": item.key,
        "message_id": (message.message_id or None)[:998]
        if message and message.message_id
        else None,
        "status": status,
        "reason": reason[:2000],
        "sender": ((message.sender.email if message and message.sender else "") or "")[:320],
        "subject": ((message.subject if message else "") or "")[:300],
        "size_bytes": item.mail.size if item.mail.size is not None else len(item.mail.raw),
        "created_at": utcnow(),
    }
    if status == InboundStatus.FAILED:
        values["raw_path"] = store_failed_raw(item.mail.raw)
    return session.execute(
        insert(InboundMail)
        .values(**values)
        .on_conflict_do_nothing(
            index_elements=["message_key"], index_where=sa.text("status <> 'duplicate'")
        )
        .returning(InboundMail.id)
    ).scalar_one_or_none()


def _record_duplicate(
    session: Session, mailbox: MailboxRef, folder: str, uidvalidity: int, item: _Parsed
) -> None:
    first = session.execute(
        select(InboundMail.id, InboundMail.status).where(
            InboundMail.message_key == item.key, InboundMail.status != InboundStatus.DUPLICATE
        )
    ).first()
    reason = f"already received (inbound #{first.id}, {first.status})" if first else "duplicate"
    session.execute(
        insert(InboundMail)
        .values(
            mailbox_id=mailbox.id,
            folder=folder[:255],
            uidvalidity=uidvalidity,
            uid=item.mail.uid,
            message_key=item.key,
            message_id=item.message.message_id[:998]
            if item.message and item.message.message_id
            else None,
            status=InboundStatus.DUPLICATE,
            reason=reason,
            sender=(
                (item.message.sender.email if item.message and item.message.sender else "") or ""
            )[:320],
            subject=((item.message.subject if item.message else "") or "")[:300],
            size_bytes=item.mail.size if item.mail.size is not None else len(item.mail.raw),
            created_at=utcnow(),
        )
        .on_conflict_do_nothing(constraint="uq_inbound_mail_position")
    )


def _import_one(
    session: Session,
    mailbox: MailboxRef,
    folder: str,
    uidvalidity: int,
    item: _Parsed,
    own_addresses: set[str],
    result: BatchResult,
) -> None:
    if item.message is None:
        if (
            _record(
                session,
                mailbox,
                folder,
                uidvalidity,
                item,
                InboundStatus.FAILED,
                item.error or "unparseable",
            )
            is None
        ):
            _record_duplicate(session, mailbox, folder, uidvalidity, item)
            result.duplicates += 1
        else:
            result.failed += 1
        return
    message = item.message
    ignore = _ignore_reason(session, message, own_addresses)
    status = InboundStatus.IGNORED if ignore else InboundStatus.IMPORTED
    inbound_id = _record(session, mailbox, folder, uidvalidity, item, status, ignore or "")
    if inbound_id is None:
        _record_duplicate(session, mailbox, folder, uidvalidity, item)
        result.duplicates += 1
        return
    if ignore:
        result.ignored += 1
        return
    savepoint = session.begin_nested()
    try:
        ticket_id, message_id, event, created = _deliver(session, mailbox, message)
        savepoint.commit()
    except Exception as error:  # bad data must not take the batch down: keep it as failed
        savepoint.rollback()
        log.exception("mail import failed", extra={"uid": item.mail.uid, "folder": folder})
        session.execute(
            sa.update(InboundMail)
            .where(InboundMail.id == inbound_id)
            .values(
                status=InboundStatus.FAILED,
                reason=f"could not be imported: {error!r}"[:2000],
                raw_path=store_failed_raw(item.mail.raw),
            )
        )
        result.failed += 1
        return
    session.execute(
        sa.update(InboundMail)
        .where(InboundMail.id == inbound_id)
        .values(
            ticket_id=ticket_id,
            ticket_message_id=message_id,
            reason="new ticket" if created else "added to ticket",
        )
    )
    result.imported += 1
    result.tickets_created += int(created)
    result.events.append(event)


def _ignore_reason(session: Session, message: Message, own_addresses: set[str]) -> str | None:
    if message.automation is not None:
        return f"{message.automation.kind}: {message.automation.reason}"
    sender = (message.sender.email if message.sender else "").lower()
    if sender and sender in own_addresses:
        return f"loop: sent from the firm's own mailbox {sender}"
    if sender:
        subject = _REPLY_PREFIX.sub("", message.subject or "").strip()[:300]
        recent = session.execute(
            select(func.count())
            .select_from(InboundMail)
            .where(
                InboundMail.sender == sender[:320],
                InboundMail.created_at >= utcnow() - LOOP_WINDOW,
                InboundMail.status == InboundStatus.IMPORTED,
                func.regexp_replace(
                    InboundMail.subject, r"^\s*((re|fw|fwd|aw|wg|sv|vs|tr)\s*:\s*)+", "", "i"
                )
                == subject,
            )
        ).scalar_one()
        if recent >= LOOP_LIMIT:
            return (
                f"loop: {recent} messages with this subject from {sender} in the last "
                f"{int(LOOP_WINDOW.total_seconds() // 60)} minutes"
            )
    return None


def _thread_target(session: Session, message: Message, sender: str) -> Ticket | None:
    """The open ticket this mail answers, by its headers, then by `[#number]`."""
    ids = [mid for mid in [message.in_reply_to, *reversed(message.references)] if mid]
    ticket: Ticket | None = None
    if ids:
        found = session.execute(
            select(TicketMessage.ticket_id, TicketMessage.external_message_id).where(
                TicketMessage.external_message_id.in_(ids[:100])
            )
        ).all()
        if found:
            rank = {mid: index for index, mid in enumerate(ids)}
            best = min(found, key=lambda row: rank.get(row.external_message_id, len(ids)))
            ticket = session.get(Ticket, best.ticket_id)
    if ticket is None and message.ticket_number is not None:
        candidate = session.execute(
            select(Ticket).where(Ticket.number == message.ticket_number)
        ).scalar_one_or_none()
        if candidate is not None and _is_ticket_client(session, candidate, sender):
            ticket = candidate
    for _ in range(10):  # a merged ticket lives on in the one it was merged into
        if ticket is None or ticket.merged_into_id is None:
            break
        ticket = session.get(Ticket, ticket.merged_into_id)
    if ticket is None or ticket.status == TicketStatus.CLOSED:
        return None
    return session.execute(
        select(Ticket).where(Ticket.id == ticket.id).with_for_update()
    ).scalar_one()


def _is_ticket_client(session: Session, ticket: Ticket, sender: str) -> bool:
    if ticket.client_id is None or not sender:
        return False
    client = session.get(Client, ticket.client_id)
    if client is None:
        return False
    known = {(client.email or "").lower(), *(e.lower() for e in client.other_emails or [])}
    return sender in known


def _client_for(session: Session, message: Message) -> tuple[Client | None, bool]:
    """The sender's client (found by address), else a new unverified one; (client, created)."""
    if message.sender is None or not message.sender.email or "@" not in message.sender.email:
        return None, False
    email = message.sender.email.strip()[:320]
    client = session.execute(
        select(Client)
        .where(
            func.lower(Client.email) == email.lower(),
            Client.deleted_at.is_(None),
            Client.erased_at.is_(None),
        )
        .order_by(Client.verified.desc(), Client.id)
        .limit(1)
    ).scalar_one_or_none()
    if client is not None:
        while client.merged_into_id is not None:
            merged = session.get(Client, client.merged_into_id)
            if merged is None:
                break
            client = merged
        return client, False
    now = utcnow()
    client = Client(
        name=(message.sender.name or email.split("@", 1)[0])[:200],
        email=email,
        verified=False,
        created_at=now,
        updated_at=now,
    )
    session.add(client)
    session.flush()
    audit.record(
        session,
        SYSTEM,
        "client.created",
        "client",
        client.id,
        {"name": client.name, "email": email, "source": "email", "verified": False},
    )
    return client, True


def _texts(message: Message) -> tuple[str, str | None]:
    """The new text of the mail and what is folded away (quoted history, signature)."""
    full = (message.text_body or "").strip()
    reply = (message.reply_text or "").strip()
    if not reply or reply == full:
        return full[:MAX_BODY], None
    rest = full.replace(reply, "", 1).strip() if reply in full else full
    if message.signature and message.signature not in rest:
        rest = f"{message.signature}\n\n{rest}".strip()
    return reply[:MAX_BODY], (rest[:MAX_BODY] or None)


def _deliver(
    session: Session, mailbox: MailboxRef, message: Message
) -> tuple[int, int, events.Event, bool]:
    """Thread or open the ticket and add the message; returns (ticket id, message id, event,
    whether a ticket was created)."""
    sender = (message.sender.email if message.sender else "").lower()
    now = utcnow()
    ticket = _thread_target(session, message, sender)
    created = ticket is None
    client: Client | None = None
    if ticket is None:
        client, _ = _client_for(session, message)
        subject = " ".join((message.subject or "").split())[:300] or "(no subject)"
        assignee_id = assignment.next_agent(session)
        ticket = Ticket(
            subject=subject,
            channel=Channel.EMAIL,
            client_id=client.id if client else None,
            assignee_id=assignee_id,
            mailbox_id=mailbox.id,
            is_unread=True,
            created_at=now,
            updated_at=now,
        )
        apply_sla_targets(session, ticket)
        session.add(ticket)
        session.flush()
        session.refresh(ticket, ["number"])
    else:
        client = session.get(Client, ticket.client_id) if ticket.client_id else None
        touch(ticket, now)
        ticket.is_unread = True
        if ticket.status in _REOPENED:
            ticket.status = TicketStatus.OPEN
            ticket.resolved_at = None
        if ticket.mailbox_id is None:
            ticket.mailbox_id = mailbox.id
    body_text, quoted = _texts(message)
    row = TicketMessage(
        ticket_id=ticket.id,
        sender_kind=SenderKind.CLIENT,
        body_text=body_text,
        quoted_text=quoted,
        channel=Channel.EMAIL,
        external_message_id=(message.message_id or None) and message.message_id[:998],
        in_reply_to=(message.in_reply_to or None) and message.in_reply_to[:998],
        references=" ".join(message.references) or None,
        created_at=now,
    )
    session.add(row)
    session.flush()
    body_html, notes = _link_attachments(session, row.id, message)
    if notes:
        row.body_text = (row.body_text + "\n\n" + "\n".join(notes)).strip()[:MAX_BODY]
    row.body_html = body_html
    details: dict[str, Any] = {
        "number": ticket.number,
        "channel": Channel.EMAIL.value,
        "mailbox": mailbox.address,
        "from": sender,
        "message_id": row.id,
    }
    if created:
        details.update(subject=ticket.subject, assignee_id=ticket.assignee_id)
        if ticket.assignee_id is not None:
            details["round_robin"] = True
        audit.record(session, SYSTEM, "ticket.created", "ticket", ticket.id, details)
        event = events.Event(
            "ticket.created",
            actor=SYSTEM,
            ticket_id=ticket.id,
            number=ticket.number,
            subject=ticket.subject,
            payload={
                "assignee_id": ticket.assignee_id,
                "channel": Channel.EMAIL.value,
                "message_id": row.id,
                "mailbox_id": mailbox.id,
            },
        )
    else:
        audit.record(session, SYSTEM, "ticket.message_added", "ticket", ticket.id, details)
        event = events.Event(
            "message.added",
            actor=SYSTEM,
            ticket_id=ticket.id,
            number=ticket.number,
            subject=ticket.subject,
            payload={
                "message_id": row.id,
                "internal": False,
                "from_client": True,
                "body": row.body_text,
                "channel": Channel.EMAIL.value,
                "assignee_id": ticket.assignee_id,
                "client_name": client.name
                if client
                else (message.sender.name if message.sender else ""),
                "mailbox_id": mailbox.id,
            },
        )
    return ticket.id, row.id, event, created


def _link_attachments(
    session: Session, message_row_id: int, message: Message
) -> tuple[str | None, list[str]]:
    """Attachment rows for the stored parts; the HTML with `cid:` pointing at them; and notes
    for the parts not kept (too large, unreadable)."""
    limit = get_settings().attachment_max_bytes
    html = message.html_body
    notes: list[str] = []
    stored = 0
    data_dir = get_settings().data_dir
    for part in message.attachments:
        name = attachments.clean_filename(part.filename or _default_name(part.content_type))
        if part.location is None or not part.sha256:
            if part.size > limit:
                notes.append(
                    f"[“{name}” ({attachments.size_label(part.size)}) is larger than "
                    f"{attachments.size_label(limit)} and was not kept]"
                )
            elif part.error:
                notes.append(f"[“{name}” could not be read: {part.error[:120]}]")
            continue
        if stored >= MAX_ATTACHMENTS:
            notes.append(f"[“{name}” not kept: more than {MAX_ATTACHMENTS} attachments]")
            continue
        path = attachments.blob_path(part.sha256)
        attachment = Attachment(
            message_id=message_row_id,
            filename=name,
            content_type=(part.content_type or "application/octet-stream")[:255],
            size_bytes=part.size,
            sha256=part.sha256,
            storage_path=path.relative_to(data_dir).as_posix(),
            content_id=(part.content_id or None) and part.content_id[:255],
            is_inline=bool(part.is_inline and part.content_id),
        )
        session.add(attachment)
        session.flush()
        stored += 1
        if html and part.content_id:
            url = routes.attachment(attachment.id)
            html = re.sub(r"(?i)cid:" + re.escape(part.content_id) + r"(?=[\"'\s>])", url, html)
    return html, notes


def _default_name(content_type: str) -> str:
    main, _, sub = (content_type or "application/octet-stream").partition("/")
    return f"{main or 'attachment'}.{sub or 'bin'}"
