"""The firm's mailboxes: managers add, edit, test, disable and remove them; the poller reads
their settings and reports each poll here.

Passwords and API keys are write-only: a save encrypts them (`crm_app.crypto`), rows returned
to a page only say whether one is set, and only the connection code gets them decrypted. Every
change is audited (a secret's change is recorded as "changed", never its value).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlmodel import col

from crm_app.auth.permissions import Action, Actor, require
from crm_app.crypto import SecretUnreadable, decrypt_secret, encrypt_secret
from crm_app.db import session_scope
from crm_app.services import audit
from crm_app.services.errors import InvalidInput, NotFound
from crm_app.services.mail.imap_client import ConnectionReport, ImapAccount, parse_folders
from crm_app.services.mail.smtp_test import SmtpAccount
from crm_app.services.tickets.rows import fmt
from crm_app.settings import get_settings
from models.base import utcnow
from models.inbound_mail import InboundMail, InboundStatus
from models.mailbox import (
    AfterFetch,
    ConnectionSecurity,
    Mailbox,
    MailboxFolderState,
    OutboundKind,
)

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_HOST = re.compile(r"^[A-Za-z0-9.\-:\[\]]{1,255}$")
SECRET_FIELDS = ("imap_password", "smtp_password", "sendgrid_key")
_SECRET_COLUMNS = {
    "imap_password": "imap_secret",
    "smtp_password": "smtp_secret",
    "sendgrid_key": "sendgrid_secret",
}
MIN_POLL_SECONDS = 10
FAILED_PAGE = 50


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


# --- validation ---------------------------------------------------------------------------------


def _text(form: dict[str, Any], key: str, limit: int, default: str = "") -> str:
    value = form.get(key, default)
    value = "" if value is None else str(value)
    return value.strip()[:limit]


def _flag(form: dict[str, Any], key: str, default: bool) -> bool:
    value = form.get(key, default)
    if isinstance(value, str):
        return value.lower() in ("1", "true", "on", "yes")
    return bool(value)


def _port(form: dict[str, Any], key: str, default: int, what: str) -> int:
    raw = form.get(key, default)
    try:
        port = int(str(raw).strip() or default)
    except ValueError as error:
        raise InvalidInput(f"{what} port must be a number.") from error
    if not 1 <= port <= 65535:
        raise InvalidInput(f"{what} port must be between 1 and 65535.")
    return port


def _choice(form: dict[str, Any], key: str, enum: type[StrEnum], default: str, what: str) -> str:
    value = _text(form, key, 32, default) or default
    allowed = [member.value for member in enum]
    if value not in allowed:
        raise InvalidInput(f"{what} must be one of: {', '.join(allowed)}.")
    return value


def _host(form: dict[str, Any], key: str, what: str, required: bool) -> str:
    host = _text(form, key, 255)
    if host and not _HOST.match(host):
        raise InvalidInput(f"{what} host is not a valid host name.")
    if required and not host:
        raise InvalidInput(f"Enter the {what} server's host name.")
    return host


def _clean(form: dict[str, Any], existing: Mailbox | None) -> dict[str, Any]:
    """The mailbox's columns from a form (missing keys keep the stored value)."""
    base: dict[str, Any] = {}
    if existing is not None:
        base = {key: getattr(existing, key) for key in Mailbox.model_fields}
    merged = {**base, **{k: v for k, v in form.items() if k not in SECRET_FIELDS}}
    name = _text(merged, "name", 120)
    address = _text(merged, "address", 320).lower()
    if not name:
        raise InvalidInput("Give the mailbox a name (e.g. Client service).")
    if not _EMAIL.match(address):
        raise InvalidInput("Enter the mailbox's email address (clients write to it).")
    outbound = _choice(merged, "outbound", OutboundKind, OutboundKind.SYSTEM, "Sending")
    try:
        poll_seconds = int(str(merged.get("poll_seconds", 60)).strip() or 60)
    except ValueError as error:
        raise InvalidInput("The poll interval must be a number of seconds.") from error
    if not MIN_POLL_SECONDS <= poll_seconds <= 86400:
        raise InvalidInput(f"Poll every {MIN_POLL_SECONDS} seconds to 24 hours.")
    after_fetch = _choice(merged, "after_fetch", AfterFetch, AfterFetch.MARK_SEEN, "After fetch")
    move_to = _text(merged, "move_to_folder", 255)
    if after_fetch == AfterFetch.MOVE and not move_to:
        raise InvalidInput("Name the folder fetched mail is moved to.")
    folders = "\n".join(parse_folders(_text(merged, "imap_folders", 4000, "INBOX")))
    values = {
        "name": name,
        "address": address,
        "display_name": _text(merged, "display_name", 120),
        "enabled": _flag(merged, "enabled", True),
        "is_default": _flag(merged, "is_default", False),
        "imap_host": _host(merged, "imap_host", "IMAP", required=False),
        "imap_port": _port(merged, "imap_port", 993, "IMAP"),
        "imap_security": _choice(
            merged, "imap_security", ConnectionSecurity, ConnectionSecurity.TLS, "IMAP security"
        ),
        "imap_user": _text(merged, "imap_user", 320),
        "imap_folders": folders,
        "after_fetch": after_fetch,
        "move_to_folder": move_to,
        "poll_seconds": poll_seconds,
        "use_idle": _flag(merged, "use_idle", True),
        "outbound": outbound,
        "smtp_host": _host(merged, "smtp_host", "SMTP", required=outbound == OutboundKind.SMTP),
        "smtp_port": _port(merged, "smtp_port", 587, "SMTP"),
        "smtp_security": _choice(
            merged,
            "smtp_security",
            ConnectionSecurity,
            ConnectionSecurity.STARTTLS,
            "SMTP security",
        ),
        "smtp_user": _text(merged, "smtp_user", 320),
        "send_acknowledgement": _flag(merged, "send_acknowledgement", False),
    }
    if values["imap_host"] and not values["imap_user"]:
        raise InvalidInput("Enter the IMAP user name (often the mailbox's address).")
    return values


