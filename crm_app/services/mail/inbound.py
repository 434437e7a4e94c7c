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
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlmodel import Session, col

from crm_app import routes
from crm_app.auth.permissions import SYSTEM
from crm_app.db import session_scope
from crm_app.services import assignment, attachments, audit, bulk, events
from crm_app.services import sla as sla_service
from crm_app.services.mail import outbox
from crm_app.services.tickets.rows import MAX_BODY
from crm_app.settings import get_settings
from ingest import IngestError, parse_mime
from ingest.attachments import AttachmentWriter
from ingest.model import Message
from models.base import utcnow
from models.client import Client
from models.inbound_mail import InboundMail, InboundStatus
from models.mailbox import Mailbox, MailboxFolderState
from models.sla import SlaConfig
from models.ticket import (
    Attachment,
    Channel,
    SenderKind,
    Ticket,
    TicketMessage,
    TicketPriority,
    TicketStatus,
)
from models.workspace import AssignmentSetting

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
        self.events.extend(other.events)


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

    @property
    def parsed(self) -> Message:
        """The message of an item that parsed (every message the delivery gets did)."""
        assert self.message is not None
        return self.message


ParsedMail = _Parsed  # what `parse_batch` returns, for the poller's parse workers


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


def parse_batch(mailbox_name: str, folder: str, mails: Sequence[FetchedMail]) -> list[ParsedMail]:
    """Parse a fetched batch, in order (attachments go straight into the store). Pure apart
    from the attachment files: safe to run in a worker process."""
    sink = StoreSink()
    source = f"mailbox {mailbox_name}"
    return [parse(mail, source=source, folder=folder, sink=sink) for mail in mails]


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
# --- the transaction ---------------------------------------------------------------------------


def import_batch(
    mailbox: MailboxRef,
    folder: str,
    uidvalidity: int,
    mails: Sequence[FetchedMail],
    *,
    last_uid: int | None = None,
    emit: Callable[[list[events.Event]], None] | None = None,
    parsed: Sequence[_Parsed] | None = None,
) -> BatchResult:
    """Import `mails` (fetched from `folder`) and move the folder's position to `last_uid`
    (default: the highest UID of the batch), all in one transaction.

    `parsed`: the batch already through `parse_batch` (the poller parses the next batch in
    worker processes while this one is written); default: parsed here.

    `emit` receives the committed batch's events (default: `events.emit` each, right away;
    the poller hands them to a thread of their own so the next batch need not wait).

    The batch is written set-wise (a few statements for the whole batch). Should that fail
    (bad data the parser let through), the batch is imported again message by message, and a
    message that still cannot be written is recorded as failed with its raw bytes kept.
    Side effects: inbound_mail rows, tickets, messages, clients, attachments, audit entries,
    the mailbox's imported count; raw bytes of failed messages on disk. After the commit:
    `ticket.created` / `message.added` per imported message.
    """
    if parsed is None:
        parsed = parse_batch(mailbox.name, folder, mails)
    position = max([last_uid or 0, *(mail.uid for mail in mails)])
    try:
        result = _import(mailbox, folder, uidvalidity, list(parsed), position)
    except Exception:
        log.exception("mail batch failed; importing one by one", extra={"folder": folder})
        result = BatchResult()
        for item in parsed:
            try:
                try:
                    result.add(_import(mailbox, folder, uidvalidity, [item], 0))
                except sa.exc.IntegrityError:
                    # Another transaction took its key meanwhile: now it is a duplicate.
                    result.add(_import(mailbox, folder, uidvalidity, [item], 0))
            except Exception as error:
                log.exception("mail import failed", extra={"uid": item.mail.uid})
                failed = _Parsed(
                    item.mail, None, f"could not be imported: {error!r}"[:500], item.key
                )
                result.add(_import(mailbox, folder, uidvalidity, [failed], 0))
        with session_scope() as session:
            _advance(session, mailbox.id, folder, uidvalidity, position)
    if emit is not None:
        emit(list(result.events))
    else:
        events.emit_all(result.events)
    return result


