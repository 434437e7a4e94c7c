"""Mail out: the email channel's outbox.

`enqueue_email_reply` runs inside the reply's transaction (registered in `channels` for
`email` tickets): it fixes the Message-ID on the message, the threading headers and the
recipients on an `outbound_message` row, so the reply and its delivery commit together.
`acknowledge` queues the automatic "we received your request #N" for a new email ticket.
The send job (`jobs/mail_send.py`) claims due rows (`claim`), sends them and records each
outcome (`record_sent`, `record_failure`); `retry` lets staff send a failed one again.
"""

from __future__ import annotations

import random
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from email.utils import getaddresses, parseaddr
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection, select, text
from sqlmodel import Session, col

from crm_app.auth.permissions import Action, Actor, require
from crm_app.crypto import decrypt_secret
from crm_app.db import get_engine, session_scope
from crm_app.services import audit, channels, events
from crm_app.services.errors import InvalidInput, NotFound
from crm_app.services.mail.compose import (
    OutgoingAttachment,
    OutgoingMail,
    from_header,
    new_message_id,
    new_subject,
    references_for,
    reply_subject,
    text_to_html,
    valid_address,
)
from crm_app.services.mail.transport import (
    PermanentFailure,
    SendGridTransport,
    SmtpSettings,
    SmtpTransport,
    Transport,
)
from crm_app.settings import Settings, get_settings
from ingest.html import sanitize_html
from models.base import utcnow
from models.client import Client
from models.mailbox import ConnectionSecurity, Mailbox
from models.mailbox import OutboundKind as MailboxOutbound
from models.outbox import OutboundKind, OutboundMessage, OutboundStatus
from models.ticket import Attachment, Channel, SenderKind, Ticket, TicketMessage

CHANNEL = Channel.EMAIL.value
BACKOFF_MAX_SECONDS = 6 * 3600
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


def _queue(
    session: Session,
    ticket: Ticket,
    message: TicketMessage,
    *,
    kind: str,
    to: str,
    extra_headers: dict[str, str],
    subject: str,
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
        subject=subject,
        headers={"Message-ID": message.external_message_id, **extra_headers},
        status=OutboundStatus.QUEUED,
    )
    session.add(row)
    return row


def enqueue_email_reply(session: Session, ticket: Ticket, message: TicketMessage) -> None:
    """Queue an agent's reply on an email ticket (inside the reply's transaction)."""
    if message.is_internal:
        raise ValueError("internal notes are never sent")
    to = _client_address(session, ticket)
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
        extra_headers=headers,
        # A reply says so; the first mail of a ticket the agent opened does not.
        subject=reply_subject(ticket.subject, ticket.number or 0)
        if parent is not None
        else new_subject(ticket.subject, ticket.number or 0),
    )


channels.register(CHANNEL, enqueue_email_reply)


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


# ---------------------------------------------------------------- the send job's side


@dataclass(frozen=True)
class ClaimedMail:
    outbound_id: int
    attempts: int
    transport_key: tuple
    mail: OutgoingMail


# Due outbound rows of one channel for a worker until its lease ends (parallel workers take
# disjoint rows; a dead worker's rows are due again when the lease ends). Shared by every
# channel's sender.
CLAIM_DUE = text(
    """
    UPDATE outbound_message o
    SET status = 'sending', claimed_by = :worker, attempts = o.attempts + 1,
        claimed_until = now() + make_interval(secs => :lease),
        next_attempt_at = now() + make_interval(secs => :lease),
        updated_at = now()
    WHERE o.id IN (
        SELECT id FROM outbound_message
        WHERE status IN ('queued', 'sending') AND channel = :channel
          AND next_attempt_at <= now()
        ORDER BY next_attempt_at, id
        LIMIT :limit
        FOR UPDATE SKIP LOCKED)
    RETURNING o.id
    """
)


def claim(worker: str, limit: int, lease_seconds: float) -> list[ClaimedMail]:
    """Take up to `limit` due rows for `worker` until the lease ends, committed at once.

    Rows are locked with FOR UPDATE SKIP LOCKED, so parallel workers take disjoint rows; a
    row whose worker died is due again when its lease ends (`next_attempt_at` is set to it)."""
    with session_scope() as session:
        ids = list(
            session.scalars(
                CLAIM_DUE,
                {"worker": worker, "lease": lease_seconds, "limit": limit, "channel": CHANNEL},
            )
        )
        if not ids:
            return []
        return _load_claimed(session, ids)


@dataclass(frozen=True)
class _MailboxRef:
    """The few mailbox columns sending needs (never its secrets)."""

    id: int
    name: str
    address: str
    display_name: str
    outbound: str


