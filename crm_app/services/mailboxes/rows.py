"""The frozen rows handed to the settings page and to the poller."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from crm_app.services.mail.imap_client import ImapAccount
from crm_app.services.tickets.rows import fmt
from models.mailbox import Mailbox


@dataclass(frozen=True)
class MailboxRow:
    """A mailbox as the settings page shows it: secrets only as set / not set."""

    id: int
    name: str
    address: str
    display_name: str
    enabled: bool
    is_default: bool
    imap_host: str
    imap_port: int
    imap_security: str
    imap_user: str
    imap_password_set: bool
    imap_folders: str
    after_fetch: str
    move_to_folder: str
    poll_seconds: int
    use_idle: bool
    outbound: str
    smtp_host: str
    smtp_port: int
    smtp_security: str
    smtp_user: str
    smtp_password_set: bool
    sendgrid_key_set: bool
    send_acknowledgement: bool
    last_poll: str
    messages_imported: int
    last_error: str
    error_since: str
    failed_imports: int


@dataclass(frozen=True)
class FailedImportRow:
    id: int
    mailbox: str
    folder: str
    uid: int
    sender: str
    subject: str
    reason: str
    received: str
    size_label: str
    raw_path: str


@dataclass(frozen=True)
class DueMailbox:
    id: int
    poll_seconds: int
    use_idle: bool


@dataclass(frozen=True)
class PollConfig:
    """What the poller needs, the password decrypted (never handed to a page)."""

    id: int
    name: str
    address: str
    account: ImapAccount
    use_idle: bool
    after_fetch: str
    move_to_folder: str


@dataclass(frozen=True)
class FolderPosition:
    uidvalidity: int | None
    last_uid: int


def _fmt(value: Any) -> str:
    return fmt(value) if value is not None else ""


def _row(box: Mailbox, failed: int) -> MailboxRow:
    assert box.id is not None  # a stored mailbox
    return MailboxRow(
        id=box.id,
        name=box.name,
        address=box.address,
        display_name=box.display_name,
        enabled=box.enabled,
        is_default=box.is_default,
        imap_host=box.imap_host,
        imap_port=box.imap_port,
        imap_security=box.imap_security,
        imap_user=box.imap_user,
        imap_password_set=bool(box.imap_secret),
        imap_folders=box.imap_folders,
        after_fetch=box.after_fetch,
        move_to_folder=box.move_to_folder,
        poll_seconds=box.poll_seconds,
        use_idle=box.use_idle,
        outbound=box.outbound,
        smtp_host=box.smtp_host,
        smtp_port=box.smtp_port,
        smtp_security=box.smtp_security,
        smtp_user=box.smtp_user,
        smtp_password_set=bool(box.smtp_secret),
        sendgrid_key_set=bool(box.sendgrid_secret),
        send_acknowledgement=box.send_acknowledgement,
        last_poll=_fmt(box.last_poll_at),
        messages_imported=box.messages_imported,
        last_error=box.last_error or "",
        error_since=_fmt(box.error_since),
        failed_imports=failed,
    )