def _import(
    mailbox: MailboxRef, folder: str, uidvalidity: int, parsed: list[_Parsed], position: int
) -> BatchResult:
    result = BatchResult()
    with session_scope() as session, session.no_autoflush:
        done = set(
            session.execute(
                select(col(InboundMail.uid)).where(
                    col(InboundMail.mailbox_id) == mailbox.id,
                    col(InboundMail.folder) == folder,
                    col(InboundMail.uidvalidity) == uidvalidity,
                    col(InboundMail.uid).in_([item.mail.uid for item in parsed]),
                )
            ).scalars()
        )
        todo: list[_Parsed] = []
        for item in parsed:
            if item.mail.uid in done:
                result.skipped += 1
            else:
                done.add(item.mail.uid)
                todo.append(item)
        if todo:
            decisions = _decide(session, todo)
            holders = _holders(session, todo)
            wanted = []
            for item in todo:
                status = decisions[item.mail.uid][0]
                if item.mail.uid in holders:
                    result.duplicates += 1
                elif status == InboundStatus.FAILED:
                    result.failed += 1
                elif status == InboundStatus.IGNORED:
                    result.ignored += 1
                else:
                    wanted.append(item)
            outcomes: dict[int, tuple[int, int, str]] = {}
            if wanted:
                outcomes = _Delivery(session, mailbox, wanted, result).run()
            _record(session, mailbox, folder, uidvalidity, todo, decisions, holders, outcomes)
        if position:
            _advance(session, mailbox.id, folder, uidvalidity, position)
        if result.imported:
            session.execute(
                sa.update(Mailbox)
                .where(col(Mailbox.id) == mailbox.id)
                .values(messages_imported=col(Mailbox.messages_imported) + result.imported)
            )
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
                        col(MailboxFolderState.uidvalidity) == uidvalidity,
                        sa.func.greatest(col(MailboxFolderState.last_uid), uid),
                    ),
                    else_=uid,
                ),
                "updated_at": now,
            },
        )
    )


def _loop_subject(subject: str) -> str:
    return _REPLY_PREFIX.sub("", subject or "").strip()[:300].lower()


def _sender(item: _Parsed) -> str:
    message = item.message
    return ((message.sender.email if message and message.sender else "") or "").lower()[:320]