def _apply_secrets(box: Mailbox, form: dict[str, Any], changes: dict[str, Any]) -> None:
    """A typed secret replaces the stored one; an empty field keeps it; `clear_<field>` drops it."""
    for field, column in _SECRET_COLUMNS.items():
        value = form.get(field)
        value = "" if value is None else str(value)
        if _flag(form, f"clear_{field}", False):
            if getattr(box, column):
                setattr(box, column, None)
                changes[field] = "cleared"
        elif value.strip():
            if len(value) > 4096:
                raise InvalidInput("That password or key is too long.")
            setattr(box, column, encrypt_secret(value))
            changes[field] = "changed"


def _check_ready(box: Mailbox) -> None:
    if box.outbound == OutboundKind.SENDGRID and not box.sendgrid_secret:
        raise InvalidInput("Enter the SendGrid API key, or choose another way of sending.")
    if box.enabled and box.imap_host and not box.imap_secret:
        raise InvalidInput("Enter the IMAP password (it is stored encrypted, never shown).")


def save_mailbox(actor: Actor, mailbox_id: int | None, form: dict[str, Any]) -> MailboxRow:
    """Add (mailbox_id None) or edit a mailbox from form fields.

    Side effects: writes the mailbox (secrets encrypted); at most one default mailbox; audited
    as `mailbox.created` / `mailbox.updated` with the changed fields (secrets as "changed").
    """
    require(actor, Action.MANAGE_MAILBOXES)
    if not isinstance(form, dict):
        raise InvalidInput("That request was not understood.")
    with session_scope() as session:
        box = None
        if mailbox_id is not None:
            box = session.get(Mailbox, mailbox_id, with_for_update=True)
            if box is None:
                raise NotFound("There is no such mailbox.")
        values = _clean(form, box)
        taken = session.execute(
            select(col(Mailbox.id)).where(func.lower(col(Mailbox.address)) == values["address"])
        ).scalar_one_or_none()
        if taken is not None and taken != mailbox_id:
            raise InvalidInput(f"{values['address']} is already a mailbox.")
        changes: dict[str, Any] = {}
        now = utcnow()
        if box is None:
            box = Mailbox(**values, created_at=now, updated_at=now)
            session.add(box)
            changes = dict(values.items())
        else:
            for key, value in values.items():
                if getattr(box, key) != value:
                    changes[key] = [getattr(box, key), value]
                    setattr(box, key, value)
            box.updated_at = now
        _apply_secrets(box, form, changes)
        _check_ready(box)
        if box.is_default:
            session.execute(
                sa.update(Mailbox)
                .where(col(Mailbox.id) != box.id if box.id else sa.true())
                .values(is_default=False)
            )
            box.is_default = True
        session.flush()
        audit.record(
            session,
            actor,
            "mailbox.created" if mailbox_id is None else "mailbox.updated",
            "mailbox",
            box.id,
            changes,
        )
        failed = session.scalars(
            select(func.count()).where(
                col(InboundMail.mailbox_id) == box.id,
                col(InboundMail.status) == InboundStatus.FAILED,
            )
        ).one()
        return _row(box, failed)