def _load_claimed(session: Session, ids: list[int]) -> list[ClaimedMail]:
    settings = get_settings()
    rows = session.execute(
        select(
            col(OutboundMessage.id),
            col(OutboundMessage.attempts),
            col(OutboundMessage.to_addrs),
            col(OutboundMessage.cc_addrs),
            col(OutboundMessage.subject),
            col(OutboundMessage.headers),
            col(TicketMessage.id).label("message_id"),
            col(TicketMessage.body_text),
            col(TicketMessage.body_html),
            col(TicketMessage.external_message_id),
            col(Mailbox.id).label("mailbox_id"),
            col(Mailbox.name).label("mailbox_name"),
            col(Mailbox.address),
            col(Mailbox.display_name),
            col(Mailbox.outbound),
        )
        .join(TicketMessage, col(TicketMessage.id) == col(OutboundMessage.message_id))
        .outerjoin(Mailbox, col(Mailbox.id) == col(OutboundMessage.mailbox_id))
        .where(col(OutboundMessage.id).in_(ids))
        .order_by(col(OutboundMessage.id))
    ).all()
    files: dict[int, list[OutgoingAttachment]] = {}
    for item in session.execute(
        select(
            col(Attachment.message_id),
            col(Attachment.filename),
            col(Attachment.content_type),
            col(Attachment.storage_path),
        )
        .where(col(Attachment.message_id).in_([r.message_id for r in rows]))
        .order_by(col(Attachment.id))
    ):
        files.setdefault(item.message_id, []).append(
            OutgoingAttachment(
                filename=item.filename,
                content_type=item.content_type,
                path=settings.data_dir / item.storage_path,
            )
        )
    claimed = []
    for r in rows:
        mailbox = (
            _MailboxRef(r.mailbox_id, r.mailbox_name, r.address, r.display_name, r.outbound)
            if r.mailbox_id is not None
            else None
        )
        header, _ = _sender(mailbox, settings)
        headers = dict(r.headers or {})
        message_id = headers.pop("Message-ID", None) or r.external_message_id
        body = r.body_text or ""
        claimed.append(
            ClaimedMail(
                outbound_id=r.id,
                attempts=r.attempts,
                transport_key=_transport_key(mailbox, settings),
                mail=OutgoingMail(
                    from_header=header,
                    to=tuple(a for _, a in getaddresses([r.to_addrs]) if a),
                    cc=tuple(a for _, a in getaddresses([r.cc_addrs]) if a),
                    subject=r.subject,
                    message_id=message_id,
                    headers=headers,
                    text=body,
                    # A reply written as HTML keeps it (sanitized); plain text gets simple HTML.
                    html=sanitize_html(r.body_html) if r.body_html else text_to_html(body),
                    attachments=tuple(files.get(r.message_id, [])),
                ),
            )
        )
    return claimed


def _transport_key(mailbox: _MailboxRef | None, settings: Settings) -> tuple:
    """What identifies one connection: mails with the same key share it within a batch."""
    if mailbox is not None and mailbox.outbound == MailboxOutbound.SMTP:
        return ("smtp", mailbox.id)
    if mailbox is not None and mailbox.outbound == MailboxOutbound.SENDGRID:
        return ("sendgrid", mailbox.id)
    return ("system",)


def open_transport(key: tuple) -> Transport:
    """The transport for `key`; secrets are decrypted here, only to connect."""
    settings = get_settings()
    kind = key[0]
    if kind == "system":
        if settings.sendgrid_api_key:
            return SendGridTransport(settings.sendgrid_api_key, settings.sendgrid_api_host)
        return SmtpTransport(
            SmtpSettings(
                host=settings.smtp_host or "",
                port=settings.smtp_port,
                security={"ssl": ConnectionSecurity.TLS, "none": ConnectionSecurity.NONE}.get(
                    settings.smtp_tls, ConnectionSecurity.STARTTLS
                ),
                user=settings.smtp_user or "",
                password=settings.smtp_password or "",
            )
        )
    with session_scope() as session:
        mailbox = session.get(Mailbox, key[1])
        if mailbox is None:
            raise PermanentFailure("The mailbox this mail goes out from was removed.")
        if kind == "sendgrid":
            if not mailbox.sendgrid_secret:
                raise PermanentFailure("The mailbox has no SendGrid API key.")
            return SendGridTransport(
                decrypt_secret(mailbox.sendgrid_secret), settings.sendgrid_api_host
            )
        return SmtpTransport(
            SmtpSettings(
                host=mailbox.smtp_host,
                port=mailbox.smtp_port,
                security=mailbox.smtp_security,
                user=mailbox.smtp_user,
                password=decrypt_secret(mailbox.smtp_secret) if mailbox.smtp_secret else "",
            )
        )


def backoff_seconds(attempts: int, settings: Settings | None = None) -> float:
    """Wait before the next try after `attempts` tries: doubling, with ±20% jitter so many
    rows deferred together do not come back in one burst."""
    settings = settings or get_settings()
    base = settings.outbox_backoff_seconds * 2 ** max(attempts - 1, 0)
    return min(base, BACKOFF_MAX_SECONDS) * random.uniform(0.8, 1.2)


