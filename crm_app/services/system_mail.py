"""The CRM's own mail (account notices, not ticket replies): sent over SMTP from a background
thread, so a slow or absent mail server never blocks or fails the request that asked for it.

`start_sink` runs a local aiosmtpd server that stores every message as a file; `scripts/run`
starts it for the embedded default when no `CRM_SMTP_HOST` is configured, and ticket replies
of mailboxes on the product's own settings go there too. `list_sink` / `read_sink_mail` are
what the "Sent mail (local)" page shows.
"""

from __future__ import annotations

import logging
import re
import smtplib
import socket
import ssl
import uuid
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import UTC, datetime
from email import policy as email_policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import make_msgid
from pathlib import Path
from threading import Lock
from typing import Any

from crm_app.auth.permissions import Action, Actor, require
from crm_app.services.errors import NotFound
from crm_app.settings import Settings, get_settings

log = logging.getLogger("crm_app.system_mail")

_executor: ThreadPoolExecutor | None = None
_pending: set[Future[None]] = set()
_lock = Lock()


@dataclass(frozen=True)
class SystemMail:
    to: str
    subject: str
    body: str


def queue(mail: SystemMail) -> None:
    """Send `mail` soon, in the background; failures are logged, never raised."""
    global _executor
    with _lock:
        if _executor is None:
            _executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="system-mail")
        future = _executor.submit(_send_logged, mail)
        _pending.add(future)
    future.add_done_callback(_pending.discard)


def flush(timeout: float = 30.0) -> None:
    """Wait until every queued message was sent or given up on (tests, shutdown)."""
    with _lock:
        pending = list(_pending)
    wait(pending, timeout=timeout)


def _send_logged(mail: SystemMail) -> None:
    try:
        send_now(mail)
    except (OSError, smtplib.SMTPException) as error:
        log.error("system mail not sent", extra={"subject": mail.subject, "error": str(error)})


def send_now(mail: SystemMail, settings: Settings | None = None) -> bool:
    """Deliver over SMTP now; False (and a log line) when no mail server is configured."""
    settings = settings or get_settings()
    if not settings.smtp_host:
        log.warning(
            "system mail dropped: no SMTP server configured (CRM_SMTP_HOST)",
            extra={"subject": mail.subject},
        )
        return False
    message = EmailMessage()
    message["From"] = settings.mail_from
    message["To"] = mail.to
    message["Subject"] = mail.subject
    message["Message-ID"] = make_msgid(domain=settings.mail_from.rpartition("@")[2].strip("> "))
    message.set_content(mail.body)
    smtp_class: Any = smtplib.SMTP_SSL if settings.smtp_tls == "ssl" else smtplib.SMTP
    with smtp_class(settings.smtp_host, settings.smtp_port, timeout=30) as smtp:
        if settings.smtp_tls == "starttls":
            smtp.starttls(context=ssl.create_default_context())
        if settings.smtp_user:
            smtp.login(settings.smtp_user, settings.smtp_password or "")
        smtp.send_message(message)
    log.info("system mail sent", extra={"subject": mail.subject})
    return True


