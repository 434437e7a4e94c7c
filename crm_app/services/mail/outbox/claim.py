"""The send job's claim: due rows taken for one worker until its lease ends, loaded with what
composing them needs, and the transport each goes out by."""

from __future__ import annotations

from dataclasses import dataclass
from email.utils import getaddresses

from sqlalchemy import select, text
from sqlmodel import Session, col

from crm_app.crypto import decrypt_secret
from crm_app.db import session_scope
from crm_app.services.mail.compose import (
    OutgoingAttachment,
    OutgoingMail,
    text_to_html,
)
from crm_app.services.mail.outbox._common import CHANNEL, _MailboxRef, _sender
from crm_app.services.mail.transport import (
    PermanentFailure,
    SendGridTransport,
    SmtpSettings,
    SmtpTransport,
    Transport,
)
from crm_app.settings import Settings, get_settings
from ingest.html import sanitize_html
from models.mailbox import ConnectionSecurity, Mailbox
from models.mailbox import OutboundKind as MailboxOutbound
from models.outbox import OutboundMessage
from models.ticket import Attachment, TicketMessage

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