def set_enabled(actor: Actor, mailbox_id: int, enabled: bool) -> None:
    """Start or stop polling a mailbox. Side effects: audited."""
    require(actor, Action.MANAGE_MAILBOXES)
    with session_scope() as session:
        box = session.get(Mailbox, mailbox_id, with_for_update=True)
        if box is None:
            raise NotFound("There is no such mailbox.")
        if box.enabled != bool(enabled):
            box.enabled, box.updated_at = bool(enabled), utcnow()
            if box.enabled:
                _check_ready(box)
            audit.record(
                session,
                actor,
                "mailbox.enabled" if enabled else "mailbox.disabled",
                "mailbox",
                box.id,
                {"enabled": bool(enabled)},
            )


def remove_mailbox(actor: Actor, mailbox_id: int) -> str:
    """Delete a mailbox (its poll positions and import records go with it; tickets stay and
    forget the mailbox). Returns its address. Side effects: audited."""
    require(actor, Action.MANAGE_MAILBOXES)
    with session_scope() as session:
        box = session.get(Mailbox, mailbox_id, with_for_update=True)
        if box is None:
            raise NotFound("There is no such mailbox.")
        address = box.address
        audit.record(session, actor, "mailbox.removed", "mailbox", box.id, {"address": address})
        session.delete(box)
        return address


def _secret(token: str | None) -> str:
    if not token:
        return ""
    try:
        return decrypt_secret(token)
    except SecretUnreadable as error:
        raise InvalidInput(
            "A stored password cannot be decrypted with this installation's key: enter it again."
        ) from error


def _imap_account(box: Mailbox) -> ImapAccount:
    return ImapAccount(
        host=box.imap_host,
        port=box.imap_port,
        security=box.imap_security,
        user=box.imap_user,
        password=_secret(box.imap_secret),
        folders=parse_folders(box.imap_folders),
    )


def smtp_account(box: Mailbox) -> SmtpAccount | None:
    """The SMTP server replies from `box` go through (None: SendGrid). For the sending side:
    the product's own mail settings when the mailbox uses them."""
    if box.outbound == OutboundKind.SENDGRID:
        return None
    if box.outbound == OutboundKind.SYSTEM:
        settings = get_settings()
        security = {"ssl": ConnectionSecurity.TLS, "starttls": ConnectionSecurity.STARTTLS}.get(
            settings.smtp_tls, ConnectionSecurity.NONE
        )
        return SmtpAccount(
            host=settings.smtp_host or "",
            port=settings.smtp_port,
            security=security,
            user=settings.smtp_user or "",
            password=settings.smtp_password or "",
        )
    return SmtpAccount(
        host=box.smtp_host,
        port=box.smtp_port,
        security=box.smtp_security,
        user=box.smtp_user,
        password=_secret(box.smtp_secret),
    )


def _load(mailbox_id: int) -> Mailbox:
    with session_scope() as session:
        box = session.get(Mailbox, mailbox_id)
        if box is None:
            raise NotFound("There is no such mailbox.")
        session.expunge(box)
        return box


def test_incoming(actor: Actor, mailbox_id: int) -> ConnectionReport:
    """Sign in to the mailbox's IMAP server and open its folders (nothing is fetched).
    Side effects: none (a test is not audited)."""
    require(actor, Action.MANAGE_MAILBOXES)
    from crm_app.services.mail import imap_client

    box = _load(mailbox_id)
    if not box.imap_host:
        return ConnectionReport(False, "No IMAP server is set: this mailbox only sends.")
    return imap_client.test_connection(_imap_account(box))


def test_outgoing(actor: Actor, mailbox_id: int) -> ConnectionReport:
    """Connect, EHLO, TLS and sign in to the mailbox's SMTP server, or check its SendGrid key;
    nothing is sent. Side effects: none."""
    require(actor, Action.MANAGE_MAILBOXES)
    from crm_app.services.mail import smtp_test

    box = _load(mailbox_id)
    if box.outbound == OutboundKind.SENDGRID:
        return smtp_test.test_sendgrid(_secret(box.sendgrid_secret))
    account = smtp_account(box)
    assert account is not None
    if not account.host:
        if box.outbound == OutboundKind.SYSTEM:
            return ConnectionReport(
                True,
                "Uses the product's own mail settings: no CRM_SMTP_HOST is set, so replies "
                "go to the local mail sink (readable under Sent mail).",
            )
        return ConnectionReport(False, "No SMTP server is set.")
    report = smtp_test.test_smtp(account)
    if box.outbound == OutboundKind.SYSTEM:
        return ConnectionReport(
            report.ok, f"Uses the product's own mail settings. {report.message}"
        )
    return report


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


# --- for the poller (a job acts for the system: no actor) ---------------------------------------


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
