"""Every message the IMAP poller fetched, once: what became of it and why.

One row per (mailbox, folder, UIDVALIDITY, UID), written in the same transaction as the ticket
message it produced, so a crash either leaves both or neither. `message_key` (the Message-ID,
or the SHA-256 of the raw bytes when a message has none) is unique among the rows that are not
duplicates: the same mail fetched again (a re-sync after a UIDVALIDITY change, a second folder
or mailbox, a second poller) is recorded as a duplicate and never imported twice. This table is
how lost and duplicated mail is counted.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from models.base import enum_field, timestamp_field


class InboundStatus(StrEnum):
    IMPORTED = "imported"  # became a ticket or a message on one
    IGNORED = "ignored"  # auto-reply, bounce, loop: recorded, never a ticket
    FAILED = "failed"  # could not be parsed or stored: raw bytes kept, shown to managers
    DUPLICATE = "duplicate"  # its Message-ID was imported already


class InboundMail(SQLModel, table=True):
    __tablename__ = "inbound_mail"
    __table_args__ = (
        sa.UniqueConstraint(
            "mailbox_id", "folder", "uidvalidity", "uid", name="uq_inbound_mail_position"
        ),
        sa.Index(
            "uq_inbound_mail_message_key",
            "message_key",
            unique=True,
            postgresql_where=sa.text("status <> 'duplicate'"),
        ),
        sa.Index("ix_inbound_mail_status_created", "status", "created_at"),
        sa.Index("ix_inbound_mail_sender_created", "sender", "created_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    mailbox_id: int = Field(foreign_key="mailbox.id", index=True, ondelete="CASCADE")
    folder: str = Field(sa_type=sa.String(255))
    uidvalidity: int = Field(sa_type=sa.BigInteger)
    uid: int = Field(sa_type=sa.BigInteger)
    message_key: str = Field(sa_type=sa.String(998))
    message_id: str | None = Field(default=None, sa_type=sa.String(998))
    status: str = enum_field(InboundStatus, InboundStatus.IMPORTED)
    reason: str = Field(default="", sa_type=sa.Text)
    sender: str = Field(default="", sa_type=sa.String(320))
    subject: str = Field(default="", sa_type=sa.String(300))
    size_bytes: int = Field(default=0, sa_type=sa.BigInteger)
    # Failed imports: the raw message under the data folder (relative path).
    raw_path: str | None = Field(default=None, sa_type=sa.String(1024))
    ticket_id: int | None = Field(default=None, foreign_key="ticket.id", ondelete="SET NULL")
    ticket_message_id: int | None = Field(
        default=None, foreign_key="ticket_message.id", ondelete="SET NULL"
    )
    created_at: datetime = timestamp_field()