class _FileSink:
    """aiosmtpd handler: every accepted message becomes `<folder>/<time>-<id>.eml` (mode 600)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    async def handle_EHLO(
        self, server: object, session: Any, envelope: object, hostname: str, responses: list[str]
    ) -> list[str]:
        # aiosmtpd reads commands one line at a time from its buffer, so it serves pipelined
        # ones in order: say so (RFC 2920), and the outbox sends in two round trips per mail.
        session.host_name = hostname
        return [*responses[:-1], "250-PIPELINING", responses[-1]]

    async def handle_DATA(self, server: object, session: object, envelope: Any) -> str:
        # aiosmtpd's hook name.
        self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
        path = self.folder / f"{stamp}-{uuid.uuid4().hex[:12]}.eml"
        path.touch(mode=0o600)
        path.write_bytes(envelope.original_content or envelope.content)
        return "250 Message accepted"


def start_sink(folder: Path, host: str = "127.0.0.1", port: int = 0) -> Any:
    """Start a local SMTP server that stores mail in `folder`; returns the aiosmtpd
    Controller (its `.port` is the one to send to; `.stop()` ends it)."""
    from aiosmtpd.controller import Controller

    if port == 0:
        with socket.socket() as probe:
            probe.bind((host, 0))
            port = probe.getsockname()[1]
    controller = Controller(_FileSink(folder), hostname=host, port=port)
    controller.start()
    return controller


# ---------------------------------------------------------------- reading the local sink

SINK_PAGE_SIZE = 25
_SINK_NAME = re.compile(r"^\d{8}T\d{6}-[0-9a-f]{12}\.eml$")


@dataclass(frozen=True)
class SinkMailRow:
    """One mail the local sink received, as the "Sent mail (local)" list shows it."""

    name: str  # the file's name: what opens it
    sender: str
    recipients: str
    subject: str
    date: str


@dataclass(frozen=True)
class SinkMailPage:
    rows: list[SinkMailRow]
    total: int
    page: int
    page_count: int
    in_use: bool  # False: no local sink runs (mail goes to a configured server)


@dataclass(frozen=True)
class SinkMail:
    name: str
    subject: str
    headers: list[list[str]]  # [name, value], in the mail's order
    text: str
    attachments: list[str]


def sink_folder(settings: Settings | None = None) -> Path | None:
    """The local sink's folder when `scripts/run` started one (CRM_MAIL_SINK_DIR)."""
    return (settings or get_settings()).mail_sink_dir


def list_sink(actor: Actor | None, page: int = 1) -> SinkMailPage:
    """What the local sink received, newest first, one page (managers). Reads the headers of
    the page's files only. No side effects."""
    require(actor, Action.VIEW_AUDIT_LOG)
    folder = sink_folder()
    if folder is None:
        return SinkMailPage([], 0, 1, 1, in_use=False)
    names = sorted((p.name for p in folder.glob("*.eml") if _SINK_NAME.match(p.name)), reverse=True)
    page_count = max(1, -(-len(names) // SINK_PAGE_SIZE))
    page = min(max(1, int(page)), page_count)
    rows = []
    for name in names[(page - 1) * SINK_PAGE_SIZE : page * SINK_PAGE_SIZE]:
        try:
            with (folder / name).open("rb") as handle:
                headers = BytesParser(policy=email_policy.default).parse(handle, headersonly=True)
        except OSError:
            continue  # removed meanwhile
        rows.append(
            SinkMailRow(
                name=name,
                sender=_header(headers, "From"),
                recipients=_header(headers, "To"),
                subject=_header(headers, "Subject") or "(no subject)",
                date=_header(headers, "Date"),
            )
        )
    return SinkMailPage(rows, len(names), page, page_count, in_use=True)


def read_sink_mail(actor: Actor | None, name: str) -> SinkMail:
    """One mail of the local sink: its headers and text (managers). No side effects."""
    require(actor, Action.VIEW_AUDIT_LOG)
    folder = sink_folder()
    if folder is None or not isinstance(name, str) or not _SINK_NAME.match(name):
        raise NotFound("There is no such mail.")
    try:
        raw = (folder / name).read_bytes()
    except OSError as error:
        raise NotFound("There is no such mail.") from error
    message = BytesParser(policy=email_policy.default).parsebytes(raw)
    try:
        body = message.get_body(("plain", "html"))
        text = body.get_content() if body is not None else ""
        if body is not None and body.get_content_type() == "text/html":
            from ingest.html import html_to_text

            text = html_to_text(text)
    except (LookupError, ValueError):
        text = "(this mail's text could not be decoded)"
    files = [part.get_filename() or "attachment" for part in message.iter_attachments()]
    return SinkMail(
        name=name,
        subject=_header(message, "Subject") or "(no subject)",
        headers=[[key, _clean(str(value))] for key, value in message.items()],
        text=text,
        attachments=files,
    )


def _clean(value: str) -> str:
    return " ".join(value.split())


def _header(message: Any, name: str) -> str:
    try:
        value = message.get(name)
    except (ValueError, IndexError):  # a malformed header never breaks the list
        return ""
    return _clean(str(value)) if value is not None else ""
