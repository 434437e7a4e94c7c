"""For the poller (a job acts for the system: no actor): which mailboxes are due, their
settings, folder positions and each poll's outcome."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlmodel import col

from crm_app.db import session_scope
from crm_app.services.mailboxes.connection import _imap_account
from crm_app.services.mailboxes.rows import DueMailbox, FolderPosition, PollConfig
from models.base import utcnow
from models.mailbox import Mailbox, MailboxFolderState


def due_for_poll(*, ignore_interval: bool = False) -> list[DueMailbox]:
    """Enabled mailboxes with an IMAP server whose interval passed (IDLE ones always)."""
    now = utcnow()
    with session_scope() as session:
        boxes = session.execute(
            select(
                col(Mailbox.id),
                col(Mailbox.poll_seconds),
                col(Mailbox.use_idle),
                col(Mailbox.last_poll_at),
            )
            .where(col(Mailbox.enabled).is_(True), col(Mailbox.imap_host) != "")
            .order_by(col(Mailbox.id))
        ).all()
    return [
        DueMailbox(box.id, box.poll_seconds, box.use_idle)
        for box in boxes
        if ignore_interval
        or box.use_idle
        or box.last_poll_at is None
        or box.last_poll_at + timedelta(seconds=box.poll_seconds) <= now
    ]


def poll_config(mailbox_id: int) -> PollConfig | None:
    """The decrypted connection settings of an enabled mailbox (None: gone or disabled)."""
    with session_scope() as session:
        box = session.get(Mailbox, mailbox_id)
        if box is None or not box.enabled or not box.imap_host:
            return None
        assert box.id is not None
        return PollConfig(
            id=box.id,
            name=box.name,
            address=box.address,
            account=_imap_account(box),
            use_idle=box.use_idle,
            after_fetch=box.after_fetch,
            move_to_folder=box.move_to_folder,
        )


def folder_position(mailbox_id: int, folder: str) -> FolderPosition | None:
    with session_scope() as session:
        state = session.execute(
            select(MailboxFolderState).where(
                col(MailboxFolderState.mailbox_id) == mailbox_id,
                col(MailboxFolderState.folder) == folder,
            )
        ).scalar_one_or_none()
        return FolderPosition(state.uidvalidity, state.last_uid) if state else None


def mark_folder(mailbox_id: int, folder: str, uidvalidity: int) -> None:
    """Remember an empty (or fully read) folder's UIDVALIDITY; a change resets the position."""
    now = utcnow()
    with session_scope() as session:
        session.execute(
            insert(MailboxFolderState)
            .values(
                mailbox_id=mailbox_id,
                folder=folder,
                uidvalidity=uidvalidity,
                last_uid=0,
                updated_at=now,
            )
            .on_conflict_do_update(
                index_elements=["mailbox_id", "folder"],
                set_={
                    "last_uid": sa.case(
                        (
                            col(MailboxFolderState.uidvalidity) == uidvalidity,
                            col(MailboxFolderState.last_uid),
                        ),
                        else_=0,
                    ),
                    "uidvalidity": uidvalidity,
                    "updated_at": now,
                },
            )
        )


def record_poll(mailbox_id: int, *, error: str | None) -> None:
    """The health the page shows: last poll time, and the last error with since when."""
    now = utcnow()
    with session_scope() as session:
        box = session.get(Mailbox, mailbox_id, with_for_update=True)
        if box is None:
            return
        box.last_poll_at = now
        if error:
            if box.last_error is None:
                box.error_since = now
            box.last_error = error[:2000]
        else:
            box.last_error = None
            box.error_since = None