_RECORD_SENT = text(
    """
    UPDATE outbound_message
    SET status = 'sent', sent_at = now(), provider_message_id = :provider_id,
        last_error = NULL, claimed_by = NULL, claimed_until = NULL, updated_at = now()
    WHERE id = :id AND claimed_by = :worker
    """
)
_RECORD_FAILURE = text(
    """
    UPDATE outbound_message
    SET status = :status, last_error = :reason, claimed_by = NULL,
        claimed_until = NULL, updated_at = now(),
        next_attempt_at = now() + make_interval(secs => :delay)
    WHERE id = :id AND claimed_by = :worker
    """
)
_RELEASE = text(
    """
    UPDATE outbound_message
    SET status = 'queued', claimed_by = NULL, claimed_until = NULL,
        attempts = greatest(attempts - 1, 0), next_attempt_at = now(), updated_at = now()
    WHERE id = ANY(:ids) AND claimed_by = :worker
    """
)
# Outcomes are committed without waiting for the WAL flush: a crash of this worker cannot
# undo them (the server has them), only a crash of PostgreSQL itself within a fraction of a
# second can, and then the mail is resent with the same Message-ID, as after a worker crash.
# Waiting for the flush would cost one disk sync per mail.
_ASYNC_COMMIT = text("SET synchronous_commit = off")
_SYNC_COMMIT = text("RESET synchronous_commit")


class Recorder:
    """Writes each outcome of `worker`'s claimed rows the moment it is known, one commit per
    row, over one connection held for the batch. Only rows still claimed by `worker` change:
    a worker whose lease ran out cannot overwrite the next worker's outcome.

    A write runs on a thread of its own while the sender goes on with the next mail (compose,
    envelope), and `settle` waits for it: the sender calls it before the next mail can be
    accepted (`Transport.send(before_commit=...)`), so at most one accepted mail is ever
    unrecorded, as when each write was waited for."""

    def __init__(self, worker: str) -> None:
        self.worker = worker
        self._conn: Connection | None = None
        self._writer: ThreadPoolExecutor | None = None
        self._pending: Future[None] | None = None

    def __enter__(self) -> Recorder:
        self._conn = get_engine().connect()
        self._conn.execute(_ASYNC_COMMIT)
        self._conn.commit()
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="outbox-record")
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self.settle()
        finally:
            if self._writer is not None:
                self._writer.shutdown(wait=True)
                self._writer = None
            if self._conn is not None:
                self._conn.rollback()
                self._conn.execute(_SYNC_COMMIT)  # the pooled connection goes back as it came
                self._conn.commit()
                self._conn.close()
                self._conn = None

    def settle(self) -> None:
        """Wait until the last outcome is committed (raises what writing it raised)."""
        pending, self._pending = self._pending, None
        if pending is not None:
            pending.result()

    def _write(self, statement: Any, params: dict) -> None:
        assert self._conn is not None and self._writer is not None, "use Recorder in a with"
        self.settle()  # one at a time, in order
        self._pending = self._writer.submit(self._write_now, self._conn, statement, params)

    @staticmethod
    def _write_now(conn: Connection, statement: Any, params: dict) -> None:
        conn.execute(statement, params)
        conn.commit()

    def sent(self, outbound_id: int, provider_id: str | None) -> None:
        self._write(
            _RECORD_SENT, {"id": outbound_id, "worker": self.worker, "provider_id": provider_id}
        )

    def failure(self, outbound_id: int, attempts: int, reason: str, *, permanent: bool) -> str:
        """A failed try: queued again after a backoff, or failed for good (permanent, or out
        of attempts). Returns the status it was left in."""
        settings = get_settings()
        if not permanent and attempts >= settings.outbox_max_attempts:
            permanent, reason = True, f"Gave up after {attempts} attempts. Last error: {reason}"
        status = OutboundStatus.FAILED if permanent else OutboundStatus.QUEUED
        delay = 0.0 if permanent else backoff_seconds(attempts, settings)
        self._write(
            _RECORD_FAILURE,
            {
                "status": status.value,
                "reason": reason[:2000],
                "delay": delay,
                "id": outbound_id,
                "worker": self.worker,
            },
        )
        return status.value

    def release(self, outbound_ids: list[int]) -> None:
        """Give back rows claimed but not tried (the lease ran short): due again at once, and
        the attempt they were charged is returned."""
        if outbound_ids:
            self._write(_RELEASE, {"ids": outbound_ids, "worker": self.worker})


def record_failure(
    worker: str, outbound_id: int, attempts: int, reason: str, *, permanent: bool
) -> str:
    """`Recorder.failure` for one row (a late or lone outcome)."""
    with Recorder(worker) as recorder:
        return recorder.failure(outbound_id, attempts, reason, permanent=permanent)


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