def _decide(session: Session, todo: list[_Parsed]) -> dict[int, tuple[str, str]]:
    """Status and reason per UID: failed, ignored (machine mail, own address, loop) or import."""
    own = {address.lower() for address in session.scalars(select(col(Mailbox.address)))}
    senders = {_sender(item) for item in todo if item.message is not None} - {""}
    seen: dict[tuple[str, str], int] = {}
    if senders:
        for sender, subject in session.execute(
            select(col(InboundMail.sender), col(InboundMail.subject)).where(
                col(InboundMail.sender).in_(senders),
                col(InboundMail.created_at) >= utcnow() - LOOP_WINDOW,
                col(InboundMail.status) == InboundStatus.IMPORTED,
            )
        ).tuples():
            key = (sender, _loop_subject(subject))
            seen[key] = seen.get(key, 0) + 1
    decisions: dict[int, tuple[str, str]] = {}
    minutes = int(LOOP_WINDOW.total_seconds() // 60)
    for item in todo:
        message, sender = item.message, _sender(item)
        if message is None:
            decisions[item.mail.uid] = (InboundStatus.FAILED, item.error or "unparseable")
        elif message.automation is not None:
            reason = f"{message.automation.kind}: {message.automation.reason}"
            decisions[item.mail.uid] = (InboundStatus.IGNORED, reason)
        elif sender and sender in own:
            reason = f"loop: sent from the firm's own mailbox {sender}"
            decisions[item.mail.uid] = (InboundStatus.IGNORED, reason)
        else:
            key = (sender, _loop_subject(message.subject))
            count = seen.get(key, 0)
            if sender and count >= LOOP_LIMIT:
                reason = (
                    f"loop: {count} messages with this subject from {sender} in the last "
                    f"{minutes} minutes"
                )
                decisions[item.mail.uid] = (InboundStatus.IGNORED, reason)
            else:
                seen[key] = count + 1
                decisions[item.mail.uid] = (InboundStatus.IMPORTED, "")
    return decisions


def _holders(session: Session, todo: list[_Parsed]) -> dict[int, str]:
    """UID -> why it is a duplicate, for the messages whose key another record holds (earlier,
    or earlier in this batch). The unique index on the key is the guarantee: a concurrent
    transaction that took a key meanwhile makes this batch's insert fail, and the batch is
    then imported again one by one, where that message shows up here."""
    taken = dict(
        session.execute(
            select(col(InboundMail.message_key), col(InboundMail.id)).where(
                col(InboundMail.message_key).in_({item.key for item in todo}),
                col(InboundMail.status) != InboundStatus.DUPLICATE,
            )
        ).all()
    )
    holders: dict[int, str] = {}
    first_in_batch: dict[str, int] = {}
    for item in todo:
        if item.key in taken:
            holders[item.mail.uid] = f"already received (inbound #{taken[item.key]})"
        elif item.key in first_in_batch:
            holders[item.mail.uid] = f"already received (UID {first_in_batch[item.key]})"
        else:
            first_in_batch[item.key] = item.mail.uid
    return holders


def _record(
    session: Session,
    mailbox: MailboxRef,
    folder: str,
    uidvalidity: int,
    todo: list[_Parsed],
    decisions: dict[int, tuple[str, str]],
    holders: dict[int, str],
    outcomes: dict[int, tuple[int, int, str]],
) -> None:
    """One inbound row per message, with what became of it (one statement for the batch)."""
    now = utcnow()
    rows = []
    for item in todo:
        uid, message = item.mail.uid, item.message
        status, reason = decisions[uid]
        ticket_id = message_row_id = None
        if uid in holders:
            status, reason = InboundStatus.DUPLICATE, holders[uid]
        elif uid in outcomes:
            ticket_id, message_row_id, reason = outcomes[uid]
        rows.append(
            {
                "mailbox_id": mailbox.id,
                "folder": folder[:255],
                "uidvalidity": uidvalidity,
                "uid": uid,
                "message_key": item.key,
                "message_id": message.message_id[:998] if message and message.message_id else None,
                "status": status,
                "reason": reason[:2000],
                "sender": _sender(item),
                "subject": ((message.subject if message else "") or "")[:300],
                "size_bytes": item.mail.size if item.mail.size is not None else len(item.mail.raw),
                "raw_path": store_failed_raw(item.mail.raw)
                if status == InboundStatus.FAILED
                else None,
                "ticket_id": ticket_id,
                "ticket_message_id": message_row_id,
                "created_at": now,
            }
        )
    bulk.insert_rows(session, InboundMail.__tablename__, rows)


@dataclass(frozen=True)
class _ClientRef:
    """The client columns the intake uses."""

    id: int
    name: str
    email: str | None
    merged_into_id: int | None
    net_worth_reporting: Any


@dataclass
class _OpenedTicket:
    id: int
    number: int
    subject: str
    assignee_id: int | None


@dataclass(frozen=True)
class _AckTicket:
    """The ticket columns `outbox.acknowledge` reads (no ORM load per new ticket)."""

    id: int
    number: int
    subject: str
    mailbox_id: int


class _NewTicket:
    """A ticket this batch opens (its row is written once the batch's clients exist)."""

    def __init__(self, item: _Parsed) -> None:
        self.item = item
        self.ticket: _OpenedTicket | None = None

    @property
    def opened(self) -> _OpenedTicket:
        """The ticket row, once `_open_tickets` wrote it."""
        assert self.ticket is not None
        return self.ticket


class _Delivery:
    """Thread, open tickets, add messages and attachments for the batch's wanted messages."""

    def __init__(
        self,
        session: Session,
        mailbox: MailboxRef,
        wanted: list[_Parsed],
        result: BatchResult,
    ) -> None:
        self.session = session
        self.mailbox = mailbox
        self.wanted = wanted
        self.result = result
        # UID -> (ticket id, message id, what happened), for the inbound record.
        self.outcomes: dict[int, tuple[int, int, str]] = {}
        self.now = utcnow()

    def run(self) -> dict[int, tuple[int, int, str]]:
        targets = self._targets()
        clients = self._clients([t for t in targets.values() if isinstance(t, _NewTicket)])
        new_tickets = self._open_tickets(targets, clients)
        self._messages(targets)
        rows = self.message_rows
        touched = {t for t in targets.values() if isinstance(t, int)}
        self._touch(touched)
        self._follow_up(new_tickets)
        self._audit_and_events(targets, rows, new_tickets, clients)
        return self.outcomes

    def _follow_up(self, new: list[_NewTicket]) -> None:
        """The mailbox's acknowledgement for each new ticket when it sends them, in the batch's
        transaction (never to a machine sender or a loop: `outbox.acknowledge` decides and says
        why). The SLA clocks were written with the tickets (`_open_tickets`)."""
        if not new:
            return
        probe = _AckTicket(0, 0, "", self.mailbox.id)
        mailbox = outbox.mailbox_for_ticket(self.session, probe)  # type: ignore[arg-type]
        if mailbox is None or not mailbox.send_acknowledgement:
            return  # the same answer for every ticket of the batch: asked once
        for target in new:
            assert target.ticket is not None
            opened = target.ticket
            ticket = _AckTicket(opened.id, opened.number, opened.subject, self.mailbox.id)
            skipped = outbox.acknowledge(self.session, ticket, target.item.message)  # type: ignore[arg-type]
            if skipped:
                log.debug("no acknowledgement for #%s: %s", opened.number, skipped)

    # Which ticket each message goes to: an existing id, or a _NewTicket.
    def _targets(self) -> dict[int, int | _NewTicket]:
        session = self.session
        refs = {
            mid
            for item in self.wanted
            for mid in [item.parsed.in_reply_to, *item.parsed.references]
            if mid
        }
        by_message_id: dict[str, int | _NewTicket] = {}
        if refs:
            by_message_id.update(
                (mid, ticket_id)
                for ticket_id, mid in session.execute(
                    select(col(TicketMessage.ticket_id), col(TicketMessage.external_message_id))
                    .where(col(TicketMessage.external_message_id).in_(refs))
                    .order_by(col(TicketMessage.id))
                ).tuples()
            )
        numbers = {item.parsed.ticket_number for item in self.wanted} - {None}
        by_number: dict[int, int] = {}
        if numbers:
            by_number = dict(
                session.execute(
                    select(col(Ticket.number), col(Ticket.id)).where(
                        col(Ticket.number).in_(numbers)
                    )
                ).all()
            )
        known = {t for t in by_message_id.values() if isinstance(t, int)} | set(by_number.values())
        self.tickets = self._ticket_facts(known)
        targets: dict[int, int | _NewTicket] = {}
        for item in self.wanted:
            message, sender = item.parsed, _sender(item)
            target: int | _NewTicket | None = None
            for mid in [message.in_reply_to, *reversed(message.references)]:
                if mid and mid in by_message_id:
                    target = by_message_id[mid]
                    break
            if (
                target is None
                and message.ticket_number is not None
                and message.ticket_number in by_number
            ):
                candidate = by_number[message.ticket_number]
                if sender and sender in self.tickets.get(candidate, {}).get("emails", ()):
                    target = candidate
            if isinstance(target, int):
                target = self._live(target)
            if target is None:
                target = _NewTicket(item)
            targets[item.mail.uid] = target
            if message.message_id:
                by_message_id.setdefault(message.message_id, target)
        return targets

    def _ticket_facts(self, ids: set[int]) -> dict[int, dict[str, Any]]:
        """Status, merge target and the client's addresses of the tickets mail may go to."""
        facts: dict[int, dict[str, Any]] = {}
        pending = set(ids)
        for _ in range(5):  # merged tickets point on; a chain is short
            pending -= set(facts)
            if not pending:
                break
            for row in self.session.execute(
                select(
                    col(Ticket.id),
                    col(Ticket.status),
                    col(Ticket.merged_into_id),
                    col(Ticket.client_id),
                    col(Client.email),
                    col(Client.other_emails),
                )
                .outerjoin(Client, col(Client.id) == col(Ticket.client_id))
                .where(col(Ticket.id).in_(pending))
            ).all():
                emails = {(row.email or "").lower(), *(e.lower() for e in row.other_emails or [])}
                facts[row.id] = {
                    "status": row.status,
                    "merged_into": row.merged_into_id,
                    "client_id": row.client_id,
                    "emails": emails - {""},
                }
            pending = {f["merged_into"] for f in facts.values() if f["merged_into"]} - set(facts)
        return facts

    def _live(self, ticket_id: int) -> int | None:
        """Follow merges; a closed ticket takes no more mail (a new one opens)."""
        for _ in range(5):
            fact = self.tickets.get(ticket_id)
            if fact is None:
                return None
            if fact["merged_into"] is None:
                return None if fact["status"] == TicketStatus.CLOSED else ticket_id
            ticket_id = fact["merged_into"]
        return None

    def _clients(self, new: list[_NewTicket]) -> dict[str, _ClientRef]:
        """Sender address -> client, creating unverified clients for unknown senders (columns
        read and rows written set-wise: a batch meets hundreds of senders)."""
        emails = {_sender(t.item) for t in new} - {""}
        emails = {e for e in emails if "@" in e}
        found: dict[str, _ClientRef] = {}
        columns = (
            col(Client.id),
            col(Client.name),
            col(Client.email),
            col(Client.merged_into_id),
            col(Client.net_worth_reporting),
        )
        if emails:
            for row in self.session.execute(
                select(*columns)
                .where(
                    func.lower(col(Client.email)).in_(emails),
                    col(Client.deleted_at).is_(None),
                    col(Client.erased_at).is_(None),
                )
                .order_by(col(Client.verified).desc(), col(Client.id))
            ).all():
                found.setdefault((row.email or "").lower(), _ClientRef(*row._tuple()))
        merged = {c.merged_into_id for c in found.values() if c.merged_into_id}
        if merged:
            into = {
                row.id: _ClientRef(*row._tuple())
                for row in self.session.execute(
                    select(*columns).where(col(Client.id).in_(merged))
                ).all()
            }
            for email, client in list(found.items()):
                if client.merged_into_id in into:
                    found[email] = into[client.merged_into_id]
        self.created_clients: list[_ClientRef] = []
        rows: list[dict[str, Any]] = []
        wanted: list[str] = []
        for ticket in new:
            email = _sender(ticket.item)
            if email and "@" in email and email not in found and email not in wanted:
                sender = ticket.item.parsed.sender
                rows.append(
                    {
                        "name": ((sender.name if sender else "") or email.split("@", 1)[0])[:200],
                        "email": sender.email.strip()[:320] if sender else email,
                        "verified": False,
                        "created_at": self.now,
                        "updated_at": self.now,
                    }
                )
                wanted.append(email)
        if rows:
            table = Client.__table__  # type: ignore[attr-defined]  # SQLModel's metaclass sets it
            ids = self.session.scalars(
                sa.insert(table).returning(table.c.id, sort_by_parameter_order=True), rows
            )
            for email, values, client_id in zip(wanted, rows, ids, strict=True):
                client = _ClientRef(client_id, values["name"], values["email"], None, None)
                found[email] = client
                self.created_clients.append(client)
        return found

    def _open_tickets(
        self, targets: dict[int, int | _NewTicket], clients: dict[str, _ClientRef]
    ) -> list[_NewTicket]:
        session = self.session
        new = list(dict.fromkeys(t for t in targets.values() if isinstance(t, _NewTicket)))
        if not new:
            return []
        round_robin = session.execute(
            select(col(AssignmentSetting.round_robin_enabled)).where(col(AssignmentSetting.id) == 1)
        ).scalar_one_or_none()
        legacy = session.execute(
            select(SlaConfig).where(col(SlaConfig.priority) == TicketPriority.NORMAL)
        ).scalar_one_or_none()
        rows = []
        facts = []
        for target in new:
            message = target.item.parsed
            client = clients.get(_sender(target.item))
            row: dict[str, Any] = {
                "subject": " ".join((message.subject or "").split())[:300] or "(no subject)",
                "status": TicketStatus.NEW.value,
                "priority": TicketPriority.NORMAL.value,
                "channel": Channel.EMAIL.value,
                "client_id": client.id if client else None,
                "assignee_id": assignment.next_agent(session) if round_robin else None,
                "mailbox_id": self.mailbox.id,
                "is_unread": True,
                "created_at": self.now,
                "updated_at": self.now,
            }
            rows.append(row)
            facts.append(
                sla_service.NewTicketFacts(
                    client_id=row["client_id"],
                    net_worth_reporting=client.net_worth_reporting if client else None,
                    channel=row["channel"],
                    priority=row["priority"],
                    status=row["status"],
                    created_at=self.now,
                )
            )
        # The SLA clocks as `sla.on_ticket_event(created=True)` sets them, for the whole batch;
        # the ticket rows carry their due times and state from the start.
        clocks = sla_service.clocks_for_new_tickets(session, facts, self.now)
        for row, planned in zip(rows, clocks, strict=True):
            row.update(planned.ticket)
            if legacy is not None and row["first_response_due_at"] is None:
                # No policy gives a target: the built-in one (as `tickets.rows` does).
                row["first_response_due_at"] = self.now + timedelta(
                    minutes=legacy.first_response_minutes
                )
            if legacy is not None and row["resolution_due_at"] is None:
                row["resolution_due_at"] = self.now + timedelta(minutes=legacy.resolution_minutes)
        # Rows as plain values, not model instances: a batch opens hundreds of tickets.
        written = bulk.insert_rows(session, Ticket.__tablename__, rows, ("id", "number"))
        for target, row, (ticket_id, number) in zip(new, rows, written, strict=True):
            target.ticket = _OpenedTicket(ticket_id, number, row["subject"], row["assignee_id"])
        sla_service.write_new_ticket_clocks(
            session, clocks, [ticket_id for ticket_id, _ in written]
        )
        self.result.tickets_created += len(new)
        return new

    def _messages(self, targets: dict[int, int | _NewTicket]) -> None:
        """The ticket messages and their attachments (a few statements for the batch)."""
        limit = get_settings().attachment_max_bytes
        data_dir = get_settings().data_dir
        rows: list[dict[str, Any]] = []
        files: list[tuple[int, dict[str, Any]]] = []  # (index of the message, attachment)
        for index, item in enumerate(self.wanted):
            target = targets[item.mail.uid]
            message = item.parsed
            body_text, quoted = _texts(message)
            notes: list[str] = []
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
                if sum(1 for i, _ in files if i == index) >= MAX_ATTACHMENTS:
                    notes.append(f"[“{name}” not kept: more than {MAX_ATTACHMENTS} attachments]")
                    continue
                path = attachments.blob_path(part.sha256).relative_to(data_dir).as_posix()
                files.append(
                    (
                        index,
                        {
                            "filename": name,
                            "content_type": (part.content_type or "application/octet-stream")[:255],
                            "size_bytes": part.size,
                            "sha256": part.sha256,
                            "storage_path": path,
                            "content_id": part.content_id[:255] if part.content_id else None,
                            "is_inline": bool(part.is_inline and part.content_id),
                            "created_at": self.now,
                        },
                    )
                )
            if notes:
                body_text = (body_text + "\n\n" + "\n".join(notes)).strip()[:MAX_BODY]
            rows.append(
                {
                    "ticket_id": target.opened.id if isinstance(target, _NewTicket) else target,
                    "sender_kind": SenderKind.CLIENT.value,
                    "author_id": None,
                    "body_text": body_text,
                    "quoted_text": quoted,
                    "body_html": message.html_body,
                    "is_internal": False,
                    "channel": Channel.EMAIL.value,
                    "external_message_id": message.message_id[:998] if message.message_id else None,
                    "in_reply_to": message.in_reply_to[:998] if message.in_reply_to else None,
                    "references": " ".join(message.references) or None,
                    "created_at": self.now,
                }
            )
        ids = [
            found[0]
            for found in bulk.insert_rows(self.session, TicketMessage.__tablename__, rows, ("id",))
        ]
        for row, message_id in zip(rows, ids, strict=True):
            row["id"] = message_id
        self.message_rows = {item.mail.uid: rows[i] for i, item in enumerate(self.wanted)}
        if not files:
            return
        for index, attachment in files:
            attachment["message_id"] = ids[index]
        attachment_ids = [
            found[0]
            for found in bulk.insert_rows(
                self.session,
                Attachment.__tablename__,
                [attachment for _, attachment in files],
                ("id",),
            )
        ]
        rewritten: dict[int, str] = {}
        for (index, attachment), attachment_id in zip(files, attachment_ids, strict=True):
            html = rewritten.get(index, rows[index]["body_html"])
            if html and attachment["content_id"]:
                # Inline images: the sanitized HTML's cid: points at the stored file.
                rewritten[index] = re.sub(
                    r"(?i)cid:" + re.escape(attachment["content_id"]) + r"(?=[\"'\s>])",
                    routes.attachment(attachment_id),
                    html,
                )
        if rewritten:
            self.session.execute(
                sa.update(TicketMessage),
                [{"id": ids[index], "body_html": html} for index, html in rewritten.items()],
            )

    def _touch(self, ticket_ids: set[int]) -> None:
        """Existing tickets that got mail: news for the queue; pending/resolved reopen."""
        if not ticket_ids:
            return
        status_before = dict(
            self.session.execute(
                select(col(Ticket.id), col(Ticket.status)).where(col(Ticket.id).in_(ticket_ids))
            ).all()
        )
        reopen = col(Ticket.status).in_(_REOPENED)
        self.session.execute(
            sa.update(Ticket)
            .where(col(Ticket.id).in_(ticket_ids))
            .values(
                updated_at=self.now,
                version=col(Ticket.version) + 1,
                is_unread=True,
                status=sa.case((reopen, TicketStatus.OPEN.value), else_=col(Ticket.status)),
                resolved_at=sa.case((reopen, None), else_=col(Ticket.resolved_at)),
                mailbox_id=func.coalesce(col(Ticket.mailbox_id), self.mailbox.id),
            )
            .execution_options(synchronize_session=False)
        )
        # The client answered: the SLA engine starts the next-response clock, resumes what a
        # pending status paused and runs a reopened ticket's resolution again. One ticket at
        # a time: follow-ups to existing tickets are the smaller part of a batch.
        reloaded = self.session.scalars(
            select(Ticket)
            .where(col(Ticket.id).in_(ticket_ids))
            .order_by(col(Ticket.id))
            .execution_options(populate_existing=True)
        )
        for ticket in reloaded:
            sla_service.on_ticket_event(
                self.session,
                ticket,
                self.now,
                status_before=status_before.get(ticket.id),
                message="client",
            )

    def _audit_and_events(
        self,
        targets: dict[int, int | _NewTicket],
        rows: dict[int, dict[str, Any]],
        new_tickets: list[_NewTicket],
        clients: dict[str, _ClientRef],
    ) -> None:
        session, mailbox = self.session, self.mailbox
        entries: list[tuple[str, str, int | None, dict[str, Any] | None]] = [
            (
                "client.created",
                "client",
                client.id,
                {"name": client.name, "email": client.email, "source": "email", "verified": False},
            )
            for client in self.created_clients
        ]
        opened = {id(t) for t in new_tickets}
        first_of: set[int] = set()
        names = self._client_names(targets, clients)
        for item in self.wanted:
            target, row = targets[item.mail.uid], rows[item.mail.uid]
            creates = (
                isinstance(target, _NewTicket)
                and id(target) in opened
                and (id(target) not in first_of)
            )
            ticket_id = target.opened.id if isinstance(target, _NewTicket) else target
            number = target.opened.number if isinstance(target, _NewTicket) else None
            subject = target.opened.subject if isinstance(target, _NewTicket) else ""
            details: dict[str, Any] = {
                "channel": Channel.EMAIL.value,
                "mailbox": mailbox.address,
                "from": _sender(item),
                "message_id": row["id"],
            }
            if creates:
                first_of.add(id(target))
                assert isinstance(target, _NewTicket)
                ticket = target.opened
                details.update(number=number, subject=subject, assignee_id=ticket.assignee_id)
                if ticket.assignee_id is not None:
                    details["round_robin"] = True
                entries.append(("ticket.created", "ticket", ticket_id, details))
                event = events.Event(
                    "ticket.created",
                    actor=SYSTEM,
                    ticket_id=ticket_id,
                    number=number,
                    subject=subject,
                    payload={
                        "assignee_id": ticket.assignee_id,
                        "channel": Channel.EMAIL.value,
                        "message_id": row["id"],
                        "mailbox_id": mailbox.id,
                    },
                )
            else:
                entries.append(("ticket.message_added", "ticket", ticket_id, details))
                event = events.Event(
                    "message.added",
                    actor=SYSTEM,
                    ticket_id=ticket_id,
                    number=number,
                    subject=subject,
                    payload={
                        "message_id": row["id"],
                        "internal": False,
                        "from_client": True,
                        "body": row["body_text"],
                        "channel": Channel.EMAIL.value,
                        "client_name": names.get(ticket_id, ""),
                        "assignee_id": target.opened.assignee_id
                        if isinstance(target, _NewTicket)
                        else None,
                        "mailbox_id": mailbox.id,
                    },
                )
            self.result.events.append(event)
            self.outcomes[item.mail.uid] = (
                ticket_id,
                row["id"],
                "new ticket" if creates else "added to ticket",
            )
        audit.record_many(session, SYSTEM, entries)
        self.result.imported += len(self.wanted)
        self._fill_event_facts()
        # Their outbox rows (webhooks) commit with the batch, not after it.
        self.result.events[:] = [
            e if e.staged else events.stage(self.session, e) for e in self.result.events
        ]

    def _client_names(
        self, targets: dict[int, int | _NewTicket], clients: dict[str, _ClientRef]
    ) -> dict[int, str]:
        names: dict[int, str] = {}
        for target in targets.values():
            if isinstance(target, _NewTicket):
                client = clients.get(_sender(target.item))
                names[target.opened.id] = client.name if client else ""
        return names

    def _fill_event_facts(self) -> None:
        """Number, subject, assignee and client name of existing tickets, for the events."""
        ids = {e.ticket_id for e in self.result.events if e.number is None}
        if not ids:
            return
        facts = {
            row.id: row
            for row in self.session.execute(
                select(
                    col(Ticket.id),
                    col(Ticket.number),
                    col(Ticket.subject),
                    col(Ticket.assignee_id),
                    col(Client.name),
                )
                .outerjoin(Client, col(Client.id) == col(Ticket.client_id))
                .where(col(Ticket.id).in_(ids))
            ).all()
        }
        for index, event in enumerate(self.result.events):
            fact = facts.get(event.ticket_id)
            if event.number is None and fact is not None:
                payload = {**event.payload, "assignee_id": fact.assignee_id}
                payload["client_name"] = payload.get("client_name") or fact.name or ""
                self.result.events[index] = replace(
                    event, number=fact.number, subject=fact.subject, payload=payload
                )


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


def _default_name(content_type: str) -> str:
    main, _, sub = (content_type or "application/octet-stream").partition("/")
    return f"{main or 'attachment'}.{sub or 'bin'}"
