"""Mailboxes as the settings page lists them, and the messages that could not be imported
(reads)."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlmodel import col

from crm_app.auth.permissions import Action, Actor, require
from crm_app.db import session_scope
from crm_app.services.errors import NotFound
from crm_app.services.mailboxes.rows import FailedImportRow, MailboxRow, _fmt, _row
from models.inbound_mail import InboundMail, InboundStatus
from models.mailbox import Mailbox

FAILED_PAGE = 50


def list_mailboxes(actor: Actor) -> list[MailboxRow]:
    """Every mailbox with its health and failed-import count (one query each). No writes."""
    require(actor, Action.MANAGE_MAILBOXES)
    with session_scope() as session:
        failed = dict(
            session.execute(
                select(col(InboundMail.mailbox_id), func.count())
                .where(col(InboundMail.status) == InboundStatus.FAILED)
                .group_by(col(InboundMail.mailbox_id))
            ).all()
        )
        boxes = session.scalars(select(Mailbox).order_by(col(Mailbox.name), col(Mailbox.id)))
        return [_row(box, failed.get(box.id, 0)) for box in boxes]


def get_mailbox(actor: Actor, mailbox_id: int) -> MailboxRow:
    require(actor, Action.MANAGE_MAILBOXES)
    rows = {row.id: row for row in list_mailboxes(actor)}
    if mailbox_id not in rows:
        raise NotFound("There is no such mailbox.")
    return rows[mailbox_id]


def failed_imports(
    actor: Actor, *, mailbox_id: int | None = None, limit: int = FAILED_PAGE
) -> list[FailedImportRow]:
    """The newest messages that could not be imported, with the parser's error. No writes."""
    require(actor, Action.MANAGE_MAILBOXES)
    query = (
        select(InboundMail, col(Mailbox.name))
        .join(Mailbox, col(Mailbox.id) == col(InboundMail.mailbox_id))
        .where(col(InboundMail.status) == InboundStatus.FAILED)
        .order_by(col(InboundMail.id).desc())
        .limit(max(1, min(int(limit), 200)))
    )
    if mailbox_id is not None:
        query = query.where(col(InboundMail.mailbox_id) == mailbox_id)
    from crm_app.services.attachments import size_label

    with session_scope() as session:
        return [
            FailedImportRow(
                id=item.id,
                mailbox=name,
                folder=item.folder,
                uid=item.uid,
                sender=item.sender,
                subject=item.subject,
                reason=item.reason,
                received=_fmt(item.created_at),
                size_label=size_label(item.size_bytes),
                raw_path=item.raw_path or "",
            )
            for item, name in session.execute(query).tuples().all()
        ]
