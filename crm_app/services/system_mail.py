"""The CRM's own mail (account notices, not ticket replies): sent over SMTP from a background
thread, so a slow or absent mail server never blocks or fails the request that asked for it.

`start_sink` runs a local aiosmtpd server that stores every message as a file; `scripts/run`
starts it for the embedded default when no `CRM_SMTP_HOST` is configured.
"""

from __future__ import annotations

import logging
import smtplib
import socket
import ssl
import uuid
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path
from threading import Lock
from typing import Any

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
