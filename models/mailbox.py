"""The firm's mailboxes: where mail comes in (IMAP) and how replies go out (SMTP or SendGrid).

Secrets (`*_secret` columns) hold Fernet tokens from `crm_app.crypto.encrypt_secret`, never the
plain password or key; services decrypt them only to open a connection, and no State or log
ever sees them.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from models.base import enum_field, timestamp_field


class ConnectionSecurity(StrEnum):
    TLS = "tls"  # implicit TLS (IMAPS 993, SMTPS 465)
    STARTTLS = "starttls"  # plain connect, then STARTTLS
    NONE = "none"  # loopback test servers only


class AfterFetch(StrEnum):
    MARK_SEEN = "mark_seen"
    MOVE = "move"  # to `move_to_folder`


class OutboundKind(StrEnum):
    SMTP = "smtp"
    SENDGRID = "sendgrid"
    SYSTEM = "system"  # the product's own SMTP settings (CRM_SMTP_*, the local sink by default)


class Mailbox(SQLModel, table=True):
    __tablename__ = "mailbox"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(sa_type=sa.String(120))
    # The address clients write to, and the From of replies sent for its tickets.
    address: str = Field(sa_type=sa.String(320), sa_column_kwargs={"unique": True})
    display_name: str = Field(default="", sa_type=sa.String(120))
    enabled: bool = Field(default=True)
    # The mailbox replies go out from when a ticket did not come in by mail.
    is_default: bool = Field(default=False)

    imap_host: str = Field(default="", sa_type=sa.String(255))
    imap_port: int = Field(default=993)
    imap_security: str = enum_field(ConnectionSecurity, ConnectionSecurity.TLS)
    imap_user: str = Field(default="", sa_type=sa.String(320))
    imap_secret: str | None = Field(default=None, sa_type=sa.Text)
    # Folders read, one per line ("INBOX" by default).
    imap_folders: str = Field(default="INBOX", sa_type=sa.Text)
    after_fetch: str = enum_field(AfterFetch, AfterFetch.MARK_SEEN)
    move_to_folder: str = Field(default="", sa_type=sa.String(255))
    poll_seconds: int = Field(default=60)
    use_idle: bool = Field(default=True)

    outbound: str = enum_field(OutboundKind, OutboundKind.SYSTEM)
    smtp_host: str = Field(default="", sa_type=sa.String(255))
    smtp_port: int = Field(default=587)
    smtp_security: str = enum_field(ConnectionSecurity, ConnectionSecurity.STARTTLS)
    smtp_user: str = Field(default="", sa_type=sa.String(320))
    smtp_secret: str | None = Field(default=None, sa_type=sa.Text)
    sendgrid_secret: str | None = Field(default=None, sa_type=sa.Text)

    # "We received your request #N", at most one per sender per hour.
    send_acknowledgement: bool = Field(default=False)

    # Health, shown on the mailbox page.
    last_poll_at: datetime | None = timestamp_field(nullable=True, default_now=False)
    messages_imported: int = Field(default=0, sa_type=sa.BigInteger)
    last_error: str | None = Field(default=None, sa_type=sa.Text)
    error_since: datetime | None = timestamp_field(nullable=True, default_now=False)
    created_at: datetime = timestamp_field()
    updated_at: datetime = timestamp_field()


class MailboxFolderState(SQLModel, table=True):
    """Where the poller stopped in one folder: a restart resumes after `last_uid`; a changed
    UIDVALIDITY means the server renumbered the folder and it is read again (Message-ID dedupe
    keeps that from importing anything twice)."""

    __tablename__ = "mailbox_folder_state"
    __table_args__ = (sa.UniqueConstraint("mailbox_id", "folder"),)

    id: int | None = Field(default=None, primary_key=True)
    mailbox_id: int = Field(foreign_key="mailbox.id", index=True, ondelete="CASCADE")
    folder: str = Field(sa_type=sa.String(255))
    uidvalidity: int | None = Field(default=None, sa_type=sa.BigInteger)
    last_uid: int = Field(default=0, sa_type=sa.BigInteger)
    updated_at: datetime = timestamp_field()
