"""A mailbox's settings from a form: checked and cleaned columns, and secrets encrypted."""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Any

from crm_app.crypto import encrypt_secret
from crm_app.services.errors import InvalidInput
from crm_app.services.mail.imap_client import parse_folders
from models.mailbox import AfterFetch, ConnectionSecurity, Mailbox, OutboundKind

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_HOST = re.compile(r"^[A-Za-z0-9.\-:\[\]]{1,255}$")
SECRET_FIELDS = ("imap_password", "smtp_password", "sendgrid_key")
_SECRET_COLUMNS = {
    "imap_password": "imap_secret",
    "smtp_password": "smtp_secret",
    "sendgrid_key": "sendgrid_secret",
}
MIN_POLL_SECONDS = 10


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
